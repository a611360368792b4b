"""Dispatch of one op call: record it symbolically or run it eagerly."""
import numbers

import numpy as np

from ember.backend.core import core
from ember.backend.symbolic import Node, SymbolicTensor, constant_tensor
from ember.backend.variables import Variable
from ember.utils import rng

_FLOAT = ("float32", "float64")


def _clean_attrs(attrs):
    """NumPy scalars and tuples become the plain Python values the core accepts."""
    out = {}
    for k, v in (attrs or {}).items():
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, numbers.Integral):
            out[k] = int(v)
        elif isinstance(v, numbers.Real):
            out[k] = float(v)
        elif isinstance(v, str):
            out[k] = v
        else:
            out[k] = [int(e) for e in v]
    return out


def _dtype_of(x):
    if isinstance(x, (SymbolicTensor, Variable)):
        return x.dtype
    if isinstance(x, np.ndarray):
        return str(x.dtype)
    return None  # Python numbers take the dtype of the tensors they meet (Keras weak typing)


def _result_dtype(inputs, float_only):
    dtypes = [d for d in (_dtype_of(x) for x in inputs) if d is not None]
    if not dtypes:
        return "float32"
    dt = np.result_type(*dtypes)
    if dt.kind in "biu" and float_only:
        return "float32"
    if dt == np.float16:
        return "float32"
    return str(dt)


def convert_to_numpy(x):
    if isinstance(x, SymbolicTensor):
        raise TypeError("a symbolic tensor has no value while the model is being defined")
    if isinstance(x, Variable):
        return x.numpy()
    return np.asarray(x)


def apply_op(op, inputs, attrs=None, cast=True, float_only=True):
    """Records or runs `op`. With `cast`, all inputs are brought to one result dtype."""
    attrs = _clean_attrs(attrs)
    for x in inputs:  # before dtypes are merged, so the error names the op and the input
        if isinstance(x, np.ndarray):
            _check_numeric(x, op)
    dtype = _result_dtype(inputs, float_only) if cast else None
    if any(isinstance(x, SymbolicTensor) for x in inputs) or (
            _tracing[0] and any(isinstance(x, Variable) for x in inputs)):
        tensors = [_symbolic(x, dtype, op) for x in inputs]
        shape, out_dtype = core.infer(op, attrs, [(t.shape, t.dtype) for t in tensors])
        return SymbolicTensor(shape, out_dtype,
                              Node("op", op, attrs, tensors, name=_layer_names[-1]))
    arrays = [_array(x, dtype, op) for x in inputs]
    return core.run_op(op, attrs, arrays, rng.next_seed())


# Depth of layer calls being traced: inside one, an op on weights alone (ops.square(kernel))
# is recorded into the graph like any other, so it sees updated values and gets gradients.
_tracing = [0]
# The layer whose call records ops now: op nodes carry its name, so errors found when a plan is
# compiled for real shapes name the layer, as those found while tracing do.
_layer_names = [""]


class tracing:
    def __init__(self, layer_name=""):
        self.layer_name = layer_name

    def __enter__(self):
        _tracing[0] += 1
        _layer_names.append(self.layer_name)

    def __exit__(self, *exc):
        _tracing[0] -= 1
        _layer_names.pop()


def _symbolic(x, dtype, op):
    if isinstance(x, SymbolicTensor):
        if dtype is not None and x.dtype != dtype:
            return _cast(x, dtype, op)
        return x
    if isinstance(x, Variable):
        t = x.symbolic
        return _cast(t, dtype, op) if dtype is not None and t.dtype != dtype else t
    return constant_tensor(_array(x, dtype, op))


def _cast(t, dtype, op):
    if t.dtype.startswith("int"):  # integers promote to the float computation, as in Keras
        return apply_op("cast", [t], {"dtype": dtype}, cast=False)
    raise TypeError(
        f"op '{op}': a {t.dtype} input meets a {dtype} computation; cast the input to "
        f"{dtype} first"
    )


def _array(x, dtype, op):
    if isinstance(x, Variable):
        x = x.value
    a = _check_numeric(np.asarray(x), op)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return np.asarray(a, order="C")


def _check_numeric(a, op):
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"op '{op}': expected numeric input, received an array of dtype {a.dtype}")
    return a
