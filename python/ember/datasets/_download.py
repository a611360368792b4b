"""Downloading data files into a cache, with hash checks, mirror fallback and atomic writes."""

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request

_CHUNK = 1 << 16
_TIMEOUT_S = 60


class DownloadError(OSError):
    """No URL gave a file with the expected hash."""


def ember_home():
    """ember's data directory: $EMBER_HOME, else ~/.ember."""
    return os.environ.get("EMBER_HOME") or os.path.join(os.path.expanduser("~"), ".ember")


def default_cache_dir(subdir):
    """`<ember home>/datasets/<subdir>`, or the same under the temp dir when home is not
    writable (as Keras falls back to /tmp/.keras)."""
    path = os.path.join(ember_home(), "datasets", subdir)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        path = os.path.join(tempfile.gettempdir(), ".ember", "datasets", subdir)
    else:
        if os.access(path, os.W_OK):
            return path
        path = os.path.join(tempfile.gettempdir(), ".ember", "datasets", subdir)
    os.makedirs(path, exist_ok=True)
    return path


def _parse_hash(file_hash):
    """'sha256:<hex>', 'md5:<hex>' or a bare hex digest (64 digits: SHA-256, 32: MD5)."""
    if file_hash is None:
        return None, None
    algorithm, sep, digest = file_hash.partition(":")
    if not sep:
        digest = file_hash
        algorithm = {64: "sha256", 32: "md5"}.get(len(digest))
        if algorithm is None:
            raise ValueError(
                f"get_file: cannot tell the hash algorithm of {file_hash!r}; write it as "
                "'sha256:<hex>' or 'md5:<hex>'"
            )
    algorithm = algorithm.lower()
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"get_file: unsupported hash algorithm {algorithm!r} (sha256 or md5)")
    return algorithm, digest.lower()


def hash_file(path, algorithm="sha256"):
    """The hex digest of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_to(url, fname, cache_dir, algorithm):
    """Streams `url` into a temporary file in `cache_dir`; returns (temp path, digest)."""
    request = urllib.request.Request(url, headers={"User-Agent": "ember"})
    fd, tmp_path = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=cache_dir)
    try:
        digest = hashlib.new(algorithm or "sha256")
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
            request, timeout=_TIMEOUT_S
        ) as response:
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
            out.flush()
            os.fsync(out.fileno())
        return tmp_path, digest.hexdigest()
    except BaseException:
        os.unlink(tmp_path)
        raise


def get_file(fname, urls, file_hash=None, cache_dir=None):
    """Returns the path of `fname` in `cache_dir`, downloading it first if needed.

    A cached file is used when its hash matches; otherwise the URLs are tried in order until
    one gives a file with the expected hash. The download goes to a temporary file that is
    renamed into place only once complete and verified, so an interrupted or corrupt
    download never leaves a bad file under the final name.

    Args:
        fname: the file's name in the cache directory.
        urls: a URL or a list of URLs (mirrors) to try in order.
        file_hash: expected hash, 'sha256:<hex>', 'md5:<hex>' or a bare hex digest
            (64 digits: SHA-256, 32: MD5). None skips the check (not recommended).
        cache_dir: directory of the cached file; default `<ember home>/datasets`.

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: when no URL gives a file with the expected hash; the message lists
            what went wrong with each.
    """
    if os.path.basename(fname) != fname or fname in ("", ".", ".."):
        raise ValueError(f"get_file: expected a plain file name, received {fname!r}")
    if isinstance(urls, str):
        urls = [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("get_file: expected at least one URL")
    algorithm, expected = _parse_hash(file_hash)
    if cache_dir is None:
        cache_dir = default_cache_dir("")
    os.makedirs(cache_dir, exist_ok=True)
    target = os.path.join(cache_dir, fname)

    if os.path.exists(target):
        if expected is None or hash_file(target, algorithm) == expected:
            return target
        sys.stdout.write(
            f"A local file {target} does not match the expected hash; downloading it again.\n"
        )

    failures = []
    for url in urls:
        sys.stdout.write(f"Downloading data from {url}\n")
        sys.stdout.flush()
        try:
            tmp_path, digest = _download_to(url, fname, cache_dir, algorithm)
        except (urllib.error.URLError, OSError, ValueError) as e:
            # URLError covers HTTP errors and refused connections; OSError timeouts and
            # resets; ValueError malformed URLs.
            failures.append(f"{url}: {e}")
            continue
        if expected is not None and digest != expected:
            os.unlink(tmp_path)
            failures.append(
                f"{url}: {algorithm.upper()} mismatch, expected {expected}, received {digest}"
            )
            continue
        os.replace(tmp_path, target)
        return target
    raise DownloadError(
        f"get_file: could not download {fname!r}; every URL failed:\n  " + "\n  ".join(failures)
    )
