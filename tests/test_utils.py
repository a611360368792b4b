"""Tests of ember.utils: the global seed (rng), to_categorical and normalize."""

import os
import pathlib
import random
import subprocess
import sys
import threading

import numpy as np
import pytest

import ember
from ember.utils import normalize, rng, set_random_seed, to_categorical


# -- rng ---------------------------------------------------------------------------------------


def test_mix64_is_splitmix64():
    # The first outputs of splitmix64 seeded with 0 (reference values of the algorithm); the
    # C++ core (cpp/include/ember/rng.h) uses the same function.
    assert rng._mix64(0) == 0xE220A8397B1DCDAF
    assert rng._mix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_next_seed_is_reproducible_after_set_random_seed():
    set_random_seed(1234)
    first = [rng.next_seed() for _ in range(5)]
    set_random_seed(1234)
    second = [rng.next_seed() for _ in range(5)]
    assert first == second
    assert len(set(first)) == 5
    assert all(0 <= s < 2**63 for s in first)
    set_random_seed(1235)
    assert [rng.next_seed() for _ in range(5)] != first


def test_set_random_seed_seeds_python_and_numpy():
    set_random_seed(99)
    a = (random.random(), np.random.rand())
    set_random_seed(99)
    b = (random.random(), np.random.rand())
    assert a == b
    set_random_seed(100)
    assert (random.random(), np.random.rand()) != a


def test_set_random_seed_accepts_seeds_beyond_32_bits():
    set_random_seed(2**40 + 3)
    first = rng.next_seed()
    set_random_seed(3)  # same low 32 bits for NumPy, different ember seed
    assert rng.next_seed() != first


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError),
                                        ("7", TypeError), (None, TypeError)])
def test_set_random_seed_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="set_random_seed"):
        set_random_seed(bad)


def test_numpy_generator_is_philox_and_reproducible():
    g = rng.numpy_generator(5)
    assert isinstance(g, np.random.Generator)
    assert isinstance(g.bit_generator, np.random.Philox)
    np.testing.assert_array_equal(g.random(4), rng.numpy_generator(5).random(4))
    assert not np.array_equal(rng.numpy_generator(6).random(4), rng.numpy_generator(5).random(4))
    with pytest.raises(ValueError, match="numpy_generator"):
        rng.numpy_generator(-3)


def test_numpy_generator_without_seed_follows_the_global_seed():
    set_random_seed(7)
    a = [rng.numpy_generator().random() for _ in range(3)]
    set_random_seed(7)
    b = [rng.numpy_generator().random() for _ in range(3)]
    assert a == b
    assert len(set(a)) == 3


def test_next_seed_is_thread_safe():
    set_random_seed(11)
    expected = {rng.next_seed() for _ in range(4000)}
    set_random_seed(11)
    drawn = [[] for _ in range(4)]

    def draw(out):
        for _ in range(1000):
            out.append(rng.next_seed())

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [s for out in drawn for s in out]
    assert len(got) == len(set(got)) == 4000
    assert set(got) == expected


def test_unseeded_processes_draw_different_seeds():
    # Without set_random_seed the seed comes from os entropy: two fresh processes differ.
    code = "from ember.utils import rng; print(rng.next_seed())"
    path = str(pathlib.Path(ember.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": path}
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       check=True).stdout
        for _ in range(2)
    }
    assert len(outs) == 2


# -- to_categorical ----------------------------------------------------------------------------


def test_to_categorical_basic():
    out = to_categorical([0, 1, 2, 3], num_classes=4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(4, dtype=np.float32))


def test_to_categorical_infers_num_classes():
    out = to_categorical(np.array([2, 0]))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize(
    "shape, expected",
    [((6,), (6, 3)), ((6, 1), (6, 3)), ((2, 3), (2, 3, 3)), ((2, 3, 1), (2, 3, 3)),
     ((1,), (1, 3)), ((), (3,))],
)
def test_to_categorical_shapes(shape, expected):
    x = np.arange(int(np.prod(shape))).reshape(shape) % 3
    out = to_categorical(x, num_classes=3)
    assert out.shape == expected
    np.testing.assert_array_equal(out.argmax(-1), x.reshape(expected[:-1]))
    np.testing.assert_array_equal(out.sum(-1), np.ones(expected[:-1]))


def test_to_categorical_accepts_whole_float_labels():
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])


def test_to_categorical_empty_with_num_classes():
    assert to_categorical(np.array([], dtype=np.int64), num_classes=3).shape == (0, 3)


@pytest.mark.parametrize(
    "x, kwargs, error, match",
    [
        ([0, -1, 2], {}, ValueError, "labels >= 0.*-1"),
        ([0, 5], {"num_classes": 3}, ValueError, "num_classes=3.*5"),
        ([0.5, 1.0], {}, ValueError, "integer class labels.*0.5"),
        ([np.nan], {}, ValueError, "integer class labels"),
        (["a", "b"], {}, ValueError, "dtype"),
        ([0, 1], {"num_classes": 0}, ValueError, "num_classes"),
        ([0, 1], {"num_classes": 2.0}, TypeError, "num_classes"),
        ([], {}, ValueError, "empty"),
    ],
)
def test_to_categorical_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        to_categorical(x, **kwargs)


# -- normalize ---------------------------------------------------------------------------------


def test_normalize_l2_last_axis():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    out = normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])


def test_normalize_axis_and_order():
    x = np.array([[1.0, 2.0], [3.0, 2.0]])
    np.testing.assert_allclose(normalize(x, axis=0, order=1), [[0.25, 0.5], [0.75, 0.5]])
    np.testing.assert_allclose(normalize([[2.0, 0.0]], order=np.inf), [[1.0, 0.0]])


def test_normalize_errors():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        normalize(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis"):
        normalize(np.ones((2, 2)), axis=None)
    with pytest.raises(ValueError, match="scalar"):
        normalize(3.0)
    with pytest.raises(TypeError, match="numeric"):
        normalize(object())


def test_utils_exports():
    import ember.utils as utils

    for name in ("set_random_seed", "to_categorical", "normalize", "Progbar"):
        assert hasattr(utils, name)
