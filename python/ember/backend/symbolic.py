"""Symbolic tensors: what layers and ember.ops produce while a model is being defined.

Each symbolic tensor is the output of one recorded node (an op, a model input, a parameter or a
constant). Shapes come from the op's C++ shape inference, with None for unknown extents (the
batch). Nothing runs until a model lowers the recorded nodes into a C++ graph.
"""
import itertools

import numpy as np

_ids = itertools.count()


class Node:
    """One recorded node. kind: 'input', 'param', 'const' or 'op'."""

    __slots__ = ("kind", "op", "attrs", "inputs", "variable", "value", "name", "uid")

    def __init__(self, kind, op=None, attrs=None, inputs=(), variable=None, value=None, name=""):
        self.kind = kind
        self.op = op
        self.attrs = attrs or {}
        self.inputs = tuple(inputs)
        self.variable = variable
        self.value = value
        self.name = name
        self.uid = next(_ids)


class SymbolicTensor:
    """A placeholder for a value computed when the model runs (Keras's KerasTensor)."""

    __array_priority__ = 100  # NumPy defers to our operators: np_array + symbolic -> symbolic

    def __init__(self, shape, dtype, node, name=""):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.name = name
        self._layer = None  # the layer whose call produced this tensor, for model structure
        self._history = None  # (layer, input tensors) of the outermost call that returned it
        self._keras_mask = None  # 1/0 per timestep (Keras's mask), set by mask-aware layers
        self._call = None  # (CallRecord, output index) of the outermost layer call returning it

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError("a symbolic tensor has no length while the model is being defined")

    def __bool__(self):
        raise TypeError(
            "a symbolic tensor has no truth value: it is a placeholder inside a model "
            "definition, use ember.ops instead of Python control flow on it"
        )

    def numpy(self):
        raise TypeError("a symbolic tensor has no value: call the model on data instead")

    # Arithmetic records ops, as Keras tensors do.
    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().subtract(self, o)
    def __rsub__(self, o): return _ops().subtract(o, self)
    def __mul__(self, o): return _ops().multiply(self, o)
    def __rmul__(self, o): return _ops().multiply(o, self)
    def __truediv__(self, o): return _ops().divide(self, o)
    def __rtruediv__(self, o): return _ops().divide(o, self)
    def __matmul__(self, o): return _ops().matmul(self, o)
    def __rmatmul__(self, o): return _ops().matmul(o, self)
    def __neg__(self): return _ops().negative(self)
    def __abs__(self): return _ops().abs(self)


def _ops():
    from ember import ops
    return ops


def is_symbolic(x):
    return isinstance(x, SymbolicTensor)


def input_tensor(shape, dtype="float32", name=""):
    node = Node("input", name=name)
    return SymbolicTensor(shape, dtype, node, name=name)


def constant_tensor(value):
    value = np.asarray(value, order="C")
    return SymbolicTensor(value.shape, str(value.dtype), Node("const", value=value))
