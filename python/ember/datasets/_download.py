"""How a data set finds its files: a file the caller names, $EMBER_DATA_DIR, ember's cache, or
a download (the download, hash and atomic-write machinery is ember.utils.file_utils).

$EMBER_DATA_DIR, when set, is a directory laid out as Keras's cache `~/.keras/datasets`:
`imdb.npz`, `reuters.npz`, `fashion-mnist/train-images-idx3-ubyte.gz`, ... so a copy of a Keras
cache works as it is. Files found there are checked against the published hash when one is
known, and are never modified.
"""

import os
import tempfile

from ember.utils.file_utils import (
    DownloadError,
    download,
    ember_home,
    hash_file,
    is_writable_dir,
    resolve_hash_algorithm,
    validate_file,
)

__all__ = [
    "DownloadError", "data_dir", "default_cache_dir", "ember_home", "fetch", "get_file",
    "hash_file", "local_file", "verify_offline_copy",
]


def default_cache_dir(subdir):
    """`<ember home>/datasets/<subdir>`, or the same under the temp dir when home is not
    writable (as Keras falls back to /tmp/.keras)."""
    parts = ("datasets", subdir) if subdir else ("datasets",)
    path = os.path.join(ember_home(), *parts)
    if is_writable_dir(path):
        return path
    path = os.path.join(tempfile.gettempdir(), ".ember", *parts)
    os.makedirs(path, exist_ok=True)
    return path


def data_dir():
    """The directory named by $EMBER_DATA_DIR, or None."""
    value = os.environ.get("EMBER_DATA_DIR")
    return os.path.expanduser(value) if value else None


def local_file(dataset, path, default_name):
    """Interprets a data set's `path=` argument as Keras does, plus local files.

    Returns `(local path, None)` when `path` names an existing file (read as it is: it may be
    the caller's own file in the same format, so no published hash applies), else
    `(None, cache name)`: a bare name is the file's name in the cache, as in Keras. The
    default name is always a cache name, so a stray file of that name in the working
    directory is not picked up unverified.

    Raises:
        FileNotFoundError: `path` has a directory part but no such file exists.
    """
    if path is None:
        return None, default_name
    path = os.path.expanduser(os.fspath(path))
    if path != default_name and os.path.isfile(path):
        return path, None
    if os.sep in path or "/" in path or path in ("", ".", ".."):
        raise FileNotFoundError(f"{dataset}: the file {path} does not exist")
    return None, path


def fetch(dataset, fname, urls, file_hash=None, subdir="", aliases=(),
          path_hint="load_data(path=...)"):
    """The path of one of a data set's files, downloading it into the cache if needed.

    Looked for, in order: `$EMBER_DATA_DIR/<subdir>/<fname or an alias>` (checked against
    `file_hash`; a mismatch is an error, not a reason to download), then
    `<ember home>/datasets/<subdir>/<fname>` (a mismatch there means a stale or damaged copy:
    it is downloaded again), then each URL in turn.

    Args:
        dataset: the data set's name, for messages.
        fname: the file's name in the cache and in $EMBER_DATA_DIR.
        urls: the URL, or a list of mirrors.
        file_hash: the published hex digest (64 digits: SHA-256, 32: MD5), or None when
            none is published.
        subdir: the subdirectory of the cache (and of $EMBER_DATA_DIR).
        aliases: other names the same file may have in $EMBER_DATA_DIR (Keras's cache name
            of an archive it extracts).
        path_hint: the call the offline message suggests for a local copy, or None.

    Raises:
        DownloadError: not available locally and no URL worked; the message names the file,
            the URL and the directories where it can be put by hand.
        ValueError: the copy in $EMBER_DATA_DIR does not match the published hash.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    offline_dir = data_dir()
    if offline_dir:
        for name in (fname, *aliases):
            candidate = os.path.join(offline_dir, subdir, name)
            if os.path.isfile(candidate):
                verify_offline_copy(dataset, candidate, file_hash, urls[0])
                return candidate

    cache_dir = default_cache_dir(subdir)
    target = os.path.join(cache_dir, fname)
    if os.path.isfile(target):
        if file_hash is None or validate_file(target, file_hash):
            return target
        print(f"{dataset}: {target} does not match its published hash; downloading it again.")
    try:
        return download(urls, target, file_hash)
    except DownloadError as e:
        where = os.path.join("$EMBER_DATA_DIR", subdir) if subdir else "$EMBER_DATA_DIR"
        hint = f" or pass its path to {path_hint}," if path_hint else ""
        raise DownloadError(
            f"{dataset}: {e}\nTo load {dataset} without downloading it here, download {urls[0]} "
            f"by other means and save it as {fname} in {cache_dir} (ember's cache), or in "
            f"{where} with the environment variable EMBER_DATA_DIR set to that directory,"
            f"{hint} then call load_data again."
        ) from None


def verify_offline_copy(dataset, path, file_hash, url):
    """Raises ValueError when a file found through $EMBER_DATA_DIR does not match the published
    hash (None: nothing published, nothing to check)."""
    if file_hash is None:
        return
    algorithm = resolve_hash_algorithm("auto", file_hash)
    found = hash_file(path, algorithm)
    if found != file_hash.lower():
        raise ValueError(
            f"{dataset}: {path} (found through EMBER_DATA_DIR) does not match the published "
            f"{algorithm.upper()}: expected {file_hash}, found {found}. It is corrupt, "
            f"truncated or another version; replace it with a fresh copy of {url}."
        )


# -- the original MNIST downloader's interface, now built on ember.utils.file_utils -----------


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


def get_file(fname, urls, file_hash=None, cache_dir=None):
    """Returns the path of `fname` in `cache_dir`, downloading it first if needed.

    (ember's own form, with mirrors; `ember.utils.get_file` is Keras's.) A cached file is
    used when its hash matches; otherwise the URLs are tried in order until one gives a
    file with the expected hash. Downloads never leave a partial file under `fname`.

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
        print(f"A local file {target} does not match the expected hash; downloading it again.")
    try:
        return download(urls, target, expected, algorithm or "auto")
    except DownloadError as e:
        raise DownloadError(f"get_file: {e}") from None
