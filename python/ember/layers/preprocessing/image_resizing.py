"""Resizing and CenterCrop (Keras 3 semantics), built from ember.ops so they run in a model.

Interpolation is Keras's (torch backend: `interpolate(..., align_corners=False,
antialias=False)`): half-pixel centres. "bilinear" samples source coordinate
`(o + 0.5) * in / out - 0.5` (clamped at 0) between its two neighbours; "nearest" takes source
index `floor((o + 0.5) * in / out)` ("nearest-exact"). When the output is a whole multiple of
the input, the existing `resize_bilinear` / `upsample_nearest` ops do it (they implement exactly
these formulas for integer factors); any other size is a product with constant interpolation
matrices, one per axis, which gives the same values and a gradient.
"""
import numpy as np

from ember import ops
from ember.backend.symbolic import SymbolicTensor
from ember.layers import conv_utils as cu
from ember.layers.preprocessing.numeric_layer import NumericPreprocessingLayer

_SUPPORTED = ("bilinear", "nearest")
_KERAS_ONLY = ("bicubic", "lanczos3", "lanczos5", "area")


def _source_positions(in_size, out_size, dtype):
    """Source coordinates of the output pixel centres, computed in `dtype` as torch does."""
    scale = np.asarray(in_size, dtype) / np.asarray(out_size, dtype)
    return scale, np.arange(out_size, dtype=dtype) + np.asarray(0.5, dtype)


def interpolation_matrix(in_size, out_size, interpolation, dtype):
    """(out_size, in_size): row o holds the weights of the input pixels that output o reads."""
    scale, centres = _source_positions(in_size, out_size, dtype)
    m = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    if interpolation == "nearest":
        src = np.minimum(np.floor(centres * scale).astype(np.int64), in_size - 1)
        m[rows, src] = 1
        return m
    src = np.maximum(centres * scale - np.asarray(0.5, dtype), np.asarray(0, dtype))
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    np.add.at(m, (rows, i0), (np.asarray(1, dtype) - w1).astype(dtype))
    np.add.at(m, (rows, i1), w1)
    return m


