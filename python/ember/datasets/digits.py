"""The UCI handwritten digits, shipped with ember: `ember.datasets.digits.load_data()`.

1,797 images of 8x8 pixels (values 0..16), the ten digits. Small enough to need no download,
so examples and tests can train on real data offline.

Credit: E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten Digits", UCI
Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed under CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/); see data/digits.CREDITS.txt.
"""

import gzip
import importlib.resources

import numpy as np

from ember.utils import rng

_FILE = "digits.csv.gz"


def _read_csv():
    resource = importlib.resources.files("ember.datasets").joinpath("data").joinpath(_FILE)
    with resource.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(
            f"digits: {_FILE} has {table.shape[1]} columns, expected 65 (64 pixels and a label)"
        )
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"digits: {_FILE} holds values outside 0..16 or labels outside 0..9")
    return pixels, labels


def load_data(test_split=0.2, seed=113):
    """Loads the UCI handwritten digits, shuffled and split into training and test sets.

    Args:
        test_split: fraction of the 1,797 samples kept for the test set, in [0, 1).
        seed: the seed of the shuffle before the split (a non-negative integer), so that the
            split is the same on every call; None draws one from `ember.utils.rng` (the
            split then follows `ember.utils.set_random_seed`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 images of shape (N, 8, 8) with values
        0..16, and int64 labels 0..9 of shape (N,).
    """
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not (
        0 <= test_split < 1
    ):
        raise ValueError(f"digits: expected `test_split` in [0, 1), received {test_split!r}")
    if seed is None:
        seed = rng.next_seed()
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"digits: expected `seed` to be None or a non-negative integer, received {seed!r}"
        )
    pixels, labels = _read_csv()
    order = np.random.default_rng(int(seed)).permutation(len(labels))
    x = pixels[order].reshape(-1, 8, 8).astype(np.float32)
    y = labels[order]
    n_train = int(len(y) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
