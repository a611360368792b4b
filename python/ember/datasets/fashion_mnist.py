"""Fashion-MNIST (Zalando): `ember.datasets.fashion_mnist.load_data()`.

The four gzip IDX files come from Keras's location, under Keras's names, into
`<ember home>/datasets/fashion-mnist/` (as Keras's `~/.keras/datasets/fashion-mnist/`).

Integrity: Keras's source publishes no hash for these files, so none is checked here (ember
invents none). A download is still checked against its Content-Length, and reading checks the
gzip CRC and the IDX header and size, so a truncated or corrupt file is reported, not loaded.
"""

import os

from ember.datasets import _idx
from ember.datasets._download import fetch

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SUBDIR = "fashion-mnist"
# Keras's order: images and labels of the training set, then of the test set.
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
)


def load_data(data_dir=None):
    """Loads the Fashion-MNIST dataset.

    60,000 28x28 grayscale images of 10 fashion categories, and 10,000 test images; a drop-in
    replacement for MNIST. The labels 0..9 are: T-shirt/top, Trouser, Pullover, Dress, Coat,
    Sandal, Shirt, Sneaker, Bag, Ankle boot (`CLASS_NAMES`).

    Args:
        data_dir: (ember) a directory holding the four IDX files (gzip or uncompressed).
            Without it they are read from `$EMBER_DATA_DIR/fashion-mnist/` when that holds
            them, else from the cache `<ember home>/datasets/fashion-mnist/`, downloaded
            there once.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (N, 28, 28) and uint8
        labels 0..9 of shape (N,).

    Raises:
        FileNotFoundError: a file of `data_dir` does not exist.
        ValueError: a file is truncated or corrupt (the message names it).
        ember.datasets.DownloadError: a file is neither available locally nor downloadable;
            the message says where to put it.

    License: the copyright for Fashion-MNIST is held by Zalando SE. Fashion-MNIST is licensed
    under the MIT license.
    """
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(
                f"fashion_mnist: the data directory {data_dir} does not exist"
            )
        paths = [_idx.find_in_dir(data_dir, name, "fashion_mnist", FILES) for name in FILES]
    else:
        # No published hash (see the module's docstring): file_hash=None.
        paths = [
            fetch("fashion_mnist", name, BASE_URL + name, None, subdir=SUBDIR,
                  path_hint="load_data(data_dir=...) (a directory of the four files)")
            for name in FILES
        ]
    train_images, train_labels, test_images, test_labels = paths
    return (
        _idx.read_split(train_images, train_labels, "fashion_mnist"),
        _idx.read_split(test_images, test_labels, "fashion_mnist"),
    )
