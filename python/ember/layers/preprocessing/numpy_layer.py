"""Base of the preprocessing layers that run eagerly on NumPy (the string and vocabulary layers).

ember's C++ graph has no string dtype and no hash-table op, so these layers cannot be part of a
model graph: they transform data before it reaches the model, e.g. in `Dataset.map` or on the
arrays passed to `fit`. Calling one on a symbolic tensor raises a TypeError that says so.
"""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.layers.layer import Layer, _flatten


class NumpyPreprocessingLayer(Layer):
    def __init__(self, name=None, **kwargs):
        # Keras's lookup layers accept and ignore `dtype` (their dtype is the vocabulary's).
        kwargs.pop("dtype", None)
        kwargs.pop("autocast", None)
        super().__init__(name=name, **kwargs)

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.pop("inputs")
        if any(isinstance(x, SymbolicTensor) for x in _flatten(inputs)):
            raise TypeError(
                f"{type(self).__name__} '{self.name}' runs eagerly on NumPy arrays and cannot "
                "be called on a symbolic tensor: ember's compute graph has no string dtype or "
                "lookup-table op. Apply the layer to the data before the model instead, e.g. "
                "`dataset.map(lambda x, y: (layer(x), y))` or `model.fit(layer(x), y)`.")
        self.built = True
        return self.call(inputs, *args[1:], **kwargs)

    def build(self, input_shape=None):
        self.built = True


def as_string_array(values, encoding, who):
    """`values` (str, bytes, list, array) as a NumPy array of Python str (dtype object)."""
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind == "S":
        return np.char.decode(array, encoding).astype(object)
    if array.dtype.kind != "O":
        raise TypeError(f"{who}: expected string inputs, received an array of dtype "
                        f"{array.dtype}")
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_in):
        if isinstance(v, (bytes, np.bytes_)):
            v = bytes(v).decode(encoding)
        elif not isinstance(v, str):
            raise TypeError(f"{who}: expected string inputs, received an element of type "
                            f"{type(v).__name__} ({v!r})")
        flat_out[i] = str(v)
    return out
