"""Tests of ember.datasets: the built-in digits, MNIST's IDX reader and the downloader.

Downloads are tested against a local HTTP server; the real MNIST files are read only when
EMBER_MNIST_DIR points at them (CI sets it to the shared MNIST directory).
"""

import contextlib
import functools
import gzip
import hashlib
import http.server
import importlib.resources
import os
import threading

import numpy as np
import pytest

from ember.datasets import DownloadError, digits, get_file, mnist
from ember.datasets import _download
from ember.utils import set_random_seed

# -- digits ------------------------------------------------------------------------------------

DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # UCI test set


def test_digits_shapes_dtypes_and_values():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1437, 8, 8) and x_test.shape == (360, 8, 8)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 16
    y = np.concatenate([y_train, y_test])
    assert np.bincount(y).tolist() == DIGITS_CLASS_COUNTS
    # Both splits contain every digit.
    assert set(y_test.tolist()) == set(range(10))


def test_digits_split_is_a_seeded_shuffle():
    (a_train, _), (a_test, _) = digits.load_data(seed=1)
    (b_train, _), (b_test, _) = digits.load_data(seed=1)
    (c_train, _), _ = digits.load_data(seed=2)
    np.testing.assert_array_equal(a_train, b_train)
    np.testing.assert_array_equal(a_test, b_test)
    assert not np.array_equal(a_train, c_train)
    # The same 1,797 images whatever the seed.
    (d_train, _), (d_test, _) = digits.load_data(test_split=0.0)
    assert d_train.shape == (1797, 8, 8) and d_test.shape == (0, 8, 8)
    assert sorted(map(bytes, np.concatenate([a_train, a_test]))) == sorted(map(bytes, d_train))


def test_digits_seed_none_follows_the_global_seed():
    set_random_seed(5)
    (a, _), _ = digits.load_data(seed=None)
    set_random_seed(5)
    (b, _), _ = digits.load_data(seed=None)
    np.testing.assert_array_equal(a, b)


def test_digits_first_image_is_the_first_row_of_the_file():
    (x, y), _ = digits.load_data(test_split=0.0)
    order = np.random.default_rng(113).permutation(1797)
    first = int(np.flatnonzero(order == 0)[0])
    assert y[first] == 0
    np.testing.assert_array_equal(
        x[first].ravel(),
        [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
         12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
         12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0],
    )


@pytest.mark.parametrize("kwargs", [{"test_split": 1.0}, {"test_split": -0.1},
                                    {"test_split": "0.2"}, {"seed": -1}, {"seed": 1.5}])
def test_digits_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="digits: expected"):
        digits.load_data(**kwargs)


def test_digits_data_and_credit_ship_in_the_package():
    data = importlib.resources.files("ember.datasets").joinpath("data")
    assert data.joinpath("digits.csv.gz").is_file()
    credit = data.joinpath("digits.CREDITS.txt").read_text()
    assert "Alpaydin" in credit and "Kaynak" in credit and "CC BY 4.0" in credit
    assert "Alpaydin" in digits.__doc__ and "CC BY 4.0" in digits.__doc__


# -- MNIST IDX files ---------------------------------------------------------------------------


def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def make_fake_mnist(seed=0, n_train=7, n_test=3):
    """Small random MNIST-like data: {file name: (array, IDX bytes)}."""
    g = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": g.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": g.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": g.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": g.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {name: (a, gzip.compress(idx_bytes(a))) for name, a in arrays.items()}


def write_files(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, (_, data) in files.items():
        (directory / name).write_bytes(data)


def assert_loaded(result, files):
    (x_train, y_train), (x_test, y_test) = result
    expected = [files[n][0] for n in mnist.FILES]
    for got, want in zip((x_train, y_train, x_test, y_test), expected):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert x_train.flags.writeable


def test_mnist_from_data_dir(tmp_path):
    files = make_fake_mnist()
    write_files(tmp_path, files)
    assert_loaded(mnist.load_data(data_dir=tmp_path), files)


def test_mnist_from_env_dir(tmp_path, monkeypatch):
    files = make_fake_mnist(seed=1)
    write_files(tmp_path, files)
    monkeypatch.setenv("EMBER_MNIST_DIR", str(tmp_path))
    assert_loaded(mnist.load_data(), files)


def test_mnist_reads_uncompressed_files(tmp_path):
    files = make_fake_mnist(seed=2)
    for name, (array, _) in files.items():
        (tmp_path / name[:-3]).write_bytes(idx_bytes(array))
    assert_loaded(mnist.load_data(data_dir=tmp_path), files)


def test_mnist_reads_keras_npz(tmp_path):
    files = make_fake_mnist(seed=3)
    arrays = [files[n][0] for n in mnist.FILES]
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=arrays[0], y_train=arrays[1], x_test=arrays[2], y_test=arrays[3])
    assert_loaded(mnist.load_data(path=str(path)), files)
    with pytest.raises(FileNotFoundError, match="elsewhere.npz"):
        mnist.load_data(path=str(tmp_path / "elsewhere.npz"))
    np.savez(tmp_path / "partial.npz", x_train=arrays[0])
    with pytest.raises(ValueError, match="lacks the arrays"):
        mnist.load_data(path=str(tmp_path / "partial.npz"))


