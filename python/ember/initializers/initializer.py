"""The `Initializer` base class and the argument checks every initializer shares."""

import numpy as np


def standardize_shape(shape, who):
    """`shape` as a tuple of non-negative Python ints, or a ValueError naming `who`."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in dims
    ):
        raise ValueError(
            f"{who}: expected `shape` to be a tuple of non-negative integers (a fully defined "
            f"shape), received {shape!r}"
        )
    return tuple(int(d) for d in dims)


def standardize_dtype(dtype, who):
    """`dtype` as a NumPy dtype; None means float32, ember's default float type."""
    if dtype is None:
        return np.dtype("float32")
    try:
        return np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{who}: `dtype` {dtype!r} is not a data type") from None


def standardize_float_dtype(dtype, who):
    """As `standardize_dtype`, for initializers that can only make floating-point values."""
    dtype = standardize_dtype(dtype, who)
    if dtype.kind != "f":
        raise ValueError(
            f"{who}: expected a floating-point `dtype` (float32, float64, ...), "
            f"received {dtype.name}"
        )
    return dtype


class Initializer:
    """Initializer base class: all ember initializers inherit from it.

    A subclass implements `__call__(shape, dtype=None)`, returning a NumPy array of that shape
    and dtype (float32 when dtype is None), and `get_config()` when its constructor takes
    arguments. `from_config(get_config())` must rebuild an equivalent initializer.

    Example:

        class ExampleRandomNormal(Initializer):
            def __init__(self, mean, stddev):
                self.mean = mean
                self.stddev = stddev

            def __call__(self, shape, dtype=None):
                rng = ember.utils.rng.numpy_generator()
                return rng.normal(self.mean, self.stddev, size=shape).astype(dtype or "float32")

            def get_config(self):
                return {"mean": self.mean, "stddev": self.stddev}
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"{type(self).__name__}: Initializer subclasses must implement the `__call__()` "
            "method"
        )

    def get_config(self):
        """The initializer's configuration as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Instantiates an initializer from the output of `get_config()`."""
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
