"""Pooling and spatial resampling ops (max_pool, avg_pool, pad, crop, upsample_nearest,
resize_bilinear) through the op harness with NumPy references, bad input, and parity with
torch.nn.functional (skipped when torch is missing) and with Keras's UpSampling2D bilinear
(skipped when Keras cannot run on torch). All inputs are channels_last."""
import os

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.ops import apply_op
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, distinct, uniform,
)


def op(name, **attrs):
    return lambda x: apply_op(name, [x], attrs, cast=False)


# ---------------------------------------------------------------- NumPy references

def same_pads(length, pool, stride):
    """Keras/TF 'same': (before, after) padding of one spatial axis."""
    out = -(-length // stride)
    total = max((out - 1) * stride + pool - length, 0)
    return total // 2, total - total // 2


def np_pool(x, pool, strides, padding, kind):
    """Windows by sliding_window_view; padding is excluded from a max (-inf) and from the
    count of an average (a window sum of ones over the unpadded input)."""
    s = len(pool)
    axes = tuple(range(1, s + 1))
    pads = [same_pads(x.shape[a + 1], pool[a], strides[a]) if padding == "same" else (0, 0)
            for a in range(s)]
    width = [(0, 0)] + pads + [(0, 0)]
    step = (slice(None),) + tuple(slice(None, None, st) for st in strides)
    win_axes = tuple(range(-s, 0))

    def windows(a, fill):
        return sliding_window_view(np.pad(a, width, constant_values=fill), pool, axis=axes)[step]

    if kind == "max":
        return windows(x, -np.inf).max(axis=win_axes)
    total = windows(x, 0.0).sum(axis=win_axes)
    count = windows(np.ones_like(x), 0.0).sum(axis=win_axes)
    return total / count


def np_pad(x, pads, value=0.0):
    width = [(0, 0)] + [(pads[2 * a], pads[2 * a + 1]) for a in range(x.ndim - 2)] + [(0, 0)]
    return np.pad(x, width, constant_values=value)


def np_crop(x, crops):
    box = tuple(slice(crops[2 * a], x.shape[a + 1] - crops[2 * a + 1]) for a in range(x.ndim - 2))
    return x[(slice(None),) + box]


def np_upsample(x, size):
    for a, f in enumerate(size):
        x = np.repeat(x, f, axis=a + 1)
    return x


def _linear_taps(length, out):
    """Half-pixel source positions (torch align_corners=False, TF half_pixel_centers)."""
    src = np.maximum((np.arange(out) + 0.5) * length / out - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), length - 1)
    return i0, np.minimum(i0 + 1, length - 1), src - i0


def np_resize_bilinear(x, size):
    _, h, w, _ = x.shape
    y0, y1, ly = _linear_taps(h, h * size[0])
    x0, x1, lx = _linear_taps(w, w * size[1])
    ly, lx = ly[None, :, None, None], lx[None, None, :, None]

    def across(rows):
        return rows[:, :, x0] * (1 - lx) + rows[:, :, x1] * lx

    return across(x[:, y0]) * (1 - ly) + across(x[:, y1]) * ly


# ---------------------------------------------------------------- cases

CASES = []

# (name, input shape, pool_size, strides, padding): every spatial rank, valid and same,
# overlapping windows (stride < pool), gaps (stride > pool), asymmetric 'same' padding, and one
# input large enough for the kernels' parallel paths (directional gradient check).
POOLS = [
    ("1d_valid", (2, 7, 3), (2,), (2,), "valid"),
    ("1d_same_overlap", (2, 7, 3), (3,), (2,), "same"),
    ("1d_gaps", (1, 9, 2), (2,), (3,), "valid"),
    ("2d_valid", (2, 6, 5, 3), (2, 2), (2, 2), "valid"),
    ("2d_same_overlap", (2, 7, 6, 4), (3, 3), (2, 2), "same"),
    ("2d_same_asymmetric", (1, 4, 5, 2), (2, 3), (1, 1), "same"),
    ("2d_mixed_strides", (2, 5, 6, 9), (3, 2), (1, 2), "valid"),
    ("3d_valid", (1, 4, 4, 4, 2), (2, 2, 2), (2, 2, 2), "valid"),
    ("3d_same_overlap", (1, 5, 4, 3, 2), (3, 2, 2), (2, 1, 2), "same"),
    ("2d_large", (4, 21, 20, 24), (3, 3), (2, 2), "same"),
]
for name, shape, pool, strides, padding in POOLS:
    for kind, op_name in (("max", "max_pool"), ("avg", "avg_pool")):
        # distinct values: no two inputs tie, so max is differentiable at the sample
        sampler = distinct(shape) if kind == "max" else uniform(shape)
        CASES.append(OpCase(
            f"{op_name}_{name}",
            op(op_name, pool_size=pool, strides=strides, padding=padding),
            [sampler],
            lambda x, p=pool, s=strides, pd=padding, k=kind: np_pool(x, p, s, pd, k)))