def _corrupt(tmp_path, name, data):
    files = make_fake_mnist()
    write_files(tmp_path, files)
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def test_mnist_truncated_gzip_names_the_file(tmp_path):
    good = make_fake_mnist()["train-images-idx3-ubyte.gz"][1]
    path = _corrupt(tmp_path, "train-images-idx3-ubyte.gz", good[: len(good) // 2])
    with pytest.raises(ValueError, match=f"{path}.*truncated or corrupt"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_not_gzip_names_the_file(tmp_path):
    path = _corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", b"this is not gzip data at all")
    with pytest.raises(ValueError, match=f"could not decompress {path}"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_truncated_payload_names_the_file(tmp_path):
    images = make_fake_mnist()["train-images-idx3-ubyte.gz"][0]
    data = gzip.compress(idx_bytes(images)[:-100])  # valid gzip, short IDX payload
    path = _corrupt(tmp_path, "train-images-idx3-ubyte.gz", data)
    with pytest.raises(ValueError, match=f"{path} has the wrong size.*truncated or corrupt"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_wrong_magic_names_the_file(tmp_path):
    labels = make_fake_mnist()["train-labels-idx1-ubyte.gz"][0]
    data = bytearray(idx_bytes(labels))
    data[2] = 0x0D  # float instead of unsigned byte
    path = _corrupt(tmp_path, "train-labels-idx1-ubyte.gz", gzip.compress(bytes(data)))
    with pytest.raises(ValueError, match=f"{path} is not an IDX file.*0x00000d01"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_header_only_file(tmp_path):
    path = _corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", gzip.compress(b"\x00\x00"))
    with pytest.raises(ValueError, match=f"{path} is truncated"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_label_count_mismatch(tmp_path):
    path = _corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz",
                    gzip.compress(idx_bytes(np.zeros(5, np.uint8))))
    with pytest.raises(ValueError, match=f"3 images but {path} holds 5 labels"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_bad_label_and_image_size(tmp_path):
    _corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz",
             gzip.compress(idx_bytes(np.array([1, 10, 2], np.uint8))))
    with pytest.raises(ValueError, match="the label 10, expected 0..9"):
        mnist.load_data(data_dir=tmp_path)
    _corrupt(tmp_path, "t10k-images-idx3-ubyte.gz",
             gzip.compress(idx_bytes(np.zeros((3, 8, 8), np.uint8))))
    with pytest.raises(ValueError, match=r"shape \(8, 8\), expected \(28, 28\)"):
        mnist.load_data(data_dir=tmp_path)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.load_data(data_dir=tmp_path / "nowhere")
    files = make_fake_mnist()
    del files["t10k-images-idx3-ubyte.gz"]
    write_files(tmp_path, files)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz not found"):
        mnist.load_data(data_dir=tmp_path)


# -- downloads from a local server -------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@contextlib.contextmanager
def serve(directory):
    """A threaded HTTP server on 127.0.0.1 (random port) serving `directory`; yields the base
    URL and the list of requested paths."""
    requests = []

    class Handler(_Handler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def test_get_file_downloads_verifies_and_caches(tmp_path):
    payload = os.urandom(200_000)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "blob.bin").write_bytes(payload)
    cache = tmp_path / "cache"
    with serve(tmp_path / "srv") as (url, requests):
        path = get_file("blob.bin", url + "blob.bin", "sha256:" + sha256(payload), str(cache))
        assert path == str(cache / "blob.bin")
        assert (cache / "blob.bin").read_bytes() == payload
        again = get_file("blob.bin", [url + "blob.bin"], sha256(payload), str(cache))
        assert again == path
        assert requests == ["/blob.bin"]  # the second call used the cache
    assert listing(cache) == ["blob.bin"]


def test_get_file_bad_hash_leaves_nothing(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "blob.bin").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with serve(tmp_path / "srv") as (url, _):
        with pytest.raises(DownloadError, match="SHA256 mismatch, expected " + "0" * 64):
            get_file("blob.bin", url + "blob.bin", "0" * 64, str(cache))
    assert listing(cache) == []


def test_get_file_falls_back_to_the_next_mirror(tmp_path):
    payload = b"mnist-like bytes" * 1000
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f.gz").write_bytes(b"wrong content")
    (tmp_path / "b" / "f.gz").write_bytes(payload)
    cache = tmp_path / "cache"
    with serve(tmp_path / "a") as (bad_url, _), serve(tmp_path / "b") as (good_url, _):
        urls = [bad_url + "missing.gz", bad_url + "f.gz", good_url + "f.gz"]
        md5 = hashlib.md5(payload).hexdigest()
        path = get_file("f.gz", urls, md5, str(cache))
    assert open(path, "rb").read() == payload
    assert listing(cache) == ["f.gz"]


def test_get_file_reports_every_failure(tmp_path):
    (tmp_path / "srv").mkdir()
    with serve(tmp_path / "srv") as (url, _):
        port_closed = url  # the server is shut down below, so this port refuses connections
    with serve(tmp_path / "srv") as (url, _):
        with pytest.raises(DownloadError) as info:
            get_file("x.gz", [port_closed + "x.gz", url + "x.gz"], "1" * 64, str(tmp_path / "c"))
    message = str(info.value)
    assert port_closed + "x.gz: " in message and "404" in message
    assert listing(tmp_path / "c") == []


def test_get_file_replaces_a_corrupt_cached_file(tmp_path):
    payload = b"good data"
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "d.bin").write_bytes(payload)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "d.bin").write_bytes(b"half a downl")
    with serve(tmp_path / "srv") as (url, requests):
        path = get_file("d.bin", url + "d.bin", sha256(payload), str(cache))
    assert open(path, "rb").read() == payload and requests == ["/d.bin"]


def test_get_file_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        get_file("../escape", "http://127.0.0.1/x", None, str(tmp_path))
    with pytest.raises(ValueError, match="hash algorithm"):
        get_file("x", "http://127.0.0.1/x", "abc", str(tmp_path))
    with pytest.raises(ValueError, match="unsupported hash algorithm"):
        get_file("x", "http://127.0.0.1/x", "sha1:abc", str(tmp_path))
    with pytest.raises(ValueError, match="at least one URL"):
        get_file("x", [], None, str(tmp_path))


def test_mnist_download_path(tmp_path, monkeypatch, capsys):
    files = make_fake_mnist(seed=4)
    write_files(tmp_path / "srv", files)
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EMBER_MNIST_DIR", raising=False)
    monkeypatch.setattr(mnist, "FILES", {n: sha256(d) for n, (_, d) in files.items()})
    with serve(tmp_path / "srv") as (url, requests):
        monkeypatch.setattr(mnist, "MIRRORS", (url + "broken-mirror/", url))
        assert_loaded(mnist.load_data(), files)
        assert len(requests) == 8  # each file: the broken mirror, then the good one
        assert_loaded(mnist.load_data(), files)  # from the cache
        assert len(requests) == 8
    cache = tmp_path / "home" / "datasets" / "mnist"
    assert listing(cache) == sorted(files)
    assert f"Downloading data from {url}train-images-idx3-ubyte.gz" in capsys.readouterr().out


def test_mnist_mirror_hashes_are_the_published_ones():
    # SHA-256 of the gzip files on the public mirrors (as torchvision downloads them).
    assert mnist.FILES["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert mnist.MIRRORS[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert all(len(h) == 64 for h in mnist.FILES.values())


def test_cache_dir_follows_ember_home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "eh"))
    assert _download.default_cache_dir("mnist") == str(tmp_path / "eh" / "datasets" / "mnist")
    assert (tmp_path / "eh" / "datasets" / "mnist").is_dir()


# -- the real MNIST ----------------------------------------------------------------------------

_REAL_DIR = os.environ.get("EMBER_MNIST_DIR")


@pytest.mark.skipif(not _REAL_DIR or not os.path.isdir(_REAL_DIR),
                    reason="EMBER_MNIST_DIR is not set to a directory holding the MNIST files")
def test_real_mnist():
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir=_REAL_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    # The published class counts of MNIST.
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                             5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                            1009]
    assert x_train.max() == 255 and x_train.min() == 0
    # Digits sit in the centre: the border rows are blank in almost every image.
    assert x_train[:, 0, :].mean() < 0.1
