"""The IDX format of MNIST and Fashion-MNIST: a magic number (two zero bytes, a type code, the
number of dimensions), one big-endian uint32 per dimension, then the values."""

import gzip
import os
import zlib

import numpy as np

_UBYTE = 0x08  # the IDX type code of unsigned bytes


def _read_gzip(path, dataset):
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) for a bad header or CRC, EOFError for a file
        # that ends early.
        raise ValueError(
            f"{dataset}: could not decompress {path}: {e}. The file is truncated or corrupt; "
            "delete it and download it again."
        ) from None


def read_idx(path, ndim, dataset):
    """Reads an IDX file of unsigned bytes with `ndim` dimensions (gzip if it ends in .gz).

    Raises:
        ValueError: naming the file, when it is not such an IDX file or is truncated.
    """
    if path.endswith(".gz"):
        data = _read_gzip(path, dataset)
    else:
        with open(path, "rb") as f:
            data = f.read()
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{dataset}: {path} is truncated: {len(data)} bytes, shorter than an IDX header"
        )
    zero, dtype, file_ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or dtype != _UBYTE or file_ndim != ndim:
        raise ValueError(
            f"{dataset}: {path} is not an IDX file of {ndim}-dimensional unsigned bytes: its "
            f"magic number is 0x{int.from_bytes(data[0:4], 'big'):08x}, expected "
            f"0x{(_UBYTE << 8) | ndim:08x}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise ValueError(
            f"{dataset}: {path} has the wrong size for its shape {shape}: expected {expected} "
            f"bytes, found {len(data)}; the file is truncated or corrupt"
        )
    # bytearray makes the array writable (np.frombuffer of bytes would be read-only).
    return np.frombuffer(bytearray(data[header:]), dtype=np.uint8).reshape(shape)


def read_split(images_path, labels_path, dataset, image_shape=(28, 28), num_classes=10):
    """`(images, labels)` from an IDX image file and its IDX label file, checked against each
    other."""
    images = read_idx(images_path, 1 + len(image_shape), dataset)
    labels = read_idx(labels_path, 1, dataset)
    if images.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"{dataset}: {images_path} holds images of shape {images.shape[1:]}, expected "
            f"{tuple(image_shape)}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{dataset}: {images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{dataset}: {labels_path} holds the label {labels.max()}, expected "
            f"0..{num_classes - 1}"
        )
    return images, labels


def find_in_dir(data_dir, gz_name, dataset, all_names):
    """The gzip file, or the uncompressed one beside it (as torchvision leaves them)."""
    for name in (gz_name, gz_name[: -len(".gz")]):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"{dataset}: {os.path.join(data_dir, gz_name)} not found (the {dataset} directory "
        f"must hold {', '.join(all_names)})"
    )
