"""Weight penalties L1, L2 and L1L2 (Keras 3's `keras.regularizers`).

Calling a regularizer on a NumPy array computes the penalty at once and returns a Python float.
Calling it on an ember tensor (a layer's weight inside a model) records the same formula with
`ember.ops`, so the penalty joins the loss and its gradient is taken with the rest.
"""

import math

import numpy as np


def validate_float_arg(value, name, who):
    """A penalty factor as a float, or a ValueError: it must be finite and non-negative."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (float, int, np.floating, np.integer))
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"{who}: invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _is_numpy(x):
    return isinstance(x, (np.ndarray, np.generic, int, float, list, tuple))


def _ops():
    # Imported on first use: ember.ops needs the compiled core, and NumPy callers never do.
    from ember import ops

    return ops


def _sum_abs(x):
    if _is_numpy(x):
        return float(np.sum(np.abs(np.asarray(x))))
    ops = _ops()
    return ops.sum(ops.abs(x))


def _sum_square(x):
    if _is_numpy(x):
        return float(np.sum(np.square(np.asarray(x))))
    ops = _ops()
    return ops.sum(ops.square(x))


def _scale(factor, penalty):
    if isinstance(penalty, float):
        return factor * penalty
    return _ops().multiply(factor, penalty)


class Regularizer:
    """Regularizer base class: a penalty on a weight, added to the loss.

    Any callable taking a weight and returning a scalar works as a regularizer; subclass this
    class for one that can be saved (implement `__call__` and `get_config`).

    Example:

        class L2Regularizer(Regularizer):
            def __init__(self, l2=0.0):
                self.l2 = l2

            def __call__(self, x):
                return self.l2 * ember.ops.sum(ember.ops.square(x))

            def get_config(self):
                return {"l2": float(self.l2)}
    """

    def __call__(self, x):
        """Computes the penalty of `x`."""
        return 0.0

    @classmethod
    def from_config(cls, config):
        """Creates a regularizer from the output of `get_config()`."""
        return cls(**config)

    def get_config(self):
        """The regularizer's configuration as a JSON-serializable dict."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """Applies both L1 and L2 penalties: `l1 * sum(abs(x)) + l2 * sum(square(x))`.

    Note the defaults differ from the `"l1_l2"` string identifier in old Keras: `L1L2()`
    applies no penalty until given a factor.

    Args:
        l1: L1 regularization factor.
        l2: L2 regularization factor.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x):
        terms = []
        if self.l1 != 0.0:
            terms.append(_scale(self.l1, _sum_abs(x)))
        if self.l2 != 0.0:
            terms.append(_scale(self.l2, _sum_square(x)))
        if not terms:
            return 0.0
        if len(terms) == 1:
            return terms[0]
        if isinstance(terms[0], float):
            return terms[0] + terms[1]
        return _ops().add(terms[0], terms[1])

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """Applies an L1 penalty: `l1 * sum(abs(x))`.

    Args:
        l1: L1 regularization factor.
    """

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, x):
        return _scale(self.l1, _sum_abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """Applies an L2 penalty: `l2 * sum(square(x))`.

    Args:
        l2: L2 regularization factor.
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x):
        return _scale(self.l2, _sum_square(x))

    def get_config(self):
        return {"l2": self.l2}
