"""The convolution ops (conv, conv_transpose, depthwise_conv) through the op harness, with NumPy
references, plus bad input and, when torch imports, parity with torch.nn.functional.

The references pad as Keras/TF describe it ('same': total = max((ceil(n/s)-1)*s + k_eff - n, 0),
the extra pixel on the right; 'causal': k_eff - 1 on the left) and compute conv_transpose as
JAX does in Keras (keras/src/backend/jax/nn.py): x dilated by the strides, padded by
_convert_conv_transpose_padding_args_from_keras_to_jax, correlated with the flipped kernel.
"""
import itertools

import numpy as np
import pytest
from ember import ops
from ember.backend.symbolic import input_tensor
from op_harness import (
    OpCase,
    check_forward,
    check_gradients,
    check_shape_inference,
    uniform,
)

# ---------------------------------------------------------------- NumPy references

ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh}


def _as_list(v, n):
    return [v] * n if isinstance(v, int) else list(v)


def conv_pads(n, k, s, d, padding):
    """(left, right) padding of one spatial axis."""
    keff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return keff - 1, 0
    out = -(-n // s)
    total = max((out - 1) * s + keff - n, 0)
    return total // 2, total - total // 2


def np_conv(x, w, b=None, strides=1, padding="valid", dilation=1, groups=1, act="linear"):
    """x (N, *spatial, C), w (*k, C/groups, Cout): sum over taps of strided slices @ w[tap]."""
    nsp = x.ndim - 2
    strides, dilation = _as_list(strides, nsp), _as_list(dilation, nsp)
    ksz = w.shape[:nsp]
    pads = [conv_pads(x.shape[1 + i], ksz[i], strides[i], dilation[i], padding)
            for i in range(nsp)]
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    outs = [(xp.shape[1 + i] - ((ksz[i] - 1) * dilation[i] + 1)) // strides[i] + 1
            for i in range(nsp)]
    cin, cout = x.shape[-1], w.shape[-1]
    cg, og = cin // groups, cout // groups
    y = np.zeros((x.shape[0], *outs, cout))
    for tap in itertools.product(*[range(k) for k in ksz]):
        sl = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                   for t, d, o, s in zip(tap, dilation, outs, strides))
        patch = xp[(slice(None),) + sl]
        for g in range(groups):
            y[..., g * og:(g + 1) * og] += (patch[..., g * cg:(g + 1) * cg]
                                            @ w[tap][:, g * og:(g + 1) * og])
    if b is not None:
        y = y + b
    return ACTS[act](y)


def transpose_pads(k, s, d, padding, output_padding):
    """Keras's (left, right) padding of the stride-dilated input (the JAX backend's rule)."""
    keff = (k - 1) * d + 1
    if padding == "valid":
        op = max(keff, s) - keff if output_padding is None else output_padding
        return keff - 1, keff - 1 + op
    pad_len = s + keff - 2 if output_padding is None else keff + keff % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, keff - 1)
    return left, pad_len - left


def np_conv_transpose(x, w, b=None, strides=1, padding="valid", dilation=1,
                      output_padding=None, act="linear"):
    """x (N, *spatial, Cin), w (*k, Cout, Cin)."""
    nsp = x.ndim - 2
    strides, dilation = _as_list(strides, nsp), _as_list(dilation, nsp)
    ops_ = [None] * nsp if output_padding is None else _as_list(output_padding, nsp)
    ksz = w.shape[:nsp]
    shape = [x.shape[0]] + [(n - 1) * s + 1 for n, s in zip(x.shape[1:-1], strides)] + [x.shape[-1]]
    z = np.zeros(shape)
    z[(slice(None),) + tuple(slice(None, None, s) for s in strides)] = x
    pads = [transpose_pads(ksz[i], strides[i], dilation[i], padding, ops_[i]) for i in range(nsp)]
    z = np.pad(z, [(0, 0)] + pads + [(0, 0)])
    flipped = np.swapaxes(w[tuple(slice(None, None, -1) for _ in range(nsp))], -1, -2)
    return np_conv(z, flipped, b, 1, "valid", dilation, 1, act)


