"""Reading the pickles inside data set files without letting a file run code.

CIFAR's batches are Python 2 pickles of dicts holding a uint8 NumPy array, and IMDB's and
Reuters's .npz files hold ragged sequences as `dtype=object` arrays, which NumPy can store only
as a pickle. A plain `pickle.load` (or `np.load(allow_pickle=True)`) would call any function a
hostile file names. `RestrictedUnpickler` resolves only the three globals that rebuilding a
NumPy array takes (the same set Keras allows, checked by Keras against the real files); lists,
dicts, strings and numbers need no globals. Anything else, e.g. `os.system`, is refused before
it is even imported.
"""

import io
import pickle
import zipfile

import numpy as np

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

# Both spellings of the module: pickles written by NumPy 1 (the CIFAR files) name
# numpy.core.multiarray, those written by NumPy 2 name numpy._core.multiarray.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and plain Python data, and nothing else."""

    def find_class(self, module, name):
        # Return the allowed objects directly: `super().find_class` would import `module`.
        obj = _ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(
                f"refusing to load the global '{module}.{name}': a data set file may only "
                "hold NumPy arrays and plain Python data; the file is corrupt or malicious"
            )
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a pickle with persistent ids")


def restricted_load(file, encoding="ASCII"):
    """`pickle.load(file, encoding=encoding)` restricted to NumPy arrays and plain data."""
    return RestrictedUnpickler(file, encoding=encoding).load()


# Errors a damaged or hostile file can raise while it is parsed.
PARSE_ERRORS = (
    pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
    AttributeError, zipfile.BadZipFile, OSError,
)


def _read_npy(buffer):
    """One .npy member: numeric arrays with pickling disabled, object arrays restricted."""
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(buffer)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in the header's text encoding (UTF-8 for latin-1).
        _, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not dtype.hasobject:
        buffer.seek(0)
        return np.lib.format.read_array(buffer, allow_pickle=False)
    array = restricted_load(buffer)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"an object member holds a {type(array).__name__}, not an array")
    return array


def load_npz(path, dataset):
    """Every array of an .npz file, as `{name: array}`, without running code from the file.

    Raises:
        ValueError: naming the data set and the file, when the file is not a readable .npz
            or holds anything but NumPy arrays of plain data.
    """
    arrays = {}
    member = None
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                with archive.open(member) as raw:
                    buffer = io.BytesIO(raw.read())
                arrays[member[: -len(".npy")]] = _read_npy(buffer)
    except PARSE_ERRORS as e:
        where = f" (member {member})" if member else ""
        raise ValueError(
            f"{dataset}: cannot read {path}{where}: {type(e).__name__}: {e}. The file is not "
            "a valid .npz file, is truncated, or is corrupt or malicious; delete it and "
            "download it again."
        ) from None
    return arrays


def require_arrays(arrays, names, path, dataset):
    """The arrays `names` of a loaded .npz, or a ValueError naming the missing ones."""
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ValueError(
            f"{dataset}: {path} lacks the arrays {missing} (it holds {sorted(arrays)})"
        )
    return [arrays[n] for n in names]
