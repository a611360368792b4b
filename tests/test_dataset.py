"""Tests of ember.data.Dataset against plain Python semantics (lists, itertools) and tf.data's
rules: structures, cardinality, seeded shuffling, threaded map and prefetch, and bad input."""

import collections
import itertools
import threading
import time

import numpy as np
import pytest

from ember.data import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, TensorSpec
from ember.utils import set_random_seed


def as_list(dataset):
    """Elements as plain Python values (scalars and lists), to compare with Python results."""
    return [to_python(element) for element in dataset]


def to_python(element):
    if isinstance(element, dict):
        return {key: to_python(value) for key, value in element.items()}
    if isinstance(element, (tuple, list)):
        return type(element)(to_python(value) for value in element)
    return np.asarray(element).tolist()


def generated(values):
    """A from_generator dataset of `values` (no row shortcut, unknown cardinality)."""
    return Dataset.from_generator(lambda: iter(values))


# -- sources -----------------------------------------------------------------------------------


def test_from_tensor_slices_array_gives_its_rows():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ds = Dataset.from_tensor_slices(x)
    rows = list(ds)
    assert len(rows) == 4 and ds.cardinality() == 4 and len(ds) == 4
    for row, expected in zip(rows, x):
        assert isinstance(row, np.ndarray) and row.dtype == np.float32
        np.testing.assert_array_equal(row, expected)
    assert ds.element_spec == TensorSpec((3,), "float32")


def test_from_tensor_slices_keeps_tuple_dict_and_nested_structures():
    x, y = np.arange(6).reshape(3, 2), np.array([0.5, 1.5, 2.5])
    assert as_list(Dataset.from_tensor_slices((x, y))) == [
        ([0, 1], 0.5), ([2, 3], 1.5), ([4, 5], 2.5)
    ]
    assert as_list(Dataset.from_tensor_slices({"b": y, "a": x})) == [
        {"a": [0, 1], "b": 0.5}, {"a": [2, 3], "b": 1.5}, {"a": [4, 5], "b": 2.5}
    ]
    nested = as_list(Dataset.from_tensor_slices(({"image": x, "mask": x > 2}, (y, [7, 8, 9]))))
    assert nested[2] == ({"image": [4, 5], "mask": [True, True]}, (2.5, 9))
    # A list of arrays is a structure (as a tuple); a list of numbers is one array.
    assert as_list(Dataset.from_tensor_slices([x, y]))[0] == [[0, 1], 0.5]
    assert as_list(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]


def test_from_tensor_slices_rejects_mismatched_lengths_scalars_and_empty_structures():
    lengths = r"from_tensor_slices.*element\[0\]: 100.*element\[1\]: 99"
    with pytest.raises(ValueError, match=lengths):
        Dataset.from_tensor_slices((np.zeros((100, 2)), np.zeros(99)))
    with pytest.raises(ValueError, match=r"'x'\]: 3.*'y'\]: 4"):
        Dataset.from_tensor_slices({"x": np.zeros(3), "y": np.zeros(4)})
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices((np.zeros(3), 5.0))
    with pytest.raises(ValueError, match="empty structure"):
        Dataset.from_tensor_slices(())


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (10, 1, -2), (3, 3), (5, 1)])
def test_range_matches_python_range(args):
    ds = Dataset.range(*args)
    assert as_list(ds) == list(range(*args))
    assert ds.cardinality() == len(range(*args))
    assert all(np.asarray(v).dtype == np.int64 for v in ds)


def test_range_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Dataset.range"):
        Dataset.range(1, 5, 0)
    with pytest.raises(TypeError, match="Dataset.range"):
        Dataset.range(2.5)


def test_from_generator_is_reiterable_and_converts_to_numpy():
    calls = []

    def generator():
        calls.append(1)
        for i in range(3):
            yield (i, [float(i), 2.0 * i])

    ds = Dataset.from_generator(generator)
    assert as_list(ds) == as_list(ds) == [(0, [0.0, 0.0]), (1, [1.0, 2.0]), (2, [2.0, 4.0])]
    assert len(calls) == 2  # called once per pass
    _, y = next(iter(ds))
    assert isinstance(y, np.ndarray) and y.shape == (2,)
    assert ds.cardinality() == UNKNOWN_CARDINALITY