def np_depthwise(x, w, b=None, strides=1, padding="valid", dilation=1, act="linear"):
    """x (N, *spatial, C), w (*k, C, dm): channel c*dm + m = sum_tap x[..., c] w[tap, c, m]."""
    nsp = x.ndim - 2
    strides, dilation = _as_list(strides, nsp), _as_list(dilation, nsp)
    ksz = w.shape[:nsp]
    c, dm = w.shape[-2], w.shape[-1]
    pads = [conv_pads(x.shape[1 + i], ksz[i], strides[i], dilation[i], padding)
            for i in range(nsp)]
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    outs = [(xp.shape[1 + i] - ((ksz[i] - 1) * dilation[i] + 1)) // strides[i] + 1
            for i in range(nsp)]
    y = np.zeros((x.shape[0], *outs, c, dm))
    for tap in itertools.product(*[range(k) for k in ksz]):
        sl = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                   for t, d, o, s in zip(tap, dilation, outs, strides))
        y += xp[(slice(None),) + sl][..., None] * w[tap]
    y = y.reshape(*y.shape[:-2], c * dm)
    if b is not None:
        y = y + b
    return ACTS[act](y)


# ---------------------------------------------------------------- cases

CASES = []

REFS = {"conv": np_conv, "conv_transpose": np_conv_transpose, "depthwise_conv": np_depthwise}


def bias_len(op, w):
    return w[-1] if op == "conv" else w[-2] if op == "conv_transpose" else w[-2] * w[-1]


def relu_kink(op, kw, bias, margin):
    """True when a pre-activation is within `margin` of relu's kink."""
    def near(*arrays):
        z = REFS[op](*arrays[:2], arrays[2] if bias else None, **kw)
        return np.min(np.abs(z), initial=np.inf) < margin
    return near


def case(op, name, x, w, bias=True, act="linear", params=True, **kw):
    """One OpCase of `op` on input shape x and kernel shape w; kw are the op's attributes as
    the references name them (strides, padding, dilation, groups, output_padding)."""
    attrs = {"activation": act}
    for key, value in kw.items():
        attrs[key] = value if key in ("padding", "groups") else _as_list(value, len(x) - 2)
    ref_kw = dict(kw, act=act)
    shapes = [x, w] + ([(bias_len(op, w),)] if bias else [])

    def fn(*inputs):
        return ops.apply_op(op, list(inputs), attrs, cast=False)

    def reference(*arrays):
        return REFS[op](arrays[0], arrays[1], arrays[2] if bias else None, **ref_kw)

    samplers = [uniform(x, -1.0, 1.0), uniform(w, -1.0, 1.0)]
    if bias:
        samplers.append(uniform(shapes[2], -0.5, 0.5))
    avoid = None
    if act == "relu":  # large cases step along random directions, moving z by ~1e-5
        margin = 1e-2 if np.prod(x) <= 256 else 1e-4
        avoid = relu_kink(op, kw, bias, margin)
    params_ = ((1, 2) if bias else (1,)) if params else ()
    CASES.append(OpCase(f"{op}_{name}_{act}{'' if bias else '_nobias'}", fn, samplers,
                        reference, params=params_, avoid=avoid))


# conv 1-D
for pad in ("valid", "same", "causal"):
    case("conv", f"1d_{pad}", (2, 7, 3), (3, 3, 4), padding=pad)
    case("conv", f"1d_{pad}_dilation2", (2, 8, 2), (3, 2, 3), padding=pad, dilation=2)
case("conv", "1d_same_stride2", (2, 9, 3), (4, 3, 2), padding="same", strides=2)
case("conv", "1d_causal_stride2", (2, 9, 3), (3, 3, 2), padding="causal", strides=2)
case("conv", "1d_groups2", (2, 6, 4), (3, 2, 6), padding="same", groups=2)
# conv 2-D
for pad in ("valid", "same"):
    case("conv", f"2d_{pad}", (2, 5, 6, 3), (3, 3, 3, 4), padding=pad)
    case("conv", f"2d_{pad}_stride2", (2, 7, 6, 2), (3, 3, 2, 3), padding=pad, strides=2)
    case("conv", f"2d_{pad}_strides21_kernel23", (2, 6, 5, 2), (2, 3, 2, 3), padding=pad,
         strides=(2, 1))
    case("conv", f"2d_{pad}_dilation", (1, 7, 6, 2), (3, 2, 2, 3), padding=pad, dilation=(2, 1))
    case("conv", f"2d_{pad}_groups3", (2, 4, 4, 6), (3, 3, 2, 3), padding=pad, groups=3)
    case("conv", f"2d_{pad}_1x1", (2, 4, 3, 5), (1, 1, 5, 3), padding=pad)
