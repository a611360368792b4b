"""ZeroPadding, Cropping and UpSampling layers (1-D, 2-D, 3-D), channels_last or first."""
from ember import ops
from ember.layers import conv_utils as cu
from ember.layers.layer import Layer


def _pairs(value, rank, name, layer):
    """Keras's forms: int, tuple of `rank` ints (symmetric), or `rank` pairs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ((value, value),) * rank
    value = tuple(value)
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (tuple(value),)
    if len(value) == rank and all(isinstance(v, int) for v in value):
        return tuple((v, v) for v in value)
    if len(value) == rank and all(len(tuple(v)) == 2 for v in value):
        return tuple(tuple(int(e) for e in v) for v in value)
    raise ValueError(f"{layer}: `{name}` must be an int, {rank} ints or {rank} pairs of ints, "
                     f"received {value!r}")


class _Spatial(Layer):
    rank = None

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = cu.normalize_data_format(data_format, type(self).__name__)

    def build(self, input_shape):
        cu.check_rank(self, input_shape, self.rank)
        self.built = True

    def _apply(self, inputs, op, attrs):
        cu.check_rank(self, inputs.shape, self.rank)  # every call, not only the first
        x = cu.to_channels_last(inputs, self.data_format)
        y = ops.apply_op(op, [x], attrs, cast=False)
        return cu.from_channels_last(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class _ZeroPadding(_Spatial):
    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = _pairs(padding, self.rank, "padding", type(self).__name__)
        if any(p < 0 for pair in self.padding for p in pair):
            raise ValueError(f"{type(self).__name__}: `padding` must be >= 0, received "
                             f"{self.padding}")

    def call(self, inputs):
        return self._apply(inputs, "pad", {"pads": [p for pair in self.padding for p in pair]})

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


class _Cropping(_Spatial):
    def __init__(self, cropping=0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping", type(self).__name__)
        if any(c < 0 for pair in self.cropping for c in pair):
            raise ValueError(f"{type(self).__name__}: `cropping` must be >= 0, received "
                             f"{self.cropping}")

    def call(self, inputs):
        return self._apply(inputs, "crop", {"crops": [c for pair in self.cropping for c in pair]})

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config


class _UpSampling(_Spatial):
    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        who = type(self).__name__
        self.size = cu.normalize_tuple(size, self.rank, "size", who)
        if interpolation not in ("nearest", "bilinear") or (
                interpolation == "bilinear" and self.rank != 2):
            raise ValueError(f"{who}: `interpolation` must be 'nearest'"
                             f"{' or bilinear' if self.rank == 2 else ''}, received "
                             f"{interpolation!r}")
        self.interpolation = interpolation

    def call(self, inputs):
        op = "upsample_nearest" if self.interpolation == "nearest" else "resize_bilinear"
        return self._apply(inputs, op, {"size": list(self.size)})

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


class ZeroPadding1D(_ZeroPadding):
    rank = 1


class ZeroPadding2D(_ZeroPadding):
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)


class Cropping1D(_Cropping):
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping=cropping, **kwargs)


class Cropping2D(_Cropping):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)


class UpSampling1D(_UpSampling):
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size=size, **kwargs)


class UpSampling2D(_UpSampling):
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size=size, data_format=data_format, interpolation=interpolation,
                         **kwargs)


class UpSampling3D(_UpSampling):
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)
