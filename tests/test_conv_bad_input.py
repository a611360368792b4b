"""Bad input to the convolution-family layers: each error has the right type and a message that
names the layer (class and name, or the op inside it), what was expected and what was received.
Errors raised when a layer is called leave it usable on good input."""
import re

import numpy as np
import pytest

import ember
from ember import layers


def _zeros(*shape):
    return np.zeros(shape, "float32")


def _call(layer, shape, symbolic):
    """Calls `layer` on a symbolic input of `shape` (None batch) or on an array of it."""
    if symbolic:
        return layer(ember.Input(shape[1:]))
    return layer(_zeros(*shape))


def _raises(exc, layer_cls, *fragments):
    """pytest.raises whose message names the layer ("Conv2D 'conv2d_3'") and holds every
    fragment (regular expressions) in order."""
    pattern = rf"{layer_cls.__name__} '\w+'.*" + ".*".join(fragments)
    return pytest.raises(exc, match=re.compile(pattern, re.S))


MODES = pytest.mark.parametrize("symbolic", [False, True], ids=["eager", "symbolic"])


# ---- kernel / pool larger than a 'valid' input --------------------------------------------------
@MODES
@pytest.mark.parametrize("cls,args,shape", [
    (layers.Conv1D, (2, 5), (1, 4, 3)),
    (layers.Conv2D, (2, 5), (1, 3, 8, 1)),
    (layers.Conv2D, (2, (1, 9)), (1, 3, 8, 1)),
    (layers.Conv3D, (2, 3), (1, 4, 2, 4, 1)),
    (layers.DepthwiseConv2D, (5,), (1, 3, 8, 2)),
    (layers.SeparableConv1D, (2, 4), (1, 3, 2)),
])
def test_kernel_larger_than_a_valid_input(cls, args, shape, symbolic):
    layer = cls(*args)
    with _raises(ValueError, cls, r"kernel size \d+ is larger than the padded input size \d+",
                 "'valid'", r"input shape \((None|1), "):
        _call(layer, shape, symbolic)


@MODES
def test_dilated_kernel_larger_than_a_valid_input(symbolic):
    # A 3-wide kernel dilated by 3 spans 7 positions: too many for 6.
    with _raises(ValueError, layers.Conv1D, r"kernel size 7 \(dilated\) is larger than the "
                 r"padded input size 6"):
        _call(layers.Conv1D(2, 3, dilation_rate=3), (1, 6, 1), symbolic)


@MODES
@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
def test_pool_larger_than_a_valid_input(cls, symbolic):
    with _raises(ValueError, cls, r"pool_size \(4, 4\) is larger than the input's spatial "
                 r"extents with padding 'valid'", "extent 3", r"\((None|1), 3, 5, 2\)"):
        _call(cls(4), (1, 3, 5, 2), symbolic)


def test_same_padding_accepts_what_valid_refuses():
    assert layers.Conv2D(2, 5, padding="same")(_zeros(1, 3, 3, 1)).shape == (1, 3, 3, 2)
    assert layers.MaxPooling2D(4, padding="same")(_zeros(1, 3, 3, 1)).shape == (1, 1, 1, 1)


def test_kernel_larger_than_an_input_of_unknown_size_fails_when_the_size_is_known():
    """With unknown spatial extents the check happens when the model meets real data."""
    model = ember.Sequential([ember.Input((None, None, 3)), layers.Conv2D(2, 3, name="c3"),
                              layers.GlobalMaxPooling2D()])
    with pytest.raises(ValueError, match=r"layer 'c3': op 'conv': kernel size 3 is larger than "
                       r"the padded "
                       r"input size 2 .*input shape \(2, 2, 6, 3\)"):
        model.predict(_zeros(2, 2, 6, 3), verbose=0)
    assert model.predict(_zeros(2, 5, 6, 3), verbose=0).shape == (2, 2)