case("conv", "2d_1x1_stride2", (2, 5, 5, 3), (1, 1, 3, 2), strides=2)
case("conv", "2d_1x1_groups2", (2, 3, 3, 4), (1, 1, 2, 4), groups=2)
case("conv", "2d_inputs_not_params", (2, 4, 4, 2), (3, 3, 2, 2), padding="same", params=False)
for act in ACTS:
    for bias in (True, False):
        case("conv", "2d_same", (2, 5, 4, 3), (3, 3, 3, 2), bias=bias, act=act, padding="same")
        case("conv", "2d_1x1", (2, 3, 4, 3), (1, 1, 3, 2), bias=bias, act=act)
# conv 3-D
case("conv", "3d_valid", (1, 4, 4, 3, 2), (2, 3, 2, 2, 2))
case("conv", "3d_same_strides", (2, 3, 4, 4, 2), (2, 2, 3, 2, 2), padding="same", strides=(1, 2, 2),
     act="tanh")
case("conv", "3d_groups2", (1, 3, 3, 3, 4), (2, 2, 2, 2, 2), padding="same", groups=2, bias=False)
# conv, large: past the kernels' parallel grain (gradients along random directions)
case("conv", "2d_large_same", (4, 16, 16, 8), (3, 3, 8, 16), padding="same", act="relu")
case("conv", "2d_large_stride2", (4, 17, 17, 8), (3, 3, 8, 16), padding="same", strides=2)
# conv's two kernels on either side of the bound (taps x channels <= 75 take the direct
# kernels, larger reductions im2col + BLAS): a first layer whose 32 channels fill whole register
# blocks, a 5x5 RGB kernel at the bound, and reductions of 81 and 108
case("conv", "2d_direct_first_layer", (3, 12, 11, 1), (3, 3, 1, 32), act="relu")
case("conv", "2d_direct_5x5x3_stride2", (2, 9, 9, 3), (5, 5, 3, 5), padding="same", strides=2,
     act="tanh")
case("conv", "2d_im2col_same", (2, 6, 5, 9), (3, 3, 9, 4), padding="same", act="sigmoid")
case("conv", "2d_im2col_strides21", (2, 9, 8, 12), (3, 3, 12, 3), padding="same",
     strides=(2, 1))
case("conv", "1d_im2col_causal_dilation2", (2, 9, 28), (3, 28, 3), padding="causal", dilation=2)

# conv_transpose
for pad in ("valid", "same"):
    case("conv_transpose", f"2d_{pad}", (2, 3, 4, 3), (3, 3, 2, 3), padding=pad)
    case("conv_transpose", f"2d_{pad}_stride2", (2, 3, 3, 3), (3, 3, 2, 3), padding=pad, strides=2)
    case("conv_transpose", f"2d_{pad}_stride2_output_padding", (2, 3, 3, 2), (3, 3, 2, 2),
         padding=pad, strides=2, output_padding=(1, 0))
    case("conv_transpose", f"2d_{pad}_kernel24_strides32", (1, 3, 3, 2), (2, 4, 3, 2),
         padding=pad, strides=(3, 2))
    case("conv_transpose", f"2d_{pad}_dilation", (1, 3, 4, 2), (3, 2, 2, 2), padding=pad,
         dilation=(2, 1))
    case("conv_transpose", f"2d_{pad}_1x1", (2, 3, 3, 3), (1, 1, 2, 3), padding=pad)
    case("conv_transpose", f"1d_{pad}_stride2", (2, 4, 3), (3, 2, 3), padding=pad, strides=2)
    case("conv_transpose", f"1d_{pad}_stride2_output_padding1", (2, 4, 3), (4, 2, 3), padding=pad,
         strides=2, output_padding=1)
    case("conv_transpose", f"3d_{pad}", (1, 2, 3, 2, 2), (2, 2, 3, 2, 2), padding=pad,
         strides=(2, 1, 2))
for act in ACTS:
    case("conv_transpose", "2d_same_stride2", (2, 3, 3, 2), (3, 3, 2, 2), act=act, padding="same",
         strides=2)
case("conv_transpose", "2d_nobias_valid", (2, 3, 3, 2), (3, 3, 2, 2), bias=False, strides=2)
case("conv_transpose", "2d_large_stride2", (4, 8, 8, 16), (3, 3, 8, 16), padding="same", strides=2)

