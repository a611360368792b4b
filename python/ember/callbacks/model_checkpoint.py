"""`ModelCheckpoint`: saves the model (or its weights) during `fit` (Keras 3 semantics)."""

import os
import re

import numpy as np

from ember.callbacks.messages import print_msg
from ember.callbacks.monitor_callback import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves the model at the end of every epoch, or every `save_freq` batches.

    Args:
        filepath: where to save; may hold format fields filled from the epoch (1-based), the
            batch (with a batch `save_freq`) and the logs, e.g.
            "weights.{epoch:02d}-{val_loss:.2f}.weights.h5". Whole models end in ".ember" (or
            ".keras"), weights in ".weights.ember" (or ".weights.h5"); ember writes its own
            format under either name.
        monitor: the logs key compared when `save_best_only`. Defaults to "val_loss".
        verbose: 0 (silent) or 1 (a line per save or skip).
        save_best_only: save only when the monitored value improves on the best so far.
        save_weights_only: save the weights (save_weights) instead of the whole model (save).
        mode: "min", "max" or "auto" (direction inferred from the metric).
        save_freq: "epoch", or an integer number of batches between saves.
        initial_value_threshold: the best value to beat before the first save
            (with save_best_only).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: unrecognized save_freq {save_freq!r}: expected "
                             "'epoch' or a positive integer number of batches")
        self.save_freq = save_freq
        suffixes = (".weights.ember", ".weights.h5") if save_weights_only else (".ember",
                                                                                ".keras")
        if not self.filepath.endswith(suffixes):
            what = "weights" if save_weights_only else "model"
            raise ValueError(f"ModelCheckpoint: when saving the {what}, the filepath must end "
                             f"with one of {list(suffixes)}, received '{self.filepath}'")
        self._batches_seen = 0
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            if self.monitor_op is None:
                self._set_monitor_op()
            current = logs.get(self.monitor)
            if current is None or np.ndim(current) != 0:
                import warnings
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              "skipping.", stacklevel=2)
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                              f"{self.best:.5f}")
                return
            if self.verbose > 0:
                best = "inf" if self.best is None else f"{self.best:.5f}"
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)

    def _file_path(self, epoch, batch, logs):
        """Keras's formatting: fields from epoch (1-based), batch (1-based) and the logs."""
        fields = {k: v for k, v in logs.items() if np.ndim(v) == 0}
        try:
            if batch is None or "batch" not in self.filepath:
                return self.filepath.format(epoch=epoch + 1, **fields)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **fields)
        except KeyError as e:
            names = sorted(set(re.findall(r"{(\w+)", self.filepath)) - {"epoch", "batch"})
            raise KeyError(f"ModelCheckpoint: failed to format the filepath '{self.filepath}': "
                           f"the logs have no key {e} (logs keys: {sorted(logs)}, fields used: "
                           f"{names})") from None
