"""The thin layer between the Keras-style Python API and the C++ core."""
from ember.backend.core import core
from ember.backend.symbolic import SymbolicTensor, is_symbolic
from ember.backend.variables import Variable
