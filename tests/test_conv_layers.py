"""Convolution-family layers through the shared harness (tests/layer_harness.py) against NumPy
references written from Keras 3's definitions, plus what the harness does not cover: batch norm's
training / inference / frozen modes and moving statistics, spatial dropout's masks, uneven
'same' average pooling and a few hand-computed values.

The references work in float64 on channels_last data (channels_first inputs are moved first) and
follow TensorFlow's padding rules, which Keras documents: 'same' pads
max((out - 1) * stride + dilated_kernel - size, 0) in total, the smaller half before.
"""
import math

import numpy as np
import pytest

import ember
from ember import layers
from layer_harness import run_layer_test


# ---- NumPy references ---------------------------------------------------------------------------
def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def _pads(size, kernel, stride, dilation, padding):
    dk = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return dk - 1, 0
    total = max((-(-size // stride) - 1) * stride + dk - size, 0)
    return total // 2, total - total // 2


def _to_last(x, data_format):
    x = x.astype(np.float64)
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def _from_last(y, data_format):
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / np.sqrt(2.0)))


ACTIVATIONS = {
    None: lambda y: y, "linear": lambda y: y, "relu": lambda y: np.maximum(y, 0),
    "sigmoid": lambda y: 1 / (1 + np.exp(-y)), "tanh": np.tanh,
    "gelu": _gelu,  # Keras's gelu defaults to the exact (erf) form
    "elu": lambda y: np.where(y > 0, y, np.expm1(np.minimum(y, 0))),
}


def np_conv(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1,
            data_format="channels_last", activation=None):
    """Keras Conv{1,2,3}D: kernel (*k, in_channels // groups, filters)."""
    x = _to_last(x, data_format)
    rank = x.ndim - 2
    strides, dilation = _tuple(strides, rank), _tuple(dilation_rate, rank)
    ksize = kernel.shape[:rank]
    pads = [_pads(x.shape[1 + i], ksize[i], strides[i], dilation[i], padding)
            for i in range(rank)]
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out = [(xp.shape[1 + i] - (ksize[i] - 1) * dilation[i] - 1) // strides[i] + 1
           for i in range(rank)]
    cin, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    y = np.zeros((x.shape[0], *out, filters))
    for pos in np.ndindex(*ksize):
        window = tuple(slice(pos[i] * dilation[i],
                             pos[i] * dilation[i] + (out[i] - 1) * strides[i] + 1, strides[i])
                       for i in range(rank))
        patch = xp[(slice(None),) + window]
        for g in range(groups):
            y[..., g * fg:(g + 1) * fg] += (patch[..., g * cin:(g + 1) * cin]
                                            @ kernel[pos][:, g * fg:(g + 1) * fg])
    if bias is not None:
        y = y + bias
    return _from_last(ACTIVATIONS[activation](y), data_format)


def conv_transpose_length(size, kernel, stride, padding, output_padding, dilation):
    """keras.src.utils.conv_utils / backend_utils.compute_conv_transpose_output_shape."""
    dk = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + max(dk - stride, 0) if padding == "valid" else size * stride
    pad = dk // 2 if padding == "same" else 0
    return (size - 1) * stride + dk - 2 * pad + output_padding


def np_conv_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                      dilation_rate=1, data_format="channels_last", activation=None):
    """The gradient of a convolution (TF's conv*_transpose): kernel (*k, filters, in_channels).

    Each input element scatters kernel * value onto a 'full' output of length
    (size - 1) * stride + dilated_kernel; the result is that, cropped by TF's before-padding
    (or padded with zeros on the right where output_padding asks for more)."""
    x = _to_last(x, data_format)
    rank = x.ndim - 2
    strides, dilation = _tuple(strides, rank), _tuple(dilation_rate, rank)
    opad = (None,) * rank if output_padding is None else _tuple(output_padding, rank)
    ksize = kernel.shape[:rank]
    sizes = x.shape[1:-1]
    full_shape = [(sizes[i] - 1) * strides[i] + (ksize[i] - 1) * dilation[i] + 1
                  for i in range(rank)]
    out_shape = [conv_transpose_length(sizes[i], ksize[i], strides[i], padding, opad[i],
                                       dilation[i]) for i in range(rank)]
    filters = kernel.shape[-2]
    full = np.zeros((x.shape[0], *full_shape, filters))
    for pos in np.ndindex(*ksize):
        window = tuple(slice(pos[i] * dilation[i],
                             pos[i] * dilation[i] + (sizes[i] - 1) * strides[i] + 1, strides[i])
                       for i in range(rank))
        full[(slice(None),) + window] += x @ kernel[pos].T
    y = np.zeros((x.shape[0], *out_shape, filters))
    src, dst = [slice(None)], [slice(None)]
    for i in range(rank):
        before = max(full_shape[i] - out_shape[i], 0) // 2
        n = min(out_shape[i], full_shape[i] - before)
        src.append(slice(before, before + n))
        dst.append(slice(0, n))
    y[tuple(dst)] = full[tuple(src)]
    if bias is not None:
        y = y + bias
    return _from_last(ACTIVATIONS[activation](y), data_format)


def np_depthwise(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                 data_format="channels_last", activation=None):
    """Keras DepthwiseConv: kernel (*k, channels, multiplier); output channel c * M + m."""
    rank = x.ndim - 2
    channels, mult = kernel.shape[-2:]
    grouped = kernel.reshape(kernel.shape[:rank] + (1, channels * mult))
    return np_conv(x, grouped, bias, strides, padding, dilation_rate, groups=channels,
                   data_format=data_format, activation=activation)