# ---- zero or negative sizes ---------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs,arg,received", [
    (layers.Conv1D, {"filters": 2, "kernel_size": 0}, "kernel_size", r"\(0,\)"),
    (layers.Conv2D, {"filters": 2, "kernel_size": (3, -1)}, "kernel_size", r"\(3, -1\)"),
    (layers.Conv3D, {"filters": 2, "kernel_size": 3, "strides": 0}, "strides", r"\(0, 0, 0\)"),
    (layers.Conv2D, {"filters": 2, "kernel_size": 3, "strides": (1, -2)}, "strides",
     r"\(1, -2\)"),
    (layers.Conv2D, {"filters": 2, "kernel_size": 3, "dilation_rate": 0}, "dilation_rate",
     r"\(0, 0\)"),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": -1}, "strides",
     r"\(-1, -1\)"),
    (layers.DepthwiseConv2D, {"kernel_size": 0}, "kernel_size", r"\(0, 0\)"),
    (layers.SeparableConv2D, {"filters": 2, "kernel_size": 3, "strides": 0}, "strides",
     r"\(0, 0\)"),
    (layers.MaxPooling1D, {"pool_size": 0}, "pool_size", r"\(0,\)"),
    (layers.AveragePooling2D, {"pool_size": 2, "strides": (0, 1)}, "strides", r"\(0, 1\)"),
    (layers.MaxPooling3D, {"pool_size": -2}, "pool_size", r"\(-2, -2, -2\)"),
])
def test_zero_or_negative_sizes(cls, kwargs, arg, received):
    with _raises(ValueError, cls, f"`{arg}` values must be > 0, received {received}"):
        cls(**kwargs)


@pytest.mark.parametrize("cls,kwargs,arg,value", [
    (layers.Conv2D, {"filters": 0, "kernel_size": 3}, "filters", "0"),
    (layers.Conv1D, {"filters": -4, "kernel_size": 3}, "filters", "-4"),
    (layers.Conv2D, {"filters": 2.5, "kernel_size": 3}, "filters", "2.5"),
    (layers.SeparableConv2D, {"filters": 0, "kernel_size": 3}, "filters", "0"),
    (layers.SeparableConv1D, {"filters": None, "kernel_size": 3}, "filters", "None"),
    (layers.DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 0}, "depth_multiplier",
     "0"),
])
def test_non_positive_filters_and_depth_multiplier(cls, kwargs, arg, value):
    with _raises(ValueError, cls, f"`{arg}` must be a positive integer, received {value}"):
        cls(**kwargs)


