"""Conv1DTranspose and Conv2DTranspose (kernel (*k, filters, in_channels) as Keras)."""
from ember.layers import conv_utils as cu
from ember.layers.convolutional import BaseConv, apply_conv_op


class BaseConvTranspose(BaseConv):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):
        if "groups" in kwargs:  # BaseConv takes it, but the transposed op has no groups
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) ['groups'] "
                            "(transposed convolutions have no groups, as in Keras)")
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        if self.padding == "causal":
            raise ValueError(f"{who}: `padding` must be 'valid' or 'same', received 'causal'")
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = cu.normalize_tuple(output_padding, self.rank, "output_padding",
                                                     who, allow_zero=True)
            for p, s in zip(self.output_padding, self.strides):
                if p >= s:
                    raise ValueError(
                        f"{who}: each `output_padding` must be smaller than its stride, received "
                        f"output_padding={self.output_padding} and strides={self.strides}"
                    )

    def build(self, input_shape):
        channels = cu.known_channels(self, input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        cu.check_rank(self, inputs.shape, self.rank)
        cu.check_channels(self, inputs.shape, cu.channel_axis(self.data_format),
                          self.kernel.shape[-1])
        x = cu.to_channels_last(inputs, self.data_format)
        attrs = {"strides": list(self.strides), "padding": self.padding,
                 "dilation": list(self.dilation_rate)}
        if self.output_padding is not None:
            attrs["output_padding"] = list(self.output_padding)
        y = apply_conv_op("conv_transpose", x, self.kernel, self.bias, self.activation, attrs)
        return cu.from_channels_last(y, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(BaseConvTranspose):
    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