def np_separable(x, depthwise, pointwise, bias=None, strides=1, padding="valid",
                 dilation_rate=1, data_format="channels_last", activation=None):
    y = np_depthwise(x, depthwise, None, strides, padding, dilation_rate, data_format)
    return np_conv(y, pointwise, bias, data_format=data_format, activation=activation)


def np_pool(x, pool_size, strides=None, padding="valid", kind="max",
            data_format="channels_last"):
    """Max / average pooling; 'same' padding is ignored by both (the average divides by the
    number of real elements in the window, as TF and Keras's documentation do)."""
    x = _to_last(x, data_format)
    rank = x.ndim - 2
    pool = _tuple(pool_size, rank)
    strides = pool if strides is None else _tuple(strides, rank)
    pads = [_pads(x.shape[1 + i], pool[i], strides[i], 1, padding) for i in range(rank)]
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=np.nan)
    out = [(xp.shape[1 + i] - pool[i]) // strides[i] + 1 for i in range(rank)]
    windows = np.stack([
        xp[(slice(None),) + tuple(slice(pos[i], pos[i] + (out[i] - 1) * strides[i] + 1,
                                        strides[i]) for i in range(rank))]
        for pos in np.ndindex(*pool)])
    y = np.nanmax(windows, axis=0) if kind == "max" else np.nanmean(windows, axis=0)
    return _from_last(y, data_format)


def _channel_shape(ndim, axis, n):
    shape = [1] * ndim
    shape[axis] = n
    return shape


def np_batch_norm_inference(x, weights, axis=-1, epsilon=1e-3, center=True, scale=True):
    weights = list(weights)
    gamma = weights.pop(0) if scale else None
    beta = weights.pop(0) if center else None
    mean, var = weights
    s = _channel_shape(x.ndim, axis, x.shape[axis])
    with np.errstate(invalid="ignore"):  # the harness sets random (negative) variances
        y = (x.astype(np.float64) - mean.reshape(s)) / np.sqrt(var.reshape(s) + epsilon)
    if gamma is not None:
        y = y * gamma.reshape(s)
    return y + beta.reshape(s) if beta is not None else y


def np_batch_norm_training(x, gamma, beta, axis=-1, epsilon=1e-3):
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    s = _channel_shape(x.ndim, axis, x.shape[axis])
    x = x.astype(np.float64)
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + epsilon)
    return y * gamma.reshape(s) + beta.reshape(s)


def np_group_norm(x, weights, groups, axis=-1, epsilon=1e-3, center=True, scale=True):
    """Keras GroupNormalization: per sample, over the other axes and the group's channels."""
    weights = list(weights)
    gamma = weights.pop(0) if scale else None
    beta = weights.pop(0) if center else None
    xt = np.moveaxis(x.astype(np.float64), axis, -1)
    c = xt.shape[-1]
    groups = c if groups == -1 else groups
    g = xt.reshape(xt.shape[0], -1, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    y = ((g - mean) / np.sqrt(var + epsilon)).reshape(xt.shape)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return np.moveaxis(y, -1, axis)


def np_upsample_nearest(x, size, data_format="channels_last"):
    y = _to_last(x, data_format)
    for i, s in enumerate(_tuple(size, y.ndim - 2)):
        y = np.repeat(y, s, axis=1 + i)
    return _from_last(y, data_format)


def np_upsample_bilinear(x, size, data_format="channels_last"):
    """Half-pixel centres, clamped at the border (TF resize / torch align_corners=False)."""
    y = _to_last(x, data_format)
    for i, s in enumerate(_tuple(size, 2)):
        n = y.shape[1 + i]
        src = np.maximum((np.arange(n * s) + 0.5) / s - 0.5, 0.0)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        w = _channel_shape(4, 1 + i, n * s)
        frac = (src - lo).reshape(w)
        y = np.take(y, lo, axis=1 + i) * (1 - frac) + np.take(y, hi, axis=1 + i) * frac
    return _from_last(y, data_format)


def np_pad_crop(x, pairs, crop=False, data_format="channels_last"):
    y = _to_last(x, data_format)
    if crop:
        y = y[(slice(None),) + tuple(slice(a, y.shape[1 + i] - b)
                                     for i, (a, b) in enumerate(pairs))]
    else:
        y = np.pad(y, [(0, 0)] + list(pairs) + [(0, 0)])
    return _from_last(y, data_format)


def _run(cls, kwargs, input_shape, output_shape, reference, weights=2, **extra):
    return run_layer_test(cls, kwargs, input_shape=input_shape,
                          expected_output_shape=output_shape,
                          expected_num_trainable_weights=weights, reference=reference,
                          rtol=1e-4, atol=1e-5, **extra)


# ---- Conv1D / Conv2D / Conv3D -------------------------------------------------------------------
CONV_CASES = [
    # (class, kwargs, input shape, output shape)
    (layers.Conv1D, {"filters": 4, "kernel_size": 3}, (2, 9, 3), (2, 7, 4)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 9, 3), (2, 5, 4)),
    (layers.Conv1D, {"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same"},
     (2, 10, 3), (2, 4, 2)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
     (2, 9, 3), (2, 9, 4)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 2, "padding": "causal", "strides": 2},
     (2, 9, 3), (2, 5, 4)),
    (layers.Conv1D, {"filters": 6, "kernel_size": 3, "groups": 2}, (2, 8, 4), (2, 6, 6)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 3, "data_format": "channels_first",
                     "padding": "same"}, (2, 3, 9), (2, 4, 9)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 3, "activation": "gelu"}, (2, 9, 3),
     (2, 7, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3}, (2, 7, 6, 3), (2, 5, 4, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same"},
     (2, 7, 6, 3), (2, 4, 6, 4)),
    (layers.Conv2D, {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 8, 7, 2),
     (2, 3, 3, 3)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "dilation_rate": (2, 1),
                     "padding": "same"}, (2, 7, 6, 3), (2, 7, 6, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "dilation_rate": 2}, (2, 7, 8, 3),
     (2, 3, 4, 4)),
    (layers.Conv2D, {"filters": 6, "kernel_size": 3, "groups": 3}, (2, 6, 6, 6), (2, 4, 4, 6)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "data_format": "channels_first"},
     (2, 3, 7, 6), (2, 4, 5, 4)),
    (layers.Conv2D, {"filters": 6, "kernel_size": 2, "data_format": "channels_first",
                     "strides": 2, "padding": "same", "groups": 3, "activation": "relu"},
     (2, 3, 5, 6), (2, 6, 3, 3)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "relu"}, (2, 7, 6, 3),
     (2, 5, 4, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "sigmoid"}, (2, 7, 6, 3),
     (2, 5, 4, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "tanh", "padding": "same"},
     (2, 7, 6, 3), (2, 7, 6, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "gelu"}, (2, 7, 6, 3),
     (2, 5, 4, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "elu", "padding": "same"},
     (2, 5, 6, 3), (2, 5, 6, 4)),
    (layers.Conv3D, {"filters": 3, "kernel_size": 2}, (2, 4, 5, 3, 2), (2, 3, 4, 2, 3)),
    (layers.Conv3D, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 5, 4, 3, 2), (2, 3, 2, 2, 3)),
    (layers.Conv3D, {"filters": 4, "kernel_size": (1, 2, 3), "groups": 2,
                     "data_format": "channels_first"}, (2, 4, 3, 4, 5), (2, 4, 3, 3, 3)),
    (layers.Conv3D, {"filters": 2, "kernel_size": 2, "dilation_rate": (1, 2, 1),
                     "activation": "gelu"}, (1, 3, 5, 3, 2), (1, 2, 3, 2, 2)),
]