@pytest.mark.parametrize("cls,kwargs,arg,n,received", [
    (layers.Conv2D, {"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size", 2,
     r"\(3, 3, 3\)"),
    (layers.Conv1D, {"filters": 2, "kernel_size": 3, "strides": (2, 1)}, "strides", 1,
     r"\(2, 1\)"),
    (layers.MaxPooling2D, {"pool_size": (2, 2, 2)}, "pool_size", 2, r"\(2, 2, 2\)"),
])
def test_wrong_number_of_sizes(cls, kwargs, arg, n, received):
    with _raises(ValueError, cls, f"`{arg}` must have {n} values, received {received}"):
        cls(**kwargs)


def test_non_integer_kernel_size():
    with _raises(ValueError, layers.Conv2D, "`kernel_size` must be an int or a tuple of 2 ints",
                 "received 'ab'"):
        layers.Conv2D(2, "ab")


# ---- wrong input rank ---------------------------------------------------------------------------
@MODES
@pytest.mark.parametrize("cls,args,shape,rank", [
    (layers.Conv1D, (2, 3), (1, 5, 5, 3), 3),
    (layers.Conv2D, (2, 3), (1, 5, 3), 4),
    (layers.Conv3D, (2, 3), (1, 5, 5, 3), 5),
    (layers.Conv1DTranspose, (2, 3), (1, 5, 5, 3), 3),
    (layers.Conv2DTranspose, (2, 3), (1, 5), 4),
    (layers.DepthwiseConv2D, (3,), (1, 5, 5), 4),
    (layers.SeparableConv2D, (2, 3), (1, 5, 5, 5, 3), 4),
    (layers.MaxPooling2D, (), (1, 5, 3), 4),
    (layers.AveragePooling1D, (2,), (1, 5, 5, 3), 3),
    (layers.GlobalAveragePooling2D, (), (1, 5, 3), 4),
    (layers.GlobalMaxPooling3D, (), (1, 5, 5, 3), 5),
    (layers.ZeroPadding2D, (), (1, 5, 3), 4),
    (layers.Cropping3D, (), (1, 5, 5, 3), 5),
    (layers.UpSampling1D, (), (1, 5, 5, 3), 3),
])
def test_wrong_input_rank(cls, args, shape, rank, symbolic):
    shown = re.escape(str(((None if symbolic else 1),) + shape[1:]))
    with _raises(ValueError, cls, f"expected an input of rank {rank}", f"received shape {shown}"):
        _call(cls(*args), shape, symbolic)


@MODES
@pytest.mark.parametrize("cls,shape", [(layers.SpatialDropout1D, (1, 5, 5, 3)),
                                       (layers.SpatialDropout2D, (1, 5, 3))])
def test_spatial_dropout_wrong_input_rank(cls, shape, symbolic):
    with _raises(ValueError, cls, f"expected an input of rank {cls.rank + 2}", "received shape"):
        _call(cls(0.5), shape, symbolic)


def test_unknown_channel_dimension():
    with _raises(ValueError, layers.Conv2D, "the channel dimension of the input must be known",
                 r"received shape \(None, 5, 5, None\)"):
        layers.Conv2D(2, 3)(ember.Input((5, 5, None)))


# ---- channel count that does not match the built weights ---------------------------------------
@MODES
@pytest.mark.parametrize("cls,args,good,bad,channels,axis", [
    (layers.Conv2D, (2, 3), (1, 5, 5, 3), (1, 5, 5, 2), 3, -1),
    (layers.Conv1D, (4, 3), (1, 6, 4), (1, 6, 5), 4, -1),
    (layers.Conv2D, (4, 3, 1, "valid", "channels_first"), (1, 3, 5, 5), (1, 2, 5, 5), 3, 1),
    (layers.Conv3D, (6, 2, 1, "valid", None, 1, 2), (1, 3, 3, 3, 4), (1, 3, 3, 3, 6), 4, -1),
    (layers.Conv2DTranspose, (2, 3), (1, 5, 5, 3), (1, 5, 5, 4), 3, -1),
    (layers.Conv1DTranspose, (2, 3, 1, "valid", None, "channels_first"), (1, 3, 5), (1, 2, 5),
     3, 1),
    (layers.DepthwiseConv2D, (3,), (1, 5, 5, 3), (1, 5, 5, 1), 3, -1),
    (layers.SeparableConv1D, (2, 3), (1, 5, 3), (1, 5, 4), 3, -1),
    (layers.BatchNormalization, (), (2, 5, 3), (2, 5, 4), 3, 2),
    (layers.BatchNormalization, (1,), (2, 3, 5), (2, 4, 5), 3, 1),
    (layers.GroupNormalization, (1,), (2, 5, 3), (2, 5, 6), 3, 2),
])
def test_channels_differ_from_the_built_weights(cls, args, good, bad, channels, axis, symbolic):
    layer = cls(*args)
    y = layer(_zeros(*good))
    shown = re.escape(str(((None if symbolic else bad[0]),) + bad[1:]))
    with _raises(ValueError, cls, f"expected an input with {channels} channels on axis {axis}",
                 f"received shape {shown}"):
        _call(layer, bad, symbolic)
    np.testing.assert_array_equal(layer(_zeros(*good)), y)  # the layer still works


@MODES
@pytest.mark.parametrize("cls,args,good,bad", [
    (layers.Conv2D, (2, 3), (1, 5, 5, 3), (1, 5, 3)),
    (layers.Conv1DTranspose, (2, 3), (1, 5, 3), (1, 5, 5, 3)),
    (layers.DepthwiseConv2D, (3,), (1, 5, 5, 3), (1, 5, 5, 5, 3)),
    (layers.MaxPooling2D, (), (1, 4, 4, 3), (1, 4, 3)),
    (layers.GlobalAveragePooling1D, (), (1, 4, 3), (1, 4, 4, 3)),
    (layers.UpSampling2D, (), (1, 4, 4, 3), (1, 4, 3)),
])
def test_built_layer_called_on_another_rank(cls, args, good, bad, symbolic):
    layer = cls(*args)
    y = layer(_zeros(*good))
    with _raises(ValueError, cls, f"expected an input of rank {len(good)}",
                 r"received shape \((None|1), "):
        _call(layer, bad, symbolic)
    np.testing.assert_array_equal(layer(_zeros(*good)), y)


def test_model_input_with_other_channels_is_refused_before_the_conv():
    model = ember.Sequential([ember.Input((8, 8, 3)), layers.Conv2D(2, 3), layers.Flatten(),
                              layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"expected shape \(None, 8, 8, 3\), received an array "
                       r"of shape \(4, 8, 8, 2\)"):
        model.fit(_zeros(4, 8, 8, 2), _zeros(4, 2), verbose=0)
    assert np.isfinite(model.fit(_zeros(4, 8, 8, 3), _zeros(4, 2), verbose=0)
                       .history["loss"][0])


# ---- groups -------------------------------------------------------------------------------------
@pytest.mark.parametrize("groups", [3, 0, -2, 2.0])
def test_groups_must_divide_filters(groups):
    with _raises(ValueError, layers.Conv2D, "`groups` must be a positive integer dividing "
                 f"filters=4, received {groups}"):
        layers.Conv2D(4, 3, groups=groups)


@MODES
@pytest.mark.parametrize("cls,channels_first", [(layers.Conv1D, False), (layers.Conv2D, False),
                                                (layers.Conv2D, True), (layers.Conv3D, False)])
def test_groups_must_divide_input_channels(cls, channels_first, symbolic):
    rank = cls.rank
    shape = (1, 3) + (4,) * rank if channels_first else (1,) + (4,) * rank + (3,)
    layer = cls(4, 2, groups=2, data_format="channels_first" if channels_first else None)
    with _raises(ValueError, cls, "groups=2 must divide the input channels, received 3 channels"):
        _call(layer, shape, symbolic)


def test_transposed_convolutions_have_no_groups():
    with pytest.raises(TypeError, match=r"Conv2DTranspose: unexpected keyword argument.*groups"):
        layers.Conv2DTranspose(4, 3, groups=2)


@MODES
def test_group_normalization_groups_must_divide_channels(symbolic):
    with _raises(ValueError, layers.GroupNormalization,
                 "groups=4 must divide the number of channels, received 6 channels"):
        _call(layers.GroupNormalization(4), (2, 5, 6), symbolic)


@pytest.mark.parametrize("groups", [0, -3, 1.5])
def test_group_normalization_bad_groups(groups):
    with _raises(ValueError, layers.GroupNormalization,
                 f"`groups` must be a positive integer or -1, received {groups}"):
        layers.GroupNormalization(groups)


# ---- strides > 1 with dilation > 1 --------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs,strides,dilation", [
    (layers.Conv1D, {"strides": 2, "dilation_rate": 2}, r"\(2,\)", r"\(2,\)"),
    (layers.Conv2D, {"strides": (1, 2), "dilation_rate": (2, 1)}, r"\(1, 2\)", r"\(2, 1\)"),
    (layers.Conv3D, {"strides": 3, "dilation_rate": (1, 1, 2)}, r"\(3, 3, 3\)", r"\(1, 1, 2\)"),
    (layers.Conv2DTranspose, {"strides": 2, "dilation_rate": 2}, r"\(2, 2\)", r"\(2, 2\)"),
])
def test_strides_with_dilation(cls, kwargs, strides, dilation):
    with _raises(ValueError, cls, "strides > 1 together with dilation_rate > 1 is not supported",
                 f"strides={strides} and dilation_rate={dilation}"):
        cls(4, 3, **kwargs)


