"""The data sets' file formats, on small synthetic files written in each real format: gzip IDX
(Fashion-MNIST), CIFAR's tar.gz of Python 2 pickled batches, IMDB's and Reuters's .npz of
ragged object arrays, the housing .npz files.

Where Keras is installed, ember's `load_data` is compared with Keras's on the same file (Keras's
`get_file` patched to return it): same arrays, dtypes, shapes and splits. Hostile files (a
pickle that names `open` or `os.system`) must raise an error without running anything.
"""

import gzip
import importlib
import importlib.util
import io
import os
import pickle
import struct
import tarfile
from typing import ClassVar

import numpy as np
import pytest
from ember.datasets import (
    boston_housing,
    california_housing,
    cifar,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from ember.datasets._safe_pickle import load_npz

# -- builders of synthetic files in the real formats -------------------------------------------


def idx_gz(array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return gzip.compress(header + array.tobytes())


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 `str` (BINSTRING), as the cPickle that wrote the CIFAR
    batches did; read back with encoding='bytes' they are bytes, as in the real files."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str


def py2_pickle(obj):
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_batch(g, n, label_keys):
    batch = {
        "batch_label": "synthetic batch",
        "data": g.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": [f"img_{i}.png" for i in range(n)],
    }
    for key, classes in label_keys.items():
        batch[key] = [int(v) for v in g.integers(0, classes, n)]
    return batch


def cifar10_archive(n=3, seed=0):
    """(tar.gz bytes, {member: batch dict}) with five training batches and a test batch of
    n images each."""
    g = np.random.default_rng(seed)
    names = list(cifar10.TRAIN_BATCHES) + [cifar10.TEST_BATCH]
    batches = {name: cifar_batch(g, n, {"labels": 10}) for name in names}
    members = {"cifar-10-batches-py/batches.meta": py2_pickle({"label_names": ["a"]})}
    members.update({name: py2_pickle(b) for name, b in batches.items()})
    return tar_gz(members), batches


def cifar100_archive(n_train=7, n_test=4, seed=0):
    g = np.random.default_rng(seed)
    keys = {"fine_labels": 100, "coarse_labels": 20}
    batches = {cifar100.TRAIN: cifar_batch(g, n_train, keys),
               cifar100.TEST: cifar_batch(g, n_test, keys)}
    return tar_gz({name: py2_pickle(b) for name, b in batches.items()}), batches


def object_array(sequences):
    out = np.empty(len(sequences), dtype=object)
    for i, s in enumerate(sequences):
        out[i] = s
    return out


def corpus(g, n, vocabulary=14, longest=9):
    """Reviews as lists of Python ints (as in the real files), frequent words more common."""
    weights = 1.0 / np.arange(1, vocabulary + 1)
    weights /= weights.sum()
    return object_array([
        [int(w) for w in g.choice(np.arange(1, vocabulary + 1), g.integers(1, longest), p=weights)]
        for _ in range(n)
    ])


def write_imdb(path, seed=0, n_train=14, n_test=11):
    g = np.random.default_rng(seed)
    np.savez(path, x_train=corpus(g, n_train), y_train=g.integers(0, 2, n_train),
             x_test=corpus(g, n_test), y_test=g.integers(0, 2, n_test))
    return path


def write_reuters(path, seed=0, n=23):
    g = np.random.default_rng(seed)
    np.savez(path, x=corpus(g, n, vocabulary=16, longest=11), y=g.integers(0, 46, n))
    return path


class Hostile:
    """Unpickling this calls `func(*args)`."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


# -- Keras, for parity -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_dataset():
    """Imports keras.src.datasets.<name> (the torch backend); skips without Keras."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    return lambda name: importlib.import_module(f"keras.src.datasets.{name}")


def returning(path):
    """A stand-in for Keras's get_file that returns `path` (a function of the file name)."""
    return lambda *args, **kwargs: path(kwargs.get("fname", args[0] if args else None))


def assert_sequences_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert list(a) == [int(w) for w in b]
        assert all(type(w) is int for w in a)


# -- Fashion-MNIST -----------------------------------------------------------------------------


def fashion_files(directory, seed=0, n_train=9, n_test=4):
    g = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": g.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": g.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": g.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": g.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        (directory / name).write_bytes(idx_gz(a))
    return arrays


def test_fashion_mnist_shapes_and_dtypes(tmp_path):
    arrays = fashion_files(tmp_path)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(data_dir=tmp_path)
    assert x_train.shape == (9, 28, 28) and y_train.shape == (9,)
    assert x_test.shape == (4, 28, 28) and y_test.shape == (4,)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte.gz"])
    assert len(fashion_mnist.CLASS_NAMES) == 10


def test_fashion_mnist_matches_keras(tmp_path, keras_dataset, monkeypatch):
    fashion_files(tmp_path, seed=1)
    kfashion = keras_dataset("fashion_mnist")
    monkeypatch.setattr(kfashion, "get_file", returning(lambda name: str(tmp_path / name)))
    for ours, theirs in zip(fashion_mnist.load_data(data_dir=tmp_path), kfashion.load_data()):
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_fashion_mnist_truncated_file(tmp_path):
    fashion_files(tmp_path)
    data = (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="fashion_mnist: could not decompress .*truncated"):
        fashion_mnist.load_data(data_dir=tmp_path)


# -- CIFAR -------------------------------------------------------------------------------------


def test_cifar10_shapes_dtypes_and_pixel_layout(tmp_path):
    archive, batches = cifar10_archive(n=3)
    (tmp_path / "c10.tar.gz").write_bytes(archive)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=tmp_path / "c10.tar.gz")
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert y_train.shape == (15, 1) and y_test.shape == (3, 1)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    assert x_train.flags.c_contiguous
    # A batch row holds 1024 red, then green, then blue values, in rows of 32.
    first = batches[cifar10.TRAIN_BATCHES[0]]
    i, r, c, ch = 1, 5, 7, 2
    assert x_train[i, r, c, ch] == first["data"][i, ch * 1024 + r * 32 + c]
    second = batches[cifar10.TRAIN_BATCHES[1]]
    np.testing.assert_array_equal(
        x_train[3:6], second["data"].reshape(3, 3, 32, 32).transpose(0, 2, 3, 1)
    )
    expected = [v for n in cifar10.TRAIN_BATCHES for v in batches[n]["labels"]]
    assert y_train[:, 0].tolist() == expected
    assert y_test[:, 0].tolist() == batches[cifar10.TEST_BATCH]["labels"]


def test_cifar_batches_match_keras_load_batch(tmp_path, keras_dataset):
    archive, _ = cifar10_archive(n=4, seed=2)
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        t.extractall(tmp_path, filter="data")  # our own archive
    kcifar = keras_dataset("cifar")
    for name in cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,):
        with open(tmp_path / name, "rb") as f:
            data, labels = cifar.load_batch(f)
        k_data, k_labels = kcifar.load_batch(str(tmp_path / name))
        assert data.dtype == k_data.dtype and data.shape == k_data.shape == (4, 3, 32, 32)
        np.testing.assert_array_equal(data, k_data)
        assert labels == k_labels


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(tmp_path, keras_dataset, monkeypatch, label_mode):
    archive, batches = cifar100_archive(seed=3)
    (tmp_path / "c100.tar.gz").write_bytes(archive)
    with tarfile.open(tmp_path / "c100.tar.gz") as t:
        t.extractall(tmp_path / "extracted", filter="data")
    ours = cifar100.load_data(label_mode, path=tmp_path / "c100.tar.gz")
    (x_train, y_train), (x_test, y_test) = ours
    assert x_train.shape == (7, 32, 32, 3) and y_train.shape == (7, 1)
    assert x_test.shape == (4, 32, 32, 3) and y_test.shape == (4, 1)
    assert y_test[:, 0].tolist() == batches[cifar100.TEST][f"{label_mode}_labels"]
    kcifar100 = keras_dataset("cifar100")
    monkeypatch.setattr(kcifar100, "get_file", returning(lambda _: str(tmp_path / "extracted")))
    for our_split, keras_split in zip(ours, kcifar100.load_data(label_mode)):
        for a, b in zip(our_split, keras_split):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_cifar100_bad_label_mode():
    with pytest.raises(ValueError, match="label_mode.*'medium'"):
        cifar100.load_data("medium")