def _conv_ref(kwargs, fn=np_conv):
    args = {k: v for k, v in kwargs.items() if k not in ("filters", "kernel_size", "use_bias")}
    use_bias = kwargs.get("use_bias", True)

    def reference(x, weights):
        return fn(x, weights[0], weights[1] if use_bias else None, **args)
    return reference


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", CONV_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONV_CASES)])
def test_conv(cls, kwargs, input_shape, output_shape):
    layer = _run(cls, kwargs, input_shape, output_shape, _conv_ref(kwargs))
    rank = len(input_shape) - 2
    channels = input_shape[1 if kwargs.get("data_format") == "channels_first" else -1]
    assert layer.kernel.shape == _tuple(kwargs["kernel_size"], rank) + (
        channels // kwargs.get("groups", 1), kwargs["filters"])
    assert [w.name for w in layer.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("cls,input_shape,output_shape", [
    (layers.Conv1D, (2, 6, 3), (2, 4, 5)), (layers.Conv2D, (2, 5, 6, 3), (2, 3, 4, 5)),
    (layers.Conv3D, (2, 4, 3, 5, 2), (2, 2, 1, 3, 5))])
def test_conv_without_bias(cls, input_shape, output_shape):
    kwargs = {"filters": 5, "kernel_size": 3, "use_bias": False, "activation": "tanh"}
    layer = _run(cls, kwargs, input_shape, output_shape, _conv_ref(kwargs), weights=1)
    assert layer.bias is None and [w.name for w in layer.weights] == ["kernel"]
    assert layer.get_config()["use_bias"] is False


def test_conv2d_float64_and_config_values():
    layer = run_layer_test(layers.Conv2D, {"filters": 2, "kernel_size": 3, "dtype": "float64"},
                           input_shape=(1, 5, 5, 2), expected_output_shape=(1, 3, 3, 2),
                           expected_num_trainable_weights=2, input_dtype="float64",
                           reference=_conv_ref({}), rtol=1e-10, atol=1e-12)
    config = layer.get_config()
    assert config["kernel_size"] == (3, 3) and config["strides"] == (1, 1)
    assert config["padding"] == "valid" and config["data_format"] == "channels_last"
    assert config["dilation_rate"] == (1, 1) and config["groups"] == 1
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"


def test_conv_kernel_of_ones_sums_windows():
    """A hand-checkable case: a 2x2 kernel of ones sums each 2x2 window."""
    layer = layers.Conv2D(1, 2, use_bias=False, kernel_initializer="ones")
    x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(layer(x)[0, :, :, 0], [[8, 12], [20, 24]])


def test_conv1d_causal_output_depends_only_on_the_past():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 12, 3)).astype("float32")
    changed = x.copy()
    changed[:, 7:] += 5.0
    np.testing.assert_array_equal(layer(changed)[:, :7], layer(x)[:, :7])
    assert not np.allclose(layer(changed)[:, 7:], layer(x)[:, 7:])