def resize_channels_last(x, height, width, interpolation):
    """x: (batch, h, w, channels) with known h and w -> (batch, height, width, channels)."""
    h, w = x.shape[1], x.shape[2]
    if height % h == 0 and width % w == 0:  # whole factors: the dedicated ops
        op = "resize_bilinear" if interpolation == "bilinear" else "upsample_nearest"
        return ops.apply_op(op, [x], {"size": [height // h, width // w]}, cast=False)
    dtype = str(x.dtype)
    # Along the width: (b, h, c, w) @ (w, width); then the height: (b, width, c, h) @ (h, height).
    y = ops.transpose(x, (0, 1, 3, 2))
    if width != w:
        y = ops.matmul(y, np.ascontiguousarray(
            interpolation_matrix(w, width, interpolation, dtype).T))
    y = ops.transpose(y, (0, 3, 2, 1))
    if height != h:
        y = ops.matmul(y, np.ascontiguousarray(
            interpolation_matrix(h, height, interpolation, dtype).T))
    return ops.transpose(y, (0, 3, 1, 2))


def aspect_crop_box(height, width, target_height, target_width):
    """Keras's smart_resize crop: the largest centred window with the target aspect ratio,
    as (top, crop_height, left, crop_width)."""
    crop_height = int(float(width * target_height) / target_width)
    crop_height = max(min(height, crop_height), 1)
    crop_width = int(float(height * target_width) / target_height)
    crop_width = max(min(width, crop_width), 1)
    return (int(float(height - crop_height) / 2), crop_height,
            int(float(width - crop_width) / 2), crop_width)


def crop_channels_last(x, top, crop_height, left, crop_width):
    h, w = x.shape[1], x.shape[2]
    if (top, left, crop_height, crop_width) == (0, 0, h, w):
        return x
    return ops.apply_op("crop", [x], {"crops": [top, h - top - crop_height,
                                                left, w - left - crop_width]}, cast=False)


class _ImageLayer(NumericPreprocessingLayer):
    """Shared by Resizing and CenterCrop: images of rank 4 (batched) or 3 (one image),
    channels_last or channels_first, computed channels_last and batched."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        for arg, value in (("height", height), ("width", width)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{who}: `{arg}` must be a positive integer, received "
                                 f"{arg}={value!r}")
        self.height = int(height)
        self.width = int(width)
        self.data_format = cu.normalize_data_format(data_format, who)

    def __call__(self, inputs, *args, **kwargs):
        # Integer images (uint8 ...) are resized as floats of the layer's dtype.
        if not isinstance(inputs, SymbolicTensor):
            array = np.asarray(inputs)
            if array.dtype.kind in "biu":
                inputs = array.astype(self.dtype)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        rank = len(inputs.shape)
        if rank not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected images of rank 3 (one image) "
                f"or 4 (a batch), received input shape {tuple(inputs.shape)}")
        x = inputs if str(inputs.dtype) == self.dtype else ops.cast(inputs, self.dtype)
        if rank == 3:
            x = ops.expand_dims(x, 0)
        x = cu.to_channels_last(x, self.data_format)
        if x.shape[1] is None or x.shape[2] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the image height and width must be "
                f"known when the layer is built, received input shape {tuple(inputs.shape)}")
        y = self._transform(x)
        y = cu.from_channels_last(y, self.data_format)
        return ops.squeeze(y, 0) if rank == 3 else y

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = len(shape) - 3 + (1 if self.data_format == "channels_first" else 0)
        shape[first], shape[first + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width,
                       "data_format": self.data_format})
        return config


class Resizing(_ImageLayer):
    """Resizes images to (height, width) with "bilinear" (default) or "nearest" interpolation
    (half-pixel centres, no antialiasing: Keras's defaults). `crop_to_aspect_ratio` first crops
    the largest centred window of the target aspect ratio; `pad_to_aspect_ratio` first pads the
    short side evenly with `fill_value`. Integer images come out as floats of the layer's dtype
    (Keras rounds them back to the input's integer dtype)."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)
        who = f"Resizing '{self.name}'"
        if interpolation in _KERAS_ONLY:
            raise ValueError(f"{who}: interpolation={interpolation!r} is not supported by ember; "
                             f"use one of {list(_SUPPORTED)}")
        if interpolation not in _SUPPORTED:
            raise ValueError(f"{who}: invalid value for argument `interpolation`. Expected one "
                             f"of {list(_SUPPORTED)}. Received: interpolation={interpolation!r}")
        if fill_mode != "constant":
            raise ValueError(f"{who}: invalid value for argument `fill_mode`. Only 'constant' is "
                             f"supported. Received: fill_mode={fill_mode!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{who}: only one of `pad_to_aspect_ratio` & "
                             "`crop_to_aspect_ratio` can be `True`.")
        if antialias:
            raise ValueError(f"{who}: antialias=True is not supported by ember (Keras's default "
                             "is antialias=False)")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = False

    def _transform(self, x):
        h, w = x.shape[1], x.shape[2]
        if self.crop_to_aspect_ratio:
            x = crop_channels_last(x, *aspect_crop_box(h, w, self.height, self.width))
        elif self.pad_to_aspect_ratio:
            pad_height = max(h, int(float(w * self.height) / self.width))
            pad_width = max(w, int(float(h * self.width) / self.height))
            top = int(float(pad_height - h) / 2)
            left = int(float(pad_width - w) / 2)
            if top or left:  # Keras pads both sides by the same amount
                x = ops.apply_op("pad", [x], {"pads": [top, top, left, left],
                                              "value": self.fill_value}, cast=False)
        return resize_channels_last(x, self.height, self.width, self.interpolation)

    def get_config(self):
        config = super().get_config()
        config.update({
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        })
        return config


class CenterCrop(_ImageLayer):
    """Crops the central (height, width) window of images. An image smaller than the target in
    either dimension is instead cropped to the target aspect ratio and resized bilinearly
    (Keras's smart_resize). When the input and target sizes differ in parity, the window starts
    (input - target) // 2 from the top/left, as in Keras."""

    def _transform(self, x):
        h, w = x.shape[1], x.shape[2]
        if h >= self.height and w >= self.width:
            return crop_channels_last(x, (h - self.height) // 2, self.height,
                                      (w - self.width) // 2, self.width)
        x = crop_channels_last(x, *aspect_crop_box(h, w, self.height, self.width))
        return resize_channels_last(x, self.height, self.width, "bilinear")
