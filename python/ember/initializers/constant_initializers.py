"""Initializers that need no randomness: Zeros, Ones, Constant, Identity."""

import numpy as np

from ember.initializers.initializer import (
    Initializer,
    standardize_dtype,
    standardize_shape,
)


class Zeros(Initializer):
    """Initializer that generates tensors initialized to 0."""

    def __call__(self, shape, dtype=None):
        shape = standardize_shape(shape, "Zeros")
        return np.zeros(shape, dtype=standardize_dtype(dtype, "Zeros"))


class Ones(Initializer):
    """Initializer that generates tensors initialized to 1."""

    def __call__(self, shape, dtype=None):
        shape = standardize_shape(shape, "Ones")
        return np.ones(shape, dtype=standardize_dtype(dtype, "Ones"))


class Constant(Initializer):
    """Initializer that generates tensors with a constant value.

    Args:
        value: a Python scalar, convertible to the dtype requested when called.
    """

    def __init__(self, value=0.0):
        if np.ndim(value) != 0:
            raise ValueError(
                f"Constant: expected a scalar `value`, received an array of shape "
                f"{np.shape(value)}"
            )
        # A NumPy scalar becomes a Python number so that get_config() stays JSON-friendly.
        self.value = value.item() if isinstance(value, (np.generic, np.ndarray)) else value

    def __call__(self, shape, dtype=None):
        shape = standardize_shape(shape, "Constant")
        return np.full(shape, self.value, dtype=standardize_dtype(dtype, "Constant"))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """Initializer that generates the identity matrix (2D shapes only; may be rectangular).

    Args:
        gain: multiplicative factor applied to the identity matrix.
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = standardize_shape(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(
                "Identity: the identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = standardize_dtype(dtype, "Identity")
        return (self.gain * np.eye(*shape, dtype=np.float64)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}