# ---- padding and data_format strings ------------------------------------------------------------
@pytest.mark.parametrize("cls,args,padding,allowed", [
    (layers.Conv2D, (2, 3), "full", r"\('valid', 'same'\)"),
    (layers.Conv2D, (2, 3), "causal", r"\('valid', 'same'\)"),
    (layers.Conv1D, (2, 3), "reflect", r"\('valid', 'same', 'causal'\)"),
    (layers.Conv3D, (2, 3), "", r"\('valid', 'same'\)"),
    (layers.DepthwiseConv2D, (3,), "causal", r"\('valid', 'same'\)"),
    (layers.SeparableConv2D, (2, 3), "zero", r"\('valid', 'same'\)"),
    (layers.MaxPooling2D, (2,), "causal", r"\('valid', 'same'\)"),
    (layers.AveragePooling1D, (2,), "full", r"\('valid', 'same'\)"),
])
def test_bad_padding_strings(cls, args, padding, allowed):
    with _raises(ValueError, cls, f"`padding` must be one of {allowed}, received '{padding}'"):
        cls(*args, padding=padding)


@pytest.mark.parametrize("cls,expected", [
    (layers.Conv1DTranspose, "`padding` must be 'valid' or 'same'"),
    (layers.Conv2DTranspose, r"`padding` must be one of \('valid', 'same'\)")])
