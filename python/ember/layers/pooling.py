"""Max/average pooling (C++ ops that keep nothing between forward and backward) and global
pooling (mean/max reductions over the spatial axes)."""
from ember import ops
from ember.layers import conv_utils as cu
from ember.layers.layer import Layer


class BasePooling(Layer):
    rank = None
    op = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.pool_size = cu.normalize_tuple(pool_size, self.rank, "pool_size", who)
        self.strides = (self.pool_size if strides is None
                        else cu.normalize_tuple(strides, self.rank, "strides", who))
        self.padding = cu.normalize_padding(padding, who)
        self.data_format = cu.normalize_data_format(data_format, who)

    def build(self, input_shape):
        cu.check_rank(self, input_shape, self.rank)
        self.built = True

    def call(self, inputs):
        cu.check_rank(self, inputs.shape, self.rank)  # every call, not only the first
        x = cu.to_channels_last(inputs, self.data_format)
        y = ops.apply_op(self.op, [x], {"pool_size": list(self.pool_size),
                                        "strides": list(self.strides),
                                        "padding": self.padding}, cast=False)
        return cu.from_channels_last(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "strides": self.strides,
                       "padding": self.padding, "data_format": self.data_format})
        return config


def _pooling(name, op, rank, default):
    def __init__(self, pool_size=default, strides=None, padding="valid", data_format=None,
                 **kwargs):
        BasePooling.__init__(self, pool_size, strides=strides, padding=padding,
                             data_format=data_format, **kwargs)
    return type(name, (BasePooling,), {"rank": rank, "op": op, "__init__": __init__})


MaxPooling1D = _pooling("MaxPooling1D", "max_pool", 1, 2)
MaxPooling2D = _pooling("MaxPooling2D", "max_pool", 2, (2, 2))
MaxPooling3D = _pooling("MaxPooling3D", "max_pool", 3, (2, 2, 2))
AveragePooling1D = _pooling("AveragePooling1D", "avg_pool", 1, 2)
AveragePooling2D = _pooling("AveragePooling2D", "avg_pool", 2, (2, 2))
AveragePooling3D = _pooling("AveragePooling3D", "avg_pool", 3, (2, 2, 2))


class BaseGlobalPooling(Layer):
    rank = None
    reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = cu.normalize_data_format(data_format, f"{type(self).__name__}")
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        cu.check_rank(self, input_shape, self.rank)
        self.built = True

    def call(self, inputs):
        cu.check_rank(self, inputs.shape, self.rank)
        first = 1 if self.data_format == "channels_last" else 2
        axes = list(range(first, first + self.rank))
        return getattr(ops, self.reduce)(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


def _global(name, reduce, rank):
    return type(name, (BaseGlobalPooling,), {"rank": rank, "reduce": reduce})


GlobalMaxPooling1D = _global("GlobalMaxPooling1D", "max", 1)
GlobalMaxPooling2D = _global("GlobalMaxPooling2D", "max", 2)
GlobalMaxPooling3D = _global("GlobalMaxPooling3D", "max", 3)
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps; with a mask (Keras), the mean of the valid steps only."""

    rank = 1
    reduce = "mean"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        cu.check_rank(self, inputs.shape, self.rank)
        steps_axis = 1 if self.data_format == "channels_last" else 2
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), 2 if steps_axis == 1 else 1)
        total = ops.sum(ops.multiply(inputs, weights), axis=steps_axis, keepdims=self.keepdims)
        return ops.divide(total, ops.sum(weights, axis=steps_axis, keepdims=self.keepdims))

    def compute_mask(self, inputs, previous_mask):
        return None



GlobalAveragePooling2D = _global("GlobalAveragePooling2D", "mean", 2)
GlobalAveragePooling3D = _global("GlobalAveragePooling3D", "mean", 3)