# depthwise_conv
for dm in (1, 2):
    for pad in ("valid", "same"):
        case("depthwise_conv", f"2d_{pad}_dm{dm}", (2, 5, 6, 3), (3, 3, 3, dm), padding=pad)
        case("depthwise_conv", f"2d_{pad}_stride2_dm{dm}", (2, 7, 6, 3), (3, 3, 3, dm), padding=pad,
             strides=2)
        case("depthwise_conv", f"2d_{pad}_dilation_dm{dm}", (1, 6, 7, 2), (2, 3, 2, dm),
             padding=pad, dilation=(1, 2))
    for pad in ("valid", "same", "causal"):
        case("depthwise_conv", f"1d_{pad}_dm{dm}", (2, 7, 3), (3, 3, dm), padding=pad)
    case("depthwise_conv", f"3d_same_dm{dm}", (1, 3, 3, 4, 2), (2, 2, 2, 2, dm), padding="same")
    for act in ("relu", "sigmoid", "tanh"):
        case("depthwise_conv", f"2d_same_dm{dm}", (2, 4, 4, 3), (3, 3, 3, dm), act=act,
             padding="same")
case("depthwise_conv", "2d_nobias", (2, 4, 4, 3), (3, 3, 3, 2), bias=False, padding="same")
case("depthwise_conv", "2d_large", (4, 20, 20, 16), (3, 3, 16, 2), padding="same", act="relu")

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


