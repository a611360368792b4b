"""Where elements come from: in-memory arrays, a Python generator, a range of integers."""

import numpy as np

from ember.data.constants import UNKNOWN_CARDINALITY
from ember.data.spec import TensorSpec, spec_of
from ember.data.stage import Stage, first_element
from ember.data.structure import (
    as_leaf,
    describe,
    flatten,
    iter_slices,
    leading_length,
    leaf_paths,
    to_numpy,
    unflatten,
)


class TensorSlices(Stage):
    """The rows of in-memory arrays: element i holds row i of every array in the structure.

    Rows are views of the arrays given (no copy), so large arrays cost no extra memory.
    """

    def __init__(self, value):
        leaves, self._treedef = flatten(value)
        self._leaves = [np.asarray(leaf) for leaf in leaves]
        self._length = leading_length(self._leaves, self._treedef, "Dataset.from_tensor_slices")

    def iterate(self):
        return iter_slices(self._leaves, self._treedef, self._length)

    def rows(self):
        return self, range(self._length)

    def take_rows(self, index):
        return unflatten(self._treedef, [leaf[index] for leaf in self._leaves])

    def cardinality(self):
        return self._length

    def element_spec(self):
        return unflatten(
            self._treedef, [TensorSpec(leaf.shape[1:], leaf.dtype) for leaf in self._leaves]
        )


class Range(Stage):
    """Integers start, start + step, ... below stop, as Python's range, as NumPy scalars."""

    def __init__(self, numbers, dtype):
        self._numbers = numbers
        self._dtype = np.dtype(dtype)

    def iterate(self):
        return (self._dtype.type(n) for n in self._numbers)

    def cardinality(self):
        return len(self._numbers)

    def element_spec(self):
        return TensorSpec((), self._dtype)


class Generated(Stage):
    """Elements of a user generator; `generator()` is called once per pass (as tf.data), so
    the dataset can be iterated again.

    With an output_signature every element is checked against it and cast to its dtypes;
    without one elements are taken as they come, and `batch` checks that they agree.
    """

    def __init__(self, generator, output_signature):
        self._generator = generator
        self._signature = output_signature
        if output_signature is not None:
            self._specs, self._signature_treedef = flatten(output_signature)

    def iterate(self):
        iterator = self._generator()
        try:
            iterator = iter(iterator)
        except TypeError:
            raise TypeError(
                f"Dataset.from_generator: expected `generator()` to return an iterator, "
                f"received {type(iterator).__name__}"
            ) from None
        return self._elements(iterator)

    def _elements(self, iterator):
        for index, element in enumerate(iterator):
            if self._signature is None:
                yield to_numpy(element)
            else:
                yield self._conform(index, element)

    def _conform(self, index, element):
        leaves, treedef = flatten(element)
        if treedef != self._signature_treedef:
            raise ValueError(
                f"Dataset.from_generator: element {index} has the structure "
                f"{describe(element)}, which does not match output_signature "
                f"{self._signature!r}"
            )
        paths = leaf_paths(treedef)
        return unflatten(
            treedef,
            [self._cast(index, *args) for args in zip(paths, leaves, self._specs)],
        )

    @staticmethod
    def _cast(index, path, leaf, spec):
        array = np.asarray(leaf)
        if not np.can_cast(array.dtype, spec.dtype, "same_kind"):
            raise TypeError(
                f"Dataset.from_generator: element {index}: {path} has dtype {array.dtype}, "
                f"which cannot be cast to the output_signature dtype {spec.dtype}"
            )
        array = array.astype(spec.dtype, copy=False)
        if not spec.is_compatible_with(array):
            raise ValueError(
                f"Dataset.from_generator: element {index}: {path} has shape {array.shape}, "
                f"but output_signature expects shape {spec.shape}"
            )
        return as_leaf(array)

    def cardinality(self):
        return UNKNOWN_CARDINALITY

    def element_spec(self):
        if self._signature is not None:
            return self._signature
        return spec_of(first_element(self, "Dataset.from_generator"))