# ---- Conv1DTranspose / Conv2DTranspose ----------------------------------------------------------
TRANSPOSE_CASES = [
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3}, (2, 5, 2), (2, 7, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 2),
     (2, 11, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 2, "strides": 3}, (2, 4, 2),
     (2, 12, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 5, 2), (2, 10, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
     (2, 5, 2), (2, 10, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2,
                              "output_padding": 1}, (2, 5, 2), (2, 12, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 3, "padding": "same",
                              "output_padding": 2}, (2, 4, 2), (2, 12, 3)),
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3, "dilation_rate": 2,
                              "activation": "gelu"}, (2, 5, 2), (2, 9, 3)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3}, (2, 4, 5, 2), (2, 6, 7, 3)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": (3, 2), "strides": (2, 1)},
     (2, 4, 5, 2), (2, 9, 6, 3)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 4, 5, 2), (2, 8, 10, 3)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same",
                              "output_padding": 1}, (2, 4, 5, 2), (2, 8, 10, 3)),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": (3, 2),
                              "output_padding": (2, 0)}, (2, 3, 4, 2), (2, 11, 9, 2)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 2, "strides": 2,
                              "data_format": "channels_first", "activation": "relu"},
     (2, 2, 4, 3), (2, 3, 8, 6)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3, "dilation_rate": (1, 2),
                              "padding": "same", "use_bias": False}, (2, 4, 5, 2),
     (2, 4, 5, 3)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", TRANSPOSE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(TRANSPOSE_CASES)])
def test_conv_transpose(cls, kwargs, input_shape, output_shape):
    use_bias = kwargs.get("use_bias", True)
    layer = _run(cls, kwargs, input_shape, output_shape, _conv_ref(kwargs, np_conv_transpose),
                 weights=2 if use_bias else 1)
    rank = len(input_shape) - 2
    channels = input_shape[1 if kwargs.get("data_format") == "channels_first" else -1]
    # Keras's transposed kernel: (*kernel_size, filters, in_channels).
    assert layer.kernel.shape == _tuple(kwargs["kernel_size"], rank) + (
        kwargs["filters"], channels)
    config = layer.get_config()
    assert "groups" not in config
    op = kwargs.get("output_padding")
    assert config["output_padding"] == (None if op is None else _tuple(op, rank))


