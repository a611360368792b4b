"""`split_dataset`, and the helpers that the `*_dataset_from_directory` utilities share: indexing
a directory of class sub-folders, the validation split, label encoding and the lazy pipeline.

The file list is built eagerly (it is small); files are read only when their batch is produced,
by a `Dataset.map` over batches of paths, so a directory of 100k images is never in memory.
"""

import os
import random

import numpy as np

from ember.data import AUTOTUNE, INFINITE_CARDINALITY, Dataset
from ember.data.batching import Batch, stack
from ember.data.parallel import Prefetch
from ember.data.structure import flatten, unflatten
from ember.utils.rng import next_seed

LABEL_MODES = ("int", "categorical", "binary", None)
SUBSETS = ("training", "validation", "both", None)
_MAX_NUMPY_SEED = 2**32  # np.random.RandomState, which orders the files as Keras does, needs less


# -- split_dataset -------------------------------------------------------------------------


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Splits a dataset into a left and a right part (e.g. train / test), as Keras does.

    Args:
        dataset: a NumPy array (split along its rows), a list/tuple of arrays with the same
            first dimension (elements are tuples of rows), or a finite `ember.data.Dataset`
            (read once into memory; a batched dataset is unbatched, and both parts are
            batched again with its batch size).
        left_size: int, the number of elements of the left part, or float in (0, 1), its
            fraction of the whole; None: what `right_size` leaves.
        right_size: the same for the right part; None: what `left_size` leaves.
        shuffle: shuffle the elements before splitting.
        seed: int for a reproducible shuffle; None draws one from ember's seed.

    Returns:
        `(left, right)`, two `ember.data.Dataset`s: the first `left_size` elements and the
        last `right_size` ones (elements in between, if the sizes do not add up to the whole,
        are in neither).
    """
    who = "split_dataset"
    if left_size is None and right_size is None:
        raise ValueError(
            f"{who}: at least one of `left_size` or `right_size` must be specified. "
            f"Received: left_size=None and right_size=None"
        )
    _check_split_size_type(left_size, "left_size")
    _check_split_size_type(right_size, "right_size")
    columns, treedef, batch_size = _dataset_as_columns(dataset, who)
    total = len(columns[0])
    left_size, right_size = _rescale_split_sizes(left_size, right_size, total)
    if shuffle:
        if seed is None:
            seed = next_seed()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{who}: expected `seed` to be an integer or None, received {seed!r}")
        # Keras shuffles its list of elements with random.seed(seed); random.shuffle(...): the
        # permutation depends only on the length, so shuffling row numbers with a private
        # Random(seed) gives the same split without touching the global `random` state.
        order = list(range(total))
        random.Random(int(seed)).shuffle(order)
        order = np.asarray(order, dtype=np.intp)
        left_rows, right_rows = order[:left_size], order[total - right_size:]
    else:  # slices: the parts are views, not copies
        left_rows, right_rows = slice(0, left_size), slice(total - right_size, total)
    parts = []
    for rows in (left_rows, right_rows):
        part = Dataset.from_tensor_slices(unflatten(treedef, [c[rows] for c in columns]))
        parts.append(part if batch_size is None else part.batch(batch_size))
    return tuple(parts)


def _check_split_size_type(size, name):
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating))
    ):
        raise TypeError(
            f"split_dataset: expected `{name}` to be an int, a float or None, received "
            f"{size!r} of type {type(size).__name__}"
        )


def _rescale_split_sizes(left_size, right_size, total):
    """Turns fractions into counts and fills in a missing size, with Keras's checks."""
    sizes = {}
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if isinstance(size, (int, np.integer)) and not 0 < size < total:
            raise ValueError(
                f"split_dataset: `{name}` should be either a positive integer smaller than "
                f"{total} (the number of elements), or a float in (0, 1). Received: "
                f"{name}={size}"
            )
        if isinstance(size, (float, np.floating)) and not 0 < size < 1:
            raise ValueError(
                f"split_dataset: `{name}` should be either a positive integer smaller than "
                f"{total} (the number of elements), or a float in (0, 1). Received: "
                f"{name}={size}"
            )
        if isinstance(size, (float, np.floating)):
            sizes[name] = round(float(size) * total)
        else:
            sizes[name] = None if size is None else int(size)
    left, right = sizes["left_size"], sizes["right_size"]
    if isinstance(left_size, (float, np.floating)) and isinstance(
        right_size, (float, np.floating)
    ) and left_size + right_size > 1:
        raise ValueError(
            f"split_dataset: the sum of `left_size` and `right_size` is greater than 1; it "
            f"must be at most 1. Received: left_size={left_size}, right_size={right_size}"
        )
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"split_dataset: `left_size` + `right_size` = {left + right} elements, more than "
            f"the {total} the dataset holds"
        )
    for count, side in ((left, "left"), (right, "right")):
        if count == 0:
            raise ValueError(
                f"split_dataset: with a dataset of {total} elements, left_size={left_size} and "
                f"right_size={right_size}, the {side} part would be empty; adjust the sizes"
            )
    return left, right


