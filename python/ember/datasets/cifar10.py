"""CIFAR-10 (Krizhevsky, 2009): `ember.datasets.cifar10.load_data()`.

The archive comes from Keras's URL and is checked against the SHA-256 Keras's source gives. It
is cached as `<ember home>/datasets/cifar-10-python.tar.gz` and read without being extracted
(see `ember.datasets.cifar`).
"""

import numpy as np

from ember.datasets import cifar

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_NAME = "cifar-10-python.tar.gz"
# The name Keras gives the same archive in its cache, also accepted in $EMBER_DATA_DIR.
KERAS_CACHE_NAME = "cifar-10-batches-py-target_archive"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

TRAIN_BATCHES = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "cifar-10-batches-py/test_batch"

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


def load_data(path=None):
    """Loads the CIFAR-10 dataset.

    50,000 32x32 colour training images and 10,000 test images, labelled over 10 categories:
    airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck (`CLASS_NAMES`).

    Args:
        path: (ember) a local copy of `cifar-10-python.tar.gz` to read as it is. Without it
            the archive is read from $EMBER_DATA_DIR (as `cifar-10-python.tar.gz`, or under
            Keras's cache name `cifar-10-batches-py-target_archive`), else from the cache,
            downloaded there once.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (N, 32, 32, 3) (channels
        last) with values 0..255, and uint8 labels 0..9 of shape (N, 1).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the archive is truncated, corrupt or malicious (the message names it).
        ember.datasets.DownloadError: the archive is neither available locally nor
            downloadable; the message says where to put it.
    """
    archive = cifar.archive_path("cifar10", path, FILE_NAME, URL, SHA256, KERAS_CACHE_NAME)
    batches = cifar.read_batches(
        archive, TRAIN_BATCHES + (TEST_BATCH,), "cifar10", "labels", num_classes=10
    )
    x_train = np.concatenate([batches[name][0] for name in TRAIN_BATCHES])
    y_train = np.concatenate([np.asarray(batches[name][1], np.uint8) for name in TRAIN_BATCHES])
    x_test, y_test = batches[TEST_BATCH]
    y_train = y_train.reshape(-1, 1)
    y_test = np.asarray(y_test, np.uint8).reshape(-1, 1)
    return (cifar.to_image_format(x_train), y_train), (cifar.to_image_format(x_test), y_test)
