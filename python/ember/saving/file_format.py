"""The model file format: safetensors, written atomically and read with full validation.

Layout (https://github.com/huggingface/safetensors, byte for byte):

    8 bytes   N, the header length, little-endian u64
    N bytes   UTF-8 JSON object, padded with spaces so that 8 + N is a multiple of 8:
              {"__metadata__": {str: str, ...},
               "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
    rest      the raw little-endian bytes of every tensor; offsets are relative to the start of
              this section, and the tensors tile it exactly (no gap, no overlap, nothing after)

Safetensors rather than pickle or HDF5: reading it cannot execute code, it needs nothing but
NumPy, and other tools (PyTorch, JAX, the `safetensors` package) load it as is.

This module imports nothing from ember so that it can be loaded and tested on its own.
"""
import json
import os
import secrets
import struct

import numpy as np

__all__ = ["FileFormatError", "read_file", "write_file"]

# Safetensors' own reader refuses headers above 100 MB; so do we (a hostile length field must
# not make us allocate gigabytes before anything is checked).
MAX_HEADER_BYTES = 100_000_000

_METADATA_KEY = "__metadata__"

# Safetensors dtype name -> little-endian NumPy dtype. BF16 and the FP8 types have no NumPy
# equivalent and are refused by name.
_DTYPE_BY_CODE = {
    "BOOL": np.dtype("|b1"),
    "U8": np.dtype("|u1"),
    "I8": np.dtype("|i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
}
# (numpy kind, itemsize) -> code, so that any byte order of a supported dtype maps to its code.
_CODE_BY_KIND = {(dt.kind, dt.itemsize): code for code, dt in _DTYPE_BY_CODE.items()}

_ENTRY_KEYS = frozenset(("dtype", "shape", "data_offsets"))
_MAX_NDIM = 64  # NumPy's limit on dimensions
_MAX_NBYTES = np.iinfo(np.intp).max  # NumPy refuses shapes whose byte count exceeds this


class FileFormatError(ValueError):
    """A model file that is not a valid safetensors file (corrupt, truncated or hostile)."""


# -- writing -----------------------------------------------------------------------------------


def write_file(path, tensors, metadata=None):
    """Write `tensors` (and string `metadata`) to `path` in the safetensors format, atomically.

    Args:
        path: file path (str or os.PathLike).
        tensors: mapping of tensor name (str) -> array-like. Names keep their order, in the
            header and in the data section. Supported dtypes: bool, uint8/16/32/64,
            int8/16/32/64, float16/32/64; big-endian and non-contiguous arrays are converted.
        metadata: optional mapping str -> str, stored as the "__metadata__" entry.

    The file is written to a uniquely named temporary file in the same directory, flushed to
    disk, then renamed onto `path`: a crash or an error at any point leaves any previous file
    at `path` untouched (an error also removes the temporary file; a killed process may leave
    one behind, named ".<file name>.<random>.tmp").
    """
    path = os.fspath(path)
    entries = _prepare_tensors(path, tensors)
    header = _encode_header(path, entries, _check_metadata(path, metadata))

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        # Checked here so that the error names the target, not the temporary file.
        raise FileNotFoundError(2, f"the directory {directory!r} of the file does not exist", path)
    fd, temp_path = _create_temp_file(directory, os.path.basename(path))
    try:
        try:
            f = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for _, array, _ in entries:
                if array.size:
                    # Converted one tensor at a time so that at most one extra copy is alive.
                    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
                    f.write(little.reshape(-1).view(np.uint8))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _prepare_tensors(path, tensors):
    """[(name, array, dtype code)] for `tensors`, checked; nothing is copied yet."""
    if not hasattr(tensors, "items"):
        raise TypeError(
            f"{path}: expected `tensors` to be a dict of name -> array, "
            f"received {type(tensors).__name__}"
        )
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"{path}: expected tensor names to be str, received {name!r}")
        if name == _METADATA_KEY:
            raise ValueError(f"{path}: '{_METADATA_KEY}' is reserved and cannot name a tensor")
        array = np.asarray(value)
        code = _CODE_BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
        if code is None or array.dtype.fields is not None:
            supported = ", ".join(sorted({dt.name for dt in _DTYPE_BY_CODE.values()}))
            raise TypeError(
                f"{path}: tensor {name!r} has dtype {array.dtype}, which the file format "
                f"cannot store; supported dtypes: {supported}"
            )
        entries.append((name, array, code))
    return entries


