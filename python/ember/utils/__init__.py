"""Utilities: the global random seed, label encoding, normalisation and the progress bar."""

from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.rng import set_random_seed

__all__ = ["Progbar", "normalize", "set_random_seed", "to_categorical"]
