"""Keras's preprocessing layers.

Numeric layers, built from ember.ops (they run inside a model and eagerly on arrays):
Normalization, Discretization, CategoryEncoding, Resizing, CenterCrop.
String and vocabulary layers, which run eagerly on NumPy arrays (ember's compute graph has no
string dtype): StringLookup, IntegerLookup, Hashing, TextVectorization — apply them to the data,
e.g. in `ember.data.Dataset.map`.
"""
from ember.layers.preprocessing.category_encoding import CategoryEncoding
from ember.layers.preprocessing.discretization import Discretization
from ember.layers.preprocessing.hashing import Hashing
from ember.layers.preprocessing.image_resizing import CenterCrop, Resizing
from ember.layers.preprocessing.integer_lookup import IntegerLookup
from ember.layers.preprocessing.normalization import Normalization
from ember.layers.preprocessing.string_lookup import StringLookup
from ember.layers.preprocessing.text_vectorization import TextVectorization

__all__ = [
    "CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup",
    "Normalization", "Resizing", "StringLookup", "TextVectorization",
]