@pytest.mark.parametrize("func", ["open", "system"])
def test_hostile_pickle_in_a_cifar_archive_does_not_run(tmp_path, func):
    marker = tmp_path / "pwned"
    payload = (Hostile(open, str(marker), "w") if func == "open"
               else Hostile(os.system, f"touch {marker}"))
    # Written by a normal pickler: its strings stay str under encoding='bytes'.
    hostile = pickle.dumps({"data": payload, "labels": [0]}, protocol=2)
    if func == "open":
        # The file really is hostile: an unrestricted unpickler runs it.
        pickle.loads(hostile, encoding="bytes")["data"].close()
        assert marker.exists()
        marker.unlink()
    archive, _ = cifar10_archive(n=1)
    members = {cifar10.TRAIN_BATCHES[0]: hostile}
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:  # keep the other, valid members
        for m in t.getmembers():
            members.setdefault(m.name, t.extractfile(m).read())
    (tmp_path / "evil.tar.gz").write_bytes(tar_gz(members))
    with pytest.raises(ValueError, match="refusing to load the global '(io|builtins|posix)"):
        cifar10.load_data(path=tmp_path / "evil.tar.gz")
    assert not marker.exists()


def test_cifar_truncated_and_incomplete_archives(tmp_path):
    archive, _ = cifar10_archive(n=2)
    (tmp_path / "half.tar.gz").write_bytes(archive[: len(archive) // 2])
    with pytest.raises(ValueError, match="cifar10: cannot read .*half.tar.gz"):
        cifar10.load_data(path=tmp_path / "half.tar.gz")
    _, batches = cifar10_archive(n=2)
    del batches[cifar10.TEST_BATCH]
    (tmp_path / "partial.tar.gz").write_bytes(
        tar_gz({name: py2_pickle(b) for name, b in batches.items()})
    )
    with pytest.raises(ValueError, match="lacks the members.*test_batch"):
        cifar10.load_data(path=tmp_path / "partial.tar.gz")


def test_cifar_bad_batch_contents(tmp_path):
    g = np.random.default_rng(0)
    bad = cifar_batch(g, 2, {"labels": 10})
    bad["labels"] = [3, 12]
    _, batches = cifar10_archive(n=2)
    members = {name: py2_pickle(b) for name, b in batches.items()}
    members[cifar10.TEST_BATCH] = py2_pickle(bad)
    (tmp_path / "a.tar.gz").write_bytes(tar_gz(members))
    with pytest.raises(ValueError, match="test_batch holds the label 12 .*expected 0..9"):
        cifar10.load_data(path=tmp_path / "a.tar.gz")
    bad["labels"] = [1, 2]
    bad["data"] = bad["data"][:, :100]
    members[cifar10.TEST_BATCH] = py2_pickle(bad)
    (tmp_path / "b.tar.gz").write_bytes(tar_gz(members))
    with pytest.raises(ValueError, match=r"uint8 array of shape \(N, 3072\)"):
        cifar10.load_data(path=tmp_path / "b.tar.gz")


# -- IMDB and Reuters --------------------------------------------------------------------------

IMDB_CASES = [
    {},
    {"num_words": 8},
    {"skip_top": 5},
    {"maxlen": 6},
    {"start_char": None, "index_from": 0},
    {"oov_char": None, "num_words": 9},
    {"seed": 7, "index_from": 2, "start_char": 0},
    {"num_words": 10, "skip_top": 4, "maxlen": 7, "oov_char": None},
]


@pytest.mark.parametrize("kwargs", IMDB_CASES)
def test_imdb_matches_keras(tmp_path, keras_dataset, monkeypatch, kwargs):
    path = write_imdb(tmp_path / "imdb.npz")
    kimdb = keras_dataset("imdb")
    monkeypatch.setattr(kimdb, "get_file", returning(lambda _: str(path)))
    ours = imdb.load_data(path=str(path), **kwargs)
    theirs = kimdb.load_data(**kwargs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        assert x.dtype == object and x.ndim == 1
        assert_sequences_equal(x, kx)
        assert y.dtype == ky.dtype
        np.testing.assert_array_equal(y, ky)


def test_imdb_semantics_on_a_tiny_corpus(tmp_path):
    """The transformations spelled out on two reviews (no shuffle can hide a mistake)."""
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=object_array([[1, 2, 3, 4, 5]]), y_train=np.array([1]),
             x_test=object_array([[5, 1, 6]]), y_test=np.array([0]))
    (x, _), (xt, _) = imdb.load_data(path=str(path))
    # start_char 1, indices + 3; num_words None: the largest index (9) is itself cut to 2.
    assert x[0] == [1, 4, 5, 6, 7, 8] and xt[0] == [1, 8, 4, 2]
    (x, _), _ = imdb.load_data(path=str(path), num_words=7, skip_top=5)
    assert x[0] == [2, 2, 5, 6, 2, 2]  # kept: 5 <= index < 7
    (x, _), _ = imdb.load_data(path=str(path), num_words=7, skip_top=5, oov_char=None)
    assert x[0] == [5, 6]
    (x, _), (xt, _) = imdb.load_data(path=str(path), start_char=None, index_from=0,
                                     num_words=100)
    assert x[0] == [1, 2, 3, 4, 5] and xt[0] == [5, 1, 6]
    # maxlen keeps the reviews shorter than maxlen, the start mark included.
    np.savez(path, x_train=object_array([[1, 2, 3, 4, 5], [7], [2, 2]]),
             y_train=np.array([1, 0, 1]), x_test=object_array([[5, 1, 6], [5]]),
             y_test=np.array([0, 1]))
    (x, y), (xt, yt) = imdb.load_data(path=str(path), maxlen=3, num_words=100)
    assert list(x) == [[1, 10]] and y.tolist() == [0]
    assert list(xt) == [[1, 8]] and yt.tolist() == [1]
    with pytest.raises(ValueError, match="no sequence was kept"):
        imdb.load_data(path=str(path), maxlen=2)


def test_imdb_bad_arguments(tmp_path):
    path = write_imdb(tmp_path / "imdb.npz")
    for kwargs, name in [({"num_words": -1}, "num_words"), ({"skip_top": 1.5}, "skip_top"),
                         ({"maxlen": "10"}, "maxlen"), ({"index_from": -2}, "index_from"),
                         ({"oov_char": 2.0}, "oov_char")]:
        with pytest.raises(ValueError, match=f"imdb: expected `{name}`"):
            imdb.load_data(path=str(path), **kwargs)


def test_imdb_file_lacking_arrays(tmp_path):
    np.savez(tmp_path / "x.npz", x_train=object_array([[1]]))
    with pytest.raises(ValueError, match=r"lacks the arrays \['y_train', 'x_test', 'y_test'\]"):
        imdb.load_data(path=str(tmp_path / "x.npz"))


@pytest.mark.parametrize("func", ["open", "system"])
def test_hostile_npz_does_not_run(tmp_path, func):
    marker = tmp_path / "pwned"
    payload = (Hostile(open, str(marker), "w") if func == "open"
               else Hostile(os.system, f"touch {marker}"))
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=object_array([payload]), y_train=np.array([0]),
             x_test=object_array([[1]]), y_test=np.array([1]))
    if func == "open":
        with np.load(path, allow_pickle=True) as f:  # the file really is hostile
            f["x_train"][0].close()
        assert marker.exists()
        marker.unlink()
    with pytest.raises(ValueError, match="imdb: cannot read .*member x_train.npy.*refusing"):
        imdb.load_data(path=str(path))
    assert not marker.exists()


def test_load_npz_reads_numeric_and_object_arrays(tmp_path):
    np.savez(tmp_path / "a.npz", n=np.arange(6.0).reshape(2, 3), o=object_array([[1, 2], [3]]))
    arrays = load_npz(tmp_path / "a.npz", "test")
    np.testing.assert_array_equal(arrays["n"], np.arange(6.0).reshape(2, 3))
    assert arrays["o"].dtype == object and list(arrays["o"]) == [[1, 2], [3]]
    (tmp_path / "b.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="test: cannot read .*b.npz.*not a valid .npz"):
        load_npz(tmp_path / "b.npz", "test")


REUTERS_CASES = [
    {},
    {"num_words": 10, "test_split": 0.5},
    {"skip_top": 6, "maxlen": 8, "seed": 3},
    {"start_char": None, "index_from": 0, "oov_char": None, "num_words": 12},
    {"test_split": 0.0},
]


@pytest.mark.parametrize("kwargs", REUTERS_CASES)
def test_reuters_matches_keras(tmp_path, keras_dataset, monkeypatch, kwargs):
    path = write_reuters(tmp_path / "reuters.npz")
    kreuters = keras_dataset("reuters")
    monkeypatch.setattr(kreuters, "get_file", returning(lambda _: str(path)))
    ours = reuters.load_data(path=str(path), **kwargs)
    theirs = kreuters.load_data(**kwargs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        assert x.dtype == object and x.ndim == 1
        assert_sequences_equal(x, kx)
        assert y.dtype == ky.dtype
        np.testing.assert_array_equal(y, ky)
    assert reuters.get_label_names() == tuple(kreuters.get_label_names())


def test_reuters_split_sizes(tmp_path):
    path = write_reuters(tmp_path / "reuters.npz", n=30)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(path=str(path), test_split=0.3)
    assert len(x_train) == len(y_train) == 21 and len(x_test) == len(y_test) == 9
    assert len(reuters.get_label_names()) == 46
    with pytest.raises(ValueError, match="reuters: expected `test_split`"):
        reuters.load_data(path=str(path), test_split=1.5)


# -- housing -----------------------------------------------------------------------------------


def test_boston_housing_matches_keras(tmp_path, keras_dataset, monkeypatch):
    g = np.random.default_rng(0)
    np.savez(tmp_path / "b.npz", x=g.normal(size=(506, 13)), y=g.uniform(5, 50, 506))
    kboston = keras_dataset("boston_housing")
    monkeypatch.setattr(kboston, "get_file", returning(lambda _: str(tmp_path / "b.npz")))
    for kwargs in ({}, {"test_split": 0.3, "seed": 5}, {"test_split": 0.0}):
        ours = boston_housing.load_data(path=tmp_path / "b.npz", **kwargs)
        for our_split, keras_split in zip(ours, kboston.load_data(**kwargs)):
            for a, b in zip(our_split, keras_split):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b)
    (x_train, y_train), (x_test, _) = boston_housing.load_data(path=tmp_path / "b.npz")
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    assert y_train.shape == (404,) and x_train.dtype == np.float64
    for bad in (1.0, -0.1, "0.2"):
        with pytest.raises(ValueError, match="boston_housing: invalid `test_split`"):
            boston_housing.load_data(path=tmp_path / "b.npz", test_split=bad)


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_matches_keras(tmp_path, keras_dataset, monkeypatch, version):
    g = np.random.default_rng(1)
    n = 750
    np.savez(tmp_path / "c.npz", x=g.normal(size=(n, 8)).astype(np.float32),
             y=g.uniform(2e4, 5e5, n).astype(np.float32))
    kcal = keras_dataset("california_housing")
    monkeypatch.setattr(kcal, "get_file", returning(lambda _: str(tmp_path / "c.npz")))
    ours = california_housing.load_data(version, path=tmp_path / "c.npz", seed=9)
    for our_split, keras_split in zip(ours, kcal.load_data(version, seed=9)):
        for a, b in zip(our_split, keras_split):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    total = 600 if version == "small" else n
    assert len(ours[0][0]) == int(total * 0.8) and len(ours[1][0]) == total - int(total * 0.8)


def test_housing_bad_files_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="version.*'medium'"):
        california_housing.load_data("medium")
    np.savez(tmp_path / "wrong.npz", x=np.zeros((5, 7)), y=np.zeros(5))
    with pytest.raises(ValueError, match=r"expected \(N, 8\) and \(N,\)"):
        california_housing.load_data(path=tmp_path / "wrong.npz")
    np.savez(tmp_path / "noy.npz", x=np.zeros((5, 13)))
    with pytest.raises(ValueError, match=r"lacks the arrays \['y'\]"):
        boston_housing.load_data(path=tmp_path / "noy.npz")


# -- the published locations and hashes are Keras's -------------------------------------------


def _keras_source(name):
    spec = importlib.util.find_spec("keras")
    if spec is None:
        pytest.skip("keras is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "src", "datasets", f"{name}.py")
    with open(path) as f:
        return f.read()


def test_urls_file_names_and_hashes_are_keras_s():
    checks = {
        "cifar10": [cifar10.URL, cifar10.SHA256, "cifar-10-batches-py-target"],
        "cifar100": [cifar100.URL, cifar100.SHA256, "cifar-100-python-target"],
        "imdb": [imdb.SHA256, imdb.WORD_INDEX_MD5, imdb.BASE_URL, imdb.FILE_NAME,
                 imdb.WORD_INDEX_NAME],
        "reuters": [reuters.SHA256, reuters.WORD_INDEX_MD5, reuters.BASE_URL,
                    reuters.FILE_NAME, reuters.WORD_INDEX_NAME],
        "boston_housing": [boston_housing.SHA256, boston_housing.FILE_NAME],
        "california_housing": [california_housing.SHA256, california_housing.FILE_NAME],
        "fashion_mnist": [fashion_mnist.BASE_URL, '"fashion-mnist"', *fashion_mnist.FILES],
        "mnist": [mnist.KERAS_NPZ_SHA256],
    }
    for name, needles in checks.items():
        source = _keras_source(name)
        for needle in needles:
            assert needle in source, f"{needle} is not in keras/src/datasets/{name}.py"
    assert cifar10.KERAS_CACHE_NAME == "cifar-10-batches-py-target_archive"
    assert cifar100.KERAS_CACHE_NAME == "cifar-100-python-target_archive"
    # Keras gives no hash for Fashion-MNIST, and ember invents none.
    assert "file_hash" not in _keras_source("fashion_mnist")
