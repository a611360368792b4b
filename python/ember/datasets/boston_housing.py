"""The Boston Housing data set (StatLib, Carnegie Mellon University):
`ember.datasets.boston_housing.load_data()`.

`boston_housing.npz` comes from Keras's location and is checked against the SHA-256 Keras's
source gives.
"""

from ember.datasets import _tabular

FILE_NAME = "boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Loads the Boston Housing dataset: 13 attributes of houses around Boston in the late
    1970s, and the median value of the houses (in k$).

    **WARNING** (Keras's): the authors of this dataset included a variable, "B", that may
    appear to assume that racial self-segregation influences house prices. Its use is
    strongly discouraged, unless to illustrate ethical issues in data science and machine
    learning.

    Args:
        path: the file's name in the cache (as Keras), or a path to a local copy, read as it
            is.
        test_split: the fraction of the (shuffled) samples that form the test set, in [0, 1).
        seed: the seed of the shuffle (np.random.RandomState, as Keras).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float64 arrays (N, 13) and (N,); 404
        training and 102 test samples with the default split.
    """
    _tabular.check_test_split("boston_housing", test_split)
    x, y = _tabular.load_xy("boston_housing", path, FILE_NAME, SHA256, 13)
    return _tabular.shuffle_split(x, y, test_split, seed)
