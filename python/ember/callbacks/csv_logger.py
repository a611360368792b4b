"""`CSVLogger`: streams each epoch's logs to a CSV file (Keras 3)."""

import collections
import csv
import os

import numpy as np

from ember.callbacks.callback import Callback


def _csv_value(value):
    """Strings and scalars as they are; other iterables (arrays) as a quoted "[a, b]" list."""
    is_zero_dim_ndarray = isinstance(value, np.ndarray) and value.ndim == 0
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not is_zero_dim_ndarray:
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Callback that streams epoch results to a CSV file.

    The header is "epoch" then the log keys of the first epoch, sorted; when that epoch has no
    validation keys, "val_" columns are added for each key anyway (filled with "NA" while
    absent), so that a later validation run fits the same columns. Rows end with "\\r\\n"
    (the csv module's excel dialect), as Keras writes them.

    Args:
        filename: path of the CSV file, e.g. "run/log.csv".
        separator: string that separates the fields. Defaults to ",".
        append: True appends to an existing file (no second header if it is non-empty);
            False overwrites it.

    Example:

        model.fit(x_train, y_train, callbacks=[CSVLogger("training.log")])
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        # A file left open by an interrupted run is closed before it is replaced.
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            val_keys_found = any(key.startswith("val_") for key in self.keys)
            if not val_keys_found and self.keys:
                self.keys.extend([f"val_{k}" for k in self.keys])

        if not self.writer:
            class CustomDialect(csv.excel):
                delimiter = self.sep

            fieldnames = ["epoch"] + (self.keys or [])
            self.writer = csv.DictWriter(self.csv_file, fieldnames=fieldnames,
                                         dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()

        row_dict = collections.OrderedDict({"epoch": epoch})
        row_dict.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row_dict)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
