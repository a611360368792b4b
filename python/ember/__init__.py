"""ember: a deep-learning framework with a C++ core and the Keras 3 API.

A Keras script runs on ember by changing its imports, e.g. ``import ember as keras``.
"""
from ember.backend.core import core as _core  # loads the C++ core first (thread settings)

from ember import activations, callbacks, config, data, datasets, initializers, layers, losses
from ember import metrics, models, ops, optimizers, regularizers, utils
from ember.backend.variables import Variable
from ember.layers import Input, Layer
from ember.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Input", "Layer", "Model", "Sequential", "Variable", "activations", "callbacks", "config", "data",
    "datasets", "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers",
    "regularizers", "utils", "__version__",
]