def test_transposed_convolution_refuses_causal_padding(cls, expected):
    with _raises(ValueError, cls, expected, "received 'causal'"):
        cls(2, 3, padding="causal")


def test_padding_is_case_insensitive_as_in_keras():
    assert layers.Conv2D(2, 3, padding="SAME").padding == "same"


@pytest.mark.parametrize("cls,args", [(layers.Conv2D, (2, 3)), (layers.MaxPooling2D, ()),
                                      (layers.DepthwiseConv2D, (3,))])
def test_bad_data_format(cls, args):
    with _raises(ValueError, cls, "`data_format` must be 'channels_last' or 'channels_first'",
                 "received 'NHWC'"):
        cls(*args, data_format="NHWC")


@pytest.mark.parametrize("cls", [layers.GlobalAveragePooling2D, layers.ZeroPadding2D,
                                 layers.UpSampling2D])
def test_bad_data_format_in_layers_without_weights(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: `data_format` must be "
                       r"'channels_last' or 'channels_first', received 'nchw'"):
        cls(data_format="nchw")


# ---- output_padding -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs,received", [
    (layers.Conv2DTranspose, {"strides": 2, "output_padding": 2},
     r"output_padding=\(2, 2\) and strides=\(2, 2\)"),
    (layers.Conv2DTranspose, {"strides": (2, 3), "output_padding": (1, 3)},
     r"output_padding=\(1, 3\) and strides=\(2, 3\)"),
    (layers.Conv2DTranspose, {"output_padding": 1},
     r"output_padding=\(1, 1\) and strides=\(1, 1\)"),
    (layers.Conv1DTranspose, {"strides": 3, "output_padding": 4},
     r"output_padding=\(4,\) and strides=\(3,\)"),
])
def test_output_padding_must_be_smaller_than_the_stride(cls, kwargs, received):
    with _raises(ValueError, cls, "each `output_padding` must be smaller than its stride",
                 received):
        cls(2, 3, **kwargs)


def test_negative_output_padding():
    with _raises(ValueError, layers.Conv1DTranspose, r"`output_padding` values must be >= 0, "
                 r"received \(-1,\)"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=-1)


