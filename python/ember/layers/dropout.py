"""Dropout: zeroes a fraction `rate` of the inputs in training, identity at inference."""
from ember import ops
from ember.layers.layer import Layer


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected `rate` in [0, 1], received "
                f"{rate!r}"
            )
        if noise_shape is not None and any(
                d is not None and (not isinstance(d, int) or d < 1) for d in noise_shape):
            raise ValueError(f"{type(self).__name__} '{self.name}': `noise_shape` entries must "
                             f"be positive ints or None, received {noise_shape!r}")
        self.rate = float(rate)
        self.seed = seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=None):
        if self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return ops.dropout(inputs, self.rate, training=training)
        if len(self.noise_shape) != len(inputs.shape):
            raise ValueError(f"{type(self).__name__} '{self.name}': `noise_shape` "
                             f"{self.noise_shape} must have one entry per input axis, received "
                             f"an input of shape {tuple(inputs.shape)}")
        mode = -1 if training is None else int(bool(training))
        noise = [0 if d is None else d for d in self.noise_shape]  # 0: as the input
        return ops.apply_op("dropout", [inputs], {"rate": self.rate, "training": mode,
                                                  "noise_shape": noise})

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


class _SpatialDropout(Dropout):
    """Drops whole feature maps: one mask value per (sample, channel)."""
    rank = None

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{type(self).__name__} '{self.name}': `data_format` must be "
                             f"'channels_last' or 'channels_first', received {data_format!r}")
        self.data_format = data_format or "channels_last"

    def call(self, inputs, training=None):
        if len(inputs.shape) != self.rank + 2:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected an input of rank "
                             f"{self.rank + 2}, received shape {tuple(inputs.shape)}")
        if self.rate == 0:
            return inputs
        spatial = [1] * self.rank
        noise = [0] + spatial + [0] if self.data_format == "channels_last" else [0, 0] + spatial
        mode = -1 if training is None else int(bool(training))
        return ops.apply_op("dropout", [inputs], {"rate": self.rate, "training": mode,
                                                  "noise_shape": noise})

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape", None)
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    rank = 1


class SpatialDropout2D(_SpatialDropout):
    rank = 2


class SpatialDropout3D(_SpatialDropout):
    rank = 3
