"""CIFAR-100 (Krizhevsky, 2009): `ember.datasets.cifar100.load_data(label_mode)`.

The archive comes from Keras's URL and is checked against the SHA-256 Keras's source gives. It
is cached as `<ember home>/datasets/cifar-100-python.tar.gz` and read without being extracted
(see `ember.datasets.cifar`).
"""

import numpy as np

from ember.datasets import cifar

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_NAME = "cifar-100-python.tar.gz"
# The name Keras gives the same archive in its cache, also accepted in $EMBER_DATA_DIR.
KERAS_CACHE_NAME = "cifar-100-python-target_archive"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"

TRAIN = "cifar-100-python/train"
TEST = "cifar-100-python/test"
NUM_CLASSES = {"fine": 100, "coarse": 20}


def load_data(label_mode="fine", path=None):
    """Loads the CIFAR-100 dataset.

    50,000 32x32 colour training images and 10,000 test images, labelled over 100 fine
    classes grouped into 20 coarse superclasses.

    Args:
        label_mode: "fine" (labels 0..99) or "coarse" (the superclasses, 0..19).
        path: (ember) a local copy of `cifar-100-python.tar.gz` to read as it is. Without it
            the archive is read from $EMBER_DATA_DIR (as `cifar-100-python.tar.gz`, or under
            Keras's cache name `cifar-100-python-target_archive`), else from the cache,
            downloaded there once.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (N, 32, 32, 3) (channels
        last) with values 0..255, and int64 labels of shape (N, 1) (Keras's dtypes).

    Raises:
        ValueError: a bad `label_mode`, or an archive that is truncated, corrupt or malicious.
        FileNotFoundError: `path` does not exist.
        ember.datasets.DownloadError: the archive is neither available locally nor
            downloadable; the message says where to put it.
    """
    if label_mode not in NUM_CLASSES:
        raise ValueError(
            f'cifar100: `label_mode` must be one of "fine", "coarse". Received: '
            f"label_mode={label_mode!r}."
        )
    archive = cifar.archive_path("cifar100", path, FILE_NAME, URL, SHA256, KERAS_CACHE_NAME)
    batches = cifar.read_batches(
        archive, (TRAIN, TEST), "cifar100", f"{label_mode}_labels", NUM_CLASSES[label_mode]
    )
    (x_train, y_train), (x_test, y_test) = batches[TRAIN], batches[TEST]
    # Keras reshapes the label lists, which makes int64 arrays.
    y_train = np.asarray(y_train, np.int64).reshape(-1, 1)
    y_test = np.asarray(y_test, np.int64).reshape(-1, 1)
    return (cifar.to_image_format(x_train), y_train), (cifar.to_image_format(x_test), y_test)