def test_from_generator_checks_and_casts_against_output_signature():
    signature = (TensorSpec((None,), "float32"), TensorSpec((), "int32"))

    def ragged():
        yield [1.0, 2.0], 1
        yield [3.0], 2

    ds = Dataset.from_generator(ragged, output_signature=signature)
    first, second = list(ds)
    assert first[0].dtype == np.float32 and np.asarray(first[1]).dtype == np.int32
    assert second[0].shape == (1,)
    assert ds.element_spec == signature

    wrong_shape = Dataset.from_generator(
        lambda: iter([np.zeros(3), np.zeros(4)]), output_signature=TensorSpec((3,))
    )
    with pytest.raises(ValueError, match=r"element 1: element has shape \(4,\).*\(3,\)"):
        list(wrong_shape)
    wrong_kind = Dataset.from_generator(
        lambda: iter([np.ones(2)]), output_signature=TensorSpec((2,), "int64")
    )
    with pytest.raises(TypeError, match="float64.*int64"):
        list(wrong_kind)
    wrong_structure = Dataset.from_generator(lambda: iter([np.ones(2)]), output_signature=signature)
    with pytest.raises(ValueError, match="element 0 has the structure float64\\(2,\\)"):
        list(wrong_structure)


def test_from_generator_rejects_generator_objects_and_bad_signatures():
    def generator():
        yield 1

    with pytest.raises(TypeError, match="generator function, not a generator object"):
        Dataset.from_generator(generator())
    with pytest.raises(TypeError, match="TensorSpec"):
        Dataset.from_generator(generator, output_signature=(np.float32,))
    with pytest.raises(TypeError, match="return an iterator"):
        list(Dataset.from_generator(lambda: 5))


# -- batch / unbatch ---------------------------------------------------------------------------


def chunks(values, size, drop_remainder):
    out = [values[i:i + size] for i in range(0, len(values), size)]
    return [c for c in out if len(c) == size] if drop_remainder else out


@pytest.mark.parametrize("size", [1, 3, 4, 10, 11])
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_batch_matches_python_chunks(size, drop_remainder):
    values = list(range(10))
    expected = chunks(values, size, drop_remainder)
    for source in (Dataset.range(10), generated(values)):
        ds = source.batch(size, drop_remainder=drop_remainder)
        assert as_list(ds) == expected
    ds = Dataset.range(10).batch(size, drop_remainder=drop_remainder)
    assert ds.cardinality() == len(expected) == len(ds)


