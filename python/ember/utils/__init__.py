"""Utilities: the global random seed, label encoding, normalisation, sequence padding and the
progress bar."""

from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.py_dataset import PyDataset
from ember.utils.rng import set_random_seed
from ember.utils.sequence_utils import pad_sequences

__all__ = ["Progbar", "PyDataset", "normalize", "pad_sequences", "set_random_seed",
           "to_categorical"]
