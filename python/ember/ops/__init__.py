"""ember.ops: the Keras 3 ops API.

Every function works on symbolic tensors (inside a model definition, where it records an op
node) and on NumPy arrays or Python numbers (where it runs at once in the C++ core and returns
a NumPy array).
"""
from ember.ops.attention import *  # noqa: F401,F403
from ember.ops.attention import __all__ as _attention_all
from ember.ops.core import apply_op, convert_to_numpy
from ember.ops.math import *  # noqa: F401,F403
from ember.ops.math import __all__ as _math_all
from ember.ops.nn import *  # noqa: F401,F403
from ember.ops.nn import __all__ as _nn_all
from ember.ops.rnn import *  # noqa: F401,F403
from ember.ops.rnn import __all__ as _rnn_all

__all__ = (["apply_op", "convert_to_numpy"] + list(_math_all) + list(_nn_all)
           + list(_attention_all) + list(_rnn_all))
