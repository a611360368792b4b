"""Regularisation noise layers, active in training only: GaussianNoise, GaussianDropout,
AlphaDropout (Keras 3). Each is one C++ op drawing its noise from the step's counter-based
generator (never stored: backward redraws it)."""
from ember import ops
from ember.layers.layer import Layer


class _NoiseLayer(Layer):
    op = None
    arg = None  # the argument the op takes: "stddev" or "rate"

    def __init__(self, amount, seed=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        rate = self.arg == "rate"
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0 or (
                rate and amount > 1):
            raise ValueError(f"{who}: expected `{self.arg}` {'in [0, 1]' if rate else '>= 0'}, "
                             f"received {amount!r}")
        setattr(self, self.arg, float(amount))
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=None):
        amount = getattr(self, self.arg)
        if amount == 0 or training is False or (self.arg == "rate" and amount >= 1):
            return inputs  # Keras: rate 1 (or 0) leaves the inputs unchanged
        mode = -1 if training is None else 1
        return ops.apply_op(self.op, [inputs], {self.arg: amount, "training": mode})

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({self.arg: getattr(self, self.arg), "seed": self.seed})
        return config


class GaussianNoise(_NoiseLayer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` in training."""

    op, arg = "gaussian_noise", "stddev"

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(stddev, seed=seed, **kwargs)


class GaussianDropout(_NoiseLayer):
    """Multiplies by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate))."""

    op, arg = "gaussian_dropout", "rate"

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)


class AlphaDropout(_NoiseLayer):
    """Dropout for SELU networks: dropped units take SELU's negative saturation, and an affine
    correction keeps the mean and variance of the inputs."""

    op, arg = "alpha_dropout", "rate"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if noise_shape is not None:
            raise NotImplementedError("AlphaDropout: noise_shape is not supported yet")
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["noise_shape"] = None
        return config
