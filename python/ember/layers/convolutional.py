"""Conv1D, Conv2D, Conv3D: one fused C++ op (im2col + BLAS, bias and activation epilogue)."""
from ember import activations, initializers, regularizers
from ember import ops
from ember.layers import conv_utils as cu
from ember.layers.layer import Layer

FUSED_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def apply_conv_op(op, x, kernel, bias, activation, attrs):
    """Records a conv-family op with the activation fused when the op can fuse it."""
    name = activations.serialize(activation)
    fused = name if name in FUSED_ACTIVATIONS else "linear"
    inputs = [x, kernel] if bias is None else [x, kernel, bias]
    y = ops.apply_op(op, inputs, {**attrs, "activation": fused}, cast=False)
    return y if fused == name else activation(y)


class BaseConv(Layer):
    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint),
                           ("bias_constraint", bias_constraint), ("lora_rank", lora_rank)):
            if value is not None:
                raise NotImplementedError(f"{who}: `{arg}` is not supported yet")
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{who}: `filters` must be a positive integer, received {filters!r}")
        if not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(
                f"{who}: `groups` must be a positive integer dividing filters={filters}, "
                f"received {groups!r}"
            )
        self.filters = filters
        self.groups = groups
        cu.set_window_args(self, who, kernel_size, strides, dilation_rate, padding, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{who}: strides > 1 together with dilation_rate > 1 is not supported, received "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        channels = cu.known_channels(self, input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': groups={self.groups} must divide the "
                f"input channels, received {channels} channels"
            )
        self.kernel = self.add_weight(
            shape=self.kernel_size + (channels // self.groups, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        cu.check_rank(self, inputs.shape, self.rank)
        cu.check_channels(self, inputs.shape, cu.channel_axis(self.data_format),
                          self.kernel.shape[-2] * self.groups)
        x = cu.to_channels_last(inputs, self.data_format)
        y = apply_conv_op("conv", x, self.kernel, self.bias, self.activation, {
            "strides": list(self.strides), "padding": self.padding,
            "dilation": list(self.dilation_rate), "groups": self.groups})
        return cu.from_channels_last(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
        })
        return config


class Conv1D(BaseConv):
    rank = 1


class Conv2D(BaseConv):
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         **kwargs)


class Conv3D(BaseConv):
    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         **kwargs)
