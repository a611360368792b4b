"""batch() and unbatch(): stacking consecutive elements into arrays, and slicing them apart."""

import itertools

import numpy as np

from ember.data.constants import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
from ember.data.spec import TensorSpec
from ember.data.stage import UnaryStage
from ember.data.structure import (
    describe,
    flatten,
    iter_slices,
    leading_length,
    leaf_paths,
    unflatten,
)


class Batch(UnaryStage):
    """Stacks `batch_size` consecutive elements per leaf; the last, shorter batch is kept
    unless drop_remainder."""

    def __init__(self, upstream, batch_size, drop_remainder):
        super().__init__(upstream)
        self._batch_size = batch_size
        self._drop_remainder = drop_remainder

    def iterate(self):
        upstream_rows = self.upstream.rows()
        if upstream_rows is None:
            return self._stacked_batches()
        return self._gathered_batches(*upstream_rows)

    def _gathered_batches(self, source, order):
        chunks = _row_chunks(order, self._batch_size, self._drop_remainder)
        return (source.take_rows(rows) for rows in chunks)

    def _stacked_batches(self):
        pending = []
        for index, element in enumerate(self.upstream.iterate()):
            pending.append(element)
            if len(pending) == self._batch_size:
                yield stack(pending, index + 1 - len(pending))
                pending = []
        if pending and not self._drop_remainder:
            yield stack(pending, index + 1 - len(pending))

    def cardinality(self):
        n = self.upstream.cardinality()
        if n < 0:
            return n
        if self._drop_remainder:
            return n // self._batch_size
        return -(-n // self._batch_size)

    def element_spec(self):
        # Without drop_remainder the last batch may be shorter, so the batch dim is unknown.
        batch_dim = self._batch_size if self._drop_remainder else None
        leaves, treedef = flatten(self.upstream.element_spec())
        return unflatten(treedef, [TensorSpec((batch_dim,) + s.shape, s.dtype) for s in leaves])


def _row_chunks(order, size, drop_remainder):
    """The rows of each batch: slices (views, no copy) when `order` is a range, else arrays."""
    if isinstance(order, range):
        stop = order.start + len(order) // size * size if drop_remainder else order.stop
        return (slice(a, min(a + size, order.stop)) for a in range(order.start, stop, size))
    return _index_chunks(iter(order), size, drop_remainder)


def _index_chunks(order, size, drop_remainder):
    while True:
        chunk = np.fromiter(itertools.islice(order, size), dtype=np.intp)
        if len(chunk) == 0 or (len(chunk) < size and drop_remainder):
            return
        yield chunk


def stack(elements, first_index):
    """Stacks elements (numbered from `first_index` in the stream, for error messages) leaf by
    leaf, after checking that they agree in structure, shape and dtype: np.stack would otherwise
    upcast mixed dtypes silently or fail without saying which element is at fault."""
    flat = [flatten(element) for element in elements]
    treedef0 = flat[0][1]
    for offset, (_, treedef) in enumerate(flat[1:], 1):
        if treedef != treedef0:
            raise ValueError(
                f"Dataset.batch: element {first_index + offset} has the structure "
                f"{describe(elements[offset])}, but element {first_index} (the first of its "
                f"batch) has {describe(elements[0])}; the elements of a batch must have the "
                f"same structure"
            )
    columns = []
    for k, column in enumerate(zip(*(leaves for leaves, _ in flat))):
        shape, dtype = np.shape(column[0]), np.asarray(column[0]).dtype
        for offset, leaf in enumerate(column[1:], 1):
            if np.shape(leaf) != shape or np.asarray(leaf).dtype != dtype:
                path = leaf_paths(treedef0)[k]
                raise ValueError(
                    f"Dataset.batch: cannot stack element {first_index + offset} with element "
                    f"{first_index} (the first of its batch): {path} has shape "
                    f"{np.shape(leaf)} and dtype {np.asarray(leaf).dtype} in element "
                    f"{first_index + offset} but shape {shape} and dtype {dtype} in element "
                    f"{first_index}. The elements of a batch must have the same shapes and "
                    f"dtypes: pad or resize them first, or use batch(1)"
                )
        columns.append(np.stack(column))
    return unflatten(treedef0, columns)


class Unbatch(UnaryStage):
    """Splits every element along its first dimension into that many elements."""

    def iterate(self):
        return self._rows()

    def _rows(self):
        for index, element in enumerate(self.upstream.iterate()):
            leaves, treedef = flatten(element)
            length = leading_length(leaves, treedef, f"Dataset.unbatch: element {index}")
            yield from iter_slices(leaves, treedef, length)

    def cardinality(self):
        # Batch sizes are only known by reading the batches.
        n = self.upstream.cardinality()
        return INFINITE_CARDINALITY if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def element_spec(self):
        leaves, treedef = flatten(self.upstream.element_spec())
        for path, spec in zip(leaf_paths(treedef), leaves):
            if not spec.shape:
                raise ValueError(f"Dataset.unbatch: cannot unbatch {path}, a scalar")
        return unflatten(treedef, [TensorSpec(s.shape[1:], s.dtype) for s in leaves])