def test_batch_stacks_structures_leaf_by_leaf():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5)
    for ds in (Dataset.from_tensor_slices({"x": x, "y": (y, y * 2)}),
               generated([{"x": x[i], "y": (y[i], y[i] * 2)} for i in range(5)])):
        batches = list(ds.batch(2))
        assert [b["x"].shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
        np.testing.assert_array_equal(batches[1]["x"], x[2:4])
        np.testing.assert_array_equal(batches[2]["y"][1], [8])
        assert batches[0]["x"].dtype == np.float32
    spec = Dataset.from_tensor_slices(x).batch(2).element_spec
    assert spec == TensorSpec((None, 2), "float32")
    assert Dataset.from_tensor_slices(x).batch(2, True).element_spec.shape == (2, 2)


def test_batch_of_generator_with_changing_shapes_names_the_element_and_both_shapes():
    elements = [np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(3)]
    with pytest.raises(ValueError, match=r"element 3 with element 2.*\(3,\).*\(2,\)"):
        list(generated(elements).batch(2))
    # Shapes may differ between batches, as in tf.data.
    assert [b.shape for b in generated(elements).batch(1)] == [(1, 2)] * 3 + [(1, 3)]


def test_batch_of_generator_with_changing_dtypes_or_structures_raises():
    with pytest.raises(ValueError, match=r"element 1 .*dtype float64.*dtype int64"):
        list(generated([np.array([1, 2]), np.array([1.0, 2.0])]).batch(2))
    with pytest.raises(ValueError, match=r"element 1 has the structure \(int64\(\), int64\(\)\)"):
        list(generated([np.int64(1), (np.int64(1), np.int64(2))]).batch(2))


@pytest.mark.parametrize("bad", [0, -3])
def test_batch_rejects_non_positive_sizes(bad):
    expected = f"Dataset.batch: expected `batch_size` >= 1, received {bad}"
    with pytest.raises(ValueError, match=expected):
        Dataset.range(3).batch(bad)


def test_batch_rejects_non_integer_sizes():
    with pytest.raises(TypeError, match="batch_size"):
        Dataset.range(3).batch(2.0)
    with pytest.raises(TypeError, match="batch_size"):
        Dataset.range(3).batch(True)


def test_unbatch_inverts_batch():
    x = np.arange(14).reshape(7, 2)
    ds = Dataset.from_tensor_slices((x, -x[:, 0])).batch(3)
    assert as_list(ds.unbatch()) == as_list(Dataset.from_tensor_slices((x, -x[:, 0])))
    assert ds.unbatch().cardinality() == UNKNOWN_CARDINALITY
    assert ds.unbatch().element_spec[0] == TensorSpec((2,), x.dtype)
    with pytest.raises(ValueError, match="unbatch: element 0: cannot slice element, a scalar"):
        list(Dataset.range(3).unbatch())
    with pytest.raises(ValueError, match=r"unbatch: element 0: .*element\[0\]: 2, element\[1\]: 3"):
        list(generated([(np.zeros(2), np.zeros(3))]).unbatch())


# -- shuffle -----------------------------------------------------------------------------------


def test_shuffle_same_seed_same_order_and_new_order_each_epoch():
    values = list(range(50))
    a = Dataset.range(50).shuffle(50, seed=7)
    b = Dataset.range(50).shuffle(50, seed=7)
    epochs_a, epochs_b = [as_list(a) for _ in range(3)], [as_list(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert all(sorted(epoch) == values for epoch in epochs_a)
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert as_list(Dataset.range(50).shuffle(50, seed=8)) != epochs_a[0]


def test_shuffle_without_reshuffle_repeats_the_order():
    ds = Dataset.range(30).shuffle(30, seed=3, reshuffle_each_iteration=False)
    first = as_list(ds)
    assert first != list(range(30)) and as_list(ds) == first == as_list(ds)


def test_shuffle_reshuffles_between_repeats():
    ds = Dataset.range(20).shuffle(20, seed=1).repeat(2)
    values = as_list(ds)
    assert sorted(values[:20]) == sorted(values[20:]) == list(range(20))
    assert values[:20] != values[20:]


def test_shuffle_without_seed_follows_set_random_seed():
    set_random_seed(123)
    a = as_list(Dataset.range(40).shuffle(40))
    set_random_seed(123)
    b = as_list(Dataset.range(40).shuffle(40))
    assert a == b and a != list(range(40))


def test_shuffle_buffer_one_is_identity_and_large_buffer_is_a_permutation():
    assert as_list(Dataset.range(20).shuffle(1, seed=0)) == list(range(20))
    for buffer_size in (20, 1000):
        out = as_list(Dataset.range(20).shuffle(buffer_size, seed=0))
        assert sorted(out) == list(range(20)) and out != list(range(20))


def test_shuffle_buffer_bounds_how_early_an_element_can_appear():
    # The buffer algorithm: output i is chosen among inputs 0 .. i + buffer_size - 1.
    buffer_size = 4
    for seed in range(20):
        out = as_list(Dataset.range(40).shuffle(buffer_size, seed=seed))
        assert sorted(out) == list(range(40))
        assert all(value <= i + buffer_size - 1 for i, value in enumerate(out))


def test_shuffle_with_full_buffer_is_uniform():
    counts = collections.Counter(
        as_list(Dataset.range(5).shuffle(5, seed=seed))[0] for seed in range(1000)
    )
    assert set(counts) == set(range(5))
    assert all(120 <= n <= 280 for n in counts.values()), counts


def test_batch_of_in_memory_arrays_slices_without_copying():
    x = np.arange(20.0).reshape(10, 2)
    batches = list(Dataset.from_tensor_slices(x).batch(4))
    assert all(np.shares_memory(batch, x) for batch in batches)
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_shuffle_then_batch_of_arrays_equals_shuffle_then_batch_of_elements():
    # batch gathers rows of in-memory arrays directly: same elements, same order.
    x = np.arange(46).reshape(23, 2)
    for drop_remainder in (False, True):
        fast = Dataset.from_tensor_slices((x, x[:, 0])).shuffle(7, seed=5)
        slow = generated([(row, row[0]) for row in x]).shuffle(7, seed=5)
        assert as_list(fast.batch(4, drop_remainder)) == as_list(slow.batch(4, drop_remainder))


@pytest.mark.parametrize("kwargs, error", [
    ({"buffer_size": 0}, ValueError), ({"buffer_size": 2.5}, TypeError),
    ({"buffer_size": 4, "seed": -1}, ValueError), ({"buffer_size": 4, "seed": "a"}, TypeError),
])
def test_shuffle_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error, match="Dataset.shuffle"):
        Dataset.range(3).shuffle(**kwargs)


# -- map / filter ------------------------------------------------------------------------------


def test_map_matches_python_map_and_unpacks_tuples_only():
    assert as_list(Dataset.range(5).map(lambda v: v * v)) == [v * v for v in range(5)]
    pairs = Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 10))
    assert as_list(pairs.map(lambda a, b: a + b)) == [0, 11, 22]
    assert as_list(pairs.map(lambda a, b: {"sum": a + b, "a": a})) == [
        {"a": a, "sum": 11 * a} for a in range(3)
    ]
    dicts = Dataset.from_tensor_slices({"a": np.arange(3)})
    assert as_list(dicts.map(lambda d: d["a"] + 1)) == [1, 2, 3]
    out = next(iter(Dataset.range(2).map(lambda v: [1.5, 2.5])))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64  # converted to NumPy
    assert Dataset.range(5).map(lambda v: v).cardinality() == 5
    assert pairs.map(lambda a, b: (a, np.zeros(4, "float32"))).element_spec == (
        TensorSpec((), "int64"), TensorSpec((4,), "float32")
    )


