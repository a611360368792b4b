"""Utilities: the global random seed, label encoding, normalisation, sequence padding and the
progress bar."""

from ember.utils.dataset_utils import split_dataset
from ember.utils.file_utils import get_file
from ember.utils.image_dataset_utils import image_dataset_from_directory
from ember.utils.numerical_utils import normalize, to_categorical
from ember.utils.progbar import Progbar
from ember.utils.py_dataset import PyDataset
from ember.utils.rng import set_random_seed
from ember.utils.sequence_utils import pad_sequences
from ember.utils.text_dataset_utils import text_dataset_from_directory
from ember.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = ["Progbar", "PyDataset", "get_file", "image_dataset_from_directory", "normalize", "pad_sequences",
           "set_random_seed", "split_dataset", "text_dataset_from_directory",
           "timeseries_dataset_from_array", "to_categorical"]
