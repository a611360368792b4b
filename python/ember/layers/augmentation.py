"""Image augmentation layers (Keras 3): RandomFlip, RandomRotation, RandomTranslation,
RandomZoom, RandomCrop and RandomContrast.

Each is one C++ op (image_affine, random_flip, random_crop, random_contrast) that draws its
per-sample parameters from the step's counter-based generator, so a run is reproducible with
`ember.utils.set_random_seed` and backward redraws exactly what forward drew. They run inside
models (graph ops, gradients flow through them) and eagerly on NumPy batches.

Training only, as ember's Dropout: in `fit` they augment, in `predict`/`evaluate` and in a plain
eager call they are the identity (RandomCrop: a centred crop/resize to the target size), and
`training=True` forces them. (Keras applies them on an eager call without `training`.)

Images are (batch, height, width, channels) or one image (height, width, channels);
channels_first inputs are transposed to channels_last around the op. Integer images come out as
floats of the layer's dtype.
"""
import numbers

import numpy as np

from ember import ops
from ember.backend.symbolic import SymbolicTensor
from ember.layers import conv_utils as cu
from ember.layers.preprocessing.numeric_layer import NumericPreprocessingLayer

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class UnsupportedOptionError(ValueError, NotImplementedError):
    """An unknown fill_mode or interpolation: Keras raises NotImplementedError there, ember's
    convention is ValueError; this error is both."""


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _factor_pair(factor, bounds, who, name="factor", open_low=False):
    """Keras's factor convention: a number f gives (-|f|, |f|) clipped to the bounds, a pair
    gives its sorted values; every value must lie in the bounds ((low, high] with open_low)."""
    low, high = bounds
    interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
    error = ValueError(f"{who}: the `{name}` argument should be a number (or a list of two "
                       f"numbers) in the range {interval}. Received: {name}={factor!r}")

    def inside(v):
        return _is_number(v) and np.isfinite(v) and (low < v if open_low else low <= v) and (
            v <= high)

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(inside(v) for v in factor):
            raise error
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    if not inside(factor):
        raise error
    f = abs(float(factor))
    return max(-f, low), f


class _AugmentationLayer(NumericPreprocessingLayer):
    """Rank 3/4 images, channels_last or channels_first, cast to the layer's float dtype, handed
    to `_augment(x, training_mode)` as a channels_last batch."""

    # RandomCrop changes the shape and so runs its op at inference too.
    _identity_at_inference = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
                                 or seed < 0):
            raise ValueError(f"{self._who}: `seed` must be None or a non-negative integer, "
                             f"received seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self.data_format = cu.normalize_data_format(data_format, self._who)

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, SymbolicTensor):  # uint8 images and the like become floats
            array = np.asarray(inputs)
            if array.dtype.kind in "biu":
                inputs = array.astype(self.dtype)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        rank = len(inputs.shape)
        if rank not in (3, 4):
            raise ValueError(f"{self._who}: expected images of rank 3 (one image) or 4 (a batch), "
                             f"received input shape {tuple(inputs.shape)}")
        x = inputs if str(inputs.dtype) == self.dtype else ops.cast(inputs, self.dtype)
        if training is False and self._identity_at_inference:
            return x
        if rank == 3:
            x = ops.expand_dims(x, 0)
        x = cu.to_channels_last(x, self.data_format)
        y = self._augment(x, -1 if training is None else int(bool(training)))
        y = cu.from_channels_last(y, self.data_format)
        return ops.squeeze(y, 0) if rank == 3 else y

    def _augment(self, x, training):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed, "data_format": self.data_format})
        return config