# ---- DepthwiseConv / SeparableConv --------------------------------------------------------------
DEPTHWISE_CASES = [
    (layers.DepthwiseConv2D, {"kernel_size": 3}, (2, 6, 5, 3), (2, 4, 3, 3)),
    (layers.DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2}, (2, 6, 5, 3),
     (2, 4, 3, 6)),
    (layers.DepthwiseConv2D, {"kernel_size": (2, 3), "strides": 2, "padding": "same",
                              "depth_multiplier": 3}, (2, 6, 5, 2), (2, 3, 3, 6)),
    (layers.DepthwiseConv2D, {"kernel_size": 3, "dilation_rate": 2, "padding": "same",
                              "activation": "relu"}, (2, 6, 5, 3), (2, 6, 5, 3)),
    (layers.DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2,
                              "data_format": "channels_first", "activation": "gelu"},
     (2, 3, 6, 5), (2, 6, 4, 3)),
    (layers.DepthwiseConv1D, {"kernel_size": 3, "depth_multiplier": 2, "strides": 2},
     (2, 9, 3), (2, 4, 6)),
    (layers.DepthwiseConv1D, {"kernel_size": 3, "padding": "causal"}, (2, 7, 3), (2, 7, 3)),
    # Keras refuses strides > 1 with dilation > 1 in Conv layers, not in depthwise ones.
    (layers.DepthwiseConv2D, {"kernel_size": 3, "strides": 2, "dilation_rate": 2},
     (2, 9, 8, 2), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", DEPTHWISE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(DEPTHWISE_CASES)])
def test_depthwise_conv(cls, kwargs, input_shape, output_shape):
    layer = _run(cls, kwargs, input_shape, output_shape, _conv_ref(
        {k: v for k, v in kwargs.items() if k != "depth_multiplier"}, np_depthwise))
    rank = len(input_shape) - 2
    channels = input_shape[1 if kwargs.get("data_format") == "channels_first" else -1]
    assert layer.depthwise_kernel.shape == _tuple(kwargs["kernel_size"], rank) + (
        channels, kwargs.get("depth_multiplier", 1))
    assert [w.name for w in layer.weights] == ["kernel", "bias"]  # Keras's names


def test_depthwise_conv_without_bias():
    _run(layers.DepthwiseConv2D, {"kernel_size": 2, "use_bias": False, "depth_multiplier": 2},
         (1, 4, 4, 2), (1, 3, 3, 4), lambda x, w: np_depthwise(x, w[0]), weights=1)


SEPARABLE_CASES = [
    (layers.SeparableConv2D, {"filters": 4, "kernel_size": 3}, (2, 6, 5, 3), (2, 4, 3, 4)),
    (layers.SeparableConv2D, {"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                              "strides": 2, "padding": "same", "activation": "relu"},
     (2, 6, 5, 3), (2, 3, 3, 4)),
    (layers.SeparableConv2D, {"filters": 5, "kernel_size": 2, "data_format": "channels_first",
                              "dilation_rate": 2, "activation": "gelu"}, (2, 3, 6, 5),
     (2, 5, 4, 3)),
    (layers.SeparableConv1D, {"filters": 4, "kernel_size": 3}, (2, 8, 3), (2, 6, 4)),
    (layers.SeparableConv1D, {"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                              "padding": "same", "strides": 2}, (2, 8, 3), (2, 4, 4)),
    (layers.SeparableConv1D, {"filters": 3, "kernel_size": 2, "strides": 2, "dilation_rate": 2,
                              "padding": "same"}, (2, 9, 3), (2, 5, 3)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", SEPARABLE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(SEPARABLE_CASES)])
def test_separable_conv(cls, kwargs, input_shape, output_shape):
    args = {k: v for k, v in kwargs.items()
            if k not in ("filters", "kernel_size", "depth_multiplier")}
    layer = _run(cls, kwargs, input_shape, output_shape,
                 lambda x, w: np_separable(x, w[0], w[1], w[2], **args), weights=3)
    assert [w.name for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    rank = len(input_shape) - 2
    mult = kwargs.get("depth_multiplier", 1)
    channels = input_shape[1 if kwargs.get("data_format") == "channels_first" else -1]
    assert layer.pointwise_kernel.shape == (1,) * rank + (channels * mult, kwargs["filters"])


# ---- pooling ------------------------------------------------------------------------------------
POOL_CASES = [
    (layers.MaxPooling1D, {}, (2, 8, 3), (2, 4, 3)),
    (layers.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3),
     (2, 4, 3)),
    (layers.MaxPooling1D, {"pool_size": 2, "data_format": "channels_first"}, (2, 3, 7),
     (2, 3, 3)),
    (layers.MaxPooling2D, {}, (2, 6, 5, 3), (2, 3, 2, 3)),
    (layers.MaxPooling2D, {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"},
     (2, 6, 5, 3), (2, 3, 5, 3)),
    (layers.MaxPooling2D, {"pool_size": 3, "strides": 1, "data_format": "channels_first"},
     (2, 3, 6, 5), (2, 3, 4, 3)),
    (layers.MaxPooling3D, {}, (2, 4, 5, 4, 2), (2, 2, 2, 2, 2)),
    (layers.MaxPooling3D, {"pool_size": 2, "padding": "same", "strides": (1, 2, 2)},
     (2, 3, 5, 4, 2), (2, 3, 3, 2, 2)),
    (layers.AveragePooling1D, {}, (2, 8, 3), (2, 4, 3)),
    (layers.AveragePooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3),
     (2, 4, 3)),
    (layers.AveragePooling2D, {}, (2, 6, 5, 3), (2, 3, 2, 3)),
    (layers.AveragePooling2D, {"pool_size": 3, "strides": 2, "padding": "same"},
     (2, 6, 5, 3), (2, 3, 3, 3)),
    (layers.AveragePooling2D, {"pool_size": 2, "padding": "same",
                               "data_format": "channels_first"}, (2, 3, 5, 5), (2, 3, 3, 3)),
    (layers.AveragePooling3D, {}, (2, 4, 5, 4, 2), (2, 2, 2, 2, 2)),
    (layers.AveragePooling3D, {"pool_size": (2, 3, 2), "padding": "same", "strides": 2},
     (2, 3, 5, 4, 2), (2, 2, 3, 2, 2)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", POOL_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(POOL_CASES)])
def test_pooling(cls, kwargs, input_shape, output_shape):
    rank = len(input_shape) - 2
    kind = "max" if cls.__name__.startswith("Max") else "avg"
    args = {"pool_size": 2, **kwargs}
    layer = _run(cls, kwargs, input_shape, output_shape,
                 lambda x, _: np_pool(x, kind=kind, **args), weights=0)
    config = layer.get_config()
    assert config["pool_size"] == _tuple(args["pool_size"], rank)
    assert config["strides"] == _tuple(kwargs.get("strides", args["pool_size"]), rank)


def test_average_pooling_same_averages_only_real_elements():
    """The edge window of an uneven 'same' pooling holds fewer real values: their mean, not a
    mean with padded or replicated values (TF's and Keras's documented behaviour)."""
    x = np.array([1, 2, 3, 4, 10], "float32").reshape(1, 5, 1)
    y = layers.AveragePooling1D(2, padding="same")(x)
    np.testing.assert_allclose(y.ravel(), [1.5, 3.5, 10.0])
    x2 = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    y2 = layers.AveragePooling2D(2, padding="same")(x2)[0, :, :, 0]
    np.testing.assert_allclose(y2, [[2.0, 3.5], [6.5, 8.0]])
    # pool 3 stride 2 on 6: total padding 1, all after; pool 4 stride 1 on 5: 1 before, 2 after.
    x3 = np.arange(6, dtype="float32").reshape(1, 6, 1) ** 2
    np.testing.assert_allclose(layers.AveragePooling1D(3, 2, padding="same")(x3).ravel(),
                               [5 / 3, 29 / 3, 41 / 2])
    x4 = np.arange(5, dtype="float32").reshape(1, 5, 1)
    np.testing.assert_allclose(layers.AveragePooling1D(4, 1, padding="same")(x4).ravel(),
                               [1.0, 1.5, 2.5, 3.0, 3.5])


def test_max_pooling_same_ignores_padding_on_negative_inputs():
    x = -np.arange(1, 6, dtype="float32").reshape(1, 5, 1)
    np.testing.assert_array_equal(layers.MaxPooling1D(2, padding="same")(x).ravel(),
                                  [-1, -3, -5])


GLOBAL_CASES = [(cls, rank) for rank in (1, 2, 3) for cls in (
    getattr(layers, f"GlobalMaxPooling{rank}D"), getattr(layers, f"GlobalAveragePooling{rank}D"))]


@pytest.mark.parametrize("cls,rank", GLOBAL_CASES, ids=[c.__name__ for c, _ in GLOBAL_CASES])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(cls, rank, data_format, keepdims):
    spatial = (5, 4, 3)[:rank]
    first = data_format == "channels_first"
    input_shape = (2, 3) + spatial if first else (2,) + spatial + (3,)
    axes = tuple(range(2, 2 + rank)) if first else tuple(range(1, 1 + rank))
    if keepdims:
        output_shape = (2, 3) + (1,) * rank if first else (2,) + (1,) * rank + (3,)
    else:
        output_shape = (2, 3)
    reduce = np.max if "Max" in cls.__name__ else np.mean
    layer = _run(cls, {"data_format": data_format, "keepdims": keepdims}, input_shape,
                 output_shape, lambda x, _: reduce(x.astype(np.float64), axis=axes,
                                                   keepdims=keepdims), weights=0)
    assert layer.get_config()["keepdims"] is keepdims


# ---- BatchNormalization -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,input_shape,trainable", [
    ({}, (4, 3), 2),
    ({}, (3, 4, 5, 2), 2),
    ({"axis": 1}, (3, 2, 4, 5), 2),
    ({"center": False}, (4, 3), 1),
    ({"scale": False, "epsilon": 0.1}, (4, 5, 3), 1),
    ({"center": False, "scale": False}, (4, 3), 0),
])
def test_batch_normalization_inference(kwargs, input_shape, trainable):
    axis = kwargs.get("axis", -1)
    ref_args = {k: v for k, v in kwargs.items()}
    layer = run_layer_test(layers.BatchNormalization, kwargs, input_shape=input_shape,
                           expected_output_shape=input_shape,
                           expected_num_trainable_weights=trainable,
                           expected_num_non_trainable_weights=2,
                           reference=lambda x, w: np_batch_norm_inference(x, w, **ref_args),
                           rtol=1e-4, atol=1e-5, run_training_check=False)
    names = [w.name for w in layer.weights]
    assert names == ([n for n, on in (("gamma", kwargs.get("scale", True)),
                                      ("beta", kwargs.get("center", True))) if on]
                     + ["moving_mean", "moving_variance"])
    assert all(w.shape == (input_shape[axis],) for w in layer.weights)


def test_batch_normalization_default_config():
    config = layers.BatchNormalization().get_config()
    assert (config["axis"], config["momentum"], config["epsilon"]) == (-1, 0.99, 1e-3)
    assert config["center"] is True and config["scale"] is True


def _bn_data(shape=(16, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 3 + 2).astype("float32")


def test_batch_normalization_training_call_normalizes_with_batch_statistics():
    x = _bn_data((8, 5, 3))
    layer = layers.BatchNormalization()
    layer(x)  # build
    rng = np.random.default_rng(1)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    layer.set_weights([gamma, beta, np.full(3, 7.0), np.full(3, 9.0)])
    np.testing.assert_allclose(layer(x, training=True),
                               np_batch_norm_training(x, gamma, beta), rtol=1e-4, atol=1e-5)
    # Inference uses the moving statistics instead.
    np.testing.assert_allclose(layer(x, training=False),
                               np_batch_norm_inference(x, layer.get_weights()),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer(x), layer(x, training=False))


def _bn_model(layer, input_shape):
    inp = ember.Input(input_shape)
    model = ember.Model(inp, layer(inp))
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


def test_batch_normalization_moving_statistics_follow_keras_update_in_fit():
    x = _bn_data((16, 4, 3))
    layer = layers.BatchNormalization(momentum=0.8)
    model = _bn_model(layer, (4, 3))
    mean, var = np.zeros(3), np.ones(3)
    for batch in (x[:8], x[8:]):  # two steps: the second starts from the first's statistics
        model.train_on_batch(batch, np.zeros_like(batch))
        b = batch.astype(np.float64)
        mean = 0.8 * mean + 0.2 * b.mean(axis=(0, 1))
        var = 0.8 * var + 0.2 * b.var(axis=(0, 1))  # biased, as Keras's ops.moments
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-5, atol=1e-6)
    # predict and evaluate read the statistics but do not update them.
    model.predict(x, verbose=0)
    model.evaluate(x, np.zeros_like(x), verbose=0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np_batch_norm_inference(x, layer.get_weights()),
                               rtol=1e-4, atol=1e-5)


def test_batch_normalization_fit_trains_gamma_and_beta():
    x = _bn_data()
    layer = layers.BatchNormalization()
    model = _bn_model(layer, (3,))
    target = np.random.default_rng(2).standard_normal(x.shape).astype("float32")
    model.fit(x, target, batch_size=16, epochs=2, verbose=0)
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    assert not np.allclose(gamma, 1.0) and not np.allclose(beta, 0.0)


def test_frozen_batch_normalization_runs_in_inference_mode():
    """Keras: trainable=False makes batch norm use (and keep) its moving statistics, even in
    fit and in calls with training=True."""
    x = _bn_data()
    layer = layers.BatchNormalization()
    layer(x)
    stats = [np.array([1.0, -1.0, 0.5]), np.array([4.0, 2.0, 0.5])]
    layer.set_weights([np.array([2.0, 1.0, 0.5]), np.array([0.0, 1.0, -1.0])] + stats)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    want = np_batch_norm_inference(x, layer.get_weights())
    np.testing.assert_allclose(layer(x, training=True), want, rtol=1e-4, atol=1e-5)
    model = _bn_model(layer, (3,))
    model.fit(x, np.zeros_like(x), batch_size=8, epochs=1, verbose=0)
    for got, was in zip(layer.get_weights(), [np.array([2.0, 1.0, 0.5]),
                                              np.array([0.0, 1.0, -1.0])] + stats):
        np.testing.assert_array_equal(got, was.astype("float32"))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)


def test_batch_normalization_axis_1_after_channels_first_conv():
    """The usual channels_first stack: statistics per channel (axis 1), over batch and space."""
    x = _bn_data((6, 2, 5, 4))
    conv = layers.Conv2D(3, 3, padding="same", data_format="channels_first")
    bn = layers.BatchNormalization(axis=1, momentum=0.5)
    inp = ember.Input((2, 5, 4))
    model = ember.Model(inp, bn(conv(inp)))
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.0), loss="mse")
    assert bn.moving_mean.shape == (3,)
    h = np_conv(x, *conv.get_weights(), padding="same", data_format="channels_first")
    model.train_on_batch(x, np.zeros((6, 3, 5, 4), "float32"))
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * h.mean(axis=(0, 2, 3)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * h.var(axis=(0, 2, 3)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np_batch_norm_inference(h, bn.get_weights(), axis=1),
                               rtol=1e-4, atol=1e-4)


def test_batch_normalization_eager_training_call_updates_moving_statistics():
    """Keras assigns the moving statistics in any training call, eager ones included."""
    x = _bn_data()
    layer = layers.BatchNormalization()
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * x.mean(0), rtol=1e-5)


# ---- GroupNormalization -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,input_shape,trainable", [
    ({"groups": 2}, (3, 5, 4), 2),
    ({"groups": 1}, (3, 4, 3, 6), 2),
    ({"groups": -1}, (3, 5, 4), 2),
    ({"groups": 3, "axis": 1}, (2, 6, 4, 3), 2),
    ({"groups": 2, "center": False, "epsilon": 0.1}, (3, 5, 4), 1),
    ({"groups": 4, "scale": False, "center": False}, (3, 2, 2, 4), 0),
])
def test_group_normalization(kwargs, input_shape, trainable):
    ref = dict(kwargs)
    layer = run_layer_test(layers.GroupNormalization, kwargs, input_shape=input_shape,
                           expected_output_shape=input_shape,
                           expected_num_trainable_weights=trainable,
                           reference=lambda x, w: np_group_norm(x, w, **ref),
                           rtol=1e-4, atol=1e-5, run_training_check=trainable > 0)
    axis = kwargs.get("axis", -1)
    assert all(w.shape == (input_shape[axis],) for w in layer.weights)
    assert layer.get_config()["groups"] == kwargs["groups"]


def test_group_normalization_default_is_32_groups():
    layer = layers.GroupNormalization()
    assert layer.get_config()["groups"] == 32
    x = np.random.default_rng(0).standard_normal((2, 3, 64)).astype("float32")
    np.testing.assert_allclose(layer(x), np_group_norm(x, layer.get_weights(), 32),
                               rtol=1e-4, atol=1e-5)


# ---- ZeroPadding / Cropping ---------------------------------------------------------------------
PAD_CASES = [
    (layers.ZeroPadding1D, {}, (2, 5, 3), (2, 7, 3), ((1, 1),)),
    (layers.ZeroPadding1D, {"padding": (2, 0)}, (2, 5, 3), (2, 7, 3), ((2, 0),)),
    (layers.ZeroPadding2D, {}, (2, 4, 3, 2), (2, 6, 5, 2), ((1, 1), (1, 1))),
    (layers.ZeroPadding2D, {"padding": (2, 1)}, (2, 4, 3, 2), (2, 8, 5, 2), ((2, 2), (1, 1))),
    (layers.ZeroPadding2D, {"padding": ((1, 0), (0, 3)), "data_format": "channels_first"},
     (2, 2, 4, 3), (2, 2, 5, 6), ((1, 0), (0, 3))),
    (layers.ZeroPadding3D, {}, (1, 2, 3, 2, 2), (1, 4, 5, 4, 2), ((1, 1),) * 3),
    (layers.ZeroPadding3D, {"padding": ((0, 1), (2, 0), (1, 1))}, (1, 2, 3, 2, 2),
     (1, 3, 5, 4, 2), ((0, 1), (2, 0), (1, 1))),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape,pairs", PAD_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(PAD_CASES)])
def test_zero_padding(cls, kwargs, input_shape, output_shape, pairs):
    fmt = kwargs.get("data_format", "channels_last")
    layer = _run(cls, kwargs, input_shape, output_shape,
                 lambda x, _: np_pad_crop(x, pairs, data_format=fmt), weights=0)
    assert tuple(tuple(p) for p in layer.get_config()["padding"]) == pairs


CROP_CASES = [
    (layers.Cropping1D, {}, (2, 5, 3), (2, 3, 3), ((1, 1),)),
    (layers.Cropping1D, {"cropping": (0, 3)}, (2, 5, 3), (2, 2, 3), ((0, 3),)),
    (layers.Cropping2D, {}, (2, 4, 3, 2), (2, 4, 3, 2), ((0, 0), (0, 0))),
    (layers.Cropping2D, {"cropping": 1}, (2, 4, 3, 2), (2, 2, 1, 2), ((1, 1), (1, 1))),
    (layers.Cropping2D, {"cropping": ((2, 0), (0, 1)), "data_format": "channels_first"},
     (2, 2, 4, 3), (2, 2, 2, 2), ((2, 0), (0, 1))),
    (layers.Cropping3D, {}, (1, 4, 3, 5, 2), (1, 2, 1, 3, 2), ((1, 1),) * 3),
    (layers.Cropping3D, {"cropping": (1, 0, 2)}, (1, 4, 3, 5, 2), (1, 2, 3, 1, 2),
     ((1, 1), (0, 0), (2, 2))),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape,pairs", CROP_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CROP_CASES)])
def test_cropping(cls, kwargs, input_shape, output_shape, pairs):
    fmt = kwargs.get("data_format", "channels_last")
    layer = _run(cls, kwargs, input_shape, output_shape,
                 lambda x, _: np_pad_crop(x, pairs, crop=True, data_format=fmt), weights=0)
    assert tuple(tuple(p) for p in layer.get_config()["cropping"]) == pairs


# ---- UpSampling ---------------------------------------------------------------------------------
UPSAMPLING_CASES = [
    (layers.UpSampling1D, {}, (2, 4, 3), (2, 8, 3)),
    (layers.UpSampling1D, {"size": 3}, (2, 4, 3), (2, 12, 3)),
    (layers.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (layers.UpSampling2D, {"size": (3, 1), "data_format": "channels_first"}, (2, 2, 3, 4),
     (2, 2, 9, 4)),
    (layers.UpSampling2D, {"interpolation": "bilinear"}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (layers.UpSampling2D, {"size": (3, 2), "interpolation": "bilinear"}, (2, 3, 4, 2),
     (2, 9, 8, 2)),
    (layers.UpSampling2D, {"size": (2, 3), "interpolation": "bilinear",
                           "data_format": "channels_first"}, (2, 2, 3, 4), (2, 2, 6, 12)),
    (layers.UpSampling3D, {}, (1, 2, 3, 2, 2), (1, 4, 6, 4, 2)),
    (layers.UpSampling3D, {"size": (1, 2, 3), "data_format": "channels_first"},
     (1, 2, 2, 3, 2), (1, 2, 2, 6, 6)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", UPSAMPLING_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(UPSAMPLING_CASES)])
def test_upsampling(cls, kwargs, input_shape, output_shape):
    rank = len(input_shape) - 2
    fmt = kwargs.get("data_format", "channels_last")
    size = kwargs.get("size", 2)
    fn = np_upsample_bilinear if kwargs.get("interpolation") == "bilinear" else \
        np_upsample_nearest
    layer = _run(cls, kwargs, input_shape, output_shape,
                 lambda x, _: fn(x, size, data_format=fmt), weights=0)
    assert layer.get_config()["size"] == _tuple(size, rank)


def test_upsampling2d_bilinear_hand_values():
    x = np.array([0.0, 4.0], "float32").reshape(1, 1, 2, 1)
    y = layers.UpSampling2D((1, 2), interpolation="bilinear")(x)
    np.testing.assert_allclose(y.ravel(), [0.0, 1.0, 3.0, 4.0])


# ---- SpatialDropout -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs,input_shape", [
    (layers.SpatialDropout1D, {"rate": 0.5}, (2, 5, 3)),
    (layers.SpatialDropout2D, {"rate": 0.3}, (2, 4, 3, 2)),
    (layers.SpatialDropout2D, {"rate": 0.3, "data_format": "channels_first"}, (2, 2, 4, 3)),
    (layers.SpatialDropout3D, {"rate": 0.2}, (2, 3, 2, 2, 2)),
])
def test_spatial_dropout_harness(cls, kwargs, input_shape):
    # Outside training, spatial dropout is the identity.
    run_layer_test(cls, kwargs, input_shape=input_shape, expected_output_shape=input_shape,
                   reference=lambda x, _: x)


@pytest.mark.parametrize("cls,input_shape,data_format", [
    (layers.SpatialDropout1D, (64, 10, 16), "channels_last"),
    (layers.SpatialDropout2D, (64, 5, 4, 16), "channels_last"),
    (layers.SpatialDropout2D, (64, 16, 5, 4), "channels_first"),
])
def test_spatial_dropout_drops_whole_feature_maps(cls, input_shape, data_format):
    rate = 0.4
    kwargs = {} if cls is layers.SpatialDropout1D else {"data_format": data_format}
    layer = cls(rate, **kwargs)
    x = np.ones(input_shape, "float32")
    y = layer(x, training=True)
    maps = np.moveaxis(y, 1, -1) if data_format == "channels_first" else y
    maps = maps.reshape(input_shape[0], -1, maps.shape[-1])  # (batch, positions, channels)
    # One decision per (sample, channel): a feature map is all zero or all 1 / (1 - rate).
    first = maps[:, :1, :]
    np.testing.assert_array_equal(maps, np.broadcast_to(first, maps.shape))
    kept = first[first != 0]
    np.testing.assert_allclose(kept, 1 / (1 - rate), rtol=1e-6)
    dropped = (first == 0).mean()  # 1024 maps: the rate within 5 standard deviations
    assert abs(dropped - rate) < 5 * math.sqrt(rate * (1 - rate) / first.size)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_spatial_dropout_in_fit_and_reproducible_masks():
    ember.utils.set_random_seed(3)
    layer = layers.SpatialDropout1D(0.5)
    x = np.ones((4, 6, 8), "float32")
    first = layer(x, training=True)
    ember.utils.set_random_seed(3)
    np.testing.assert_array_equal(layer(x, training=True), first)
    # In a model, fit runs it in training mode: the loss differs from that of predict's output.
    inp = ember.Input((6, 8))
    model = ember.Model(inp, layers.SpatialDropout1D(0.5)(inp))
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert model.train_on_batch(x, x) > 0.1


def test_spatial_dropout_config():
    config = layers.SpatialDropout2D(0.25, data_format="channels_first", seed=4).get_config()
    assert (config["rate"], config["seed"], config["data_format"]) == (
        0.25, 4, "channels_first")
    assert "data_format" not in layers.SpatialDropout1D(0.2).get_config()
