"""Array inputs of fit/evaluate/predict: validation, conversion, splitting and batching."""
import math

import numpy as np


def _as_list(x):
    if x is None:
        return None
    if isinstance(x, dict):
        raise NotImplementedError("dict inputs are not supported yet; pass a list of arrays")
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]) and np.ndim(x[0]) > 0 \
            and hasattr(x[0], "shape"):
        return list(x)
    return [x]


def to_arrays(x, what, dtypes):
    """Converts each entry to a contiguous NumPy array of the dtype the model expects."""
    out = []
    for i, (a, dtype) in enumerate(zip(x, dtypes)):
        label = what if len(x) == 1 else f"{what}[{i}]"
        try:
            arr = np.asarray(a)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"{label}: expected a rectangular numeric array, received "
                             f"sequences of different lengths ({e})") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{label}: expected a numeric array, received an array of dtype {arr.dtype}"
            )
        if arr.ndim == 0:
            raise ValueError(f"{label}: expected an array with a batch dimension, received a scalar")
        out.append(np.asarray(arr, dtype=dtype, order="C"))
    return out


def check_input_shapes(xs, specs, model_name):
    """Each array must match its model input (None matches any extent). Checked before
    batching, so the message shows the shape of the array the user passed."""
    for i, (a, spec) in enumerate(zip(xs, specs)):
        want = tuple(spec.shape)
        if a.ndim != len(want) or any(w is not None and w != g
                                      for w, g in zip(want[1:], a.shape[1:])):
            label = "x" if len(xs) == 1 else f"x[{i}]"
            raise ValueError(
                f"{label}: input '{spec.name}' of model '{model_name}' expected shape {want}, "
                f"received an array of shape {a.shape}"
            )


def label_dtype(arr, float_dtype):
    """Integer labels stay integers (int32, int64 kept); everything else becomes float."""
    kind = np.asarray(arr).dtype
    if kind.kind in "biu":
        return "int64" if kind == np.int64 else "int32"
    return float_dtype


def check_lengths(xs, ys):
    n = len(xs[0])
    for i, a in enumerate(xs):
        if len(a) != n:
            raise ValueError(
                f"all input arrays must have the same number of samples, received {n} and "
                f"{len(a)} (x[{i}])"
            )
    if ys is not None:
        for i, a in enumerate(ys):
            if len(a) != n:
                raise ValueError(
                    "x and y must have the same number of samples, received "
                    f"x: {n} samples and y: {len(a)} samples"
                )
    if n == 0:
        raise ValueError("expected at least one sample, received an empty array for x")
    return n


def split_validation(xs, ys, validation_split):
    """Keras takes the last `validation_split` fraction, before any shuffling."""
    if not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be in [0, 1), received {validation_split}"
        )
    n = len(xs[0])
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(
            f"validation_split={validation_split} leaves no samples for "
            f"{'training' if cut == 0 else 'validation'} out of {n}"
        )
    return ([a[:cut] for a in xs], [a[:cut] for a in ys]), ([a[cut:] for a in xs],
                                                           [a[cut:] for a in ys])


def num_batches(n, batch_size):
    return int(math.ceil(n / batch_size))


def batches(arrays, batch_size, order=None):
    """Yields lists of batch arrays: slices (views) in order, gathered rows when shuffled."""
    n = len(arrays[0])
    for start in range(0, n, batch_size):
        if order is None:
            yield [a[start:start + batch_size] for a in arrays]
        else:
            idx = order[start:start + batch_size]
            yield [a.take(idx, axis=0) for a in arrays]
