"""DepthwiseConv2D and SeparableConv1D/2D: a direct depthwise kernel, then (separable) a 1x1
pointwise convolution."""
from ember import activations, initializers, regularizers
from ember.layers import conv_utils as cu
from ember.layers.convolutional import apply_conv_op
from ember.layers.layer import Layer


class BaseDepthwise(Layer):
    rank = None
    separable = False

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, filters=None,
                 pointwise_initializer="glorot_uniform", pointwise_regularizer=None,
                 pointwise_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("depthwise_constraint", depthwise_constraint),
                           ("pointwise_constraint", pointwise_constraint),
                           ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{who}: `{arg}` is not supported yet")
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(
                f"{who}: `depth_multiplier` must be a positive integer, received "
                f"{depth_multiplier!r}"
            )
        if self.separable and (not isinstance(filters, int) or filters <= 0):
            raise ValueError(f"{who}: `filters` must be a positive integer, received {filters!r}")
        self.filters = filters
        self.depth_multiplier = depth_multiplier
        cu.set_window_args(self, who, kernel_size, strides, dilation_rate, padding, data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        channels = cu.known_channels(self, input_shape)
        depthwise_name = "depthwise_kernel" if self.separable else "kernel"
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            name=depthwise_name)
        out = channels * self.depth_multiplier
        if self.separable:
            self.pointwise_kernel = self.add_weight(
                shape=(1,) * self.rank + (out, self.filters),
                initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
                name="pointwise_kernel")
            out = self.filters
        self.bias = (self.add_weight(shape=(out,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        cu.check_rank(self, inputs.shape, self.rank)
        cu.check_channels(self, inputs.shape, cu.channel_axis(self.data_format),
                          self.depthwise_kernel.shape[-2])
        x = cu.to_channels_last(inputs, self.data_format)
        attrs = {"strides": list(self.strides), "padding": self.padding,
                 "dilation": list(self.dilation_rate)}
        if self.separable:
            x = apply_conv_op("depthwise_conv", x, self.depthwise_kernel, None,
                              activations.linear, attrs)
            y = apply_conv_op("conv", x, self.pointwise_kernel, self.bias, self.activation, {
                "strides": [1] * self.rank, "padding": "valid", "dilation": [1] * self.rank,
                "groups": 1})
        else:
            y = apply_conv_op("depthwise_conv", x, self.depthwise_kernel, self.bias,
                              self.activation, attrs)
        return cu.from_channels_last(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None, "depthwise_constraint": None, "bias_constraint": None,
        })
        if self.separable:
            config.update({
                "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "pointwise_constraint": None,
            })
        return config


class DepthwiseConv2D(BaseDepthwise):
    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)


class DepthwiseConv1D(BaseDepthwise):
    rank = 1


class SeparableConv1D(BaseDepthwise):
    rank = 1
    separable = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, filters=filters, **kwargs)


class SeparableConv2D(BaseDepthwise):
    rank = 2
    separable = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, filters=filters, **kwargs)
