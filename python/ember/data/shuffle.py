"""shuffle(): tf.data's buffer algorithm, seeded per pass."""

import itertools

import numpy as np

from ember.data.stage import UnaryStage

_DRAW_BLOCK = 1024  # random draws made per NumPy call: one call per element would dominate


class Shuffle(UnaryStage):
    """Keeps a buffer of `buffer_size` elements and emits one picked uniformly at random,
    refilling its slot from upstream; a buffer at least as large as the dataset gives a uniform
    permutation, a buffer of one gives the input order.

    Pass p draws from a generator seeded with (seed, p) when reshuffle_each_iteration, else with
    (seed, 0): so a fixed seed fixes the whole sequence of epoch orders.
    """

    def __init__(self, upstream, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(upstream)
        self._buffer_size = buffer_size
        self._seed = seed
        self._passes = itertools.count() if reshuffle_each_iteration else itertools.repeat(0)

    def iterate(self):
        return _shuffled(self.upstream.iterate(), self._buffer_size, self._next_pass_indices())

    def rows(self):
        # The algorithm never looks at the elements, so shuffling row numbers with the same
        # draws gives the same order.
        upstream_rows = self.upstream.rows()
        if upstream_rows is None:
            return None
        source, order = upstream_rows
        return source, _shuffled(iter(order), self._buffer_size, self._next_pass_indices())

    def _next_pass_indices(self):
        return _UniformIndices(np.random.default_rng((self._seed, next(self._passes))))


def _shuffled(elements, buffer_size, indices):
    buffer = list(itertools.islice(elements, buffer_size))
    for element in elements:
        i = indices.below(len(buffer))
        yield buffer[i]
        buffer[i] = element
    while buffer:
        i = indices.below(len(buffer))
        buffer[i], buffer[-1] = buffer[-1], buffer[i]
        yield buffer.pop()


class _UniformIndices:
    """Uniform integers below n from 62-bit draws (the modulo bias, n / 2**62, is nil)."""

    def __init__(self, rng):
        self._rng = rng
        self._block = []
        self._next = 0

    def below(self, n):
        if self._next == len(self._block):
            self._block = self._rng.integers(0, 1 << 62, size=_DRAW_BLOCK).tolist()
            self._next = 0
        value = self._block[self._next]
        self._next += 1
        return value % n