def test_map_rejects_bad_functions_and_parallelism():
    with pytest.raises(TypeError, match="Dataset.map: expected `map_func` to be callable"):
        Dataset.range(3).map(3)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        Dataset.range(3).map(abs, num_parallel_calls=0)
    with pytest.raises(ValueError, match="returned None"):
        list(Dataset.range(3).map(lambda v: None))


def test_parallel_map_keeps_order():
    def jittery(v):
        time.sleep(0.002 * (int(v) % 3))  # later elements often finish first
        return v * 2

    for calls in (2, 4, AUTOTUNE):
        assert as_list(Dataset.range(30).map(jittery, num_parallel_calls=calls)) == [
            2 * v for v in range(30)
        ]


def test_parallel_map_runs_calls_concurrently():
    def slow(v):
        time.sleep(0.05)
        return v

    start = time.perf_counter()
    assert as_list(Dataset.range(8).map(slow, num_parallel_calls=4)) == list(range(8))
    elapsed = time.perf_counter() - start
    assert elapsed < 0.3, f"8 calls of 0.05 s on 4 threads took {elapsed:.2f} s (serial: 0.4 s)"


def test_parallel_map_propagates_errors_and_stops_its_threads():
    def fails_at_five(v):
        if v == 5:
            raise RuntimeError("bad element 5")
        return v

    before = threading.active_count()
    seen = []
    with pytest.raises(RuntimeError, match="bad element 5"):
        for v in Dataset.range(20).map(fails_at_five, num_parallel_calls=3):
            seen.append(int(v))
    assert seen == [0, 1, 2, 3, 4]
    assert threading.active_count() == before
    iterator = iter(Dataset.range(20).map(abs, num_parallel_calls=3))
    next(iterator)
    assert threading.active_count() > before
    del iterator
    assert threading.active_count() == before


def test_filter_matches_python_filter():
    ds = Dataset.range(20).filter(lambda v: v % 3 == 0)
    assert as_list(ds) == [v for v in range(20) if v % 3 == 0]
    assert ds.cardinality() == UNKNOWN_CARDINALITY
    pairs = Dataset.from_tensor_slices((np.arange(6), np.arange(6) % 2))
    assert as_list(pairs.filter(lambda x, y: y == 1)) == [(1, 1), (3, 1), (5, 1)]
    with pytest.raises(TypeError, match="scalar boolean, received int64"):
        list(Dataset.range(3).filter(lambda v: v))
    with pytest.raises(TypeError, match=r"scalar boolean, received bool of shape \(2,\)"):
        list(Dataset.range(3).filter(lambda v: np.array([True, False])))


# -- prefetch ----------------------------------------------------------------------------------