def test_references_agree_with_each_other():
    """The depthwise reference is a grouped conv; conv_transpose is the adjoint of conv."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    np.testing.assert_allclose(
        np_depthwise(x, w, padding="same", strides=2),
        np_conv(x, w.reshape(3, 3, 1, 6), padding="same", strides=2, groups=3), atol=1e-12)
    # <conv(y), x> = <y, conv_transpose(x)> for the kernel read both ways
    y = rng.standard_normal((2, 8, 6, 4))
    k = rng.standard_normal((3, 3, 4, 5))  # conv: 4 -> 5; conv_transpose: 5 -> 4
    cx = rng.standard_normal(np_conv(y, k, strides=2, padding="same").shape)
    t = np_conv_transpose(cx, k, strides=2, padding="same", output_padding=(1, 1))
    assert t.shape == y.shape
    np.testing.assert_allclose(np.sum(np_conv(y, k, strides=2, padding="same") * cx),
                               np.sum(y * t), rtol=1e-10)


# ---------------------------------------------------------------- bad input


def _raises_both(exc, fn, shapes, match, dtype="float32"):
    """Raised eagerly on arrays and at shape inference on symbolic tensors."""
    with pytest.raises(exc, match=match):
        fn(*[np.ones(s, dtype) for s in shapes])
    with pytest.raises(exc, match=match):
        fn(*[input_tensor(s, dtype) for s in shapes])


def _op(name, **attrs):
    return lambda *a: ops.apply_op(name, list(a), attrs, cast=False)


@pytest.mark.parametrize("op, attrs, shapes, match", [
    ("conv", {}, [(2, 3, 3, 3), (5, 5, 3, 4)],
     (r"op 'conv': kernel size 5 is larger than the padded input size 3 on spatial axis 1 with "
      r"padding 'valid'")),
    ("conv", {"dilation": [1, 3]}, [(2, 9, 5, 3), (3, 3, 3, 4)],
     r"op 'conv': kernel size 7 \(dilated\) is larger .* size 5 on spatial axis 2"),
    ("conv", {}, [(2, 5, 5, 3), (3, 3, 2, 4)], r"op 'conv': expected an input with 2 channels"),
    ("conv", {}, [(5, 5), (3, 3)], r"op 'conv': expected an input of rank 3, 4 or 5"),
    ("conv", {}, [(2, 5, 5, 3), (3, 3, 3)], r"op 'conv': expected a kernel of rank 4"),
    ("conv", {}, [(2, 5, 3), (3, 3, 4), (5,)], r"op 'conv': expected a bias of shape \(4,\)"),
    ("conv", {"strides": [0]}, [(2, 5, 3), (3, 3, 4)], r"op 'conv': expected positive strides"),
    ("conv", {"dilation": [1, 0]}, [(2, 5, 5, 3), (3, 3, 3, 4)],
     r"op 'conv': expected positive dilation"),
    ("conv", {"strides": [1, 1, 1]}, [(2, 5, 5, 3), (3, 3, 3, 4)],
     r"op 'conv': expected strides with one value per spatial axis \(2\)"),
    ("conv", {"groups": 2}, [(2, 5, 3), (3, 3, 4)],
     r"op 'conv': the input channels \(3\) must be divisible by groups \(2\)"),
    ("conv", {"groups": 2}, [(2, 5, 4), (3, 2, 3)],
     r"op 'conv': the output channels \(3\) must be divisible by groups \(2\)"),
    ("conv", {"padding": "causal"}, [(2, 5, 5, 3), (3, 3, 3, 4)],
     r"op 'conv': padding 'causal' is only supported for 1-D"),
    ("conv", {"padding": "full"}, [(2, 5, 3), (3, 3, 4)],
     r"op 'conv': expected padding 'valid', 'same' or 'causal', received 'full'"),
    ("conv", {"activation": "softmax"}, [(2, 5, 3), (3, 3, 4)],
     r"op 'conv': activation 'softmax' cannot be fused"),
    ("conv_transpose", {}, [(2, 5, 5, 3), (3, 3, 4, 2)],
     r"op 'conv_transpose': expected an input with 2 channels"),
    ("conv_transpose", {"strides": [2], "output_padding": [2]}, [(2, 5, 3), (3, 4, 3)],
     r"op 'conv_transpose': expected 0 <= output_padding < strides"),
    ("conv_transpose", {"padding": "causal"}, [(2, 5, 3), (3, 4, 3)],
     r"op 'conv_transpose': expected padding 'valid' or 'same'"),
    ("depthwise_conv", {}, [(2, 5, 5, 3), (3, 3, 4, 1)],
     r"op 'depthwise_conv': expected an input with 4 channels"),
    ("depthwise_conv", {}, [(2, 3, 3, 3), (5, 5, 3, 1)],
     r"op 'depthwise_conv': kernel size 5 is larger than the padded input size 3"),
    ("depthwise_conv", {}, [(2, 5, 5, 3), (3, 3, 3, 2), (3,)],
     r"op 'depthwise_conv': expected a bias of shape \(6,\)"),
])
def test_bad_input(op, attrs, shapes, match):
    _raises_both(ValueError, _op(op, **attrs), shapes, match)


def test_dtype_errors():
    with pytest.raises(TypeError, match=r"op 'conv'.*float32 but kernel is float64"):
        ops.apply_op("conv", [np.ones((2, 5, 3), "float32"), np.ones((3, 3, 4))], {}, cast=False)
    with pytest.raises(TypeError, match=r"op 'depthwise_conv'"):
        ops.apply_op("depthwise_conv", [np.ones((2, 5, 3), "int32"), np.ones((3, 3, 1), "int32")],
                     {}, cast=False)


def test_unknown_batch_and_spatial_extents():
    x = input_tensor((None, None, 12, 3), "float32")
    y = ops.apply_op("conv", [x, np.ones((3, 3, 3, 8), "float32")],
                     {"padding": "same", "strides": [2, 2]}, cast=False)
    assert tuple(y.shape) == (None, None, 6, 8)
    t = ops.apply_op("conv_transpose", [x, np.ones((3, 3, 5, 3), "float32")],
                     {"padding": "valid", "strides": [2, 2]}, cast=False)
    assert tuple(t.shape) == (None, None, 25, 5)


# ---------------------------------------------------------------- torch parity

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - parity is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def _to_torch(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _channels_first(t):
    return t.permute(0, t.dim() - 1, *range(1, t.dim() - 1))


def _channels_last(t):
    return t.permute(0, *range(2, t.dim()), 1)


def _torch_conv(x, w, b, strides, padding, dilation, groups):
    """ember's conv in torch: x (N, *s, C), w (*k, C/g, Cout) -> channels_first, TF padding."""
    nsp = x.dim() - 2
    pads = [conv_pads(x.shape[1 + i], w.shape[i], strides[i], dilation[i], padding)
            for i in range(nsp)]
    xc = F.pad(_channels_first(x), [p for pair in reversed(pads) for p in pair])
    wc = w.permute(nsp + 1, nsp, *range(nsp))
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nsp]
    return _channels_last(fn(xc, wc, b, stride=strides, dilation=dilation, groups=groups))


