"""Tests of `ember.utils.file_utils.get_file` (Keras's `get_file`) and of how the data sets find
their files (cache, download, $EMBER_DATA_DIR, `path=`, the offline error).

Every download goes to an HTTP server on 127.0.0.1 that the test starts and that serves bytes
the test makes: good files, corrupt ones, and responses cut off halfway. No test needs the
internet.
"""

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ember.datasets import (
    DownloadError,
    _download,
    _tabular,
    boston_housing,
    cifar10,
    fashion_mnist,
    imdb,
    mnist,
)
from ember.utils import file_utils
from ember.utils.file_utils import get_file

# -- a local HTTP server -----------------------------------------------------------------------


class Server:
    """Serves `routes` ({'/name': bytes}); `cut` holds the paths whose body is cut in half
    after announcing the full Content-Length; `no_length` those sent without one."""

    def __init__(self):
        self.routes, self.cut, self.no_length, self.requests = {}, set(), set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404, "File not found")
                    return
                self.send_response(200)
                if self.path not in server.no_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True  # hang up mid-body
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def add(self, name, body, cut=False, no_length=False):
        self.routes["/" + name] = body
        if cut:
            self.cut.add("/" + name)
        if no_length:
            self.no_length.add("/" + name)
        return self.url + name


@pytest.fixture
def server():
    s = Server()
    thread = threading.Thread(target=s.httpd.serve_forever, daemon=True)
    thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    thread.join()


