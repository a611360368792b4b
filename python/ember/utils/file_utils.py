"""`get_file` (Keras's `keras.utils.get_file`) and the machinery under it: a cache directory,
hash checks, downloads that never leave a partial file, and archive extraction that refuses
members which would land outside the target directory.

A download streams into a temporary file beside its final place, is checked (length against
Content-Length, then the hash), and only then renamed over the final name with `os.replace`,
which is atomic. So a connection that drops, a corrupt file or Ctrl-C leaves the cache as it
was: no half file under the real name, and a previous good copy untouched.
"""

import hashlib
import http.client
import os
import secrets
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from ember.utils.progbar import Progbar

_CHUNK = 1 << 16
_TIMEOUT_S = 60


class DownloadError(OSError):
    """A file could not be downloaded (no network, HTTP error, connection cut, wrong hash)."""


# -- where files go ----------------------------------------------------------------------------


def ember_home():
    """ember's data directory: $EMBER_HOME, else ~/.ember (Keras: $KERAS_HOME, else ~/.keras)."""
    return os.environ.get("EMBER_HOME") or os.path.join(os.path.expanduser("~"), ".ember")


def is_writable_dir(path):
    """Creates `path` if needed; whether it is a directory this process can write to."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def cache_root(cache_dir=None):
    """`cache_dir` (default: ember's home), or `<temp dir>/.ember` when that is not writable
    (as Keras falls back to /tmp/.keras)."""
    base = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else ember_home()
    if is_writable_dir(base):
        return base
    return os.path.join(tempfile.gettempdir(), ".ember")


# -- hashes ------------------------------------------------------------------------------------


def resolve_hash_algorithm(algorithm, file_hash=None):
    """'sha256' or 'md5'. 'auto' means SHA-256 for a 64-digit hash and MD5 otherwise (Keras)."""
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(
            f"get_file: expected `hash_algorithm` to be 'auto', 'sha256' or 'md5', received "
            f"{algorithm!r}"
        )
    if algorithm == "auto":
        return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    return algorithm


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """The hex digest of a file: 'sha256', 'md5', or 'auto' (with no hash to go by, MD5, as
    Keras)."""
    hasher = hashlib.new(resolve_hash_algorithm(algorithm))
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """Whether the file's hash is `file_hash` (hex, any case)."""
    algorithm = resolve_hash_algorithm(algorithm, file_hash)
    return hash_file(fpath, algorithm, chunk_size) == str(file_hash).lower()


# -- downloading -------------------------------------------------------------------------------


def _open_temp_beside(target):
    """A new hidden file in the target's directory (so `os.replace` stays on one file
    system); mode 0o666 minus the umask, as a plain `open` would give."""
    directory, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return fd, tmp
    raise DownloadError(f"could not create a temporary file in {directory}")


def _content_length(response):
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _stream_to(url, out, hasher, progress):
    """Copies the body of `url` into `out`; raises DownloadError when the body is shorter than
    its Content-Length (urllib itself returns what arrived without complaint)."""
    request = urllib.request.Request(url, headers={"User-Agent": "ember"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        total = _content_length(response)
        bar = Progbar(total) if progress else None
        received = 0
        while True:
            block = response.read(_CHUNK)
            if not block:
                break
            out.write(block)
            hasher.update(block)
            received += len(block)
            if bar is not None:
                bar.update(received)
        if total is not None and received != total:
            raise DownloadError(
                f"the connection closed after {received} of the {total} bytes announced"
            )
        if bar is not None and total is None:
            bar.update(received, finalize=True)


def _download_one(url, target, algorithm, expected, progress):
    """Downloads `url` to `target` through a temporary file; raises on any failure, leaving
    `target` as it was."""
    fd, tmp = _open_temp_beside(target)
    try:
        hasher = hashlib.new(algorithm or "sha256")
        with os.fdopen(fd, "wb") as out:
            _stream_to(url, out, hasher, progress)
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if expected is not None and digest != expected:
            raise DownloadError(
                f"{algorithm.upper()} mismatch, expected {expected}, received {digest} (the "
                "file is corrupt, incomplete or not the one expected)"
            )
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _describe(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP Error {error.code}: {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"{type(error.reason).__name__}: {error.reason}"
    if isinstance(error, DownloadError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def download(urls, target, file_hash=None, hash_algorithm="auto", progress=True):
    """Downloads the first URL of `urls` that gives a file with the expected hash to `target`.

    The file is written beside `target` under a temporary name and renamed into place only
    once complete and verified; on failure the temporary file is removed and `target` (if
    it existed) is left untouched.

    Args:
        urls: a URL or a list of URLs (mirrors), tried in order.
        target: the final path.
        file_hash: the expected hex digest, or None to skip the check.
        hash_algorithm: 'auto', 'sha256' or 'md5'.
        progress: whether to print "Downloading data from ..." and a progress bar.

    Raises:
        DownloadError: every URL failed; the message says why for each.
    """
    if isinstance(urls, str):
        urls = [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("download: expected at least one URL")
    expected = str(file_hash).lower() if file_hash is not None else None
    algorithm = resolve_hash_algorithm(hash_algorithm, expected) if expected else None
    failures = []
    for url in urls:
        if progress:
            sys.stdout.write(f"Downloading data from {url}\n")
            sys.stdout.flush()
        try:
            _download_one(url, target, algorithm, expected, progress)
            return target
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            # URLError: HTTP errors and refused connections; HTTPException: malformed or cut
            # responses; OSError: timeouts, resets, DownloadError; ValueError: bad URLs.
            failures.append(f"{url}: {_describe(e)}")
    raise DownloadError(
        f"could not download {os.path.basename(target)!r}; every URL failed:\n  "
        + "\n  ".join(failures)
    )


# -- archives ----------------------------------------------------------------------------------


def _unsafe_name_reason(name):
    """Why an archive member name would escape the extraction directory, or None."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "it is an absolute path"
    if ".." in normalized.split("/"):
        return "it contains '..'"
    return None


def _check_tar_members(members):
    for m in members:
        reason = _unsafe_name_reason(m.name)
        if reason is None and m.issym():
            # A symlink resolves relative to its own directory.
            target = os.path.normpath(os.path.join(os.path.dirname(m.name), m.linkname))
            if os.path.isabs(m.linkname) or target == ".." or target.startswith("../"):
                reason = f"it is a link to {m.linkname!r}, outside the archive"
        elif reason is None and m.islnk():
            if _unsafe_name_reason(m.linkname):
                reason = f"it is a link to {m.linkname!r}, outside the archive"
        elif reason is None and not (m.isfile() or m.isdir()):
            reason = "it is a device or FIFO"
        if reason:
            raise ValueError(
                f"extract_archive: refusing to extract the member {m.name!r}: {reason}"
            )


def _check_zip_members(names):
    for name in names:
        reason = _unsafe_name_reason(name)
        if reason:
            raise ValueError(f"extract_archive: refusing to extract the member {name!r}: {reason}")


def _extract_into(file_path, archive_type, directory):
    if archive_type == "tar":
        with tarfile.open(file_path) as archive:
            members = archive.getmembers()
            _check_tar_members(members)
            kwargs = {}
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
                kwargs["filter"] = "data"
            archive.extractall(directory, members=members, **kwargs)
    else:
        with zipfile.ZipFile(file_path) as archive:
            names = archive.namelist()
            _check_zip_members(names)
            archive.extractall(directory, members=names)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar (.tar, .tar.gz, .tar.bz2, .tar.xz) or zip archive into `path`.

    Every member is checked before anything is written: an absolute name, a '..' component,
    a link pointing outside, or a device file is refused with a ValueError. The archive is
    extracted into a temporary directory beside `path` that then replaces `path`, so a failed
    extraction leaves no half-filled directory.

    Args:
        file_path: the archive.
        path: the directory to extract into.
        archive_format: 'auto' (= ['tar', 'zip']), 'tar', 'zip', a list of those, or None.

    Returns:
        True when the file was an archive of one of the formats and was extracted.
    """
    if archive_format is None:
        return False
    if archive_format == "auto":
        archive_format = ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    file_path, path = os.fspath(file_path), os.fspath(path)
    for archive_type in archive_format:
        if archive_type == "tar":
            is_match = tarfile.is_tarfile
        elif archive_type == "zip":
            is_match = zipfile.is_zipfile
        else:
            raise ValueError(
                f"extract_archive: expected `archive_format` 'auto', 'tar', 'zip' or None, "
                f"received {archive_type!r}"
            )
        if not is_match(file_path):
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
        try:
            _extract_into(file_path, archive_type, staging)
            _replace_dir(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return True
    return False


def _replace_dir(new, path):
    """Puts the directory `new` at `path`, removing what was there."""
    if os.path.lexists(path):
        old = f"{path}.{secrets.token_hex(6)}.old"
        os.replace(path, old)
        os.replace(new, path)
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.unlink(old)
    else:
        os.replace(new, path)


# -- get_file ----------------------------------------------------------------------------------


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Downloads a file from a URL if it is not already in the cache (Keras's `get_file`).

    The file at `origin` is saved as `<cache_dir>/<cache_subdir>/<fname>`, by default
    `~/.ember/datasets/<fname>` (`$EMBER_HOME/datasets/<fname>` when EMBER_HOME is set). A
    cached file is used without touching the network; when a hash is given it must match,
    otherwise the file is downloaded again. Downloads never leave a partial file: they are
    written to a temporary file, checked, then renamed into place.

    Args:
        fname: the local file name; None takes the last part of `origin`'s path. With
            `extract=True`, a name without an extension names the extraction directory.
        origin: the URL of the file.
        untar: deprecated, as `extract=True` with `archive_format='tar'`.
        md5_hash: deprecated, as `file_hash` with `hash_algorithm='md5'`.
        file_hash: the expected hash of the file (hex); None skips the check.
        cache_subdir: the subdirectory of `cache_dir`; an absolute path is used as is.
        hash_algorithm: 'auto' (SHA-256 for a 64-digit hash, else MD5), 'sha256' or 'md5'.
        extract: whether to extract the file (a tar or zip archive) into a directory.
        archive_format: 'auto' (tar, then zip), 'tar', 'zip', or None.
        cache_dir: the cache directory; default ember's home (`$EMBER_HOME` or `~/.ember`).
        force_download: download even when a good file is cached.

    Returns:
        The path of the file, or of the extraction directory when extracting.

    Raises:
        DownloadError: the file is not cached and could not be downloaded, or the download
            does not match `file_hash`; the message says where to put the file by hand.
        ValueError: bad arguments, or an archive member that would escape its directory.
    """
    if origin is None:
        raise ValueError(
            'get_file: please specify the "origin" argument (URL of the file to download)'
        )
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if file_hash is not None:
        file_hash = str(file_hash).lower()
    algorithm = resolve_hash_algorithm(hash_algorithm, file_hash)

    datadir = os.path.join(cache_root(cache_dir), os.fspath(cache_subdir))
    os.makedirs(datadir, exist_ok=True)

    provided_fname = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"get_file: cannot take a file name from the origin {origin!r}; pass `fname`"
            )
    elif os.sep in fname or "/" in fname or fname in (".", ".."):
        raise ValueError(
            "get_file: `fname` must be a file name, not a path; to choose the directory use "
            f"`cache_dir` and `cache_subdir`. Received: fname={fname}"
        )

    # The names Keras uses, so that the cache layouts agree.
    extraction_dir = None
    if extract or untar:
        if provided_fname and "." in fname:
            download_target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            download_target = os.path.join(datadir, f"{fname}_archive")
    else:
        download_target = os.path.join(datadir, fname)

    if force_download or not os.path.exists(download_target):
        needs_download = True
    elif file_hash is not None and not validate_file(download_target, file_hash, algorithm):
        print(
            f"A local file was found, but it seems to be incomplete or outdated because the "
            f"{algorithm} file hash does not match the original value of {file_hash} so we "
            "will re-download the data."
        )
        needs_download = True
    else:
        needs_download = False

    if needs_download:
        try:
            download([origin], download_target, file_hash, algorithm)
        except DownloadError as e:
            raise DownloadError(
                f"get_file: {e}\nWithout network access, download {origin} by other means and "
                f"save it as {download_target}"
            ) from None

    if extraction_dir is None:
        return download_target
    if needs_download or not os.path.isdir(extraction_dir):
        if untar:
            archive_format = "tar"
        if not extract_archive(download_target, extraction_dir, archive_format):
            warnings.warn(
                f"get_file: could not extract {download_target}: it is not a "
                f"{archive_format} archive",
                stacklevel=2,
            )
    return extraction_dir