def _dataset_as_columns(dataset, who):
    """(columns, treedef, batch_size): one array per leaf of the element structure, holding
    every element; batch_size is the batch size to restore (None if not a batched Dataset)."""
    if isinstance(dataset, np.ndarray):
        if dataset.ndim == 0 or len(dataset) == 0:
            raise ValueError(f"{who}: received an empty array of shape {dataset.shape}")
        return [dataset], None, None
    if isinstance(dataset, (list, tuple)):
        kind = type(dataset).__name__
        if not dataset:
            raise ValueError(f"{who}: received an empty {kind}; expected a {kind} of arrays")
        for i, array in enumerate(dataset):
            if not isinstance(array, np.ndarray) or array.ndim == 0:
                raise ValueError(
                    f"{who}: expected a {kind} of NumPy arrays with a first dimension, "
                    f"received {type(array).__name__} at index {i}"
                )
            if len(array) != len(dataset[0]):
                raise ValueError(
                    f"{who}: received a {kind} of arrays with different lengths: index 0 has "
                    f"{len(dataset[0])} rows, index {i} has {len(array)}; they must agree"
                )
        if len(dataset[0]) == 0:
            raise ValueError(f"{who}: received a {kind} of empty arrays")
        _, treedef = flatten(tuple(dataset))  # Keras yields tuples for lists too
        return list(dataset), treedef, None
    if isinstance(dataset, Dataset):
        return _read_dataset(dataset, who)
    raise TypeError(
        f"{who}: expected `dataset` to be an ember.data.Dataset, a NumPy array or a "
        f"list/tuple of NumPy arrays, received {type(dataset).__name__}"
    )


def _read_dataset(dataset, who):
    if dataset.cardinality() == INFINITE_CARDINALITY:
        raise ValueError(f"{who}: cannot split an infinite dataset (e.g. after repeat())")
    batch_size = _batch_size_of(dataset)
    elements = list(dataset.unbatch() if batch_size is not None else dataset)
    if not elements:
        raise ValueError(f"{who}: received an empty dataset")
    # stack() checks that all elements agree in structure, shape and dtype, naming the first
    # one that does not.
    try:
        stacked = stack(elements, 0)
    except ValueError as error:
        raise ValueError(f"{who}: the elements of `dataset` must agree: {error}") from None
    leaves, treedef = flatten(stacked)
    return leaves, treedef, batch_size


def _batch_size_of(dataset):
    """The batch size of a dataset whose last step is batch() (prefetch aside), else None.

    Dataset keeps its stages private; looking at them here is the only way to know that the
    elements are batches, which Keras's split_dataset undoes and redoes.
    """
    stage = dataset._stage
    while isinstance(stage, Prefetch):
        stage = stage.upstream
    return stage._batch_size if isinstance(stage, Batch) else None


# -- argument checks shared by the *_dataset_from_directory utilities ---------------------


def check_labels_arguments(labels, label_mode, class_names, who, files):
    """Keras's checks of `labels`, `label_mode` and `class_names`; returns (labels,
    label_mode) with both None when either is None (no labels at all)."""
    if isinstance(labels, str) and labels != "inferred":
        raise ValueError(
            f'{who}: `labels` must be "inferred", None or a list/tuple of integer labels. '
            f"Received: labels={labels!r}"
        )
    if labels is not None and not isinstance(labels, str):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                f"{who}: `labels` argument should be a list/tuple of integer labels, of the "
                f"same size as the number of {files} in the target directory. If you wish to "
                f'infer the labels from the subdirectory names, pass `labels="inferred"`. If '
                f"you wish a dataset without labels, pass `labels=None`. Received: "
                f"labels={labels!r}"
            )
        if class_names:
            raise ValueError(
                f'{who}: you can only pass `class_names` if `labels="inferred"`. Received: '
                f"labels={labels!r}, and class_names={class_names!r}"
            )
    if label_mode not in LABEL_MODES:
        raise ValueError(
            f'{who}: `label_mode` argument must be one of "int", "categorical", "binary", '
            f"or None. Received: label_mode={label_mode!r}"
        )
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def check_batch_size(batch_size, who):
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"{who}: expected `batch_size` to be an integer or None, received {batch_size!r}"
        )
    if batch_size < 1:
        raise ValueError(f"{who}: expected `batch_size` >= 1 or None, received {batch_size}")