@pytest.fixture
def closed_url():
    """The URL of a port nothing listens on (a server opened, then closed)."""
    s = Server()
    url = s.url
    s.httpd.server_close()
    return url


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Keeps every test away from the real ~/.ember and any EMBER_DATA_DIR."""
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EMBER_DATA_DIR", raising=False)
    monkeypatch.delenv("EMBER_MNIST_DIR", raising=False)
    return tmp_path / "home"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


# -- get_file: download, cache, hashes ---------------------------------------------------------


def test_download_then_cache_hit_without_network(server, tmp_path, capsys):
    payload = os.urandom(300_000)
    url = server.add("blob.bin", payload)
    path = get_file("blob.bin", url, file_hash=sha256(payload), cache_dir=tmp_path / "c")
    assert path == str(tmp_path / "c" / "datasets" / "blob.bin")
    assert Path(path).read_bytes() == payload
    assert f"Downloading data from {url}" in capsys.readouterr().out
    # The second call reads the cache: the server sees no second request.
    again = get_file("blob.bin", url, file_hash=sha256(payload), cache_dir=tmp_path / "c")
    assert again == path and server.requests == ["/blob.bin"]
    assert listing(tmp_path / "c" / "datasets") == ["blob.bin"]  # no temporary file left


def test_default_cache_is_ember_home_datasets(server, isolated_home):
    url = server.add("a.txt", b"hello")
    path = get_file(origin=url)  # fname from the URL
    assert path == str(isolated_home / "datasets" / "a.txt")
    assert get_file("b.txt", url, cache_subdir="sub") == str(isolated_home / "sub" / "b.txt")
    absolute = isolated_home.parent / "elsewhere"
    assert get_file("c.txt", url, cache_subdir=str(absolute)) == str(absolute / "c.txt")


def test_md5_and_explicit_algorithms(server, tmp_path):
    payload = b"some bytes" * 100
    url = server.add("m.bin", payload)
    md5 = hashlib.md5(payload).hexdigest()
    assert Path(get_file("m1", url, md5_hash=md5, cache_dir=tmp_path)).read_bytes() == payload
    get_file("m2", url, file_hash=md5, cache_dir=tmp_path)  # 'auto': 32 digits is MD5
    get_file("m3", url, file_hash=sha256(payload).upper(), hash_algorithm="sha256",
             cache_dir=tmp_path)
    assert file_utils.validate_file(tmp_path / "datasets" / "m1", md5)
    assert file_utils.hash_file(tmp_path / "datasets" / "m3") == sha256(payload)
    with pytest.raises(ValueError, match="hash_algorithm.*'sha1'"):
        get_file("m4", url, file_hash=md5, hash_algorithm="sha1", cache_dir=tmp_path)


def test_corrupt_download_raises_and_leaves_nothing(server, tmp_path):
    url = server.add("data.npz", b"tampered content")
    expected = sha256(b"the real content")
    with pytest.raises(DownloadError) as info:
        get_file("data.npz", url, file_hash=expected, cache_dir=tmp_path)
    message = str(info.value)
    assert f"SHA256 mismatch, expected {expected}" in message and url in message
    assert listing(tmp_path / "datasets") == []


@pytest.mark.parametrize("with_hash", [True, False])
def test_download_cut_halfway_raises_and_leaves_nothing(server, tmp_path, with_hash):
    payload = os.urandom(100_000)
    url = server.add("big.bin", payload, cut=True)
    file_hash = sha256(payload) if with_hash else None
    with pytest.raises(DownloadError, match="closed after 50000 of the 100000 bytes"):
        get_file("big.bin", url, file_hash=file_hash, cache_dir=tmp_path)
    assert listing(tmp_path / "datasets") == []


def test_failed_redownload_keeps_the_good_cached_file(server, tmp_path):
    good = b"version one" * 1000
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "f.bin").write_bytes(good)
    url = server.add("f.bin", b"version two" * 1000, cut=True)
    with pytest.raises(DownloadError, match="closed after"):
        get_file("f.bin", url, cache_dir=tmp_path, force_download=True)
    assert (datasets / "f.bin").read_bytes() == good
    assert listing(datasets) == ["f.bin"]
    # Likewise when the new file fails its hash.
    server.cut.clear()
    with pytest.raises(DownloadError, match="mismatch"):
        get_file("f.bin", url, file_hash="0" * 64, cache_dir=tmp_path, force_download=True)
    assert (datasets / "f.bin").read_bytes() == good and listing(datasets) == ["f.bin"]


def test_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    url = server.add("k.bin", os.urandom(1 << 18))

    class Interrupting:
        def __init__(self, target):
            pass

        def update(self, current, finalize=None):
            raise KeyboardInterrupt  # Ctrl-C in the middle of the body

    monkeypatch.setattr(file_utils, "Progbar", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        get_file("k.bin", url, cache_dir=tmp_path)
    assert listing(tmp_path / "datasets") == []


def test_stale_cached_file_is_downloaded_again(server, tmp_path, capsys):
    payload = b"fresh"
    url = server.add("s.bin", payload)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "s.bin").write_bytes(b"stale")
    path = get_file("s.bin", url, file_hash=sha256(payload), cache_dir=tmp_path)
    assert Path(path).read_bytes() == payload and server.requests == ["/s.bin"]
    assert "hash does not match" in capsys.readouterr().out
    # Without a hash any cached file is used; force_download fetches anyway.
    get_file("s.bin", url, cache_dir=tmp_path)
    assert len(server.requests) == 1
    get_file("s.bin", url, cache_dir=tmp_path, force_download=True)
    assert len(server.requests) == 2


def test_response_without_content_length(server, tmp_path):
    payload = os.urandom(70_000)
    url = server.add("n.bin", payload, no_length=True)
    path = get_file("n.bin", url, file_hash=sha256(payload), cache_dir=tmp_path)
    assert Path(path).read_bytes() == payload


def test_offline_error_names_file_url_and_place(closed_url, tmp_path):
    url = closed_url + "weights.h5"
    with pytest.raises(DownloadError) as info:
        get_file("weights.h5", url, cache_dir=tmp_path)
    message = str(info.value)
    assert "weights.h5" in message and url in message
    assert str(tmp_path / "datasets" / "weights.h5") in message
    assert "ConnectionRefusedError" in message
    assert listing(tmp_path / "datasets") == []


def test_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP Error 404"):
        get_file("missing.bin", server.url + "missing.bin", cache_dir=tmp_path)
    assert listing(tmp_path / "datasets") == []


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='"origin"'):
        get_file("x")
    with pytest.raises(ValueError, match="not a path"):
        get_file("a/b", "http://127.0.0.1/x", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="file name from the origin"):
        get_file(origin="http://127.0.0.1/", cache_dir=tmp_path)


# -- get_file: archives ------------------------------------------------------------------------


def tar_gz(members):
    """A .tar.gz of {name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_extract_tar_with_keras_names(server, tmp_path):
    url = server.add("pack.tar.gz", tar_gz({"pack/a.txt": b"A", "pack/sub/b.txt": b"B"}))
    # A name without an extension names the directory; the archive is '<name>_archive'.
    path = get_file("pack", url, extract=True, cache_dir=tmp_path)
    assert path == str(tmp_path / "datasets" / "pack")
    assert Path(path, "pack", "sub", "b.txt").read_bytes() == b"B"
    assert listing(tmp_path / "datasets") == ["pack", "pack_archive"]
    # Cached: no new request, same directory.
    assert get_file("pack", url, extract=True, cache_dir=tmp_path) == path
    assert len(server.requests) == 1
    # A name with an extension keeps it for the archive; the directory is '<stem>_extracted'.
    path = get_file("other.tar.gz", url, untar=True, cache_dir=tmp_path)
    assert path == str(tmp_path / "datasets" / "other_extracted")
    assert os.path.isfile(os.path.join(path, "pack", "a.txt"))


def test_extract_zip(server, tmp_path):
    url = server.add("z.zip", zip_bytes({"z/one.txt": b"1"}))
    path = get_file("z.zip", url, extract=True, archive_format="zip", cache_dir=tmp_path)
    assert Path(path, "z", "one.txt").read_bytes() == b"1"


def _symlink_tar(name, target):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        archive.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize("archive,bad", [
    (tar_gz({"ok.txt": b"x", "../escaped.txt": b"evil"}), "'..'"),
    (tar_gz({"/tmp/ember_absolute_evil.txt": b"evil"}), "absolute"),
    (_symlink_tar("link", "../../outside"), "link"),
    (zip_bytes({"ok.txt": b"x", "../escaped.txt": b"evil"}), "'..'"),
])
def test_unsafe_archive_members_are_refused(server, tmp_path, archive, bad):
    url = server.add("evil.bin", archive)
    with pytest.raises(ValueError, match=f"refusing to extract the member .*{bad}"):
        get_file("evil", url, extract=True, cache_dir=tmp_path)
    # Nothing was extracted, neither inside nor outside the cache.
    assert listing(tmp_path / "datasets") == ["evil_archive"]
    assert not (tmp_path / "escaped.txt").exists()
    assert not os.path.exists("/tmp/ember_absolute_evil.txt")


# -- the data sets: cache, $EMBER_DATA_DIR, path=, offline -------------------------------------


def boston_npz(seed=0, n=20):
    g = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, x=g.normal(size=(n, 13)), y=g.uniform(5, 50, n))
    return buffer.getvalue()