EDGES = [((2, 5, 3), (1, 2)), ((2, 4, 5, 3), (2, 0, 1, 3)), ((1, 3, 4, 2, 2), (1, 1, 0, 2, 1, 0))]
for shape, edges in EDGES:
    rank = len(shape)
    CASES.append(OpCase(f"pad_{rank}", op("pad", pads=edges, value=0.5), [uniform(shape)],
                        lambda x, e=edges: np_pad(x, e, 0.5)))
    CASES.append(OpCase(f"zero_pad_{rank}", op("pad", pads=edges), [uniform(shape)],
                        lambda x, e=edges: np_pad(x, e)))
    big = (shape[0],) + tuple(n + edges[2 * a] + edges[2 * a + 1]
                              for a, n in enumerate(shape[1:-1])) + (shape[-1],)
    CASES.append(OpCase(f"crop_{rank}", op("crop", crops=edges), [uniform(big)],
                        lambda x, e=edges: np_crop(x, e)))

for shape, size in [((2, 4, 3), (3,)), ((2, 3, 4, 2), (2, 3)), ((1, 2, 3, 2, 2), (2, 1, 3))]:
    CASES.append(OpCase(f"upsample_nearest_{len(shape)}", op("upsample_nearest", size=size),
                        [uniform(shape)], lambda x, s=size: np_upsample(x, s)))

