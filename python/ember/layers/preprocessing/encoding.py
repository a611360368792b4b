"""Categorical encodings shared by the preprocessing layers (Keras's
`numerical_utils.encode_categorical_inputs`), in two forms:

- `encode_symbolic`: built from ember.ops, so CategoryEncoding and Discretization work inside a
  model graph and eagerly;
- `encode_numpy`: NumPy, for the layers that run eagerly on strings (lookups, Hashing,
  TextVectorization). Values outside [0, depth) contribute nothing, as in Keras's bincount
  (that is how the lookups drop mask tokens in the non-int modes).

Shapes follow Keras: a scalar becomes one sample; "one_hot" encodes each element, squeezing a
last axis of size 1; "multi_hot" and "count" reduce axis 1 (axis 0 for a rank-1 input).
"""
import numpy as np

from ember import ops

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def check_choice(value, allowed, arg, who):
    """Keras's validate_string_arg: a clear error naming the layer and the choices."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{who}: invalid value for argument `{arg}`. Expected one of "
                         f"{list(allowed)}. Received: {arg}={value!r}")
    return value


def reject_sparse(sparse, who):
    if sparse:
        raise ValueError(f"{who}: `sparse=True` is not supported: ember has no sparse tensors "
                         "(Keras supports it with the TensorFlow backend only)")


def _reduction_axis(rank):
    return 1 if rank > 1 else 0


# ---- symbolic (ember.ops) --------------------------------------------------------------------
def one_hot_symbolic(x, depth, dtype):
    """(..., ) -> (..., depth): 1 where x == k. Negative or too large values give a zero row."""
    classes = np.arange(depth, dtype="float32")
    hot = ops.equal(ops.expand_dims(x, -1), classes)  # 1/0 in the comparison's float dtype
    return hot if str(hot.dtype) == dtype else ops.cast(hot, dtype)


def encode_symbolic(x, output_mode, depth, dtype, count_weights=None):
    if output_mode == "int":
        return ops.cast(x, dtype)
    if len(x.shape) == 0:
        x = ops.expand_dims(x, -1)
    rank = len(x.shape)
    if output_mode == "one_hot":
        if rank > 1 and x.shape[-1] == 1:
            x = ops.squeeze(x, -1)
        return one_hot_symbolic(x, depth, dtype)
    encoded = one_hot_symbolic(x, depth, dtype)
    if output_mode == "multi_hot":
        return ops.max(encoded, axis=_reduction_axis(rank))
    if count_weights is not None:
        encoded = ops.multiply(encoded, ops.expand_dims(count_weights, -1))
    return ops.sum(encoded, axis=_reduction_axis(rank))


# ---- NumPy ------------------------------------------------------------------------------------
def _counts_per_row(rows, depth, binary, dtype, weights=None):
    """rows: (R, L) integer indices -> (R, depth) counts (or 0/1), ignoring out-of-range."""
    out = np.zeros((rows.shape[0], depth), dtype="float64")
    r, c = np.nonzero((rows >= 0) & (rows < depth))
    values = rows[r, c]
    np.add.at(out, (r, values), 1.0 if weights is None else weights[r, c])
    if binary:
        out = np.minimum(out, 1.0)
    return out.astype(dtype)


def encode_numpy(indices, output_mode, depth, dtype):
    """indices: an integer array of any rank, or a list of 1-D rows (ragged, one per sample)."""
    if output_mode == "int":
        return np.asarray(indices).astype(dtype)
    if isinstance(indices, list):  # ragged rows: each row is one sample
        if output_mode == "one_hot":
            raise ValueError("one_hot output needs one value per element; with split text use "
                             "'multi_hot', 'count' or 'tf_idf'")
        width = max((len(r) for r in indices), default=0)
        padded = np.full((len(indices), width), -1, dtype="int64")
        for i, r in enumerate(indices):
            padded[i, :len(r)] = r
        return _counts_per_row(padded, depth, output_mode == "multi_hot", dtype)
    x = np.asarray(indices, dtype="int64")
    if x.ndim == 0:
        x = x.reshape(1)
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        flat = x.reshape(-1, 1)
        return _counts_per_row(flat, depth, True, dtype).reshape(x.shape + (depth,))
    axis = _reduction_axis(x.ndim)
    moved = np.moveaxis(x, axis, -1)  # the reduced axis last, then one row per output vector
    rows = moved.reshape(-1, moved.shape[-1])
    out = _counts_per_row(rows, depth, output_mode == "multi_hot", dtype)
    return out.reshape(moved.shape[:-1] + (depth,))
