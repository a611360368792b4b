"""What the housing data sets share: an .npz of `x` and `y`, shuffled and split as Keras does."""

import numbers

import numpy as np

from ember.datasets._download import fetch, local_file
from ember.datasets._safe_pickle import load_npz, require_arrays

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def check_test_split(dataset, test_split):
    if isinstance(test_split, bool) or not isinstance(test_split, numbers.Real) or not (
        0 <= test_split < 1
    ):
        raise ValueError(
            f"{dataset}: invalid `test_split` argument: {test_split!r}. It must be between 0 "
            "and 1 (exclusive of 1)."
        )


def load_xy(dataset, path, file_name, sha256, n_features):
    """`(x, y)` from the data set's .npz (a local `path`, $EMBER_DATA_DIR, cache or network)."""
    local, cache_name = local_file(dataset, path, file_name)
    path = local or fetch(dataset, cache_name, BASE_URL + file_name, sha256)
    x, y = require_arrays(load_npz(path, dataset), ("x", "y"), path, dataset)
    if x.ndim != 2 or x.shape[1] != n_features or y.shape != (x.shape[0],):
        raise ValueError(
            f"{dataset}: {path} holds x of shape {x.shape} and y of shape {y.shape}, expected "
            f"(N, {n_features}) and (N,)"
        )
    return x, y


def shuffle_split(x, y, test_split, seed):
    """Keras's split: a np.random.RandomState(seed) permutation, then the first
    int(N * (1 - test_split)) samples for training."""
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    # Copies, as Keras returns: the four arrays share no memory.
    return (
        (np.array(x[:n_train]), np.array(y[:n_train])),
        (np.array(x[n_train:]), np.array(y[n_train:])),
    )
