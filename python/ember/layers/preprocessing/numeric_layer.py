"""Base of the preprocessing layers built from ember.ops (they run inside a model and eagerly)."""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.backend.variables import Variable
from ember.layers.layer import Layer


class NumericPreprocessingLayer(Layer):
    """A list or a number passed to the layer is one array of data, as in Keras (the base
    Layer would read a list as several inputs)."""

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.pop("inputs")
        if not isinstance(inputs, (SymbolicTensor, Variable, np.ndarray)):
            inputs = np.asarray(inputs)
        return super().__call__(inputs, *args[1:], **kwargs)