def check_validation_split_arg(validation_split, subset, shuffle, seed, who):
    """Keras's checks of validation_split / subset / seed."""
    if validation_split is not None and not isinstance(
        validation_split, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{who}: expected `validation_split` to be a float or None, received "
            f"{validation_split!r}"
        )
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            f"{who}: `validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if subset not in SUBSETS:
        raise ValueError(
            f'{who}: `subset` must be either "training", "validation" or "both", received: '
            f"{subset!r}"
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(
            f"{who}: if `subset` is set, `validation_split` must be set, and inversely. "
            f"Received: validation_split={validation_split}, subset={subset!r}"
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{who}: if using `validation_split` and shuffling the data, you must provide a "
            f"`seed` argument, to make sure that there is no overlap between the training and "
            f"validation subset."
        )
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{who}: expected `seed` to be an integer or None, received {seed!r}")
        if not 0 <= seed < _MAX_NUMPY_SEED:
            raise ValueError(
                f"{who}: expected `seed` in [0, 2**32), received {seed}"
            )


def draw_seed(seed):
    """The seed given, or one drawn from ember's seed (`ember.utils.set_random_seed`)."""
    return int(seed) if seed is not None else next_seed() % _MAX_NUMPY_SEED


# -- indexing a directory ------------------------------------------------------------------


def index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links,
                    verbose, who):
    """Lists the files of `directory` whose names end with one of `formats`, with their labels,
    in Keras's order: class sub-folders in `class_names` order (alphanumeric by default), files
    sorted by path within each; then, if shuffle, permuted by np.random.RandomState(seed), as
    Keras does, so the same seed gives the same files in the same order (and the same
    validation split).

    Returns:
        (file_paths, labels, class_names): labels an int32 array (None without labels),
        class_names a list of str (None without labels).
    """
    directory = os.fspath(directory)
    inferred = isinstance(labels, str)  # checked: the only string accepted is "inferred"
    if not os.path.exists(directory):
        raise FileNotFoundError(f"{who}: the directory {directory!r} does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"{who}: {directory!r} is not a directory")
    if inferred:
        subdirs = [
            name for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")
        ]
        if class_names is not None:
            class_names = [str(name) for name in class_names]
            if len(set(class_names)) != len(class_names) or not set(class_names) <= set(subdirs):
                raise ValueError(
                    f"{who}: the `class_names` passed did not match the names of the "
                    f"subdirectories of the target directory. Expected: {subdirs} (or a subset "
                    f"of it, without repeats), but received: class_names={class_names}"
                )
            subdirs = class_names  # the order given is the label order
        class_names = subdirs
    else:
        if class_names is not None:
            raise ValueError(
                f"{who}: when `labels` is None or a list, argument `class_names` cannot be "
                f"specified. Received: class_names={class_names!r}"
            )
        subdirs = [""]  # index the whole tree, the directory structure carries no label

    filenames, file_labels = [], []
    for index, subdir in enumerate(subdirs):
        for name in _valid_files(os.path.join(directory, subdir), follow_links, formats):
            filenames.append(os.path.join(subdir, name) if subdir else name)
            file_labels.append(index)

    if inferred:
        labels = np.asarray(file_labels, dtype=np.int32)
    elif labels is not None:
        labels = _explicit_labels(labels, len(filenames), directory, who)
        class_names = [str(label) for label in sorted(set(labels.tolist()))]
    if verbose:
        if labels is None:
            print(f"Found {len(filenames)} files.")
        else:
            print(f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    file_paths = [os.path.join(directory, name) for name in filenames]
    if shuffle:
        # Keras shuffles paths and labels with two generators of the same seed: the same
        # permutation for both.
        order = np.arange(len(file_paths))
        np.random.RandomState(seed).shuffle(order)
        file_paths = [file_paths[i] for i in order]
        if labels is not None:
            labels = labels[order]
    return file_paths, labels, (None if labels is None else class_names)


def _valid_files(directory, follow_links, formats):
    """Relative paths of the files under `directory` ending with one of `formats` (case
    insensitive), sorted by folder then name, as Keras's iter_valid_files."""
    walk = os.walk(directory, followlinks=follow_links)
    for root, _, files in sorted(walk, key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.relpath(os.path.join(root, name), directory)


def _explicit_labels(labels, num_files, directory, who):
    array = np.asarray(labels)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(
            f"{who}: expected `labels` to be a flat list/tuple of integers, received "
            f"{np.asarray(labels).dtype} values of shape {array.shape}"
        )
    if len(array) != num_files:
        raise ValueError(
            f"{who}: expected the lengths of `labels` to match the number of files in the "
            f"target directory. len(labels) is {len(array)} while we found {num_files} files "
            f"in directory {directory}."
        )
    if array.size and array.min() < 0:
        raise ValueError(f"{who}: `labels` must be non-negative, received {array.min()}")
    return array.astype(np.int32)


def get_training_or_validation_split(samples, labels, validation_split, subset, verbose):
    """The training (first) or validation (last `int(validation_split * n)`) part of the
    samples, as Keras cuts it; everything when there is no validation_split."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    # Keras slices [:-num_val], which is empty when num_val is 0; cut at n - num_val instead.
    cut = len(samples) - num_val
    if subset == "training":
        if verbose:
            print(f"Using {cut} files for training.")
        return samples[:cut], None if labels is None else labels[:cut]
    if verbose:
        print(f"Using {num_val} files for validation.")
    return samples[cut:], None if labels is None else labels[cut:]


def encode_labels(labels, label_mode, num_classes, who):
    """int: int32 (n,); binary: float32 (n, 1) of 0/1; categorical: one-hot float32 (n, C)."""
    if label_mode == "int":
        return labels.astype(np.int32)
    if label_mode == "binary":
        if labels.size and labels.max() > 1:
            raise ValueError(
                f'{who}: label_mode="binary" needs labels 0 and 1, received label '
                f"{labels.max()}"
            )
        return labels.astype(np.float32)[:, None]
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f'{who}: label_mode="categorical" needs labels below the number of classes '
            f"({num_classes}), received label {labels.max()}"
        )
    return np.eye(num_classes, dtype=np.float32)[labels]


# -- the pipeline --------------------------------------------------------------------------


def files_to_dataset(paths, labels, load_files, batch_size, shuffle, seed):
    """A Dataset of (load_files(paths), labels) batches, or load_files(paths) batches when
    labels is None; without batch_size, of single elements.

    `load_files` gets an array of paths (a 0-d one when batch_size is None) and returns the
    array of their contents; it runs when its batch is produced, on a thread pool, so reading
    overlaps with training and only a few batches are ever in memory.
    """
    paths = np.asarray(paths, dtype=str)
    if labels is None:
        dataset = Dataset.from_tensor_slices(paths)
    else:
        dataset = Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        # As Keras: a buffer of 8 batches (1024 elements without batching), reshuffled every
        # epoch. The files were already shuffled as a whole when indexed.
        buffer_size = batch_size * 8 if batch_size is not None else 1024
        dataset = dataset.shuffle(buffer_size, seed=seed)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    if labels is None:
        dataset = dataset.map(load_files, num_parallel_calls=AUTOTUNE)
    else:
        dataset = dataset.map(lambda p, y: (load_files(p), y), num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def datasets_from_directory(directory, labels, label_mode, class_names, formats, load_files,
                            batch_size, shuffle, seed, validation_split, subset, follow_links,
                            verbose, who, files, file_paths_attribute):
    """Everything the *_dataset_from_directory utilities share once their own arguments are
    checked: index, split, build the pipeline(s) and attach `class_names` (and `file_paths`).

    `files` names the files in messages ("images", "text files"). Returns one Dataset, or a
    [training, validation] list for subset="both".
    """
    labels, label_mode = check_labels_arguments(labels, label_mode, class_names, who, files)
    check_batch_size(batch_size, who)
    check_validation_split_arg(validation_split, subset, shuffle, seed, who)
    seed = draw_seed(seed)
    paths, labels, class_names = index_directory(
        directory, labels, formats, class_names, shuffle, seed, follow_links, verbose, who
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            f'{who}: when passing `label_mode="binary"`, there must be exactly 2 '
            f"class_names. Received: class_names={class_names}"
        )
    if labels is not None:
        labels = encode_labels(labels, label_mode, len(class_names), who)
    allowed = f"Allowed formats: {formats}" if len(formats) > 1 else f"Allowed format: {formats[0]}"
    if subset == "both":
        parts = [("training", "training ", shuffle), ("validation", "validation ", False)]
    else:
        parts = [(subset, "", shuffle)]
    datasets = []
    for part_subset, adjective, part_shuffle in parts:
        part_paths, part_labels = get_training_or_validation_split(
            paths, labels, validation_split, part_subset, verbose
        )
        if not part_paths:
            raise ValueError(f"No {adjective}{files} found in directory {directory}. {allowed}")
        datasets.append((part_paths, part_labels, part_shuffle))
    results = []
    for part_paths, part_labels, part_shuffle in datasets:
        dataset = files_to_dataset(
            part_paths, part_labels, load_files, batch_size, part_shuffle, seed
        )
        dataset.class_names = class_names
        if file_paths_attribute:
            dataset.file_paths = part_paths
        results.append(dataset)
    return results if subset == "both" else results[0]  # a list for "both", as Keras
