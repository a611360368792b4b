"""Arithmetic, elementwise math, reductions and shape ops (keras.ops names and signatures)."""
from ember.ops.core import apply_op

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "maximum", "minimum", "matmul",
    "exp", "log", "sqrt", "square", "abs", "absolute", "clip",
    "sum", "mean", "max", "min",
    "reshape", "transpose", "concatenate", "expand_dims", "squeeze",
]


def add(x1, x2):
    return apply_op("add", [x1, x2])


def subtract(x1, x2):
    return apply_op("subtract", [x1, x2])


def multiply(x1, x2):
    return apply_op("multiply", [x1, x2])


def divide(x1, x2):
    return apply_op("divide", [x1, x2])


def maximum(x1, x2):
    return apply_op("maximum", [x1, x2])


def minimum(x1, x2):
    return apply_op("minimum", [x1, x2])


def matmul(x1, x2):
    return apply_op("matmul", [x1, x2])


def negative(x):
    return apply_op("negative", [x])


def exp(x):
    return apply_op("exp", [x])


def log(x):
    return apply_op("log", [x])


def sqrt(x):
    return apply_op("sqrt", [x])


def square(x):
    return apply_op("square", [x])


def abs(x):  # noqa: A001 - keras.ops name
    return apply_op("abs", [x])


absolute = abs


def clip(x, x_min, x_max):
    return apply_op("clip", [x], {"min": float(x_min), "max": float(x_max)})


def _axis_attr(axis):
    if axis is None:
        return None
    return [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return apply_op("sum", [x], {"axis": _axis_attr(axis), "keepdims": keepdims})


def mean(x, axis=None, keepdims=False):
    return apply_op("mean", [x], {"axis": _axis_attr(axis), "keepdims": keepdims})


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    if initial is not None:
        return maximum(apply_op("max", [x], {"axis": _axis_attr(axis), "keepdims": keepdims}),
                       initial)
    return apply_op("max", [x], {"axis": _axis_attr(axis), "keepdims": keepdims})


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    if initial is not None:
        return minimum(apply_op("min", [x], {"axis": _axis_attr(axis), "keepdims": keepdims}),
                       initial)
    return apply_op("min", [x], {"axis": _axis_attr(axis), "keepdims": keepdims})


def reshape(x, newshape):
    shape = [newshape] if isinstance(newshape, int) else list(newshape)
    return apply_op("reshape", [x], {"shape": [-1 if d is None else d for d in shape]},
                    cast=False)


def transpose(x, axes=None):
    return apply_op("transpose", [x], {"perm": None if axes is None else list(axes)}, cast=False)


def concatenate(xs, axis=0):
    return apply_op("concatenate", list(xs), {"axis": axis})


def expand_dims(x, axis):
    return apply_op("expand_dims", [x], {"axis": axis}, cast=False)


def squeeze(x, axis=None):
    return apply_op("squeeze", [x], {"axis": _axis_attr(axis)}, cast=False)