def test_prefetch_gives_the_same_elements():
    for size in (1, 3, AUTOTUNE):
        ds = Dataset.range(25).batch(4).prefetch(size)
        assert as_list(ds) == chunks(list(range(25)), 4, False)
        assert ds.cardinality() == 7


def test_prefetch_overlaps_a_slow_producer_with_a_slow_consumer():
    def slow_producer(v):
        time.sleep(0.05)
        return v

    ds = Dataset.range(10).map(slow_producer).prefetch(2)
    start = time.perf_counter()
    for _ in ds:
        time.sleep(0.05)  # the consumer's work
    elapsed = time.perf_counter() - start
    assert elapsed < 0.85, f"took {elapsed:.2f} s; without overlap it takes 1.0 s"


def test_prefetch_reraises_producer_errors_in_the_consumer():
    def generator():
        yield np.float32(1)
        raise KeyError("generator broke")

    before = threading.active_count()
    iterator = iter(Dataset.from_generator(generator).prefetch(4))
    assert next(iterator) == 1
    with pytest.raises(KeyError, match="generator broke"):
        next(iterator)
    assert threading.active_count() == before


def test_prefetch_leaves_no_thread_behind():
    before = threading.active_count()
    ds = Dataset.range(1000).prefetch(2)
    assert as_list(ds.take(3)) == [0, 1, 2]  # take stops early: the pass is dropped
    assert threading.active_count() == before
    assert len(as_list(ds)) == 1000  # exhausted
    assert threading.active_count() == before

    iterator = iter(ds)
    assert threading.active_count() == before  # a pass starts its thread on first next()
    next(iterator)
    assert threading.active_count() == before + 1
    del iterator  # dropped half way, while the producer waits on the full queue
    assert threading.active_count() == before

    iterator = iter(ds)
    next(iterator)
    iterator.close()
    assert threading.active_count() == before


# -- repeat / take / skip / cache --------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 3])
def test_repeat_matches_python(count):
    ds = Dataset.range(4).repeat(count)
    assert as_list(ds) == list(range(4)) * count
    assert ds.cardinality() == 4 * count


def test_repeat_forever():
    for count in (None, -1):
        ds = Dataset.range(3).repeat(count)
        assert ds.cardinality() == INFINITE_CARDINALITY
        assert as_list(ds.take(8)) == list(itertools.islice(itertools.cycle(range(3)), 8))
    assert as_list(Dataset.range(0).repeat()) == []  # an empty dataset stays empty
    assert Dataset.range(0).repeat().cardinality() == 0
    with pytest.raises(ValueError, match="Dataset.repeat"):
        Dataset.range(3).repeat(-2)


@pytest.mark.parametrize("count", [0, 2, 7, 20, -1])
def test_take_and_skip_match_slicing(count):
    values = list(range(7))
    taken, skipped = (values, []) if count == -1 else (values[:count], values[count:])
    for source in (Dataset.range(7), generated(values)):
        assert as_list(source.take(count)) == taken
        assert as_list(source.skip(count)) == skipped
    assert Dataset.range(7).take(count).cardinality() == len(taken)
    assert Dataset.range(7).skip(count).cardinality() == len(skipped)


def test_take_and_skip_reject_counts_below_minus_one():
    for method in ("take", "skip"):
        with pytest.raises(ValueError, match=f"Dataset.{method}: expected `count` >= 0, or -1"):
            getattr(Dataset.range(3), method)(-2)
        with pytest.raises(TypeError, match=f"Dataset.{method}"):
            getattr(Dataset.range(3), method)(1.0)


def test_cache_reads_upstream_once_and_only_caches_complete_passes():
    calls = []

    def record(v):
        calls.append(int(v))
        return v

    ds = Dataset.range(5).map(record).cache()
    assert as_list(ds.take(2)) == [0, 1]  # an abandoned pass caches nothing
    assert as_list(ds) == list(range(5))
    assert as_list(ds) == list(range(5)) == as_list(ds)
    assert calls == [0, 1] + list(range(5))
    assert ds.cardinality() == 5


def test_cache_keeps_a_shuffled_order_fixed():
    ds = Dataset.range(20).shuffle(20, seed=2).cache()
    assert as_list(ds) == as_list(ds)


# -- zip / concatenate -------------------------------------------------------------------------


