"""Element-wise and stream transformations: map, filter, repeat, take, skip, cache, zip,
concatenate. (batch/unbatch, shuffle and prefetch have their own modules.)"""

import itertools

import numpy as np

from ember.data.constants import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
from ember.data.parallel import ordered_parallel_map
from ember.data.spec import spec_of
from ember.data.stage import Stage, UnaryStage, first_element
from ember.data.structure import (
    call_with_element,
    describe,
    flatten,
    to_numpy,
    unflatten,
)


class Map(UnaryStage):
    """Applies fn to every element; with `workers` set, that many calls run at once on a
    thread pool while the output keeps the input order."""

    def __init__(self, upstream, fn, workers):
        super().__init__(upstream)
        self._fn = fn
        self._workers = workers
        self._spec = None

    def iterate(self):
        elements = self.upstream.iterate()
        if self._workers is None:
            return (self._apply(element) for element in elements)
        return ordered_parallel_map(self._apply, elements, self._workers)

    def _apply(self, element):
        result = call_with_element(self._fn, element)
        if result is None:
            raise ValueError(
                f"Dataset.map: the function returned None for an element "
                f"{describe(element)}; it must return the new element"
            )
        return to_numpy(result)

    def element_spec(self):
        # A Python function cannot be traced as tf.data does: apply it to the first element.
        if self._spec is None:
            self._spec = spec_of(self._apply(first_element(self.upstream, "Dataset.map")))
        return self._spec


class Filter(UnaryStage):
    """Keeps the elements for which the predicate returns True."""

    def __init__(self, upstream, predicate):
        super().__init__(upstream)
        self._predicate = predicate

    def iterate(self):
        return (element for element in self.upstream.iterate() if self._keep(element))

    def _keep(self, element):
        verdict = np.asarray(call_with_element(self._predicate, element))
        if verdict.shape != () or verdict.dtype != np.bool_:
            raise TypeError(
                f"Dataset.filter: the predicate must return a scalar boolean, received "
                f"{verdict.dtype} of shape {verdict.shape}"
            )
        return bool(verdict)

    def cardinality(self):
        return UNKNOWN_CARDINALITY


class Repeat(UnaryStage):
    """Runs `count` passes over the upstream (forever when count is None); every pass is a
    fresh iteration, so an upstream shuffle reshuffles."""

    def __init__(self, upstream, count):
        super().__init__(upstream)
        self._count = count

    def iterate(self):
        return self._passes()

    def _passes(self):
        passes = itertools.count() if self._count is None else range(self._count)
        for _ in passes:
            produced = False
            for element in self.upstream.iterate():
                produced = True
                yield element
            if not produced:  # repeating an empty dataset forever yields nothing, not a hang
                return

    def cardinality(self):
        n = self.upstream.cardinality()
        if self._count == 0 or n == 0:
            return 0
        if n < 0:
            return n
        return INFINITE_CARDINALITY if self._count is None else n * self._count


class Take(UnaryStage):
    """The first `count` elements (all of them when count is -1)."""

    def __init__(self, upstream, count):
        super().__init__(upstream)
        self._count = count

    def iterate(self):
        stop = None if self._count == -1 else self._count
        return (element for element in itertools.islice(self.upstream.iterate(), stop))

    def cardinality(self):
        # As tf.data: an unknown upstream stays unknown even though count bounds it.
        n = self.upstream.cardinality()
        if n == UNKNOWN_CARDINALITY:
            return n
        if n == INFINITE_CARDINALITY:
            return self._count
        return n if self._count == -1 else min(n, self._count)


class Skip(UnaryStage):
    """All but the first `count` elements (nothing when count is -1)."""

    def __init__(self, upstream, count):
        super().__init__(upstream)
        self._count = count

    def iterate(self):
        return self._rest()

    def _rest(self):
        elements = self.upstream.iterate()
        if self._count == -1:
            for _ in elements:  # tf.data reads the whole upstream, side effects included
                pass
            return
        yield from itertools.islice(elements, self._count, None)

    def cardinality(self):
        n = self.upstream.cardinality()
        if n < 0:
            return n
        return 0 if self._count == -1 else max(n - self._count, 0)


class Cache(UnaryStage):
    """Keeps the elements of the first complete pass in memory; later passes read them from
    there. A pass abandoned half way caches nothing, so a cache is never partial."""

    def __init__(self, upstream):
        super().__init__(upstream)
        self._elements = None

    def iterate(self):
        return self._elements_or_fill()

    def _elements_or_fill(self):
        if self._elements is not None:
            yield from self._elements
            return
        filled = []
        for element in self.upstream.iterate():
            filled.append(element)
            yield element
        self._elements = tuple(filled)


class Zip(Stage):
    """Elements of several datasets side by side, in the nesting the datasets were given in;
    stops with the shortest."""

    def __init__(self, stages, treedef):
        self._stages = stages
        self._treedef = treedef

    def iterate(self):
        iterators = [stage.iterate() for stage in self._stages]
        return (unflatten(self._treedef, list(elements)) for elements in zip(*iterators))

    def cardinality(self):
        # tf.data's rule: any unknown input makes the result unknown.
        result = INFINITE_CARDINALITY
        for n in (stage.cardinality() for stage in self._stages):
            if n == UNKNOWN_CARDINALITY:
                return n
            if n != INFINITE_CARDINALITY:
                result = n if result == INFINITE_CARDINALITY else min(result, n)
        return result

    def element_spec(self):
        return unflatten(self._treedef, [stage.element_spec() for stage in self._stages])


class Concatenate(Stage):
    """The elements of `first`, then those of `second`."""

    def __init__(self, first, second):
        self._first = first
        self._second = second

    def iterate(self):
        return (element for stage in (self._first, self._second) for element in stage.iterate())

    def cardinality(self):
        a, b = self._first.cardinality(), self._second.cardinality()
        if INFINITE_CARDINALITY in (a, b):
            return INFINITE_CARDINALITY
        if UNKNOWN_CARDINALITY in (a, b):
            return UNKNOWN_CARDINALITY
        return a + b

    def element_spec(self):
        first, second = self._first.element_spec(), self._second.element_spec()
        (specs_a, treedef_a), (specs_b, treedef_b) = flatten(first), flatten(second)
        common = None
        if treedef_a == treedef_b:
            common = [a.most_specific_common(b) for a, b in zip(specs_a, specs_b)]
        if common is None or None in common:
            raise ValueError(
                f"Dataset.concatenate: the two datasets have incompatible elements: {first} "
                f"and {second}; they need the same structure, dtypes and ranks"
            )
        return unflatten(treedef_a, common)