def _check_metadata(path, metadata):
    if metadata is None:
        return None
    if not hasattr(metadata, "items"):
        raise TypeError(
            f"{path}: expected `metadata` to be a dict of str -> str, "
            f"received {type(metadata).__name__}"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"{path}: expected metadata to map str -> str (store other values as JSON "
                f"text), received {key!r}: {type(value).__name__}"
            )
    return dict(metadata)


def _encode_header(path, entries, metadata):
    """The header bytes, padded with spaces so that the data section starts 8-byte aligned."""
    header = {}
    if metadata is not None:
        header[_METADATA_KEY] = metadata
    offset = 0
    for name, array, code in entries:
        end = offset + array.size * array.dtype.itemsize
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"{path}: tensor names and metadata must be valid Unicode text ({e})"
        ) from None
    encoded += b" " * (-(8 + len(encoded)) % 8)
    if len(encoded) > MAX_HEADER_BYTES:
        raise ValueError(
            f"{path}: the header would be {len(encoded)} bytes, over the format's limit of "
            f"{MAX_HEADER_BYTES} (too many tensors or too much metadata)"
        )
    return encoded


def _create_temp_file(directory, base_name):
    """(fd, path) of a new file beside the target. Created with mode 0o666 so that the umask
    gives it the same permissions as a file made with open()."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    while True:
        temp_path = os.path.join(directory, f".{base_name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(temp_path, flags, 0o666), temp_path
        except FileExistsError:
            continue


def _fsync_directory(directory):
    """Make the rename itself durable. Windows cannot open a directory for this, and some file
    systems refuse it; the new file is already in place then, so that is not an error."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading -----------------------------------------------------------------------------------


