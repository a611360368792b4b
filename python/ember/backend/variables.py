"""Variables: a layer's weights.

A variable holds its value in a NumPy array. When a model is compiled, all its variables move
into the model's C++ parameter arena and each value becomes a view of its segment, so the
optimizer, get_weights and set_weights all touch the same memory without copies.
"""
import numpy as np

from ember.backend.symbolic import Node, SymbolicTensor


class Variable:
    def __init__(self, value, name="variable", trainable=True, dtype="float32", path=None):
        self._value = np.array(value, dtype=dtype, copy=True, order="C")
        self.name = name
        self.path = path or name
        self._trainable = bool(trainable)
        self._symbolic = SymbolicTensor(self._value.shape, str(self._value.dtype),
                                        Node("param", variable=self, name=self.path), name=self.path)
        self._arena = None  # (arena, index) once bound into a model's arena

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return str(self._value.dtype)

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        if self._arena is not None:
            arena, index = self._arena
            arena.set_trainable(index, self._trainable)

    @property
    def value(self):
        return self._value

    @property
    def symbolic(self):
        return self._symbolic

    def numpy(self):
        return np.array(self._value, copy=True)

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Variable '{self.path}': expected a value of shape {self._value.shape}, "
                f"received shape {value.shape}"
            )
        self._value[...] = value

    def bind(self, arena, index):
        """Moves the value into segment `index` of `arena` and views it from there."""
        view = arena.value(index)
        view[...] = self._value
        self._value = view
        self._arena = (arena, index)
        arena.set_trainable(index, self._trainable)

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"

    # Arithmetic: symbolic inside a model definition, eager otherwise (through ember.ops).
    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().subtract(self, o)
    def __rsub__(self, o): return _ops().subtract(o, self)
    def __mul__(self, o): return _ops().multiply(self, o)
    def __rmul__(self, o): return _ops().multiply(o, self)
    def __truediv__(self, o): return _ops().divide(self, o)
    def __matmul__(self, o): return _ops().matmul(self, o)
    def __rmatmul__(self, o): return _ops().matmul(o, self)
    def __neg__(self): return _ops().negative(self)


def _ops():
    from ember import ops
    return ops