def _torch_conv_transpose2d(x, w, b, strides, padding, output_padding):
    """Keras's torch recipe: conv_transpose2d without padding, then the asymmetric crop (zeros
    appended where output_padding reaches past the natural size), then the bias."""
    y = F.conv_transpose2d(_channels_first(x), w.permute(3, 2, 0, 1), stride=strides)
    for ax in range(2):
        left, right = transpose_pads(w.shape[ax], strides[ax], 1, padding,
                                     None if output_padding is None else output_padding[ax])
        lo, hi = (w.shape[ax] - 1) - left, (w.shape[ax] - 1) - right
        if hi < 0:
            pad = [0, 0, 0, 0]
            pad[3 if ax == 0 else 1] = -hi  # F.pad lists the last axis first
            y, hi = F.pad(y, pad), 0
        y = y.narrow(2 + ax, lo, y.shape[2 + ax] - lo - hi)
    return _channels_last(y) + b


def _ember_grads(op, arrays, attrs):
    from ember.backend.function import Function

    syms = [input_tensor(a.shape, "float64") for a in arrays]
    out = ops.apply_op(op, syms, attrs, cast=False)
    f = Function(syms, [out])
    g = np.random.default_rng(1).standard_normal(out.shape)
    outs, grads, _ = f.gradients(arrays, [g])
    return outs[0], grads, g


def _compare(op, arrays, attrs, torch_fn):
    out, grads, g = _ember_grads(op, arrays, attrs)
    ts = [_to_torch(a) for a in arrays]
    ref = torch_fn(*ts)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, t in zip(grads, ts):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-9, atol=1e-9)


@needs_torch
@pytest.mark.parametrize("x, w, strides, padding, dilation, groups", [
    ((2, 11, 4), (3, 4, 6), (1,), "valid", (1,), 1),
    ((2, 11, 4), (3, 2, 6), (2,), "same", (1,), 2),
    ((2, 11, 4), (3, 4, 5), (1,), "causal", (2,), 1),
    ((2, 9, 8, 6), (3, 3, 6, 8), (1, 1), "same", (1, 1), 1),
    ((2, 9, 8, 6), (3, 3, 6, 8), (2, 2), "same", (1, 1), 1),
    ((2, 9, 8, 6), (4, 3, 3, 4), (2, 1), "valid", (1, 2), 2),
    ((2, 9, 8, 6), (1, 1, 6, 5), (1, 1), "valid", (1, 1), 1),
    ((1, 5, 6, 5, 4), (3, 2, 3, 4, 3), (1, 2, 1), "same", (1, 1, 2), 1),
])
def test_conv_matches_torch(x, w, strides, padding, dilation, groups):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(x), rng.standard_normal(w), rng.standard_normal(w[-1])]
    attrs = {"strides": list(strides), "padding": padding, "dilation": list(dilation),
             "groups": groups}
    _compare("conv", arrays, attrs,
             lambda a, k, b: _torch_conv(a, k, b, strides, padding, dilation, groups))


@needs_torch
@pytest.mark.parametrize("dm, strides, padding", [(1, (1, 1), "same"), (2, (2, 2), "valid"),
                                                  (3, (2, 1), "same")])
def test_depthwise_matches_torch(dm, strides, padding):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 9, 8, 5)), rng.standard_normal((3, 3, 5, dm)), \
        rng.standard_normal(5 * dm)
    attrs = {"strides": list(strides), "padding": padding}
    _compare("depthwise_conv", [x, w, b], attrs,
             lambda a, k, bb: _torch_conv(a, k.reshape(3, 3, 1, 5 * dm), bb, strides, padding,
                                          (1, 1), 5))


@needs_torch
@pytest.mark.parametrize("strides, padding, output_padding, k", [
    ((2, 2), "same", None, (3, 3)),
    ((2, 2), "valid", None, (3, 3)),
    ((2, 2), "same", (1, 1), (3, 3)),
    ((2, 2), "valid", (1, 0), (4, 4)),
    ((1, 1), "same", None, (3, 3)),
    ((3, 2), "same", None, (2, 4)),
])
def test_conv_transpose_matches_torch(strides, padding, output_padding, k):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 5, 4, 6)), rng.standard_normal((*k, 3, 6)), \
        rng.standard_normal(3)
    attrs = {"strides": list(strides), "padding": padding}
    if output_padding is not None:
        attrs["output_padding"] = list(output_padding)
    _compare("conv_transpose", [x, w, b], attrs,
             lambda a, kk, bb: _torch_conv_transpose2d(a, kk, bb, strides, padding,
                                                       output_padding))
