"""`text_dataset_from_directory`: a Dataset of text batches read from class sub-folders of .txt
files; the files are read when their batch is produced."""

import numpy as np

from ember.utils import dataset_utils

_WHO = "text_dataset_from_directory"


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Generates a dataset of texts from the .txt files of a directory (Keras's function, with
    ember's Dataset).

    With `main_directory/class_a/*.txt` and `main_directory/class_b/*.txt`, the dataset yields
    `(texts, labels)` batches, label 0 for class_a and 1 for class_b.

    Args:
        directory: the data directory; with labels="inferred", one sub-folder per class.
        labels: "inferred" (from the sub-folder names), None (no labels), or a list/tuple of
            integer labels, one per .txt file in the alphanumeric order of their paths.
        label_mode: "int" (int32, shape (batch,)), "categorical" (one-hot float32, shape
            (batch, num_classes)), "binary" (float32 0/1, shape (batch, 1); 2 classes), or None.
        class_names: with labels="inferred", the sub-folders to use, in label order
            (default: all, alphanumerically).
        batch_size: texts per batch (default 32); None yields single texts.
        max_length: keep at most this many characters of each text (None: all).
        shuffle: shuffle the files (and reshuffle the training data every epoch); False keeps
            the alphanumeric order.
        seed: int seed of the shuffle; required with validation_split and shuffle.
        validation_split: float in (0, 1): the fraction of files kept for validation.
        subset: "training", "validation" or "both" (returns [training, validation]); only
            with validation_split.
        follow_links: visit sub-folders that are symbolic links.
        verbose: print how many files and classes were found.

    Returns:
        An `ember.data.Dataset` yielding batches of texts, 1-D NumPy object arrays of Python
        `str` (a `numpy.str_` per element when batch_size is None), with their labels unless
        label_mode/labels is None; with attribute `class_names`. For subset="both", a list
        [training, validation].

    Files are decoded as UTF-8 (a file that is not raises an error naming it) and kept byte for
    byte otherwise: line endings are not translated.
    """
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer))
        or max_length < 0
    ):
        raise ValueError(
            f"{_WHO}: expected `max_length` to be a non-negative integer or None, received "
            f"{max_length!r}"
        )

    def load_files(paths):
        paths = np.asarray(paths)
        if paths.ndim == 0:
            return np.str_(_read_text(str(paths), max_length))
        texts = np.empty(len(paths), dtype=object)  # ragged strings, no padding to the longest
        texts[:] = [_read_text(str(path), max_length) for path in paths]
        return texts

    return dataset_utils.datasets_from_directory(
        directory, labels, label_mode, class_names, (".txt",), load_files, batch_size,
        shuffle, seed, validation_split, subset, follow_links, verbose,
        who=_WHO, files="text files", file_paths_attribute=False,
    )


def _read_text(path, max_length):
    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{_WHO}: cannot read the text file {path}: {error}") from error
    return text if max_length is None else text[:max_length]