def read_file(path):
    """Read a safetensors file: (metadata dict str -> str, dict name -> numpy array).

    Nothing in the file is executed. The whole header is validated before any tensor is
    allocated; any problem raises FileFormatError naming the file and the fault. Arrays come
    back in header order, native byte order, each owning its (writable) memory.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        if file_size < 8:
            raise FileFormatError(
                f"{path}: the file is {file_size} bytes, too short for the 8-byte header length"
            )
        (header_size,) = struct.unpack("<Q", _read_exact(f, 8, path))
        if header_size < 2:
            raise FileFormatError(
                f"{path}: the header length is {header_size}; a header is at least '{{}}'"
            )
        if header_size > MAX_HEADER_BYTES:
            raise FileFormatError(
                f"{path}: the header length {header_size} exceeds the limit of "
                f"{MAX_HEADER_BYTES} bytes"
            )
        if header_size > file_size - 8:
            raise FileFormatError(
                f"{path}: the header length {header_size} runs past the end of the file "
                f"({file_size} bytes)"
            )
        data_size = file_size - 8 - header_size
        metadata, specs = _parse_header(path, _read_exact(f, header_size, path), data_size)

        arrays = {}
        for name, dtype, shape, _ in sorted(specs, key=lambda spec: spec[3]):
            # Validated above: the tensors tile the data section in this order, so reading
            # straight into each array reads the file once and copies nothing.
            array = np.empty(shape, dtype=dtype)
            if array.size:
                _read_into(f, array.reshape(-1).view(np.uint8), path, name)
            if dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
                raise FileFormatError(
                    f"{path}: tensor {name!r} is BOOL but holds bytes other than 0 and 1"
                )
            arrays[name] = array if dtype.isnative else array.astype(dtype.newbyteorder("="))
    return metadata, {spec[0]: arrays[spec[0]] for spec in specs}


def _error(path, what):
    return FileFormatError(f"{path}: {what}")


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs):
    keys = set()
    for key, _ in pairs:
        if key in keys:
            raise _DuplicateKey(key)
        keys.add(key)
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _parse_header(path, raw, data_size):
    """(metadata, [(name, dtype, shape, (begin, end))]) from the header bytes; raises
    FileFormatError on anything that is not exactly a valid safetensors header."""
    if not raw.startswith(b"{"):
        raise _error(path, f"the header must be a JSON object, it starts with {raw[:16]!r}")
    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except _DuplicateKey as e:
        raise _error(path, f"the header has the key {_short(e.args[0])} twice") from None
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError, JSONDecodeError included
        raise _error(
            path, f"the header is not valid UTF-8 JSON ({type(e).__name__}: {_short(str(e))})"
        ) from None
    if not isinstance(header, dict):
        raise _error(path, f"the header must be a JSON object, not {type(header).__name__}")

    metadata = header.get(_METADATA_KEY)
    if metadata is None:  # absent, or null as safetensors itself allows
        metadata = {}
    elif not isinstance(metadata, dict):
        raise _error(
            path, f"'{_METADATA_KEY}' must be an object of strings, not {type(metadata).__name__}"
        )
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise _error(
                path, f"metadata {_short(key)} must be a string, not {type(value).__name__}"
            )

    specs = [
        _parse_entry(path, name, entry, data_size)
        for name, entry in header.items()
        if name != _METADATA_KEY
    ]

    # The tensors must tile the data section exactly: sorted by offsets, each begins where the
    # previous one ended, and the last ends at the end of the file.
    cursor, previous = 0, None
    for name, _, _, (begin, end) in sorted(specs, key=lambda spec: spec[3]):
        if begin < cursor:
            raise _error(
                path,
                f"tensor {_short(name)} at bytes [{begin}, {end}) overlaps tensor "
                f"{_short(previous)}",
            )
        if begin > cursor:
            raise _error(path, f"bytes [{cursor}, {begin}) of the data section belong to no tensor")
        cursor, previous = end, name
    if cursor != data_size:
        raise _error(
            path,
            f"the data section has {data_size} bytes but the tensors cover {cursor} "
            f"(truncated, or trailing bytes)",
        )
    return metadata, specs


def _parse_entry(path, name, entry, data_size):
    """(name, dtype, shape, (begin, end)) of one header entry, checked on its own."""
    what = f"tensor {_short(name)}"
    if not isinstance(entry, dict):
        raise _error(path, f"{what}: expected an object, found {type(entry).__name__}")
    if entry.keys() != _ENTRY_KEYS:
        raise _error(
            path,
            f"{what}: expected exactly the keys dtype, shape, data_offsets, "
            f"found {_short(sorted(entry))}",
        )
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in _DTYPE_BY_CODE:
        raise _error(
            path,
            f"{what}: unsupported dtype {_short(code)} (supported: {', '.join(_DTYPE_BY_CODE)})",
        )
    dtype = _DTYPE_BY_CODE[code]
    if not isinstance(shape, list) or len(shape) > _MAX_NDIM:
        raise _error(
            path,
            f"{what}: the shape must be a list of at most {_MAX_NDIM} integers, "
            f"found {_short(shape)}",
        )
    if not all(_is_int(d) and d >= 0 for d in shape):
        raise _error(
            path, f"{what}: the shape must hold non-negative integers, found {_short(shape)}"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))):
        raise _error(
            path, f"{what}: data_offsets must be two integers [begin, end], found {_short(offsets)}"
        )
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise _error(
            path,
            f"{what} claims bytes [{_short(begin)}, {_short(end)}) but the data section has "
            f"{data_size} bytes",
        )
    # Python ints cannot overflow, however hostile the shape. NumPy also refuses an empty shape
    # whose other extents multiply past its index range (checked second: only then can a
    # shape that matches its offsets still be too large).
    count, nonzero_count = 1, 1
    for d in shape:
        count *= d
        nonzero_count *= d or 1
    if end - begin != count * dtype.itemsize:
        raise _error(
            path,
            f"{what}: a {code} tensor of shape {_short(shape)} needs {count * dtype.itemsize} "
            f"bytes but its data_offsets [{begin}, {end}) hold {end - begin}",
        )
    if nonzero_count * dtype.itemsize > _MAX_NBYTES:
        raise _error(path, f"{what}: the shape {_short(shape)} is too large for an array")
    return name, dtype, tuple(shape), (begin, end)


def _short(value, limit=80):
    """repr(value), cut short: hostile files can hold megabyte-long names and shapes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _read_exact(f, n, path):
    data = f.read(n)
    if len(data) != n:
        raise FileFormatError(f"{path}: the file ended early (it changed while being read?)")
    return data


def _read_into(f, buffer, path, name):
    """Fill `buffer` from `f`; a raw read may return less than asked (e.g. over 2 GB)."""
    view = memoryview(buffer)
    while len(view):
        n = f.readinto(view)
        if not n:
            raise FileFormatError(
                f"{path}: the file ended inside tensor {name!r} (it changed while being read?)"
            )
        view = view[n:]
