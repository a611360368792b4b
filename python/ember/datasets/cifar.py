"""What CIFAR-10 and CIFAR-100 share: reading the "python version" archives of
https://www.cs.toronto.edu/~kriz/cifar.html.

Each archive (.tar.gz) holds pickled batches: Python 2 pickles of a dict with b"data", a uint8
array (N, 3072) of N images stored channel by channel (1024 red, 1024 green, 1024 blue values,
rows of 32), and the labels (b"labels"; b"fine_labels" and b"coarse_labels" for CIFAR-100).

The batches are read straight out of the archive in one streaming pass: nothing is extracted
to disk (so no archive member can write outside the cache), and each pickle is read with
`RestrictedUnpickler` (encoding="bytes", as Python 2 strings need), so a hostile archive cannot
run code.
"""

import tarfile
import zlib

import numpy as np

from ember import config
from ember.datasets._download import fetch, local_file
from ember.datasets._safe_pickle import PARSE_ERRORS, restricted_load

_IMAGE_VALUES = 3 * 32 * 32


def load_batch(fileobj, label_key="labels", source="CIFAR batch", num_classes=None):
    """Parses one pickled CIFAR batch (a binary file object).

    Returns:
        `(data, labels)`: uint8 images (N, 3, 32, 32) and a list of N int labels, as Keras's
        `load_batch`.

    Raises:
        ValueError: naming `source`, when the batch is not a pickle of that form, holds a
            label outside 0..num_classes-1, or asks for any global other than NumPy's array
            constructors (a hostile file).
    """
    try:
        batch = restricted_load(fileobj, encoding="bytes")
    except PARSE_ERRORS as e:
        raise ValueError(
            f"{source}: cannot unpickle the batch: {type(e).__name__}: {e}. The archive is "
            "truncated, corrupt or malicious; delete it and download it again."
        ) from None
    if not isinstance(batch, dict):
        raise ValueError(f"{source} holds a {type(batch).__name__}, expected a dict")
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    for key in ("data", label_key):
        if key not in batch:
            raise ValueError(
                f"{source} lacks the entry {key!r} (it holds {sorted(map(str, batch))})"
            )
    data, labels = batch["data"], batch[label_key]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == _IMAGE_VALUES):
        raise ValueError(
            f"{source}: expected 'data' to be a uint8 array of shape (N, {_IMAGE_VALUES}), "
            f"received {getattr(data, 'dtype', type(data).__name__)} of shape "
            f"{getattr(data, 'shape', None)}"
        )
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if not (isinstance(labels, list) and all(type(v) is int for v in labels)):
        raise ValueError(f"{source}: expected {label_key!r} to be a list of ints")
    if len(labels) != data.shape[0]:
        raise ValueError(
            f"{source} holds {data.shape[0]} images but {len(labels)} {label_key!r}"
        )
    bad = [v for v in labels if not 0 <= v < num_classes] if num_classes is not None else []
    if bad:
        raise ValueError(
            f"{source} holds the label {bad[0]} in {label_key!r}, expected 0..{num_classes - 1}"
        )
    return data.reshape(data.shape[0], 3, 32, 32), labels


def read_batches(path, members, dataset, label_key, num_classes):
    """`{member name: (data, labels)}` for the named members of a CIFAR archive, read in one
    streaming pass."""
    wanted = set(members)
    found = {}
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if name not in wanted or name in found:
                    continue
                if not member.isfile():
                    raise ValueError(f"{dataset}: {path}: the member {name} is not a file")
                found[name] = load_batch(
                    archive.extractfile(member), label_key, f"{dataset}: {path}: {name}",
                    num_classes,
                )
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(
            f"{dataset}: cannot read {path}: {type(e).__name__}: {e}. It is not a complete "
            "tar archive (truncated or corrupt); delete it and download it again."
        ) from None
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(f"{dataset}: {path} lacks the members {missing}")
    return found


def archive_path(dataset, path, file_name, url, sha256, keras_name):
    """The archive: `path` when it names a file, else from $EMBER_DATA_DIR, the cache or the
    network (see `ember.datasets._download.fetch`)."""
    local, cache_name = local_file(dataset, path, file_name)
    if local is not None:
        return local
    return fetch(dataset, cache_name, url, sha256, aliases=(keras_name,))


def to_image_format(x):
    """(N, 3, 32, 32) -> the configured image data format, contiguous."""
    if config.image_data_format() == "channels_last":
        x = x.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x)