for shape, size in [((2, 3, 4, 2), (2, 2)), ((1, 2, 5, 3), (3, 1)), ((1, 1, 1, 2), (2, 3)),
                    ((2, 9, 10, 16), (2, 3))]:
    CASES.append(OpCase(f"resize_bilinear{shape}{size}", op("resize_bilinear", size=size),
                        [uniform(shape)], lambda x, s=size: np_resize_bilinear(x, s)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


# ---------------------------------------------------------------- conventions and bad input

def _gradient(fn, x, g):
    """Gradient of sum(g * fn(x)) from a compiled plan."""
    sym = input_tensor(x.shape, str(x.dtype))
    return Function([sym], [fn(sym)]).gradients([x], [g])[1][0]


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    # windows (5, 5), (5, 1), (1, 5) of a stride-1 pool: the first maximum of each
    x = np.array([5.0, 5.0, 1.0, 5.0]).reshape(1, 4, 1)
    g = np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1)
    gx = _gradient(op("max_pool", pool_size=(2,), strides=(1,), padding="valid"), x, g)
    np.testing.assert_array_equal(gx.ravel(), [1.0, 10.0, 0.0, 100.0])


def test_avg_pool_same_excludes_the_padding():
    # 3 wide, pool 2, stride 2, 'same': the padding goes after, windows [1, 3] and [8]
    x = np.array([1.0, 3.0, 8.0]).reshape(1, 3, 1)
    y = op("avg_pool", pool_size=(2,), strides=(2,), padding="same")(x)
    np.testing.assert_array_equal(y.ravel(), [2.0, 8.0])


@pytest.mark.parametrize("name, attrs, shape, match", [
    ("max_pool", dict(pool_size=(3, 3), strides=(1, 1), padding="valid"), (1, 2, 5, 1),
     "larger than"),
    ("avg_pool", dict(pool_size=(2, 2), strides=(0, 1), padding="valid"), (1, 4, 4, 1),
     "positive strides"),
    ("max_pool", dict(pool_size=(2, 2), strides=(-1, 1), padding="same"), (1, 4, 4, 1),
     "positive strides"),
    ("avg_pool", dict(pool_size=(0, 2), strides=(1, 1), padding="same"), (1, 4, 4, 1),
     "positive pool_size"),
    ("max_pool", dict(pool_size=(2,), strides=(2,), padding="valid"), (1, 4, 4, 1), "hold 2"),
    ("max_pool", dict(pool_size=(2, 2), strides=(2, 2), padding="valid"), (4, 4), "rank"),
    ("avg_pool", dict(pool_size=(2, 2), strides=(2, 2), padding="causal"), (1, 4, 4, 1),
     "'valid' or 'same'"),
    ("pad", dict(pads=(1, -1)), (1, 4, 1), "non-negative"),
    ("pad", dict(pads=(1, 1)), (1, 4, 4, 1), "hold 4"),
    ("crop", dict(crops=(2, 2)), (1, 4, 1), "remove all"),
    ("crop", dict(crops=(0, 0, -1, 0)), (1, 4, 4, 1), "non-negative"),
    ("upsample_nearest", dict(size=(0, 2)), (1, 4, 4, 1), "positive"),
    ("resize_bilinear", dict(size=(2,)), (1, 4, 1), "rank 4"),
    ("resize_bilinear", dict(size=(2, 2, 2)), (1, 4, 4, 4, 1), "rank 4"),
])
def test_bad_input_names_the_op(name, attrs, shape, match):
    with pytest.raises(ValueError, match=rf"op '{name}'.*{match}"):
        apply_op(name, [np.zeros(shape)], attrs, cast=False)
    with pytest.raises(ValueError, match=rf"op '{name}'"):  # the same when recording a graph
        apply_op(name, [input_tensor((None,) + shape[1:], "float32")], attrs, cast=False)


def test_unknown_spatial_extents_stay_unknown():
    x = input_tensor((None, None, 8, 3), "float32")
    pool = op("max_pool", pool_size=(2, 2), strides=(2, 2), padding="valid")
    assert pool(x).shape == (None, None, 4, 3)
    assert op("pad", pads=(1, 1, 2, 0))(x).shape == (None, None, 10, 3)
    assert op("resize_bilinear", size=(2, 3))(x).shape == (None, None, 24, 3)


# ---------------------------------------------------------------- torch parity

def _torch():
    return pytest.importorskip("torch")


def _to_torch(x, grad=False):
    """A channels_first torch copy of a channels_last array."""
    torch = _torch()
    return torch.from_numpy(np.moveaxis(x, -1, 1).copy()).requires_grad_(grad)


def _from_torch(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


def _torch_pad(shape, pool, strides, padding):
    """torch's symmetric padding argument equal to Keras's for these shapes."""
    if padding == "valid":
        return 0
    pads = [same_pads(n, k, s) for n, k, s in zip(shape[1:-1], pool, strides)]
    assert all(b == a for b, a in pads), "torch takes symmetric padding only"
    return tuple(b for b, _ in pads)


# Integer-valued inputs on a small range: max windows hold ties, which torch also routes to
# the first maximum, so forward and gradient must agree exactly.
TORCH_POOLS = [
    ((2, 9, 3), (3,), (2,), "same"),
    ((2, 7, 9, 5), (3, 3), (2, 2), "same"),
    ((2, 6, 6, 4), (3, 3), (1, 1), "same"),
    ((2, 8, 7, 3), (2, 3), (2, 2), "valid"),
    ((1, 5, 5, 5, 2), (3, 3, 3), (2, 2, 2), "same"),
    ((1, 4, 6, 5, 2), (2, 2, 2), (2, 3, 1), "valid"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, pool, strides, padding", TORCH_POOLS)
def test_pooling_matches_torch(shape, pool, strides, padding, kind, dtype):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(len(shape) * 100 + pool[0])
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    spatial = len(shape) - 2
    pad = _torch_pad(shape, pool, strides, padding)
    xt = _to_torch(x, grad=True)
    if kind == "max":
        yt = getattr(F, f"max_pool{spatial}d")(xt, pool, strides, pad)
    else:
        yt = getattr(F, f"avg_pool{spatial}d")(xt, pool, strides, pad, count_include_pad=False)
    g = rng.standard_normal(_from_torch(yt).shape).astype(dtype)
    yt.backward(_to_torch(g))
    fn = op(f"{kind}_pool", pool_size=pool, strides=strides, padding=padding)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(fn(x), _from_torch(yt), rtol=tol, atol=tol)
    np.testing.assert_allclose(_gradient(fn, x, g), _from_torch(xt.grad), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, size", [((2, 3, 4, 5), (2, 2)), ((1, 5, 3, 2), (3, 1)),
                                         ((2, 1, 2, 3), (4, 3)), ((2, 12, 11, 8), (2, 3))])
def test_resize_bilinear_matches_torch(shape, size, dtype):
    torch = _torch()
    rng = np.random.default_rng(shape[1] * 10 + size[0])
    x = rng.standard_normal(shape).astype(dtype)
    xt = _to_torch(x, grad=True)
    out = (shape[1] * size[0], shape[2] * size[1])
    yt = torch.nn.functional.interpolate(xt, size=out, mode="bilinear", align_corners=False)
    g = rng.standard_normal(_from_torch(yt).shape).astype(dtype)
    yt.backward(_to_torch(g))
    fn = op("resize_bilinear", size=size)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(fn(x), _from_torch(yt), rtol=tol, atol=tol)
    np.testing.assert_allclose(_gradient(fn, x, g), _from_torch(xt.grad), rtol=tol, atol=tol)


# ---------------------------------------------------------------- Keras parity

def _keras_on_torch():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    _torch()
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on '{keras.backend.backend()}', this compares with torch")
    return keras


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("interpolation, name", [("bilinear", "resize_bilinear"),
                                                 ("nearest", "upsample_nearest")])
def test_upsampling2d_matches_keras(interpolation, name):
    keras = _keras_on_torch()
    x = np.random.default_rng(3).standard_normal((2, 5, 4, 3)).astype("float32")
    layer = keras.layers.UpSampling2D(size=(3, 2), interpolation=interpolation)
    expected = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(op(name, size=(3, 2))(x), expected, rtol=1e-6, atol=1e-6)
