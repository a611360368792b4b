"""Arithmetic, elementwise math, reductions and shape ops (keras.ops names and signatures)."""
from ember.ops.core import apply_op

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "maximum", "minimum", "matmul",
    "exp", "log", "sqrt", "square", "abs", "absolute", "clip",
    "sum", "mean", "max", "min",
    "reshape", "transpose", "concatenate", "expand_dims", "squeeze",
    "cast", "slice", "slice_axis", "flip", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "any", "all", "logical_and", "logical_or", "logical_not",
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


def cast(x, dtype):
    dtype = str(getattr(dtype, "name", dtype))
    return apply_op("cast", [x], {"dtype": dtype}, cast=False)


def slice(inputs, start_indices, shape):  # noqa: A001 - keras.ops name
    """Keras ops.slice: the block starting at `start_indices` with extents `shape` (-1 or None:
    to the end), taken one axis at a time."""
    x = inputs
    for axis, (begin, size) in enumerate(zip(start_indices, shape)):
        begin = int(begin)
        size = -1 if size is None else int(size)
        if begin == 0 and size == -1:
            continue
        attrs = {"axis": axis, "begin": begin}
        if size != -1:
            attrs["end"] = begin + size
        x = apply_op("slice_axis", [x], attrs, cast=False)
    return x


def slice_axis(x, begin, end=None, axis=0):
    """x[begin:end] along `axis`, Python-style bounds (negative ones count from the end)."""
    attrs = {"axis": axis, "begin": int(begin)}
    if end is not None:
        attrs["end"] = int(end)
    return apply_op("slice_axis", [x], attrs, cast=False)


def flip(x, axis=None):
    axes = range(len(x.shape)) if axis is None else (
        [axis] if isinstance(axis, int) else list(axis))
    for a in axes:
        x = apply_op("flip", [x], {"axis": int(a)}, cast=False)
    return x


# Comparisons and logic give 1 where true and 0 where false, in the inputs' float dtype
# (ember has no boolean dtype); they stop gradients, as boolean results do in Keras.
def equal(x1, x2):
    return apply_op("equal", [x1, x2])


def not_equal(x1, x2):
    return apply_op("not_equal", [x1, x2])


def less(x1, x2):
    return apply_op("less", [x1, x2])


def less_equal(x1, x2):
    return apply_op("less_equal", [x1, x2])


def greater(x1, x2):
    return apply_op("greater", [x1, x2])


def greater_equal(x1, x2):
    return apply_op("greater_equal", [x1, x2])


def any(x, axis=None, keepdims=False):  # noqa: A001
    return max(not_equal(x, 0), axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return min(not_equal(x, 0), axis=axis, keepdims=keepdims)


def logical_and(x1, x2):
    return multiply(not_equal(x1, 0), not_equal(x2, 0))


def logical_or(x1, x2):
    return maximum(not_equal(x1, 0), not_equal(x2, 0))


def logical_not(x):
    return equal(x, 0)
