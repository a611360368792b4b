"""The California Housing data set (StatLib, 1990 U.S. census):
`ember.datasets.california_housing.load_data()`.

`california_housing.npz` comes from Keras's location and is checked against the SHA-256
Keras's source gives.
"""

from ember.datasets import _tabular

FILE_NAME = "california_housing.npz"
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
SMALL_SIZE = 600


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Loads the California Housing dataset: 20,640 census block groups with 8 features
    (MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude) and the
    median house value in dollars.

    Args:
        version: "large" (all 20,640 samples) or "small" (the first 600, an approximate
            replacement for the Boston Housing data).
        path: the file's name in the cache (as Keras), or a path to a local copy, read as it
            is.
        test_split: the fraction of the (shuffled) samples that form the test set, in [0, 1).
        seed: the seed of the shuffle (np.random.RandomState, as Keras).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: arrays (N, 8) and (N,) of the file's dtype.
    """
    if version not in ("small", "large"):
        raise ValueError(
            "california_housing: argument `version` must be one of 'small', 'large'. "
            f"Received: version={version!r}"
        )
    _tabular.check_test_split("california_housing", test_split)
    x, y = _tabular.load_xy("california_housing", path, FILE_NAME, SHA256, 8)
    if version == "small":
        x, y = x[:SMALL_SIZE], y[:SMALL_SIZE]
    return _tabular.shuffle_split(x, y, test_split, seed)
