"""The MNIST handwritten digits (LeCun, Cortes, Burges): `ember.datasets.mnist.load_data()`.

ember reads the four original IDX files (gzip-compressed):

- from `data_dir`, or the directory in the environment variable EMBER_MNIST_DIR, when given;
- otherwise from $EMBER_DATA_DIR when it holds Keras's `mnist.npz` or `mnist/<IDX files>`;
- otherwise from a cache (`$EMBER_HOME/datasets/mnist`, default `~/.ember/datasets/mnist`),
  downloading them first from public mirrors (the ones torchvision uses) and checking their
  SHA-256.
"""

import os

import numpy as np

from ember.datasets import _idx
from ember.datasets._download import data_dir as _ember_data_dir
from ember.datasets._download import fetch, verify_offline_copy

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# SHA-256 of the gzip files as the mirrors serve them (the MD5 sums torchvision lists for the
# same files: f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
FILES = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Keras's own copy (keras/src/datasets/mnist.py gives this URL and SHA-256): read from
# $EMBER_DATA_DIR/mnist.npz, so that a copy of a Keras cache works offline.
KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def read_idx(path, ndim):
    """Reads an IDX file of unsigned bytes with `ndim` dimensions (gzip if it ends in .gz).

    Raises:
        ValueError: naming the file, when it is not such an IDX file or is truncated.
    """
    return _idx.read_idx(path, ndim, "mnist")


def _read_split(images_path, labels_path):
    return _idx.read_split(images_path, labels_path, "mnist")


def _find_in_dir(data_dir, gz_name):
    return _idx.find_in_dir(data_dir, gz_name, "mnist", FILES)


def _load_npz(path):
    """A Keras-format mnist.npz (x_train, y_train, x_test, y_test)."""
    with np.load(path, allow_pickle=False) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"mnist: {path} lacks the arrays {sorted(missing)}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def load_data(path=None, data_dir=None):
    """Loads the MNIST dataset.

    60,000 28x28 grayscale training images of the ten digits, and 10,000 test images.

    Args:
        path: for Keras compatibility: the path of a Keras-format `mnist.npz` to read. Keras's
            default name "mnist.npz" is ignored when no such file exists.
        data_dir: a directory holding the four IDX files (gzip or uncompressed). Defaults to
            the environment variable EMBER_MNIST_DIR. Without either, the files are read
            from $EMBER_DATA_DIR (Keras's `mnist.npz`, checked against Keras's SHA-256, or
            the IDX files in `$EMBER_DATA_DIR/mnist/`), else from the cache
            `$EMBER_HOME/datasets/mnist` (default `~/.ember/datasets/mnist`), downloaded
            there once.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (N, 28, 28) with values
        0..255, and uint8 labels 0..9 of shape (N,).

    Raises:
        FileNotFoundError: `path` or a file of `data_dir` does not exist.
        ValueError: a file is truncated or corrupt (the message names it).
        ember.datasets.DownloadError: no mirror gave a file with the expected hash (the
            message says where to put the files by hand).

    License: Yann LeCun and Corinna Cortes hold the copyright of the MNIST dataset, which is
    a derivative work from original NIST datasets, made available under the terms of the
    Creative Commons Attribution-Share Alike 3.0 license.
    """
    if path is not None:
        path = os.fspath(path)
        if os.path.isfile(path):
            return _load_npz(path)
        if path != "mnist.npz":
            raise FileNotFoundError(f"mnist: {path} not found")

    if data_dir is None:
        data_dir = os.environ.get("EMBER_MNIST_DIR") or None
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(f"mnist: the data directory {data_dir} does not exist")
        paths = [_find_in_dir(data_dir, name) for name in FILES]
    else:
        offline_dir = _ember_data_dir()
        keras_npz = os.path.join(offline_dir, "mnist.npz") if offline_dir else None
        if keras_npz and os.path.isfile(keras_npz):
            verify_offline_copy("mnist", keras_npz, KERAS_NPZ_SHA256, KERAS_NPZ_URL)
            return _load_npz(keras_npz)
        paths = [
            fetch("mnist", name, [mirror + name for mirror in MIRRORS], sha256, subdir="mnist")
            for name, sha256 in FILES.items()
        ]
    train_images, train_labels, test_images, test_labels = paths
    return _read_split(train_images, train_labels), _read_split(test_images, test_labels)
