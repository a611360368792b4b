"""Tests of ember.saving.file_format: the safetensors layout, atomic writes, validated reads."""

import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from ember.saving import file_format
from ember.saving.file_format import FileFormatError, read_file, write_file

ALL_DTYPES = [
    np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16,
    np.uint32, np.int32, np.float32, np.uint64, np.int64, np.float64,
]  # fmt: skip


def _random_array(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind == "f":
        return np.asarray(rng.standard_normal(shape)).astype(dtype)
    info = np.iinfo(dtype)
    return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))


def _sample_tensors(seed=0):
    """Every dtype in several shapes: matrices, scalars, empty tensors."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for dtype in ALL_DTYPES:
        name = np.dtype(dtype).name
        tensors[f"{name}/matrix"] = _random_array(rng, dtype, (3, 5))
        tensors[f"{name}/scalar"] = _random_array(rng, dtype, ())
        tensors[f"{name}/empty"] = _random_array(rng, dtype, (0,))
        tensors[f"{name}/empty3d"] = _random_array(rng, dtype, (2, 0, 4))
    return tensors


def _raw_file(header, data=b""):
    """File bytes for a header (a JSON-able object, or raw bytes used as they are)."""
    if not isinstance(header, bytes):
        header = json.dumps(header).encode()
    return struct.pack("<Q", len(header)) + header + data


def _leftovers(directory, keep):
    return sorted(name for name in os.listdir(directory) if name != keep)


# -- round trips -------------------------------------------------------------------------------


def test_round_trip_every_dtype_scalars_and_empty_tensors(tmp_path):
    path = tmp_path / "m.ember"
    tensors = _sample_tensors()
    metadata = {"model_config": json.dumps({"layers": [1, 2]}), "note": "héllo ✓", "": ""}
    write_file(path, tensors, metadata)

    got_metadata, got = read_file(path)
    assert got_metadata == metadata
    assert list(got) == list(tensors)  # order kept
    for name, expected in tensors.items():
        array = got[name]
        assert array.dtype == expected.dtype, name
        assert array.shape == expected.shape, name
        np.testing.assert_array_equal(array, expected, err_msg=name)
        assert array.flags.writeable and array.flags.owndata and array.dtype.isnative, name
    # Each array has its own memory: writing one changes no other.
    got["float32/matrix"][...] = 0
    np.testing.assert_array_equal(got["float32/scalar"], tensors["float32/scalar"])


def test_no_tensors_and_no_metadata(tmp_path):
    path = tmp_path / "empty.ember"
    write_file(path, {})
    assert path.read_bytes() == b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "
    assert read_file(path) == ({}, {})


def test_big_endian_and_non_contiguous_inputs_are_stored_little_endian(tmp_path):
    values = np.arange(24, dtype=np.float64).reshape(4, 6)
    write_file(tmp_path / "native.ember", {"x": values[:, ::2], "i": np.arange(3, dtype="<i4")})
    write_file(
        tmp_path / "other.ember",
        {"x": values.astype(">f8")[:, ::2], "i": np.arange(3, dtype=">i4")},
    )
    assert (tmp_path / "native.ember").read_bytes() == (tmp_path / "other.ember").read_bytes()
    _, got = read_file(tmp_path / "other.ember")
    np.testing.assert_array_equal(got["x"], values[:, ::2])
    assert got["x"].dtype == np.float64 and got["x"].dtype.isnative


def test_array_likes_are_converted(tmp_path):
    write_file(tmp_path / "m.ember", {"list": [[1.5, 2.5]], "int": 3, "flag": True})
    _, got = read_file(tmp_path / "m.ember")
    np.testing.assert_array_equal(got["list"], [[1.5, 2.5]])
    assert got["int"].shape == () and got["int"] == 3
    assert got["flag"].dtype == np.bool_ and got["flag"]


def test_exact_byte_layout(tmp_path):
    path = tmp_path / "tiny.ember"
    write_file(
        path,
        {
            "w": np.array([1.0, -2.0], np.float32),
            "n": np.array(7, np.int64),
            "e": np.zeros((0, 3), np.uint8),
        },
        {"format": "ember"},
    )
    # Hand-counted: the JSON below is 197 bytes; 8 + 197 is padded to 208 with 3 spaces.
    header = (
        b'{"__metadata__":{"format":"ember"},'
        b'"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        b'"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]},'
        b'"e":{"dtype":"U8","shape":[0,3],"data_offsets":[16,16]}}'
        b"   "
    )
    length = b"\xc8\x00\x00\x00\x00\x00\x00\x00"  # 200
    data = b"\x00\x00\x80\x3f\x00\x00\x00\xc0\x07\x00\x00\x00\x00\x00\x00\x00"
    assert path.read_bytes() == length + header + data


# -- bad arguments to write_file ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tensors, metadata, error, fragment",
    [
        ([np.zeros(2)], None, TypeError, "dict of name -> array"),
        ({1: np.zeros(2)}, None, TypeError, "tensor names to be str"),
        ({"__metadata__": np.zeros(2)}, None, ValueError, "reserved"),
        ({"c": np.zeros(2, np.complex64)}, None, TypeError, "tensor 'c' has dtype complex64"),
        ({"o": np.array([None])}, None, TypeError, "tensor 'o' has dtype object"),
        ({"s": np.array(["a"])}, None, TypeError, "tensor 's' has dtype <U1"),
        ({"r": np.zeros(2, "f4,f4")}, None, TypeError, "tensor 'r' has dtype"),
        ({"x": np.zeros(2)}, {"epoch": 3}, TypeError, "metadata to map str -> str"),
        ({"x": np.zeros(2)}, ["a"], TypeError, "dict of str -> str"),
        ({"\ud800": np.zeros(2)}, None, ValueError, "valid Unicode"),
    ],
)
def test_write_rejects_bad_arguments_and_writes_nothing(
    tmp_path, tensors, metadata, error, fragment
):
    path = tmp_path / "m.ember"
    with pytest.raises(error, match="m.ember") as info:
        write_file(path, tensors, metadata)
    assert fragment in str(info.value)
    assert os.listdir(tmp_path) == []


# -- atomicity ---------------------------------------------------------------------------------


@pytest.fixture
def previous_file(tmp_path):
    """A good file at the target path, and its bytes."""
    path = tmp_path / "ckpt.ember"
    write_file(path, {"old": np.arange(10, dtype=np.float32)}, {"version": "1"})
    return path, path.read_bytes()


def _assert_untouched(path, expected_bytes):
    assert path.read_bytes() == expected_bytes
    assert _leftovers(path.parent, path.name) == []
    metadata, tensors = read_file(path)
    assert metadata == {"version": "1"}
    np.testing.assert_array_equal(tensors["old"], np.arange(10, dtype=np.float32))


class _Unconvertible:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("cannot convert")


def test_failed_conversion_leaves_previous_file(previous_file):
    path, before = previous_file
    with pytest.raises(RuntimeError, match="cannot convert"):
        write_file(path, {"a": np.ones(1000), "bad": _Unconvertible()})
    _assert_untouched(path, before)


class _FailingWriter:
    """Wraps a binary file: the write that would pass `limit` bytes writes part and raises."""

    def __init__(self, f, limit):
        self._f, self._left = f, limit

    def write(self, data):
        data = memoryview(data).cast("B")
        if len(data) > self._left:
            self._f.write(data[: self._left])
            self._f.flush()
            raise OSError(28, "No space left on device (simulated)")
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.mark.parametrize("limit", [0, 5, 40, 200, 5000, 70000])
def test_write_failing_midway_leaves_previous_file(previous_file, monkeypatch, limit):
    path, before = previous_file
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FailingWriter(real_fdopen(fd, mode), limit))
    tensors = {f"t{i}": np.full(1000, i, np.float32) for i in range(20)}  # 80 kB of data
    with pytest.raises(OSError, match="simulated"):
        write_file(path, tensors)
    monkeypatch.undo()
    _assert_untouched(path, before)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failing_fsync_or_rename_leaves_previous_file(previous_file, monkeypatch, step):
    path, before = previous_file

    def fail(*args):
        raise OSError(5, f"{step} failed (simulated)")

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(OSError, match="simulated"):
        write_file(path, {"new": np.ones(100)})
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_successful_overwrite_replaces_file_and_leaves_nothing_else(previous_file):
    path, _ = previous_file
    write_file(path, {"new": np.ones(3, np.int32)}, {"version": "2"})
    assert read_file(path)[0] == {"version": "2"}
    assert _leftovers(path.parent, path.name) == []


@pytest.mark.skipif(os.name != "posix", reason="umask is POSIX")
def test_new_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_file(tmp_path / "m.ember", {"x": np.ones(1)})
    finally:
        os.umask(old)
    assert (tmp_path / "m.ember").stat().st_mode & 0o777 == 0o640


_CHILD_PRELUDE = """
import importlib.util, os, sys, time
import numpy as np
spec = importlib.util.spec_from_file_location("file_format", sys.argv[1])
file_format = importlib.util.module_from_spec(spec)
spec.loader.exec_module(file_format)
"""


def _run_child(body, *args, **kwargs):
    # The child loads the module from its file, so it does not import (or build) ember.
    script = _CHILD_PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script, file_format.__file__, *map(str, args)],
                            **kwargs)  # fmt: skip


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_mid_write_leaves_previous_file(previous_file):
    path, before = previous_file
    # Many tensors, each write slowed down, so that the kill lands in the middle of the data.
    child = _run_child(
        """
        real_fdopen = os.fdopen
        class Slow:
            def __init__(self, f): self.f = f
            def write(self, data): time.sleep(0.002); return self.f.write(data)
            def __getattr__(self, name): return getattr(self.f, name)
            def __enter__(self): return self
            def __exit__(self, *exc): return self.f.__exit__(*exc)
        os.fdopen = lambda fd, mode: Slow(real_fdopen(fd, mode))
        tensors = {f"layer{i}/kernel": np.full(4096, i, np.float32) for i in range(3000)}
        file_format.write_file(sys.argv[2], tensors)
        """,
        path,
    )
    try:
        deadline = time.monotonic() + 60
        temp = None
        while time.monotonic() < deadline and child.poll() is None:
            names = _leftovers(path.parent, path.name)
            if names and (path.parent / names[0]).stat().st_size > 200_000:
                temp = path.parent / names[0]
                break
            time.sleep(0.005)
        assert temp is not None and child.poll() is None, "the child did not get mid-write"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert path.read_bytes() == before
    assert read_file(path)[0] == {"version": "1"}
    # A killed writer cannot clean up: its partial temp file stays, under a hidden name, and
    # is itself recognised as truncated.
    assert temp.name.startswith(".ckpt.ember.") and temp.name.endswith(".tmp")
    with pytest.raises(FileFormatError, match="data section"):
        read_file(temp)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE / SIGXFSZ behaviour is Linux's"
)
def test_file_size_limit_hit_mid_write_leaves_previous_file(previous_file):
    # A real write error from the OS (EFBIG, like a full disk), not a simulated one.
    path, before = previous_file
    child = _run_child(
        """
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            file_format.write_file(sys.argv[2], {"big": np.ones(1 << 20, np.float32)})
        except OSError as e:
            print("OSError", e.errno)
        """,
        path,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert out.startswith("OSError")
    _assert_untouched(path, before)


# -- interoperability with the safetensors package (optional) ----------------------------------


def test_files_interoperate_with_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    tensors = _sample_tensors(seed=1)

    ours = tmp_path / "ours.ember"
    write_file(ours, tensors, {"k": "v"})
    loaded = safetensors_numpy.load_file(str(ours))
    assert set(loaded) == set(tensors)
    for name, expected in tensors.items():
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)

    theirs = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(tensors, str(theirs), metadata={"k": "v", "other": "w"})
    metadata, got = read_file(theirs)
    assert metadata == {"k": "v", "other": "w"}
    assert set(got) == set(tensors)
    for name, expected in tensors.items():
        assert got[name].dtype == expected.dtype and got[name].shape == expected.shape
        np.testing.assert_array_equal(got[name], expected, err_msg=name)

    # With one tensor there is no ordering freedom: the bytes are identical.
    single = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    write_file(tmp_path / "single.ember", single, {"k": "v"})
    assert (tmp_path / "single.ember").read_bytes() == safetensors_numpy.save(single, {"k": "v"})


# -- rejecting bad files -----------------------------------------------------------------------


def test_write_into_missing_directory_names_the_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*m.ember"):
        write_file(tmp_path / "nowhere" / "m.ember", {"x": np.ones(1)})


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.ember"):
        read_file(tmp_path / "nowhere.ember")


def test_error_names_file_and_tensor(tmp_path):
    path = tmp_path / "m.ember"
    entry = {"dtype": "F32", "shape": [32, 32], "data_offsets": [0, 4096]}
    path.write_bytes(_raw_file({"dense/kernel": entry}, bytes(1024)))
    with pytest.raises(FileFormatError) as info:
        read_file(path)
    assert str(info.value) == (
        f"{path}: tensor 'dense/kernel' claims bytes [0, 4096) but the data section has 1024 bytes"
    )
    assert isinstance(info.value, ValueError)


def _f32(shape, begin, end):
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


HOSTILE_FILES = {
    "empty file": (b"", "too short"),
    "short length field": (b"\x05\x00\x00", "too short"),
    "zero header length": (struct.pack("<Q", 0), "header length is 0"),
    "header past end": (struct.pack("<Q", 100) + b"{}", "runs past the end"),
    "header over cap": (struct.pack("<Q", 2**63) + b"{}" * 8, "exceeds the limit"),
    "max u64 length": (struct.pack("<Q", 2**64 - 1) + b"{}", "exceeds the limit"),
    "not json": (_raw_file(b"{not json}"), "not valid UTF-8 JSON"),
    "invalid utf-8": (_raw_file(b'{"\xff\xfe":1}'), "not valid UTF-8 JSON"),
    "byte order mark": (_raw_file(b'\xef\xbb\xbf{"a":1}'), "must be a JSON object"),
    "leading space": (_raw_file(b' {"a":1}'), "must be a JSON object"),
    "json list": (_raw_file(b"[1, 2]"), "must be a JSON object"),
    "json number": (_raw_file(b"12345678"), "must be a JSON object"),
    "json null": (_raw_file(b"null"), "must be a JSON object"),
    "trailing garbage": (_raw_file(b"{}  x"), "not valid UTF-8 JSON"),
    "deep nesting": (_raw_file(b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"), "RecursionError"),
    "huge integer literal": (_raw_file(b'{"a":' + b"9" * 10000 + b"}"), "not valid UTF-8 JSON"),
    "NaN constant": (_raw_file(b'{"a":NaN}'), "not valid UTF-8 JSON"),
    "duplicate tensor": (
        _raw_file(
            b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
            b'"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
            b"\x01\x02",
        ),
        "'a' twice",
    ),
    "duplicate metadata key": (
        _raw_file(b'{"__metadata__":{"k":"1","k":"2"}}'),
        "'k' twice",
    ),
    "metadata not a dict": (_raw_file({"__metadata__": ["a"]}), "must be an object of strings"),
    "metadata int value": (_raw_file({"__metadata__": {"epoch": 3}}), "'epoch' must be a string"),
    "metadata null value": (_raw_file({"__metadata__": {"k": None}}), "'k' must be a string"),
    "metadata nested": (_raw_file({"__metadata__": {"k": {"a": "b"}}}), "'k' must be a string"),
    "entry not a dict": (_raw_file({"a": [1, 2]}), "expected an object"),
    "missing key": (_raw_file({"a": {"dtype": "F32", "shape": []}}), "expected exactly the keys"),
    "extra key": (_raw_file({"a": dict(_f32([1], 0, 4), x=1)}, bytes(4)), "exactly the keys"),
    "unknown dtype": (
        _raw_file({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, bytes(2)),
        "unsupported dtype 'BF16'",
    ),
    "dtype not a string": (
        _raw_file({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
        "unsupported dtype 4",
    ),
    "shape not a list": (_raw_file({"a": _f32(4, 0, 16)}, bytes(16)), "shape must be a list"),
    "negative dimension": (_raw_file({"a": _f32([-1], 0, 0)}), "non-negative integers"),
    "float dimension": (_raw_file({"a": _f32([1.0], 0, 4)}, bytes(4)), "non-negative integers"),
    "bool dimension": (_raw_file({"a": _f32([True], 0, 4)}, bytes(4)), "non-negative integers"),
    "string dimension": (_raw_file({"a": _f32(["1"], 0, 4)}, bytes(4)), "non-negative integers"),
    "65 dimensions": (_raw_file({"a": _f32([1] * 65, 0, 4)}, bytes(4)), "at most 64"),
    "negative begin": (_raw_file({"a": _f32([1], -4, 0)}, bytes(4)), "claims bytes [-4, 0)"),
    "end before begin": (_raw_file({"a": _f32([0], 4, 0)}, bytes(4)), "claims bytes [4, 0)"),
    "end past data": (_raw_file({"a": _f32([2], 0, 8)}, bytes(4)), "data section has 4 bytes"),
    "huge end": (_raw_file({"a": _f32([1], 0, 2**70)}, bytes(4)), "data section has 4 bytes"),
    "offsets too short": (
        _raw_file({"a": {"dtype": "F32", "shape": [], "data_offsets": [0]}}),
        "two integers",
    ),
    "offsets as floats": (_raw_file({"a": _f32([1], 0.0, 4.0)}, bytes(4)), "two integers"),
    "offsets as dict": (
        _raw_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": {"0": 4}}}, bytes(4)),
        "two integers",
    ),
    "shape/offset mismatch": (_raw_file({"a": _f32([3], 0, 8)}, bytes(8)), "needs 12 bytes"),
    "product overflows 64 bits": (
        _raw_file({"a": _f32([2**32, 2**32, 16], 0, 0)}),
        "needs 1180591620717411303424 bytes",
    ),
    "product wraps to zero in 64 bits": (_raw_file({"a": _f32([2**62, 4], 0, 0)}), "needs"),
    "empty but too large for numpy": (_raw_file({"a": _f32([0, 2**62], 0, 0)}), "too large"),
    "overlapping ranges": (
        _raw_file({"a": _f32([2], 0, 8), "b": _f32([2], 4, 12)}, bytes(12)),
        "overlaps tensor 'a'",
    ),
    "same range twice": (
        _raw_file({"a": _f32([2], 0, 8), "b": _f32([2], 0, 8)}, bytes(8)),
        "overlaps",
    ),
    "empty tensor inside another": (
        _raw_file({"a": _f32([2], 0, 8), "b": _f32([0], 4, 4)}, bytes(8)),
        "overlaps",
    ),
    "gap between tensors": (
        _raw_file({"a": _f32([1], 0, 4), "b": _f32([1], 8, 12)}, bytes(12)),
        "bytes [4, 8) of the data section belong to no tensor",
    ),
    "trailing data": (_raw_file({"a": _f32([1], 0, 4)}, bytes(5)), "the tensors cover 4"),
    "data but no tensors": (_raw_file({}, bytes(4)), "the tensors cover 0"),
    "bool byte not 0/1": (
        _raw_file({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"),
        "other than 0 and 1",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_files_are_rejected(tmp_path, name):
    content, fragment = HOSTILE_FILES[name]
    path = tmp_path / "hostile.ember"
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as info:
        read_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and fragment in message, message
    assert len(message) < 400 + len(str(path))  # hostile content is not echoed in full


def test_header_limits_are_accepted_at_the_boundary(tmp_path):
    # The mirror image of the hostile cases: the extremes that are valid still load.
    path = tmp_path / "edge.ember"
    header = {
        "__metadata__": None,  # safetensors accepts null metadata
        "deep": _f32([1] * 64, 0, 4),
        "wide_empty": _f32([0, 2**61 - 1], 4, 4),
    }
    path.write_bytes(_raw_file(header, b"\x00\x00\x80\x3f"))
    metadata, got = read_file(path)
    assert metadata == {}
    assert got["deep"].shape == (1,) * 64 and got["deep"].item() == 1.0
    assert got["wide_empty"].shape == (0, 2**61 - 1)


# -- fuzzing -----------------------------------------------------------------------------------


def _fuzz_base(tmp_path):
    path = tmp_path / "base.ember"
    rng = np.random.default_rng(7)
    write_file(
        path,
        {
            "dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
            "dense/bias": np.zeros(3, np.float64),
            "step": np.array(12, np.int64),
            "mask": np.array([True, False, True]),
            "tokens": np.arange(5, dtype=np.int32),
            "empty": np.zeros((0, 2), np.uint8),
        },
        {"config": json.dumps({"name": "m", "layers": [3, 4]}), "optimizer": "{}"},
    )
    content = path.read_bytes()
    header_end = 8 + struct.unpack("<Q", content[:8])[0]
    return content, header_end


def test_fuzzed_files_load_or_raise_file_format_error(tmp_path):
    content, header_end = _fuzz_base(tmp_path)
    original_data = content[header_end:]
    rng = random.Random(1234)
    outcomes = {"loaded": 0, "rejected": 0}
    by_kind = {}
    hostile_names = sorted(HOSTILE_FILES)
    hostile_ints = [0, 1, 2, 3, 4, 8, 12, 16, -1, -8, 2**31, 2**32, 2**62, 2**63, 2**64 + 4]
    hostile_ints += [True, False, 1.5, "4", None]
    itemsizes = {"F32": 4, "U8": 1, "BOOL": 1, "I64": 8, "F16": 2}

    def grammar_file():
        header, offset, count = {}, 0, rng.randint(1, 3)
        for j in range(count):
            code = rng.choice(["F32", "U8", "BOOL", "I64", "F16"])
            shape = [rng.randint(0, 3) for _ in range(rng.randint(0, 3))]
            end = offset + math.prod(shape) * itemsizes[code]
            header[f"t{j}"] = {"dtype": code, "shape": shape, "data_offsets": [offset, end]}
            offset = end
        data = bytes(offset)  # zeros are valid in every dtype, BOOL included
        changes = rng.randint(0, 2)
        for _ in range(changes):
            entry = header[f"t{rng.randrange(count)}"]
            field = rng.choice(["dtype", "shape", "dim", "offset", "metadata", "data"])
            if field == "dtype":
                entry["dtype"] = rng.choice(["F32", "F64", "U8", "BF16", "f32", "", 4, None, []])
            elif field == "shape":
                entry["shape"] = rng.choice([None, 3, "3", {}, [[1]], [1] * 65])
            elif field == "dim" and isinstance(entry["shape"], list):
                entry["shape"] = entry["shape"] + [rng.choice(hostile_ints)]
            elif field == "offset" and isinstance(entry["data_offsets"], list):
                entry["data_offsets"][rng.randrange(2)] = rng.choice(hostile_ints)
            elif field == "metadata":
                header["__metadata__"] = rng.choice([{"k": 1}, [], "x", {"k": None}, {"k": "v"}])
            elif field == "data":
                data = rng.choice([data + b"\x00", data[:-1], data[1:] + b"\x02"])
        return header, data, changes

    def mutate():
        """(kind, mutated bytes, index of a single changed byte or None)."""
        kinds = ["flip", "flip", "flips", "truncate", "append", "length", "junk", "hostile"]
        kind = rng.choice(kinds + ["grammar"] * 2)
        data = bytearray(content)
        if kind == "flip":
            i = rng.randrange(len(data))
            data[i] = (data[i] + rng.randrange(1, 256)) % 256
            return kind, bytes(data), i
        if kind == "flips":
            for _ in range(rng.randint(2, 8)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256)
            return kind, bytes(data), None
        if kind == "truncate":
            return kind, bytes(data[: rng.randrange(len(data))]), None
        if kind == "append":
            return kind, bytes(data) + rng.randbytes(rng.randint(1, 64)), None
        if kind == "length":
            near = header_end - 8 + rng.choice([-9, -8, -3, -1, 1, 2, 8])
            n = rng.choice([rng.randrange(2**64), rng.randrange(len(data) + 16), near])
            if n == header_end - 8:
                n += 1
            return kind, struct.pack("<Q", n) + bytes(data[8:]), None
        if kind == "hostile":  # a hand-written hostile file, perhaps changed a little more
            data = bytearray(HOSTILE_FILES[rng.choice(hostile_names)][0])
            for _ in range(rng.randint(0, 2) if data else 0):
                data[rng.randrange(len(data))] = rng.randrange(256)
            return kind, bytes(data), None
        if kind == "grammar":  # well-formed JSON: a valid header with 0-2 values made hostile
            header, data, changes = grammar_file()
            return ("grammar" if changes else "grammar valid"), _raw_file(header, data), None
        # junk: random header bytes of a random length, then random data
        junk = b"{" + rng.randbytes(rng.randrange(64))
        return kind, _raw_file(junk, rng.randbytes(rng.randrange(32))), None

    start = time.perf_counter()
    for i in range(4000):
        kind, mutated, index = mutate()
        by_kind[kind] = by_kind.get(kind, 0) + 1
        # A fresh file each time: truncating and rewriting one file makes ext4 flush it to disk.
        path = tmp_path / f"fuzz{i}.ember"
        path.write_bytes(mutated)
        try:
            _, tensors = read_file(path)
        except FileFormatError as e:
            outcomes["rejected"] += 1
            assert kind != "grammar valid", str(e)
            # Data flips fail only in the BOOL tensor, whose bytes must be 0 or 1.
            if kind == "flip" and index >= header_end:
                assert "BOOL" in str(e), (index, str(e))
            continue
        finally:
            path.unlink()
        outcomes["loaded"] += 1
        by_kind[kind + " loaded"] = by_kind.get(kind + " loaded", 0) + 1
        # Truncating, appending or changing the header length always breaks the tiling.
        assert kind in ("flip", "flips", "junk", "hostile", "grammar", "grammar valid"), kind
        data_size = len(mutated) - 8 - struct.unpack("<Q", mutated[:8])[0]
        assert sum(array.nbytes for array in tensors.values()) == data_size
        if kind == "flip":
            # Whatever changed, the tensors still tile the same data section, in order.
            joined = b"".join(array.tobytes() for array in tensors.values())
            assert joined == mutated[header_end:]
            if index < header_end:
                assert joined == original_data
    elapsed = time.perf_counter() - start
    # Both outcomes occur, so the fuzzer reaches past the first checks.
    assert outcomes["loaded"] > 100 and outcomes["rejected"] > 1000, outcomes
    print(f"fuzz: {outcomes} {sorted(by_kind.items())} in {elapsed:.2f} s")