# ---- resampling, normalization and dropout arguments --------------------------------------------
@MODES
def test_cropping_everything(symbolic):
    with _raises(ValueError, layers.Cropping2D, r"crops \(3, 2, 0, 0\) remove all of spatial "
                 "axis 1 \\(extent 5\\)"):
        _call(layers.Cropping2D(((3, 2), (0, 0))), (1, 5, 3, 1), symbolic)


@pytest.mark.parametrize("cls,kwargs,match", [
    (layers.ZeroPadding2D, {"padding": -1}, r"`padding` must be >= 0, received \(\(-1, -1\)"),
    (layers.ZeroPadding2D, {"padding": (1, 2, 3)},
     r"`padding` must be an int, 2 ints or 2 pairs of ints, received \(1, 2, 3\)"),
    (layers.Cropping1D, {"cropping": (-1, 0)}, r"`cropping` must be >= 0, received \(\(-1, 0\)"),
    (layers.UpSampling2D, {"size": 0}, r"`size` values must be > 0, received \(0, 0\)"),
    (layers.UpSampling2D, {"interpolation": "bicubic"},
     r"`interpolation` must be 'nearest' or bilinear, received 'bicubic'"),
    (layers.UpSampling3D, {"interpolation": "bilinear"},
     r"`interpolation` must be 'nearest', received 'bilinear'"),
])
def test_bad_resampling_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: {match}"):
        cls(**kwargs)


@pytest.mark.parametrize("kwargs,match", [
    ({"momentum": 1.5}, r"expected 0 <= momentum <= 1 and epsilon > 0, received momentum=1.5"),
    ({"epsilon": 0}, r"expected 0 <= momentum <= 1 and epsilon > 0, received .*epsilon=0"),
    ({"axis": (1, 2)}, r"`axis` must be an int, received \(1, 2\)"),
])
def test_bad_batch_normalization_arguments(kwargs, match):
    with _raises(ValueError, layers.BatchNormalization, match):
        layers.BatchNormalization(**kwargs)


@pytest.mark.parametrize("kwargs", [{"renorm": True}, {"synchronized": True}])
def test_unsupported_batch_normalization_options_are_refused(kwargs):
    with _raises(NotImplementedError, layers.BatchNormalization, "not supported"):
        layers.BatchNormalization(**kwargs)


@MODES
@pytest.mark.parametrize("axis", [0, 3, -4])
def test_batch_normalization_axis_out_of_range(axis, symbolic):
    with _raises(ValueError, layers.BatchNormalization,
                 f"`axis` {axis} is out of range for an input of rank 3"):
        _call(layers.BatchNormalization(axis=axis), (2, 4, 3), symbolic)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "half"])
def test_spatial_dropout_bad_rate(rate):
    with _raises(ValueError, layers.SpatialDropout2D, r"expected `rate` in \[0, 1\], received "
                 + re.escape(repr(rate))):
        layers.SpatialDropout2D(rate)


@pytest.mark.parametrize("cls,kwargs,arg", [
    (layers.Conv2D, {"filters": 2, "kernel_size": 3, "kernel_constraint": "non_neg"},
     "kernel_constraint"),
    (layers.Conv1D, {"filters": 2, "kernel_size": 3, "activity_regularizer": "l2"},
     "activity_regularizer"),
    (layers.DepthwiseConv2D, {"kernel_size": 3, "depthwise_constraint": "non_neg"},
     "depthwise_constraint"),
])
def test_unsupported_arguments_are_refused_not_ignored(cls, kwargs, arg):
    with _raises(NotImplementedError, cls, f"`{arg}` is not supported"):
        cls(**kwargs)


def test_non_numeric_input():
    with _raises(TypeError, layers.Conv2D, "expected a numeric input array",
                 "received an array of dtype object"):
        layers.Conv2D(2, 3)(np.zeros((1, 4, 4, 2)).astype(object))