class RandomFlip(_AugmentationLayer):
    """Flips each image left-right ("horizontal"), top-bottom ("vertical") or, with one coin
    per image as in Keras, both at once ("horizontal_and_vertical": a half turn)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"{self._who}: `mode` must be one of {list(_FLIP_MODES)}, received "
                             f"mode={mode!r}")
        self.mode = mode

    def _augment(self, x, training):
        return ops.apply_op("random_flip", [x], {"mode": self.mode, "training": training},
                            cast=False)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


class _AffineLayer(_AugmentationLayer):
    """Rotation, translation and zoom: one image_affine op with Keras's fill modes."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in _FILL_MODES:
            raise UnsupportedOptionError(f"{self._who}: unknown `fill_mode` {fill_mode!r}. "
                                         f"Expected one of {_FILL_MODES}.")
        if interpolation not in _INTERPOLATIONS:
            raise UnsupportedOptionError(f"{self._who}: unknown `interpolation` "
                                         f"{interpolation!r}. Expected one of {_INTERPOLATIONS}.")
        if not _is_number(fill_value) or not np.isfinite(fill_value):
            raise ValueError(f"{self._who}: `fill_value` must be a finite number, received "
                             f"fill_value={fill_value!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def _ranges(self):
        """The op's *_lower / *_upper attributes of this layer's random parameters."""
        raise NotImplementedError

    def _augment(self, x, training):
        attrs = {"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                 "fill_value": self.fill_value, "training": training}
        for name, (lower, upper) in self._ranges().items():
            attrs[name + "_lower"], attrs[name + "_upper"] = lower, upper
        return ops.apply_op("image_affine", [x], attrs, cast=False)

    def get_config(self):
        config = super().get_config()
        config.update({"fill_mode": self.fill_mode, "fill_value": self.fill_value,
                       "interpolation": self.interpolation})
        return config


class RandomRotation(_AffineLayer):
    """Rotates each image about its centre by a random angle of factor * 2 pi (a number f:
    [-f, f]; a pair: [lower, upper]), counter-clockwise for positive angles."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_pair(factor or 0.0, (-1, 1), self._who)

    def _ranges(self):
        return {"rotation": self.factor}

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


class RandomTranslation(_AffineLayer):
    """Shifts each image by random fractions of its height and width (each a number f:
    [-f, f], or a pair [lower, upper], within [-1, 1]); positive moves down / right."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height = _factor_pair(height_factor, (-1, 1), self._who, "height_factor")
        self._width = _factor_pair(width_factor, (-1, 1), self._who, "width_factor")

    def _ranges(self):
        return {"height_translation": self._height, "width_translation": self._width}

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomZoom(_AffineLayer):
    """Zooms each image about its centre by 1 + a random factor per axis (each a number f:
    [-f, f], or a pair, within (-1, 1]); positive zooms out. Without `width_factor` the width
    takes the height's zoom, keeping the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height = _factor_pair(height_factor, (-1, 1), self._who, "height_factor",
                                    open_low=True)
        self._width = None if width_factor is None else _factor_pair(
            width_factor, (-1, 1), self._who, "width_factor", open_low=True)

    def _ranges(self):
        ranges = {"height_zoom": self._height}
        if self._width is not None:  # absent: the op reuses the height's draw
            ranges["width_zoom"] = self._width
        return ranges

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return config


class RandomCrop(_AugmentationLayer):
    """In training, crops every image of a batch to (height, width) at one random position
    (Keras: the same window for the whole batch). At inference, and in training when an image
    is not larger than the target in both axes, takes the largest centred window of the
    target's aspect ratio and resizes it bilinearly to (height, width), as Keras documents;
    for an image smaller than the target in an axis, Keras's code slices height x width pixels
    from that window's corner (cut at the image's edge) and resizes them, and so does ember.
    (Keras 3.15 itself returns the images unchanged at inference, whatever its declared output
    shape; ember keeps the output shape fixed.)"""

    _identity_at_inference = False

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        for arg, value in (("height", height), ("width", width)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{self._who}: `{arg}` must be a positive integer, received "
                                 f"{arg}={value!r}")
        self.height = int(height)
        self.width = int(width)

    def _augment(self, x, training):
        return ops.apply_op("random_crop", [x], {"height": self.height, "width": self.width,
                                                 "training": training}, cast=False)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = len(shape) - 3 + (1 if self.data_format == "channels_first" else 0)
        shape[first], shape[first + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width})
        return config


class RandomContrast(_AugmentationLayer):
    """Scales each image's deviation from its per-channel mean by a random factor drawn from
    [1 - lower, 1 + upper], then clips to `value_range`. As in Keras 3.15, a number f gives
    (lower, upper) = (0, f), i.e. factors in [1, 1 + f]; a pair (a, b) gives [1 - a, 1 + b]."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_pair(factor, (0, 1), self._who)
        if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
                or not all(_is_number(v) for v in value_range)
                or not value_range[0] < value_range[1]):
            raise ValueError(f"{self._who}: `value_range` must be two numbers (low, high) with "
                             f"low < high, received value_range={value_range!r}")
        self.value_range = tuple(value_range)

    def _augment(self, x, training):
        return ops.apply_op("random_contrast", [x], {
            "lower": self.factor[0], "upper": self.factor[1],
            "value_min": float(self.value_range[0]), "value_max": float(self.value_range[1]),
            "training": training}, cast=False)

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "value_range": self.value_range})
        return config
