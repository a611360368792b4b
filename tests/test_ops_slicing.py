"""cast, slice, flip and the comparison/logic ops through the op harness, plus their bad input."""
import numpy as np
import pytest

from ember import ops
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, uniform,
)

CASES = []


def case(*args, **kwargs):
    CASES.append(OpCase(*args, **kwargs))


def ints(shape, low=0, high=5):
    return lambda rng: rng.integers(low, high, size=shape).astype(np.int32)


def small_ints(shape):  # float values with many ties, so every relation is exercised
    return lambda rng: rng.integers(0, 3, size=shape).astype(np.float64)


case("slice_middle", lambda x: ops.slice(x, (1, 2), (2, 3)), [uniform((4, 6))],
     lambda x: x[1:3, 2:5], batch=())
case("slice_to_end", lambda x: ops.slice(x, (0, 1, 0), (None, -1, 2)), [uniform((3, 4, 5))],
     lambda x: x[:, 1:, :2])
case("slice_axis_from_end", lambda x: ops.slice_axis(x, -3, -1, axis=1), [uniform((3, 5, 2))],
     lambda x: x[:, -3:-1])
case("slice_axis_last_rows", lambda x: ops.slice_axis(x, -2, axis=1), [uniform((3, 5, 2))],
     lambda x: x[:, -2:])
case("slice_empty", lambda x: ops.slice(x, (0, 2), (-1, 0)), [uniform((3, 4))],
     lambda x: x[:, 2:2])
case("flip_axis1", lambda x: ops.flip(x, axis=1), [uniform((3, 4, 2))], lambda x: x[:, ::-1])
case("flip_last", lambda x: ops.flip(x, axis=-1), [uniform((3, 5))], lambda x: x[:, ::-1])
case("flip_all", ops.flip, [uniform((3, 4))], lambda x: x[::-1, ::-1])
case("flip_large", lambda x: ops.flip(x, 1), [uniform((64, 300, 32))], lambda x: x[:, ::-1])
case("cast_float_same", lambda x: ops.cast(x, x.dtype) * 2.0, [uniform((3, 4))],
     lambda x: x * 2.0)
# Comparisons return 1/0 in the computation's float dtype and stop gradients.
for name, ref in [("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less),
                  ("less_equal", np.less_equal), ("greater", np.greater),
                  ("greater_equal", np.greater_equal)]:
    case(name, getattr(ops, name), [small_ints((3, 4)), small_ints((4,))],
         lambda a, b, f=ref: f(a, b).astype(a.dtype), wrt=(), batch=(0,))
case("any_axis1", lambda x: ops.any(x, axis=1), [small_ints((4, 3))],
     lambda x: np.any(x, axis=1).astype(x.dtype), wrt=())
case("all_axis0", lambda x: ops.all(x, axis=0), [small_ints((4, 3))],
     lambda x: np.all(x, axis=0).astype(x.dtype), wrt=())
case("logic", lambda a, b: ops.logical_or(ops.logical_and(a, b), ops.logical_not(b)),
     [small_ints((4, 3)), small_ints((4, 3))],
     lambda a, b: ((a != 0) & (b != 0) | (b == 0)).astype(a.dtype), wrt=(), batch=(0, 1))

FORWARD_CASES = [c for c in CASES if c.reference is not None]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", FORWARD_CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


def test_cast_between_dtypes_as_numpy_astype():
    x = np.array([[1.7, -1.2, 0.0], [2.5, -2.5, 3.0]])
    for dtype in ("int32", "int64", "float32", "float64"):
        y = ops.cast(x, dtype)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, x.astype(dtype))
    i = np.array([3, -4, 0], dtype=np.int64)
    np.testing.assert_array_equal(ops.cast(i, "float32"), i.astype(np.float32))


def test_cast_carries_the_gradient_between_float_dtypes():
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    x = input_tensor((2, 3), "float64")
    y = ops.cast(x, "float32") * 3.0
    _, (gx,), _ = Function([x], [y]).gradients([np.ones((2, 3))], [np.ones((2, 3), np.float32)])
    assert gx.dtype == np.float64
    np.testing.assert_array_equal(gx, np.full((2, 3), 3.0))


def test_slice_axis_extents_known_without_the_axis_extent():
    from ember.backend.symbolic import input_tensor
    x = input_tensor((2, None, 3))
    assert ops.slice_axis(x, -2, axis=1).shape == (2, 2, 3)
    assert ops.slice_axis(x, 1, 4, axis=1).shape == (2, 3, 3)
    assert ops.slice_axis(x, 0, -2, axis=1).shape == (2, None, 3)


def test_integer_tensors_promote_to_float_in_arithmetic():
    from ember.backend.symbolic import input_tensor
    ids = input_tensor((None, 5), "int32")
    y = ops.not_equal(ids, 0)
    assert y.dtype == "float32" and y.shape == (None, 5)


@pytest.mark.parametrize("call, words", [
    (lambda: ops.slice(np.zeros((3, 4)), (0, 3), (3, 2)), ["slice_axis", "[3, 5)", "extent 4"]),
    (lambda: ops.slice_axis(np.zeros((3, 4)), -5, axis=1), ["slice_axis", "[-5, 4)"]),
    (lambda: ops.slice_axis(np.zeros((3, 4)), 3, 1, axis=1), ["slice_axis", "[3, 1)"]),
    (lambda: ops.flip(np.zeros((3, 4)), axis=2), ["flip", "axis 2"]),
    (lambda: ops.cast(np.zeros(3), "float16"), ["float16"]),
])
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError, IndexError)) as e:
        call()
    for w in words:
        assert w in str(e.value)