def test_dataset_downloads_once_into_ember_home(server, isolated_home, monkeypatch):
    data = boston_npz()
    server.add("boston_housing.npz", data)
    monkeypatch.setattr(_tabular, "BASE_URL", server.url)
    monkeypatch.setattr(boston_housing, "SHA256", sha256(data))
    (x_train, _), (x_test, _) = boston_housing.load_data()
    assert x_train.shape == (16, 13) and x_test.shape == (4, 13)
    boston_housing.load_data()
    assert server.requests == ["/boston_housing.npz"]
    assert listing(isolated_home / "datasets") == ["boston_housing.npz"]


def test_dataset_redownloads_a_damaged_cached_file(server, isolated_home, monkeypatch):
    data = boston_npz()
    server.add("boston_housing.npz", data)
    monkeypatch.setattr(_tabular, "BASE_URL", server.url)
    monkeypatch.setattr(boston_housing, "SHA256", sha256(data))
    (isolated_home / "datasets").mkdir(parents=True)
    (isolated_home / "datasets" / "boston_housing.npz").write_bytes(data[: len(data) // 2])
    boston_housing.load_data()
    assert server.requests == ["/boston_housing.npz"]
    assert (isolated_home / "datasets" / "boston_housing.npz").read_bytes() == data


def test_dataset_with_a_corrupt_download(server, isolated_home, monkeypatch):
    server.add("boston_housing.npz", boston_npz(seed=1))
    monkeypatch.setattr(_tabular, "BASE_URL", server.url)
    monkeypatch.setattr(boston_housing, "SHA256", sha256(boston_npz(seed=2)))
    with pytest.raises(DownloadError, match="(?s)boston_housing: .*SHA256 mismatch"):
        boston_housing.load_data()
    assert listing(isolated_home / "datasets") == []


def test_dataset_offline_error_says_where_to_put_the_file(closed_url, isolated_home,
                                                          monkeypatch):
    monkeypatch.setattr(_tabular, "BASE_URL", closed_url)
    with pytest.raises(DownloadError) as info:
        boston_housing.load_data()
    message = str(info.value)
    assert "boston_housing.npz" in message
    assert closed_url + "boston_housing.npz" in message  # the URL to fetch by hand
    assert str(isolated_home / "datasets") in message  # where to put it
    assert "EMBER_DATA_DIR" in message and "load_data(path=...)" in message
    assert listing(isolated_home / "datasets") == []


def test_offline_error_of_a_dataset_with_a_subdirectory(closed_url, isolated_home,
                                                        monkeypatch):
    monkeypatch.setattr(fashion_mnist, "BASE_URL", closed_url)
    with pytest.raises(DownloadError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert closed_url + "train-images-idx3-ubyte.gz" in message
    assert str(isolated_home / "datasets" / "fashion-mnist") in message
    assert os.path.join("$EMBER_DATA_DIR", "fashion-mnist") in message


def test_ember_data_dir_is_used_without_network(tmp_path, closed_url, isolated_home,
                                                monkeypatch):
    data = boston_npz(seed=3)
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "boston_housing.npz").write_bytes(data)
    monkeypatch.setenv("EMBER_DATA_DIR", str(offline))
    monkeypatch.setattr(_tabular, "BASE_URL", closed_url)  # any download would fail
    monkeypatch.setattr(boston_housing, "SHA256", sha256(data))
    (x_train, _), _ = boston_housing.load_data(test_split=0.0)
    with np.load(offline / "boston_housing.npz") as f:
        assert sorted(map(bytes, x_train)) == sorted(map(bytes, f["x"]))
    assert listing(isolated_home / "datasets") == []  # nothing copied into the cache
    # A copy that does not match the published hash is an error naming it.
    monkeypatch.setattr(boston_housing, "SHA256", "f" * 64)
    with pytest.raises(ValueError, match=f"{offline / 'boston_housing.npz'}.*EMBER_DATA_DIR"
                                         ".*expected f{64}"):
        boston_housing.load_data()


def test_ember_data_dir_accepts_keras_cache_names(tmp_path, closed_url, monkeypatch):
    from test_datasets_formats import cifar10_archive  # the synthetic CIFAR-10 builder

    archive, _ = cifar10_archive(n=2)
    offline = tmp_path / "keras-cache"
    offline.mkdir()
    (offline / "cifar-10-batches-py-target_archive").write_bytes(archive)
    monkeypatch.setenv("EMBER_DATA_DIR", str(offline))
    monkeypatch.setattr(cifar10, "URL", closed_url + "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "SHA256", sha256(archive))
    (x_train, _), (x_test, _) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)


def test_ember_data_dir_subdirectory_for_fashion_mnist(tmp_path, closed_url, monkeypatch):
    from test_datasets_formats import idx_gz

    g = np.random.default_rng(0)
    offline = tmp_path / "offline"
    (offline / "fashion-mnist").mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte.gz": g.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": g.integers(0, 10, 5, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": g.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": g.integers(0, 10, 2, dtype=np.uint8),
    }
    for name, a in arrays.items():
        (offline / "fashion-mnist" / name).write_bytes(idx_gz(a))
    monkeypatch.setenv("EMBER_DATA_DIR", str(offline))
    monkeypatch.setattr(fashion_mnist, "BASE_URL", closed_url)
    (x_train, _), (_, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_mnist_reads_keras_npz_from_ember_data_dir(tmp_path, closed_url, monkeypatch):
    g = np.random.default_rng(1)
    arrays = {"x_train": g.integers(0, 256, (4, 28, 28), dtype=np.uint8),
              "y_train": g.integers(0, 10, 4, dtype=np.uint8),
              "x_test": g.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": g.integers(0, 10, 2, dtype=np.uint8)}
    offline = tmp_path / "offline"
    offline.mkdir()
    np.savez(offline / "mnist.npz", **arrays)
    monkeypatch.setenv("EMBER_DATA_DIR", str(offline))
    monkeypatch.setattr(mnist, "MIRRORS", (closed_url,))
    monkeypatch.setattr(mnist, "KERAS_NPZ_SHA256", sha256((offline / "mnist.npz").read_bytes()))
    (x_train, _), (_, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    monkeypatch.setattr(mnist, "KERAS_NPZ_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="mnist.npz .*does not match"):
        mnist.load_data()


def test_path_names_a_local_file(tmp_path, closed_url, isolated_home, monkeypatch):
    monkeypatch.setattr(_tabular, "BASE_URL", closed_url)
    (tmp_path / "mine.npz").write_bytes(boston_npz(seed=4, n=10))
    (x_train, _), (x_test, _) = boston_housing.load_data(path=tmp_path / "mine.npz")
    assert x_train.shape == (8, 13) and x_test.shape == (2, 13)
    with pytest.raises(FileNotFoundError, match="boston_housing: the file .*nowhere.npz"):
        boston_housing.load_data(path=str(tmp_path / "nowhere.npz"))
    assert listing(isolated_home / "datasets") == []


def test_path_as_a_bare_name_is_the_cache_name(server, isolated_home, monkeypatch):
    data = boston_npz(seed=5)
    server.add("boston_housing.npz", data)
    monkeypatch.setattr(_tabular, "BASE_URL", server.url)
    monkeypatch.setattr(boston_housing, "SHA256", sha256(data))
    boston_housing.load_data(path="my_boston.npz")  # Keras: the name in the cache
    assert listing(isolated_home / "datasets") == ["my_boston.npz"]
    assert server.requests == ["/boston_housing.npz"]


def test_word_index_from_path_and_cache(server, tmp_path, isolated_home, monkeypatch):
    index = b'{"the": 1, "and": 2, "a": 3}'
    (tmp_path / "wi.json").write_bytes(index)
    assert imdb.get_word_index(path=str(tmp_path / "wi.json")) == {"the": 1, "and": 2, "a": 3}
    server.add("imdb_word_index.json", index)
    monkeypatch.setattr(imdb, "BASE_URL", server.url)
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(index).hexdigest())
    assert imdb.get_word_index() == {"the": 1, "and": 2, "a": 3}
    assert listing(isolated_home / "datasets") == ["imdb_word_index.json"]
    (tmp_path / "bad.json").write_bytes(b"[1, 2]")
    with pytest.raises(ValueError, match="expected an object"):
        imdb.get_word_index(path=str(tmp_path / "bad.json"))


def test_mirrors_of_the_original_downloader_still_work(server, tmp_path):
    payload = gzip.compress(b"x" * 1000)
    url = server.add("f.gz", payload)
    path = _download.get_file("f.gz", [server.url + "missing.gz", url], sha256(payload),
                              str(tmp_path))
    assert Path(path).read_bytes() == payload
    assert server.requests == ["/missing.gz", "/f.gz"]
