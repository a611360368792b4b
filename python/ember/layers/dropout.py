"""Dropout: zeroes a fraction `rate` of the inputs in training, identity at inference."""
from ember import ops
from ember.layers.layer import Layer


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError(
                f"Dropout '{self.name}': expected `rate` in [0, 1], received {rate!r}"
            )
        if noise_shape is not None:
            raise NotImplementedError(f"Dropout '{self.name}': `noise_shape` is not supported yet")
        self.rate = float(rate)
        self.seed = seed
        self.noise_shape = None

    def call(self, inputs, training=None):
        if self.rate == 0:
            return inputs
        return ops.dropout(inputs, self.rate, training=training)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": None})
        return config
