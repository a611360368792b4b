"""Flatten and Reshape (the batch dimension is kept)."""
from ember import ops
from ember.layers.layer import Layer


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"Flatten '{self.name}': expected data_format 'channels_last' or "
                f"'channels_first', received {data_format!r}"
            )
        self.data_format = data_format or "channels_last"

    def call(self, inputs):
        x = inputs
        if self.data_format == "channels_first" and x.ndim > 2:
            x = ops.transpose(x, [0] + list(range(2, x.ndim)) + [1])
        return ops.apply_op("reshape", [x], {"shape": [-1], "keep_leading": 1}, cast=False)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if sum(1 for d in target_shape if d == -1) > 1 or any(
                not isinstance(d, int) or (d <= 0 and d != -1) for d in target_shape):
            raise ValueError(
                f"Reshape '{self.name}': expected positive dimensions with at most one -1, "
                f"received target_shape {target_shape}"
            )
        self.target_shape = target_shape

    def call(self, inputs):
        return ops.apply_op("reshape", [inputs],
                            {"shape": list(self.target_shape), "keep_leading": 1}, cast=False)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
