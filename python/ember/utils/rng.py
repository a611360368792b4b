"""The one source of randomness in ember.

`set_random_seed(seed)` makes a run reproducible: it seeds Python's `random`, NumPy's global
generator and ember's own state. Everything inside ember that needs randomness (layer
initializers, dropout, the seeds handed to C++ programs) asks `next_seed()` for a fresh seed,
which is a pure function of (seed, counter): the same script with the same seed draws the same
seeds in the same order, whatever the thread count.

Without `set_random_seed`, the seed comes from the operating system's entropy, once.
"""

import os
import random
import threading

import numpy as np

_MASK64 = (1 << 64) - 1
_MASK63 = (1 << 63) - 1

_lock = threading.Lock()
_seed = None  # the user's seed, or one drawn from os entropy on first use
_counter = 0  # how many seeds next_seed() has handed out since the last set_random_seed


def _mix64(z):
    """splitmix64 finaliser: the same mixing as ember::mix64 in cpp/include/ember/rng.h."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _check_seed(seed, name):
    # bool is an int subclass, but set_random_seed(True) is surely a mistake.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"{name}: expected `seed` to be an integer, received {seed!r} "
            f"of type {type(seed).__name__}"
        )
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"{name}: expected a non-negative `seed`, received {seed}")
    return seed


def set_random_seed(seed):
    """Sets all random seeds (Python, NumPy and ember) so that a run is reproducible.

    Args:
        seed: a non-negative integer.
    """
    global _seed, _counter
    seed = _check_seed(seed, "set_random_seed")
    random.seed(seed)
    # NumPy's legacy global generator only takes 32-bit seeds.
    np.random.seed(seed & 0xFFFFFFFF)
    with _lock:
        _seed = seed & _MASK64
        _counter = 0


def next_seed():
    """Returns a fresh 63-bit seed, derived from the global seed and a counter."""
    global _seed, _counter
    with _lock:
        if _seed is None:
            _seed = int.from_bytes(os.urandom(8), "little")
        counter = _counter
        _counter += 1
        seed = _seed
    return _mix64(seed ^ _mix64(counter)) & _MASK63


def numpy_generator(seed=None):
    """Returns a counter-based NumPy generator (Philox).

    Args:
        seed: a non-negative integer, or None to draw one with `next_seed()`.
    """
    if seed is None:
        seed = next_seed()
    else:
        seed = _check_seed(seed, "numpy_generator")
    return np.random.Generator(np.random.Philox(seed))
