"""The MNIST handwritten digits (LeCun, Cortes, Burges): `ember.datasets.mnist.load_data()`.

ember reads the four original IDX files (gzip-compressed):

- from `data_dir`, or the directory in the environment variable EMBER_MNIST_DIR, when given;
- otherwise from a cache (`$EMBER_HOME/datasets/mnist`, default `~/.ember/datasets/mnist`),
  downloading them first from public mirrors (the ones torchvision uses) and checking their
  SHA-256.
"""

import gzip
import os
import zlib

import numpy as np

from ember.datasets._download import default_cache_dir, get_file

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

_UBYTE = 0x08  # the IDX type code of unsigned bytes


def _read_gzip(path):
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) for a bad header or CRC, EOFError for a file
        # that ends early.
        raise ValueError(
            f"mnist: could not decompress {path}: {e}. The file is truncated or corrupt; "
            "delete it and download it again."
        ) from None


def read_idx(path, ndim):
    """Reads an IDX file of unsigned bytes with `ndim` dimensions (gzip if it ends in .gz).

    Raises:
        ValueError: naming the file, when it is not such an IDX file or is truncated.
    """
    if path.endswith(".gz"):
        data = _read_gzip(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"mnist: {path} is truncated: {len(data)} bytes, shorter than an IDX header"
        )
    zero, dtype, file_ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or dtype != _UBYTE or file_ndim != ndim:
        raise ValueError(
            f"mnist: {path} is not an IDX file of {ndim}-dimensional unsigned bytes: its magic "
            f"number is 0x{int.from_bytes(data[0:4], 'big'):08x}, expected "
            f"0x{(_UBYTE << 8) | ndim:08x}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise ValueError(
            f"mnist: {path} has the wrong size for its shape {shape}: expected {expected} "
            f"bytes, found {len(data)}; the file is truncated or corrupt"
        )
    # bytearray makes the array writable (np.frombuffer of bytes would be read-only).
    return np.frombuffer(bytearray(data[header:]), dtype=np.uint8).reshape(shape)


def _read_split(images_path, labels_path):
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28):
        raise ValueError(
            f"mnist: {images_path} holds images of shape {images.shape[1:]}, expected (28, 28)"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"mnist: {images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"mnist: {labels_path} holds the label {labels.max()}, expected 0..9")
    return images, labels


def _find_in_dir(data_dir, gz_name):
    """The gzip file, or the uncompressed one beside it (as torchvision leaves them)."""
    for name in (gz_name, gz_name[: -len(".gz")]):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"mnist: {os.path.join(data_dir, gz_name)} not found (the MNIST directory must hold "
        f"{', '.join(FILES)})"
    )


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
            the environment variable EMBER_MNIST_DIR; without either, the files are downloaded
            to `$EMBER_HOME/datasets/mnist` (default `~/.ember/datasets/mnist`) once.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape (N, 28, 28) with values
        0..255, and uint8 labels 0..9 of shape (N,).

    Raises:
        FileNotFoundError: `path` or a file of `data_dir` does not exist.
        ValueError: a file is truncated or corrupt (the message names it).
        ember.datasets.DownloadError: no mirror gave a file with the expected hash.

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
        cache_dir = default_cache_dir("mnist")
        paths = [
            get_file(name, [mirror + name for mirror in MIRRORS], "sha256:" + sha256, cache_dir)
            for name, sha256 in FILES.items()
        ]
    train_images, train_labels, test_images, test_labels = paths
    return _read_split(train_images, train_labels), _read_split(test_images, test_labels)
