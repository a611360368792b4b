"""Data that arrives in batches rather than as whole arrays: an ember.data.Dataset, a Python
generator (or iterator), or a PyDataset. Each element is one batch: x, (x,), (x, y) or
(x, y, sample_weight), as Keras unpacks them."""
import inspect
import warnings

import numpy as np

from ember.data import Dataset
from ember.data.constants import INFINITE_CARDINALITY
from ember.utils.py_dataset import PyDataset, iterate_batches


def is_batch_source(x):
    if isinstance(x, (Dataset, PyDataset)) or inspect.isgenerator(x):
        return True
    return (hasattr(x, "__next__") and hasattr(x, "__iter__")
            and not isinstance(x, (np.ndarray, list, tuple, dict)))


def unpack(element):
    """(x, y, sample_weight) of one batch (Keras's unpack_x_y_sample_weight)."""
    if isinstance(element, list):
        element = tuple(element)
    if not isinstance(element, tuple):
        return element, None, None
    if len(element) == 1:
        return element[0], None, None
    if len(element) == 2:
        return element[0], element[1], None
    if len(element) == 3:
        return element
    raise ValueError("a batch must be x, (x,), (x, y) or (x, y, sample_weight); received a "
                     f"tuple of {len(element)} items")


class BatchSource:
    """Epochs of batches from one of the supported sources.

    `steps` is the number of batches an epoch holds when it is known (PyDataset's len, a
    Dataset's finite cardinality, or `steps_per_epoch`), else None (until exhausted).
    """

    def __init__(self, x, steps_per_epoch=None, shuffle=False, what="fit"):
        self.what = what
        self.steps_per_epoch = steps_per_epoch
        self.shuffle = shuffle
        self._source = x
        self._iterator = None  # kept across epochs for generators and steps_per_epoch
        self._peeked = None
        if isinstance(x, Dataset):
            n = x.cardinality()
            if n == INFINITE_CARDINALITY and steps_per_epoch is None:
                raise ValueError(f"{what}: the dataset repeats forever; pass steps_per_epoch "
                                 "(steps for evaluate/predict) to say how many batches an "
                                 "epoch is")
            self.steps = steps_per_epoch or (n if n >= 0 else None)
        elif isinstance(x, PyDataset):
            self.steps = steps_per_epoch or len(x)
        else:
            self.steps = steps_per_epoch
            self._iterator = iter(x)

    def peek(self):
        """The first batch (still delivered by the first epoch)."""
        if self._peeked is None:
            if isinstance(self._source, PyDataset):
                self._peeked = self._source[0]
                return self._peeked
            if self._iterator is None:
                self._iterator = iter(self._source)
            try:
                self._peeked = next(self._iterator)
            except StopIteration:
                raise ValueError(f"{self.what}: the input yielded no batch") from None
        return self._peeked

    def epoch(self, rng=None):
        """One epoch's batches."""
        if isinstance(self._source, PyDataset):
            n = len(self._source)
            order = rng.permutation(n) if self.shuffle and rng is not None else range(n)
            if self.steps_per_epoch is not None:
                order = list(order)[:self.steps_per_epoch]
            self._peeked = None
            yield from iterate_batches(self._source, order)
            self._source.on_epoch_end()
            return
        persistent = self.steps_per_epoch is not None or not isinstance(self._source, Dataset)
        if not persistent and self._peeked is None:
            self._iterator = iter(self._source)
        done = 0
        while self.steps_per_epoch is None or done < self.steps_per_epoch:
            if self._peeked is not None:
                batch, self._peeked = self._peeked, None
            else:
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    if persistent and isinstance(self._source, Dataset):
                        self._iterator = iter(self._source)  # a finite dataset starts over
                        if done == 0:
                            break
                        continue
                    if self.steps_per_epoch is not None or done == 0:
                        warnings.warn(f"{self.what}: your input ran out of data after {done} "
                                      "batches of this epoch; make it repeat (or pass fewer "
                                      "steps) to train on more", stacklevel=3)
                    break
            yield batch
            done += 1
        if not persistent:
            self._close()

    def _close(self):
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()
        self._iterator = None
