"""What `adapt()` accepts, as in Keras: one array (or list of values) holding all the data, or a
dataset / iterable of batches (an `ember.data.Dataset`, a generator, ...). Elements that are
`(x, y)` or `(x, y, sample_weight)` tuples contribute their `x`.
"""
import itertools

import numpy as np


def extract_batch(batch):
    """The inputs of a batch: the first entry of an (x, y[, sample_weight]) tuple."""
    if isinstance(batch, tuple):
        return batch[0]
    return batch


def is_batch_iterable(data, lists_are_data=True):
    """True when `data` is a stream of batches rather than one array of data.

    Lists and tuples are data (the lookup layers' `adapt(["a", "b"])`) unless `lists_are_data`
    is False (Normalization treats a list as a list of batches, as Keras does)."""
    if isinstance(data, (np.ndarray, str, bytes)) or np.isscalar(data):
        return False
    if isinstance(data, (list, tuple)):
        return not lists_are_data
    return hasattr(data, "__iter__")


def batches(data, who, steps=None):
    """Iterates the batches of a stream, at most `steps` of them; an empty stream is an error."""
    iterator = iter(data)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"{who}: adapt() received an empty dataset (no batches). Expected at "
                         "least one batch of data.")
    stream = itertools.chain([first], iterator)
    if steps is not None:
        stream = itertools.islice(stream, int(steps))
    for batch in stream:
        yield extract_batch(batch)
