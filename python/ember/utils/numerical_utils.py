"""Array helpers for preparing data: one-hot labels and normalisation (as keras.utils)."""

import numpy as np


def _as_integer_labels(x):
    """Labels as an int64 array; rejects values that are not whole numbers."""
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"to_categorical: could not read the labels as an array: {e}") from e
    if arr.dtype == np.bool_ or arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        # Float labels are common (e.g. read from CSV); accept them when they are whole numbers
        # rather than silently truncating 1.7 to 1.
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.floor(arr)))].ravel()[0]
            raise ValueError(
                f"to_categorical: expected integer class labels, received the value {bad}"
            )
        return arr.astype(np.int64)
    raise ValueError(
        f"to_categorical: expected integer class labels, received an array of dtype {arr.dtype}"
    )


def to_categorical(x, num_classes=None):
    """Converts a class vector (integers) to a binary class matrix.

    Args:
        x: array-like of class values (integers from 0 to `num_classes - 1`).
        num_classes: total number of classes; if None, `max(x) + 1`.

    Returns:
        A float32 NumPy array with the class axis last. A trailing axis of size 1 in `x`
        (labels shaped `(n, 1)`) is dropped first, as Keras does.
    """
    x = _as_integer_labels(x)
    input_shape = x.shape
    # Shrink the last dimension if the shape is (..., 1).
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    x = x.reshape(-1)

    if x.size and x.min() < 0:
        raise ValueError(
            f"to_categorical: expected labels >= 0, received the label {int(x.min())}"
        )
    if num_classes is None:
        if x.size == 0:
            raise ValueError(
                "to_categorical: cannot infer `num_classes` from empty labels; pass num_classes"
            )
        num_classes = int(x.max()) + 1
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(
                f"to_categorical: expected `num_classes` to be an integer, "
                f"received {num_classes!r}"
            )
        num_classes = int(num_classes)
        if num_classes <= 0:
            raise ValueError(
                f"to_categorical: expected `num_classes` > 0, received {num_classes}"
            )
        if x.size and x.max() >= num_classes:
            raise ValueError(
                f"to_categorical: expected labels < num_classes={num_classes}, "
                f"received the label {int(x.max())}"
            )

    categorical = np.zeros((x.shape[0], num_classes), dtype=np.float32)
    categorical[np.arange(x.shape[0]), x] = 1.0
    return categorical.reshape(tuple(input_shape) + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Normalizes an array along `axis` by its `order`-norm.

    Args:
        x: array to normalise (array-like; a NumPy array is returned).
        axis: the axis along which to normalise.
        order: the norm order (e.g. 2 for the L2 norm), as `numpy.linalg.norm`.

    Returns:
        A normalised copy of `x`; slices whose norm is 0 are left unchanged.
    """
    received = type(x).__name__
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(
            f"normalize: expected a numeric NumPy array (or array-like), received a {received} "
            f"(as an array of dtype {x.dtype})"
        )
    if x.ndim == 0:
        raise ValueError("normalize: expected an array with at least one axis, received a scalar")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"normalize: expected `axis` to be an integer, received {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"normalize: axis {axis} is out of range for an array of shape {x.shape}"
        )
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, np.ones_like(norm), norm)
    return x / norm
