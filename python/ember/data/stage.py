"""The node type of an input pipeline.

A `Dataset` is an immutable handle on one `Stage`; a transformation wraps the stage in a new
one. Stages know nothing of `Dataset`, so sources and transformations do not import the facade
(no import cycle), and the facade alone validates user arguments.
"""

import abc


class Stage(abc.ABC):
    """One source or transformation of a pipeline."""

    @abc.abstractmethod
    def iterate(self):
        """Returns a fresh generator over the elements (nested NumPy arrays).

        Each call starts an independent pass, which is what makes datasets re-iterable. It is a
        generator (not any iterator) so that closing it, or dropping it, releases the threads
        and iterators of every stage beneath it.
        """

    @abc.abstractmethod
    def cardinality(self):
        """The number of elements, or INFINITE_CARDINALITY / UNKNOWN_CARDINALITY."""

    @abc.abstractmethod
    def element_spec(self):
        """The element structure with a TensorSpec for each array."""

    def rows(self):
        """(source, order) when one pass of this stage is the rows `order` of in-memory arrays,
        else None.

        `source.take_rows(index)` returns the rows at an index array or slice, in the element
        structure, with a leading batch dimension; `order` is an iterable of row numbers for one
        fresh pass (a `range` of step 1 when the rows are consecutive). It lets `batch` gather a
        whole batch with one NumPy call per array instead of stacking elements one by one, which
        dominates an epoch's cost otherwise; the elements and their order are the same.
        """


class UnaryStage(Stage):
    """A transformation of one upstream stage; by default it keeps the upstream's cardinality
    and element spec, and subclasses override what they change."""

    def __init__(self, upstream):
        self.upstream = upstream

    def cardinality(self):
        return self.upstream.cardinality()

    def element_spec(self):
        return self.upstream.element_spec()


def first_element(stage, who):
    """Produces one element of `stage`; used where the element spec cannot be known without
    running user code (a generator without output_signature, a map function)."""
    for element in stage.iterate():
        return element
    raise ValueError(f"{who}: cannot infer the element spec of an empty dataset")