def test_zip_matches_python_zip_and_keeps_structure():
    a, b = Dataset.range(5), Dataset.range(10, 13)
    assert as_list(Dataset.zip(a, b)) == list(zip(range(5), range(10, 13)))
    assert as_list(Dataset.zip((a, b))) == list(zip(range(5), range(10, 13)))
    assert as_list(Dataset.zip({"x": a, "y": (b, a)}))[1] == {"x": 1, "y": (11, 1)}
    assert Dataset.zip(a, b).cardinality() == 3
    assert Dataset.zip(a, b.repeat()).cardinality() == 5
    assert Dataset.zip(a, b.filter(lambda v: True)).cardinality() == UNKNOWN_CARDINALITY
    assert Dataset.zip(a.repeat(), b.repeat()).cardinality() == INFINITE_CARDINALITY
    assert Dataset.zip(a, b).element_spec == (TensorSpec((), "int64"), TensorSpec((), "int64"))
    with pytest.raises(TypeError, match="Dataset.zip"):
        Dataset.zip(a, [1, 2])


def test_concatenate_matches_list_concatenation():
    ds = Dataset.range(3).concatenate(Dataset.range(10, 12))
    assert as_list(ds) == [0, 1, 2, 10, 11]
    assert ds.cardinality() == 5
    assert Dataset.range(3).concatenate(generated([1])).cardinality() == UNKNOWN_CARDINALITY
    assert Dataset.range(3).concatenate(Dataset.range(2).repeat()).cardinality() == (
        INFINITE_CARDINALITY
    )
    images = Dataset.from_tensor_slices(np.zeros((4, 2, 3))).batch(3)
    assert images.concatenate(images).element_spec == TensorSpec((None, 2, 3), "float64")
    mismatched = Dataset.range(3).concatenate(Dataset.from_tensor_slices(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="incompatible"):
        _ = mismatched.element_spec
    with pytest.raises(TypeError, match="Dataset.concatenate"):
        Dataset.range(3).concatenate([1, 2])


# -- cardinality, len, iteration ---------------------------------------------------------------


def test_cardinality_propagation():
    finite = Dataset.range(10)
    infinite = finite.repeat()
    unknown = finite.filter(lambda v: True)
    assert infinite.batch(3).cardinality() == INFINITE_CARDINALITY
    assert unknown.batch(3).cardinality() == UNKNOWN_CARDINALITY
    assert infinite.take(7).cardinality() == 7
    assert unknown.take(7).cardinality() == UNKNOWN_CARDINALITY
    assert infinite.skip(7).cardinality() == INFINITE_CARDINALITY
    assert infinite.unbatch().cardinality() == INFINITE_CARDINALITY
    for ds in (finite.shuffle(4), finite.prefetch(2), finite.cache(), finite.map(abs)):
        assert ds.cardinality() == 10
    assert unknown.repeat(0).cardinality() == 0


def test_len_raises_type_error_when_infinite_or_unknown_and_bool_is_true():
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(Dataset.range(3).filter(lambda v: True))
    assert bool(Dataset.range(3).filter(lambda v: True))
    assert bool(Dataset.range(0))


def test_dataset_constructor_is_not_for_arrays():
    with pytest.raises(TypeError, match="from_tensor_slices"):
        Dataset(np.zeros(3))


def test_as_numpy_iterator_and_immutability():
    ds = Dataset.range(6)
    batched = ds.batch(4)
    assert as_list(ds.as_numpy_iterator()) == list(range(6))
    assert as_list(ds) == list(range(6)) and as_list(batched) == [[0, 1, 2, 3], [4, 5]]
    iterator = iter(ds)
    assert next(iterator) == 0 and next(iter(ds)) == 0  # passes are independent


def test_typical_training_pipeline():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 4)).astype("float32"), rng.integers(0, 3, size=100)
    ds = (Dataset.from_tensor_slices((x, y)).shuffle(100, seed=0).batch(32)
          .map(lambda xb, yb: (xb * 2, yb), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE))
    assert len(ds) == 4
    for _ in range(2):
        batches = list(ds)
        assert [b[0].shape for b in batches] == [(32, 4)] * 3 + [(4, 4)]
        xs, ys = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
        # Every (x, y) pair arrives once, with x doubled by the map.
        pairs = sorted(zip(map(tuple, (xs / 2).tolist()), ys.tolist()))
        assert pairs == sorted(zip(map(tuple, x.tolist()), y.tolist()))
