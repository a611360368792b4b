"""`Dataset`: an immutable, re-iterable input pipeline with tf.data's API and semantics.

Elements are NumPy arrays, or tuples/lists/dicts nesting them. Every transformation returns a
new Dataset and leaves its input unchanged; iterating a Dataset starts a fresh pass, so one
Dataset serves every epoch. The work lives in the stage classes (sources.py, batching.py,
shuffle.py, transforms.py, parallel.py); this class validates arguments and chains stages.
"""

import inspect

import numpy as np

from ember.data.batching import Batch, Unbatch
from ember.data.constants import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
from ember.data.parallel import AUTOTUNE_PREFETCH, Prefetch, autotune_workers
from ember.data.shuffle import Shuffle
from ember.data.sources import Generated, Range, TensorSlices
from ember.data.spec import TensorSpec
from ember.data.stage import Stage
from ember.data.structure import flatten
from ember.data.transforms import Cache, Concatenate, Filter, Map, Repeat, Skip, Take, Zip
from ember.utils.rng import next_seed


class Dataset:
    """A sequence of elements, built with `Dataset.from_tensor_slices`, `from_generator`,
    `range` or `zip` and transformed with `batch`, `shuffle`, `map`, ... as in tf.data:

        ds = (Dataset.from_tensor_slices((x, y))
              .shuffle(1024, seed=0).batch(32).prefetch(ember.data.AUTOTUNE))
        for x_batch, y_batch in ds: ...
    """

    def __init__(self, stage):
        if not isinstance(stage, Stage):
            raise TypeError(
                "Dataset: build a dataset with Dataset.from_tensor_slices, from_generator, "
                f"range or zip, not Dataset(...); received {type(stage).__name__}"
            )
        self._stage = stage

    # -- sources ---------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors):
        """A dataset of the rows of `tensors`: an array, or a tuple/list/dict nesting arrays
        whose first dimensions agree. Element i keeps the structure, holding row i of each
        array (a view: the arrays are not copied)."""
        return Dataset(TensorSlices(tensors))

    @staticmethod
    def from_generator(generator, output_signature=None):
        """A dataset of the elements `generator()` yields; `generator` is called again for every
        pass (pass the generator function, not a generator object).

        Args:
            generator: a callable returning an iterator of elements.
            output_signature: optional structure of `TensorSpec`s; every element is checked
                against it and cast to its dtypes.
        """
        if inspect.isgenerator(generator) or not callable(generator):
            raise TypeError(
                f"Dataset.from_generator: expected `generator` to be a callable returning an "
                f"iterator (a generator function, not a generator object, which could be "
                f"iterated only once), received {type(generator).__name__}"
            )
        if output_signature is not None:
            specs, _ = flatten(output_signature)
            if not specs or not all(isinstance(spec, TensorSpec) for spec in specs):
                raise TypeError(
                    f"Dataset.from_generator: expected `output_signature` to be a structure of "
                    f"ember.data.TensorSpec, received {output_signature!r}"
                )
        return Dataset(Generated(generator, output_signature))

    @staticmethod
    def range(*args, dtype="int64"):
        """Integers as Python's `range(stop)` / `range(start, stop[, step])` gives them."""
        for arg in args:
            _check_integer(arg, "range arguments", "Dataset.range")
        try:
            numbers = range(*args)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Dataset.range: invalid arguments {args}: {error}") from None
        return Dataset(Range(numbers, dtype))

    @staticmethod
    def zip(*datasets):
        """Elements of several datasets side by side, stopping with the shortest.

        `zip(a, b)` yields `(a_element, b_element)`; a single structure of datasets, e.g.
        `zip({"x": a, "y": b})` or `zip((a, (b, c)))`, gives elements in that structure.
        """
        structure = datasets[0] if len(datasets) == 1 else datasets
        leaves, treedef = flatten(structure)
        if not leaves or not all(isinstance(leaf, Dataset) for leaf in leaves):
            raise TypeError(
                f"Dataset.zip: expected datasets, or one tuple/list/dict nesting datasets, "
                f"received {structure!r}"
            )
        return Dataset(Zip([leaf._stage for leaf in leaves], treedef))

    # -- transformations -------------------------------------------------------------------

    def batch(self, batch_size, drop_remainder=False):
        """Stacks `batch_size` consecutive elements into one, leaf by leaf. The last batch is
        shorter unless `drop_remainder`. Elements of a batch must agree in structure, shapes
        and dtypes (a ValueError names the first element that does not)."""
        _check_integer(batch_size, "batch_size", "Dataset.batch")
        if batch_size < 1:
            raise ValueError(f"Dataset.batch: expected `batch_size` >= 1, received {batch_size}")
        return Dataset(Batch(self._stage, int(batch_size), bool(drop_remainder)))

    def unbatch(self):
        """Splits every element along its first dimension (the inverse of `batch`)."""
        return Dataset(Unbatch(self._stage))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Shuffles with a buffer of `buffer_size` elements, as tf.data: a buffer at least as
        large as the dataset gives a uniform shuffle, a smaller one a local shuffle.

        Args:
            buffer_size: int >= 1.
            seed: int >= 0 for a reproducible order; None draws one from ember's seed
                (`ember.utils.set_random_seed`).
            reshuffle_each_iteration: a new order every pass (epoch) when True, the same order
                every pass when False.
        """
        _check_integer(buffer_size, "buffer_size", "Dataset.shuffle")
        if buffer_size < 1:
            raise ValueError(
                f"Dataset.shuffle: expected `buffer_size` >= 1, received {buffer_size}"
            )
        if seed is None:
            seed = next_seed()
        _check_integer(seed, "seed", "Dataset.shuffle")
        if seed < 0:
            raise ValueError(f"Dataset.shuffle: expected `seed` >= 0, received {seed}")
        return Dataset(
            Shuffle(self._stage, int(buffer_size), int(seed), bool(reshuffle_each_iteration))
        )

    def map(self, map_func, num_parallel_calls=None):
        """Applies `map_func` to every element (a tuple element's components are passed as
        separate arguments); the results are converted to NumPy.

        Args:
            map_func: a callable returning the new element.
            num_parallel_calls: None runs the calls one by one on the consuming thread; an int
                >= 1, or AUTOTUNE (one per core), runs that many at once on threads. The output
                order is the input order either way.
        """
        _check_callable(map_func, "map_func", "Dataset.map")
        if num_parallel_calls is None:
            workers = None
        elif num_parallel_calls == AUTOTUNE:
            workers = autotune_workers()
        else:
            _check_integer(num_parallel_calls, "num_parallel_calls", "Dataset.map")
            if num_parallel_calls < 1:
                raise ValueError(
                    f"Dataset.map: expected `num_parallel_calls` >= 1, None or AUTOTUNE, "
                    f"received {num_parallel_calls}"
                )
            workers = int(num_parallel_calls)
        return Dataset(Map(self._stage, map_func, workers))

    def filter(self, predicate):
        """Keeps the elements for which `predicate` (called as map's function is) returns a
        scalar True."""
        _check_callable(predicate, "predicate", "Dataset.filter")
        return Dataset(Filter(self._stage, predicate))

    def prefetch(self, buffer_size):
        """Produces up to `buffer_size` elements ahead on a background thread while the
        consumer works; AUTOTUNE picks a small buffer. Errors of the producer are raised to the
        consumer; the thread ends with the iteration (exhausted, closed or dropped)."""
        if buffer_size == AUTOTUNE:
            buffer_size = AUTOTUNE_PREFETCH
        _check_integer(buffer_size, "buffer_size", "Dataset.prefetch")
        if buffer_size < 1:
            raise ValueError(
                f"Dataset.prefetch: expected `buffer_size` >= 1 or AUTOTUNE, received "
                f"{buffer_size}"
            )
        return Dataset(Prefetch(self._stage, int(buffer_size)))

    def repeat(self, count=None):
        """Repeats the dataset `count` times, forever when count is None or -1."""
        if count is not None:
            _check_integer(count, "count", "Dataset.repeat")
            if count < -1:
                raise ValueError(
                    f"Dataset.repeat: expected `count` >= 0, or None or -1 for forever, "
                    f"received {count}"
                )
        return Dataset(Repeat(self._stage, None if count in (None, -1) else int(count)))

    def take(self, count):
        """The first `count` elements; -1 takes all."""
        return Dataset(Take(self._stage, _check_count(count, "Dataset.take", "takes all")))

    def skip(self, count):
        """All but the first `count` elements; -1 skips all."""
        return Dataset(Skip(self._stage, _check_count(count, "Dataset.skip", "skips all")))

    def cache(self):
        """Keeps the elements in memory after the first complete pass; later passes read
        them from there instead of recomputing the transformations above."""
        return Dataset(Cache(self._stage))

    def concatenate(self, dataset):
        """The elements of this dataset followed by those of `dataset`."""
        if not isinstance(dataset, Dataset):
            raise TypeError(
                f"Dataset.concatenate: expected a Dataset, received {type(dataset).__name__}"
            )
        return Dataset(Concatenate(self._stage, dataset._stage))

    # -- inspection and iteration ----------------------------------------------------------

    def cardinality(self):
        """The number of elements, or INFINITE_CARDINALITY (-1) / UNKNOWN_CARDINALITY (-2)."""
        return self._stage.cardinality()

    @property
    def element_spec(self):
        """The element structure with a TensorSpec per array. Where user code decides it (a
        generator without output_signature, a map function) the first element is computed to
        find out."""
        return self._stage.element_spec()

    def __len__(self):
        n = self.cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError(
                "The dataset length is unknown (e.g. after filter or from_generator); "
                "iterate it to count the elements."
            )
        return n

    def __bool__(self):
        # Without this, `if dataset:` would call __len__ and fail on unknown cardinality.
        return True

    def __iter__(self):
        """A fresh pass over the elements: a generator, whose close() ends the pass and stops
        any prefetch or map threads at once."""
        return self._stage.iterate()

    def as_numpy_iterator(self):
        """Same as iter(dataset): elements are NumPy arrays already (tf.data compatibility)."""
        return self._stage.iterate()


def _check_integer(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{who}: expected `{name}` to be an integer, received {value!r} of type "
            f"{type(value).__name__}"
        )


def _check_callable(fn, name, who):
    if not callable(fn):
        raise TypeError(f"{who}: expected `{name}` to be callable, received {fn!r}")


def _check_count(count, who, all_meaning):
    _check_integer(count, "count", who)
    if count < -1:
        raise ValueError(
            f"{who}: expected `count` >= 0, or -1 which {all_meaning}, received {count}"
        )
    return int(count)
