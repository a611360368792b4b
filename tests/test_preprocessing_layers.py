"""Keras's preprocessing layers (python/ember/layers/preprocessing/):
  - the worked examples of Keras's docstrings, reproduced value for value;
  - the numeric layers (Normalization, Discretization, CategoryEncoding, Resizing, CenterCrop)
    through the layer harness, inside models, and against Keras 3 (torch backend) on random
    inputs when keras imports;
  - the string and vocabulary layers (StringLookup, IntegerLookup, Hashing, TextVectorization)
    against Keras when keras *and* tensorflow import (Keras runs these layers with TensorFlow);
  - the hash functions against their reference vectors;
  - config round trips, bad input, a model with Normalization + Dense trained with fit, and a
    Dataset.map with TextVectorization feeding an Embedding model.
"""
import json
import os

import numpy as np
import pytest

import ember
from ember import layers
from ember.data import Dataset
from ember.layers.preprocessing import (
    CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup, Normalization,
    Resizing, StringLookup, TextVectorization,
)
from ember.layers.preprocessing.fingerprint import fingerprint64, siphash64
from ember.layers.preprocessing.image_resizing import interpolation_matrix
from layer_harness import run_layer_test


def _import_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        return None
    return keras if keras.backend.backend() == "torch" else None


def _has_tensorflow():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


keras = _import_keras()
needs_keras = pytest.mark.skipif(keras is None, reason="keras (torch backend) is not installed")
# Keras's string layers (lookups, Hashing, TextVectorization) need TensorFlow at run time.
needs_keras_tf = pytest.mark.skipif(keras is None or not _has_tensorflow(),
                                    reason="keras's string layers need tensorflow")


def _np(x):
    if isinstance(x, list):
        return np.array(x, dtype=object)
    return keras.ops.convert_to_numpy(x) if keras is not None else np.asarray(x)


def _roundtrip(layer):
    """get_config -> JSON -> from_config: the same config back."""
    config = layer.get_config()
    restored = type(layer).from_config(json.loads(json.dumps(config)))
    assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(config))
    return restored


# ==== Normalization ============================================================================
def test_normalization_keras_examples():
    adapt_data = np.array([1., 2., 3., 4., 5.], dtype="float32")
    layer = Normalization(axis=None)
    layer.adapt(adapt_data)
    np.testing.assert_allclose(layer(np.array([1., 2., 3.], dtype="float32")),
                               [-1.4142135, -0.70710677, 0.], rtol=1e-6)

    adapt_data = np.array([[0., 7., 4.], [2., 9., 6.], [0., 7., 4.], [2., 9., 6.]], "float32")
    layer = Normalization(axis=-1)
    layer.adapt(adapt_data)
    np.testing.assert_allclose(layer(np.array([[0., 7., 4.]], "float32")), [[-1., -1., -1.]])

    layer = Normalization(mean=3., variance=2.)
    np.testing.assert_allclose(layer(np.array([[1.], [2.], [3.]], "float32")),
                               [[-1.4142135], [-0.70710677], [0.]], rtol=1e-6)

    layer = Normalization(axis=-1, invert=True)
    layer.adapt(adapt_data)
    np.testing.assert_allclose(layer(np.array([[1., 2., 3.]], "float32")), [[2., 10., 8.]])


def test_normalization_weights_and_harness():
    mean = np.array([1.0, -2.0, 0.5], "float32")
    var = np.array([4.0, 0.25, 1.0], "float32")

    def reference(x, weights):
        m, v, _ = weights
        with np.errstate(invalid="ignore"):  # the harness draws random (negative) variances
            return (x - m) / np.maximum(np.sqrt(v), 1e-7)

    layer = run_layer_test(Normalization, {"axis": -1}, (4, 3), (4, 3),
                           expected_num_non_trainable_weights=3, reference=reference)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    layer.set_weights([mean, var, np.float32(0)])
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    np.testing.assert_allclose(layer(x), (x - mean) / np.sqrt(var), rtol=1e-6)
    # Given mean and variance are constants, not weights.
    fixed = Normalization(mean=mean, variance=var)
    np.testing.assert_allclose(fixed(x), (x - mean) / np.sqrt(var), rtol=1e-6)
    assert fixed.weights == []


def test_normalization_adapt_on_dataset_and_iterables():
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((103, 4)) * [1, 2, 3, 4] + [0, 1, 2, 3]).astype("float32")
    whole = Normalization()
    whole.adapt(data)
    np.testing.assert_allclose(whole.adapt_mean.numpy(), data.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.adapt_variance.numpy(), data.var(0), rtol=1e-5)
    labels = np.zeros(len(data), "float32")
    for source in (Dataset.from_tensor_slices(data).batch(16),
                   Dataset.from_tensor_slices((data, labels)).batch(10),  # (x, y): x counts
                   [data[:50], data[50:]]):
        layer = Normalization()
        layer.adapt(source)
        np.testing.assert_allclose(layer.adapt_mean.numpy(), data.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.adapt_variance.numpy(), data.var(0), rtol=1e-4)


def test_normalization_axes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3, 5)).astype("float32") * 3 + 1
    for axis in (None, -1, 1, (1, 2)):
        layer = Normalization(axis=axis)
        layer.adapt(x)
        keep = () if axis is None else ((axis,) if isinstance(axis, int) else axis)
        keep = tuple(a % 3 for a in keep)
        reduce = tuple(a for a in range(3) if a not in keep)
        ref = (x - x.mean(reduce, keepdims=True)) / np.sqrt(x.var(reduce, keepdims=True))
        np.testing.assert_allclose(layer(x), ref, rtol=1e-4, atol=1e-5)


def test_normalization_config_roundtrip():
    layer = Normalization(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True)
    restored = _roundtrip(layer)
    assert restored.axis == (1, 2) and restored.invert
    x = np.random.default_rng(3).standard_normal((2, 3, 2)).astype("float32")
    np.testing.assert_allclose(restored(x), layer(x))


def test_normalization_in_a_model_trains_with_fit():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((256, 3)) * [100.0, 0.01, 5.0] + [500.0, -3.0, 20.0]).astype(
        "float32")
    y = ((x - x.mean(0)) / x.std(0)) @ np.array([[1.0], [-2.0], [0.5]], "float32")
    norm = Normalization()
    norm.adapt(x)
    inputs = ember.Input(shape=(3,))
    outputs = layers.Dense(1)(norm(inputs))
    model = ember.Model(inputs, outputs)
    model.compile(optimizer=ember.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.01 * losses[0], losses
    # The adapted statistics are non-trainable: fit leaves them alone.
    np.testing.assert_allclose(norm.adapt_mean.numpy(), x.mean(0), rtol=1e-5)


def test_normalization_model_save_and_load(tmp_path):
    x = np.random.default_rng(5).standard_normal((32, 2)).astype("float32") * 4 + 2
    norm = Normalization()
    norm.adapt(x)
    inputs = ember.Input(shape=(2,))
    model = ember.Model(inputs, layers.Dense(1)(norm(inputs)))
    path = str(tmp_path / "norm.ember")
    model.save(path)
    loaded = ember.models.load_model(path, custom_objects={"Normalization": Normalization})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_normalization_bad_input():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = Normalization(name="norm_bad")
    with pytest.raises(ValueError, match="norm_bad.*empty"):
        layer.adapt(np.zeros((0, 3), "float32"))
    with pytest.raises(ValueError, match="norm_bad.*empty"):
        Normalization(name="norm_bad").adapt([])
    layer = Normalization(name="norm_bad")
    layer.adapt(np.ones((4, 3), "float32"))
    with pytest.raises(ValueError, match="norm_bad.*incompatible shape"):
        layer.adapt(np.ones((4, 5), "float32"))
    with pytest.raises(ValueError, match="axis"):
        Normalization(axis=3)(np.ones((2, 3), "float32"))
    with pytest.raises(TypeError, match="numeric"):
        Normalization().adapt(np.array([["a", "b"]]))


@needs_keras
def test_normalization_keras_parity():
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((40, 4, 3)) * 3 + 2).astype("float32")
    probe = rng.standard_normal((5, 4, 3)).astype("float32")
    for kwargs in ({}, {"axis": None}, {"axis": (1, 2)}, {"axis": 1, "invert": True}):
        ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        ours.adapt(x)
        theirs.adapt(x)
        np.testing.assert_allclose(ours(probe), _np(theirs(probe)), rtol=1e-5, atol=1e-6)
        for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    ours = Normalization(mean=[1., 2., 3.], variance=[2., 3., 4.])
    theirs = keras.layers.Normalization(mean=[1., 2., 3.], variance=[2., 3., 4.])
    np.testing.assert_allclose(ours(probe), _np(theirs(probe)), rtol=1e-6)
    # Keras's config loads into ember.
    config = keras.layers.Normalization(axis=(1, 2), invert=True).get_config()
    assert Normalization.from_config(config).axis == (1, 2)


@needs_keras_tf
def test_normalization_batched_adapt_keras_parity():
    # Keras's adapt on batches (it checks for tf.data, so it needs tensorflow to run).
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((40, 4, 3)) * 3 + 2).astype("float32")
    probe = rng.standard_normal((5, 4, 3)).astype("float32")
    batches = [x[:13], x[13:30], x[30:]]
    for kwargs in ({}, {"axis": None}, {"axis": (1, 2)}):
        ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        ours.adapt(batches)
        theirs.adapt(batches)
        np.testing.assert_allclose(ours(probe), _np(theirs(probe)), rtol=1e-4, atol=1e-5)


# ==== Discretization ===========================================================================
def test_discretization_keras_examples():
    x = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])
    out = Discretization(bin_boundaries=[0., 1., 2.])(x)
    np.testing.assert_array_equal(out, [[0, 2, 3, 1], [1, 3, 2, 1]])
    assert out.dtype == np.int32
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(x)
    np.testing.assert_array_equal(layer(x), [[0, 2, 3, 2], [1, 3, 3, 1]])


def test_discretization_modes_nan_and_model():
    layer = Discretization(bin_boundaries=[0., 1.], output_mode="one_hot")
    np.testing.assert_array_equal(layer(np.array([-1., 0.5, 7.], "float32")),
                                  np.eye(3, dtype="float32"))
    # NaN goes past the last boundary, as numpy.digitize.
    np.testing.assert_array_equal(Discretization(bin_boundaries=[0.])(
        np.array([[np.nan, -1.0, 0.0]], "float32")), [[1, 0, 1]])
    counts = Discretization(bin_boundaries=[0., 1.], output_mode="count")(
        np.array([[-1., 0.5, 0.7, 3.]], "float32"))
    np.testing.assert_array_equal(counts, [[1., 2., 1.]])
    inputs = ember.Input(shape=(4,))
    out = Discretization(bin_boundaries=[0., 1.], output_mode="multi_hot")(inputs)
    assert tuple(out.shape) == (None, 3)
    model = ember.Model(inputs, out)
    np.testing.assert_array_equal(model.predict(np.array([[-1, -2, 5, 6]], "float32"),
                                                verbose=0), [[1., 0., 1.]])
    run_layer_test(Discretization, {"bin_boundaries": [-0.5, 0.0, 0.5]}, (3, 4), (3, 4),
                   expected_output_dtype="int32", run_training_check=False,
                   reference=lambda x, w: np.digitize(x, [-0.5, 0.0, 0.5]))


def test_discretization_adapt_dataset_and_config():
    rng = np.random.default_rng(7)
    data = rng.standard_normal(1000).astype("float32")
    whole = Discretization(num_bins=5)
    whole.adapt(data)
    assert len(whole.bin_boundaries) == 4
    np.testing.assert_allclose(whole.bin_boundaries, np.quantile(data, [.2, .4, .6, .8]),
                               atol=0.05)
    streamed = Discretization(num_bins=5)
    streamed.adapt(Dataset.from_tensor_slices(data).batch(100))
    np.testing.assert_allclose(streamed.bin_boundaries, whole.bin_boundaries, atol=0.05)
    restored = _roundtrip(whole)
    assert restored.bin_boundaries == whole.bin_boundaries and restored.num_bins == 5
    np.testing.assert_array_equal(restored(data[:20]), whole(data[:20]))


def test_discretization_bad_input():
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        Discretization()
    with pytest.raises(ValueError, match="should not be set"):
        Discretization(bin_boundaries=[0.], num_bins=2)
    with pytest.raises(ValueError, match="sorted"):
        Discretization(bin_boundaries=[1., 0.])
    with pytest.raises(ValueError, match="output_mode"):
        Discretization(bin_boundaries=[0.], output_mode="tf_idf")
    with pytest.raises(ValueError, match="sparse"):
        Discretization(bin_boundaries=[0.], output_mode="one_hot", sparse=True)
    with pytest.raises(ValueError, match="initialized with `bin_boundaries`"):
        Discretization(bin_boundaries=[0.]).adapt(np.ones(3))
    with pytest.raises(ValueError, match="disc_bad.*no values"):
        Discretization(num_bins=3, name="disc_bad").adapt(np.zeros((0,)))
    with pytest.raises(ValueError, match="disc_bad.*empty"):
        Discretization(num_bins=3, name="disc_bad").adapt(Dataset.from_tensor_slices(
            np.zeros((0,), "float32")).batch(2))


@needs_keras
def test_discretization_keras_parity():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((50, 6)).astype("float32")
    x[0, 0] = np.nan
    for mode in ("int", "one_hot", "multi_hot", "count"):
        for probe in (x, x[:, :1], x[0]):
            ours = Discretization(bin_boundaries=[-1., 0., 0.3, 2.], output_mode=mode)
            theirs = keras.layers.Discretization(bin_boundaries=[-1., 0., 0.3, 2.],
                                                 output_mode=mode)
            a, b = ours(probe), _np(theirs(probe))
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


@needs_keras_tf
def test_discretization_adapt_keras_parity():
    # Keras's Discretization.adapt checks for tf.data, so it needs tensorflow to run.
    rng = np.random.default_rng(8)
    for num_bins, epsilon in ((4, 0.01), (10, 0.05), (3, 0.3)):
        ours = Discretization(num_bins=num_bins, epsilon=epsilon)
        theirs = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
        data = rng.standard_normal((200, 3)).astype("float32")
        ours.adapt(data)
        theirs.adapt(data)
        np.testing.assert_allclose(ours.bin_boundaries, theirs.bin_boundaries, rtol=1e-6)
        batched = [data[:70], data[70:]]
        ours.adapt(batched)
        theirs.adapt(batched)
        np.testing.assert_allclose(ours.bin_boundaries, theirs.bin_boundaries, rtol=1e-6)


# ==== CategoryEncoding ==========================================================================
def test_category_encoding_keras_examples():
    layer = CategoryEncoding(num_tokens=4, output_mode="one_hot")
    np.testing.assert_array_equal(layer([3, 2, 0, 1]), [[0., 0., 0., 1.], [0., 0., 1., 0.],
                                                        [1., 0., 0., 0.], [0., 1., 0., 0.]])
    layer = CategoryEncoding(num_tokens=4, output_mode="multi_hot")
    np.testing.assert_array_equal(layer([[0, 1], [0, 0], [1, 2], [3, 1]]),
                                  [[1., 1., 0., 0.], [1., 0., 0., 0.], [0., 1., 1., 0.],
                                   [0., 1., 0., 1.]])
    layer = CategoryEncoding(num_tokens=4, output_mode="count")
    count_weights = np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])
    out = layer([[0, 1], [0, 0], [1, 2], [3, 1]], count_weights=count_weights)
    np.testing.assert_allclose(out, [[0.1, 0.2, 0., 0.], [0.2, 0., 0., 0.], [0., 0.2, 0.3, 0.],
                                     [0., 0.2, 0., 0.4]], rtol=1e-6)
    assert out.dtype == np.float32


def test_category_encoding_harness_and_model():
    run_layer_test(CategoryEncoding, {"num_tokens": 6, "output_mode": "count"}, (4, 3), (4, 6),
                   input_dtype="int64", expected_output_dtype="float32",
                   reference=lambda x, w: np.stack([np.bincount(r, minlength=6) for r in x]))
    inputs = ember.Input(shape=(1,), dtype="int64")
    out = CategoryEncoding(num_tokens=3, output_mode="one_hot")(inputs)
    assert tuple(out.shape) == (None, 3)
    model = ember.Model(inputs, layers.Dense(1)(out))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.array([[0], [1], [2]]), np.array([[1.], [2.], [3.]], "float32"), verbose=0)
    _roundtrip(CategoryEncoding(num_tokens=3, output_mode="one_hot"))


def test_category_encoding_bad_input():
    layer = CategoryEncoding(num_tokens=3, name="cat_bad")
    with pytest.raises(ValueError, match=r"cat_bad.*num_tokens=3.*\[3, 7\]"):
        layer([[0, 3], [7, 1]])
    with pytest.raises(ValueError, match="cat_bad"):
        layer([[-1, 0]])
    with pytest.raises(ValueError, match="num_tokens must be set"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="num_tokens"):
        CategoryEncoding(num_tokens=0)
    with pytest.raises(ValueError, match="output_mode"):
        CategoryEncoding(num_tokens=3, output_mode="int")
    with pytest.raises(ValueError, match="count_weights"):
        layer([[0, 1]], count_weights=np.ones((1, 2)))
    with pytest.raises(TypeError, match="cat_bad.*integer"):
        layer(np.array([["a"]]))


@needs_keras
def test_category_encoding_keras_parity():
    rng = np.random.default_rng(9)
    for mode in ("one_hot", "multi_hot", "count"):
        for shape in ((7,), (5, 1), (5, 4), (3, 4, 2), ()):
            x = rng.integers(0, 6, size=shape)
            ours = CategoryEncoding(num_tokens=6, output_mode=mode)(x)
            theirs = _np(keras.layers.CategoryEncoding(num_tokens=6, output_mode=mode)(x))
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{mode} {shape}")
    x = rng.integers(0, 6, size=(5, 4))
    w = rng.random((5, 4)).astype("float32")
    ours = CategoryEncoding(num_tokens=6, output_mode="count")(x, count_weights=w)
    theirs = _np(keras.layers.CategoryEncoding(num_tokens=6, output_mode="count")(
        x, count_weights=w))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


# ==== Resizing and CenterCrop ====================================================================
def test_resize_matrices_are_keras_half_pixel_formulas():
    # Bilinear 4 -> 3: scale 4/3, sources (o + 0.5) * 4/3 - 0.5 = 1/6, 3/2, 17/6.
    m = interpolation_matrix(4, 3, "bilinear", "float64")
    np.testing.assert_allclose(m, [[5 / 6, 1 / 6, 0, 0], [0, .5, .5, 0], [0, 0, 1 / 6, 5 / 6]])
    # Nearest ("nearest-exact") 4 -> 3: floor((o + 0.5) * 4/3) = 0, 2, 3.
    np.testing.assert_array_equal(interpolation_matrix(4, 3, "nearest", "float64"),
                                  [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    # Upsampling clamps at the edges: every row sums to 1.
    np.testing.assert_allclose(interpolation_matrix(3, 7, "bilinear", "float32").sum(1), 1)


def test_resizing_integer_factor_uses_the_resize_ops_and_matches_matrices():
    x = np.random.default_rng(10).standard_normal((2, 3, 4, 2)).astype("float32")
    for interpolation in ("bilinear", "nearest"):
        out = Resizing(6, 12, interpolation=interpolation)(x)  # factors 2 and 3: the ops
        mh = interpolation_matrix(3, 6, interpolation, "float32")
        mw = interpolation_matrix(4, 12, interpolation, "float32")
        np.testing.assert_allclose(out, np.einsum("yh,nhwc,xw->nyxc", mh, x, mw), rtol=1e-5,
                                   atol=1e-6)


def test_resizing_harness_and_shapes():
    run_layer_test(Resizing, {"height": 5, "width": 3}, (2, 4, 6, 3), (2, 5, 3, 3))
    run_layer_test(Resizing, {"height": 8, "width": 12, "interpolation": "nearest"},
                   (2, 4, 6, 1), (2, 8, 12, 1))
    run_layer_test(CenterCrop, {"height": 2, "width": 3}, (2, 4, 6, 3), (2, 2, 3, 3),
                   reference=lambda x, w: x[:, 1:3, 1:4, :])
    one = np.random.default_rng(11).standard_normal((4, 6, 3)).astype("float32")
    assert Resizing(2, 2)(one).shape == (2, 2, 3)  # an unbatched image stays unbatched
    assert Resizing(2, 5, data_format="channels_first")(one).shape == (4, 2, 5)
    assert CenterCrop(3, 3)(np.ones((1, 2, 2, 1), "uint8")).dtype == np.float32
    for layer in (Resizing(3, 4, interpolation="nearest", crop_to_aspect_ratio=True),
                  Resizing(3, 4, pad_to_aspect_ratio=True, fill_value=1.0), CenterCrop(3, 4)):
        restored = _roundtrip(layer)
        np.testing.assert_allclose(restored(one), layer(one))


def test_resizing_bad_input():
    with pytest.raises(ValueError, match="not supported by ember"):
        Resizing(3, 3, interpolation="bicubic")
    with pytest.raises(ValueError, match="interpolation"):
        Resizing(3, 3, interpolation="cubic")
    with pytest.raises(ValueError, match="only one of"):
        Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="antialias"):
        Resizing(3, 3, antialias=True)
    with pytest.raises(ValueError, match="height"):
        CenterCrop(0, 3)
    with pytest.raises(ValueError, match="resize_bad.*rank 3.*or 4"):
        Resizing(3, 3, name="resize_bad")(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="height and width must be known"):
        Resizing(3, 3)(ember.Input(shape=(None, None, 3)))


@needs_keras
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resizing_keras_parity(interpolation):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 5, 7, 3)).astype("float32")
    for height, width in ((3, 4), (10, 14), (5, 7), (8, 3), (1, 1), (13, 20), (15, 21)):
        for extra in ({}, {"crop_to_aspect_ratio": True},
                      {"pad_to_aspect_ratio": True, "fill_value": 0.5}):
            ours = Resizing(height, width, interpolation=interpolation, **extra)(x)
            theirs = _np(keras.layers.Resizing(height, width, interpolation=interpolation,
                                               **extra)(x))
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{height}x{width} {extra}")
    xf = rng.standard_normal((2, 3, 5, 7)).astype("float32")
    ours = Resizing(4, 9, interpolation=interpolation, data_format="channels_first")(xf)
    theirs = _np(keras.layers.Resizing(4, 9, interpolation=interpolation,
                                       data_format="channels_first")(xf))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@needs_keras
def test_center_crop_keras_parity():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 6, 9, 3)).astype("float32")
    for height, width in ((4, 5), (3, 8), (6, 9), (5, 4), (8, 8), (7, 3), (2, 12)):
        ours = CenterCrop(height, width)(x)
        theirs = _np(keras.layers.CenterCrop(height, width)(x))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{height}x{width}")
    np.testing.assert_allclose(CenterCrop(3, 3)(x[0]), _np(keras.layers.CenterCrop(3, 3)(x[0])))


def test_image_layers_in_a_trained_model():
    rng = np.random.default_rng(14)
    inputs = ember.Input(shape=(9, 7, 1))
    x = CenterCrop(6, 6)(inputs)
    x = Resizing(4, 4)(x)
    outputs = layers.Dense(1)(layers.Flatten()(x))
    model = ember.Model(inputs, outputs)
    model.compile(optimizer=ember.optimizers.Adam(0.05), loss="mse")
    images = rng.standard_normal((64, 9, 7, 1)).astype("float32")
    targets = images[:, 3:6, 2:5, 0].mean((1, 2))[:, None]
    history = model.fit(images, targets, epochs=40, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


# ==== hash functions and Hashing ================================================================
def test_hash_reference_vectors():
    # SipHash-2-4 reference: key 00..0f, empty message (Aumasson & Bernstein, appendix A).
    assert siphash64(b"", 0x0706050403020100, 0x0F0E0D0C0B0A0908) == 0x726FDB47DD0E0E31
    message = bytes(range(15))
    assert siphash64(message, 0x0706050403020100, 0x0F0E0D0C0B0A0908) == 0xA129CA6149BE45E5
    # FarmHash Fingerprint64 of "" is k2 (farmhashna::HashLen0to16).
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    # Every length path (0-16, 17-32, 33-64, and the 64-byte loop) gives a 64-bit value.
    for n in (1, 5, 9, 17, 40, 65, 200):
        assert 0 <= fingerprint64(bytes(range(n))) < 2 ** 64


def test_hashing_keras_examples():
    inp = [["A"], ["B"], ["C"], ["D"], ["E"]]
    np.testing.assert_array_equal(Hashing(num_bins=3)(inp), [[1], [0], [1], [1], [2]])
    np.testing.assert_array_equal(
        Hashing(num_bins=3, mask_value="")([["A"], ["B"], [""], ["C"], ["D"]]),
        [[1], [1], [0], [2], [2]])
    np.testing.assert_array_equal(Hashing(num_bins=3, salt=[133, 137])(inp),
                                  [[1], [2], [1], [0], [2]])
    np.testing.assert_array_equal(Hashing(num_bins=3, salt=133)(inp), [[0], [0], [2], [1], [0]])
    # Keras's own tests: integers hash as their decimal text.
    ints = np.asarray([[0], [1], [2], [3], [4]])
    np.testing.assert_array_equal(Hashing(num_bins=3)(ints), [[1], [0], [1], [0], [2]])
    np.testing.assert_array_equal(Hashing(num_bins=3, salt=[133, 137])(ints),
                                  [[1], [1], [2], [0], [1]])
    words = ["omar", "stringer", "marlo", "wire", "skywalker"]
    np.testing.assert_array_equal(Hashing(num_bins=2)(words), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(Hashing(num_bins=3, mask_value="omar")(
        np.asarray([[w] for w in words])), [[0], [1], [2], [1], [1]])
    out = Hashing(num_bins=2)(np.asarray(words))
    assert out.dtype == np.int64


def test_hashing_modes_config_and_errors():
    layer = Hashing(num_bins=3, output_mode="multi_hot")
    out = layer([["A", "B", "C"]])
    np.testing.assert_array_equal(out, [[1., 1., 0.]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(Hashing(num_bins=3, output_mode="one_hot")([["A"], ["E"]]),
                                  [[0., 1., 0.], [0., 0., 1.]])
    layer = Hashing(num_bins=5, salt=[1, 2], mask_value="x")
    restored = _roundtrip(layer)
    np.testing.assert_array_equal(restored(["x", "y", "z"]), layer(["x", "y", "z"]))
    with pytest.raises(ValueError, match="cannot be `None`"):
        Hashing(num_bins=None)
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=2, salt="string")
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=2, salt=[1, 2, 3])
    with pytest.raises(ValueError, match="dtype"):
        Hashing(num_bins=2, dtype="float32")
    with pytest.raises(TypeError, match="hashing_sym.*symbolic tensor"):
        Hashing(num_bins=2, name="hashing_sym")(ember.Input(shape=(1,), dtype="int64"))


@needs_keras_tf
def test_hashing_keras_parity():
    rng = np.random.default_rng(15)
    words = np.array(["".join(rng.choice(list("abcdefgh"), size=n)) for n in
                      rng.integers(0, 80, size=60)]).reshape(20, 3)
    words[0, 0] = ""
    ints = rng.integers(-10 ** 12, 10 ** 12, size=(20, 3))
    for kwargs in ({"num_bins": 7}, {"num_bins": 1000, "salt": [3, 99]},
                   {"num_bins": 5, "mask_value": "mask"}, {"num_bins": 6, "output_mode": "count"},
                   {"num_bins": 4, "output_mode": "one_hot"}):
        for data in (words, ints, ints.astype("float64") / 7):
            if "mask_value" in kwargs:
                kwargs["mask_value"] = data.flat[0]
            if kwargs.get("output_mode") == "one_hot":
                data = data[:, :1]
            ours = Hashing(**kwargs)(data)
            theirs = _np(keras.layers.Hashing(**kwargs)(data))
            np.testing.assert_array_equal(ours, theirs, err_msg=str(kwargs))
            assert ours.dtype == theirs.dtype


# ==== StringLookup ==============================================================================
VOCAB = ["a", "b", "c", "d"]


def test_string_lookup_keras_examples():
    data = [["a", "c", "d"], ["d", "z", "b"]]
    out = StringLookup(vocabulary=VOCAB)(data)
    np.testing.assert_array_equal(out, [[1, 3, 4], [4, 0, 2]])
    assert out.dtype == np.int64
    layer = StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    np.testing.assert_array_equal(layer(data), [[5, 3, 1], [1, 2, 4]])
    np.testing.assert_array_equal(
        StringLookup(vocabulary=VOCAB, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]]),
        [[2, 4, 5], [0, 1, 3]])
    np.testing.assert_array_equal(
        StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "b", "c", "d", "z"]),
        [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]])
    data = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    np.testing.assert_array_equal(StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(data),
                                  [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(StringLookup(vocabulary=VOCAB, output_mode="count")(data),
                                  [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data), [[0., 0.25, 0., 0.6, 0.8], [1.0, 0., 0.75, 0., 0.4]])
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["[UNK]"] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data), [[0., 0.25, 0., 0.6, 0.8], [1.8, 0., 0.75, 0., 0.4]])
    assert layer(data).dtype == np.float32
    inverse = StringLookup(vocabulary=VOCAB, invert=True)
    np.testing.assert_array_equal(inverse([[1, 3, 4], [4, 0, 2]]),
                                  [["a", "c", "d"], ["d", "[UNK]", "b"]])
    forward = StringLookup(vocabulary=VOCAB)
    np.testing.assert_array_equal(inverse(forward([["a", "c", "d"], ["d", "z", "b"]])),
                                  [["a", "c", "d"], ["d", "[UNK]", "b"]])


def test_string_lookup_mask_token_and_mask():
    layer = StringLookup(vocabulary=VOCAB, mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"]
    data = np.array([["a", "", "z"], ["d", "b", ""]])
    np.testing.assert_array_equal(layer(data), [[2, 0, 1], [5, 3, 0]])
    np.testing.assert_array_equal(layer.compute_mask(data), data != "")
    # In the vector modes the mask token is dropped, not counted.
    counts = StringLookup(vocabulary=VOCAB, mask_token="", output_mode="count")(data)
    np.testing.assert_array_equal(counts, [[1, 1, 0, 0, 0], [0, 0, 1, 0, 1]])
    inverse = StringLookup(vocabulary=VOCAB, mask_token="", invert=True)
    np.testing.assert_array_equal(inverse([[2, 0, 1]]), [["a", "", "[UNK]"]])


def test_string_lookup_adapt_dataset_max_tokens_and_config():
    texts = np.array(["x"] * 5 + ["y"] * 3 + ["z"] * 3 + ["w"])
    layer = StringLookup(max_tokens=3)
    layer.adapt(Dataset.from_tensor_slices(texts).batch(4))
    assert layer.get_vocabulary() == ["[UNK]", "x", "z"]  # ties: reverse sort order
    assert layer.vocabulary_size() == 3
    restored = _roundtrip(layer)
    assert restored.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(restored(texts), layer(texts))
    restored.adapt(["q", "q", "r"])  # an adapted vocabulary can be adapted again
    assert restored.get_vocabulary() == ["[UNK]", "q", "r"]
    tfidf = StringLookup(output_mode="tf_idf")
    tfidf.adapt([["a", "b"], ["a", "c"], ["a", "a"]])  # rows are documents
    np.testing.assert_allclose(
        tfidf._idf[1:],
        np.log(1 + 3 / (1 + np.array([3., 1., 1.]))).astype("float32"), rtol=1e-6)
    restored = _roundtrip(tfidf)
    np.testing.assert_allclose(restored([["a", "c", "zz"]]), tfidf([["a", "c", "zz"]]))
    # bytes are decoded with `encoding`, in the vocabulary and in the inputs.
    layer = StringLookup(vocabulary=[b"a", "\u00e9".encode()])
    assert layer.get_vocabulary() == ["[UNK]", "a", "\u00e9"]
    np.testing.assert_array_equal(layer(np.array([b"a", "\u00e9".encode(), b"q"])), [1, 2, 0])


def test_string_lookup_bad_input(tmp_path):
    with pytest.raises(ValueError, match="lookup_bad.*num_oov_indices=0.*'z'"):
        StringLookup(vocabulary=VOCAB, num_oov_indices=0, name="lookup_bad")([["a", "z"]])
    with pytest.raises(ValueError, match="repeated"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="empty vocabulary"):
        StringLookup(vocabulary=[])
    with pytest.raises(ValueError, match="mask token"):
        StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="max_tokens"):
        StringLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="invert"):
        StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="idf_weights"):
        StringLookup(vocabulary=VOCAB, output_mode="tf_idf")
    with pytest.raises(RuntimeError, match="must set the layer's vocabulary"):
        StringLookup(output_mode="multi_hot")([["a"]])
    with pytest.raises(ValueError, match="lookup_bad.*no tokens"):
        StringLookup(name="lookup_bad").adapt([])
    with pytest.raises(ValueError, match="lookup_bad.*empty dataset"):
        StringLookup(name="lookup_bad").adapt(Dataset.from_tensor_slices(
            np.array([], dtype=str)).batch(2))
    with pytest.raises(ValueError, match="Cannot adapt layer 'lookup_bad'"):
        StringLookup(vocabulary=VOCAB, name="lookup_bad").adapt(["a"])
    with pytest.raises(TypeError, match="lookup_bad.*string"):
        StringLookup(vocabulary=VOCAB, name="lookup_bad")(np.array([1, 2]))
    with pytest.raises(TypeError, match="StringLookup 'lookup_sym'.*symbolic tensor"):
        StringLookup(vocabulary=VOCAB, name="lookup_sym")(ember.Input(shape=(3,)))
    with pytest.raises(ValueError, match="does not exist"):
        StringLookup(vocabulary=str(tmp_path / "missing.txt"))
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\nc\n")
    np.testing.assert_array_equal(StringLookup(vocabulary=str(path))(["c", "q"]), [3, 0])


@needs_keras_tf
def test_string_lookup_keras_parity():
    rng = np.random.default_rng(16)
    alphabet = [f"w{i}" for i in range(30)] + ["", "[UNK]"]
    corpus = rng.choice(alphabet[:25], size=(40, 6))
    probe = rng.choice(alphabet, size=(7, 5))
    cases = [{}, {"max_tokens": 10}, {"num_oov_indices": 3}, {"mask_token": ""},
             {"output_mode": "multi_hot"}, {"output_mode": "count", "num_oov_indices": 2},
             {"output_mode": "one_hot"}, {"output_mode": "tf_idf"},
             {"output_mode": "tf_idf", "max_tokens": 12, "pad_to_max_tokens": True},
             {"num_oov_indices": 2, "salt": [5, 6]}]
    for kwargs in cases:
        ours, theirs = StringLookup(**kwargs), keras.layers.StringLookup(**kwargs)
        ours.adapt(corpus)
        theirs.adapt(corpus)
        assert ours.get_vocabulary() == theirs.get_vocabulary(), kwargs
        x = probe[:, :1] if kwargs.get("output_mode") == "one_hot" else probe
        a, b = ours(x), _np(theirs(x))
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=str(kwargs))
        assert a.dtype == b.dtype, (kwargs, a.dtype, b.dtype)
    inverse = keras.layers.StringLookup(vocabulary=VOCAB, invert=True)
    assert list(StringLookup(vocabulary=VOCAB, invert=True)([1, 0, 4])) == \
        inverse(np.array([1, 0, 4]))


# ==== IntegerLookup =============================================================================
def test_integer_lookup_keras_examples():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    np.testing.assert_array_equal(IntegerLookup(vocabulary=vocab)(data), [[1, 3, 4], [4, 0, 2]])
    layer = IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    np.testing.assert_array_equal(layer(data), [[5, 2, 1], [1, 3, 4]])
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=vocab, num_oov_indices=2)(np.array([[12, 1138, 42],
                                                                      [37, 1000, 36]])),
        [[2, 4, 5], [1, 0, 3]])
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod")(oov),
        [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")(oov),
        [3, 3, 2, 2, 0, 1])
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=vocab, output_mode="one_hot")(np.array([12, 36, 1138, 42, 7])),
        np.eye(5)[[1, 2, 3, 4, 0]])
    data = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
    np.testing.assert_array_equal(IntegerLookup(vocabulary=vocab, output_mode="multi_hot")(data),
                                  [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(IntegerLookup(vocabulary=vocab, output_mode="count")(data),
                                  [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    layer = IntegerLookup(output_mode="tf_idf", vocabulary=vocab,
                          idf_weights=[0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data), [[0., 0.25, 0., 0.6, 0.8], [1.0, 0., 0.75, 0., 0.4]])
    layer = IntegerLookup(output_mode="tf_idf", vocabulary=[-1] + vocab,
                          idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data), [[0., 0.25, 0., 0.6, 0.8], [1.8, 0., 0.75, 0., 0.4]])
    inverse = IntegerLookup(vocabulary=vocab, invert=True)
    out = inverse(np.array([[1, 3, 4], [4, 0, 2]]))
    np.testing.assert_array_equal(out, [[12, 1138, 42], [42, -1, 36]])
    assert out.dtype == np.int64
    forward = IntegerLookup(vocabulary=vocab)
    inverse = IntegerLookup(vocabulary=forward.get_vocabulary(), invert=True)
    np.testing.assert_array_equal(inverse(forward(np.array([[12, 1138, 42], [42, 1000, 36]]))),
                                  [[12, 1138, 42], [42, -1, 36]])


def test_integer_lookup_mask_config_and_errors():
    layer = IntegerLookup(vocabulary=[5, 6], mask_token=0)
    np.testing.assert_array_equal(layer(np.array([[5, 0, 9]])), [[2, 0, 1]])
    restored = _roundtrip(layer)
    assert restored.get_vocabulary() == [0, -1, 5, 6]
    with pytest.raises(TypeError, match="int_bad.*integer"):
        IntegerLookup(vocabulary=[1], name="int_bad")(np.array(["a"]))
    with pytest.raises(ValueError, match="salt"):
        IntegerLookup(salt=3)
    with pytest.raises(ValueError, match="vocabulary_dtype"):
        IntegerLookup(vocabulary_dtype="int32")


@needs_keras_tf
def test_integer_lookup_keras_parity():
    rng = np.random.default_rng(17)
    corpus = rng.integers(0, 40, size=(30, 5))
    probe = rng.integers(-5, 60, size=(6, 4))
    for kwargs in ({}, {"max_tokens": 8}, {"num_oov_indices": 3},
                   {"num_oov_indices": 3, "oov_method": "farmhash"},
                   {"num_oov_indices": 2, "oov_method": "farmhash", "salt": 7},
                   {"mask_token": 0}, {"output_mode": "count"}, {"output_mode": "tf_idf"}):
        ours, theirs = IntegerLookup(**kwargs), keras.layers.IntegerLookup(**kwargs)
        ours.adapt(corpus)
        theirs.adapt(corpus)
        assert ours.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()], kwargs
        a, b = ours(probe), _np(theirs(probe))
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=str(kwargs))
        assert a.dtype == b.dtype, kwargs


# ==== TextVectorization ========================================================================
def test_text_vectorization_keras_examples():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    out = layer([["foo qux bar"], ["qux baz"]])
    np.testing.assert_array_equal(out, [[4, 1, 3, 0], [1, 2, 0, 0]])
    assert out.dtype == np.int64
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4,
                              vocabulary=["earth", "wind", "and", "fire"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]


def test_text_vectorization_standardize_split_ngrams():
    layer = TextVectorization(vocabulary=["hello", "world", "hello world"], ngrams=2)
    # Lowercasing and punctuation as Keras; the bigram "hello world" is in the vocabulary.
    np.testing.assert_array_equal(layer(["Hello,  WORLD!"]), [[2, 3, 4]])
    chars = TextVectorization(split="character", standardize=None, vocabulary=["a", "b"])
    np.testing.assert_array_equal(chars(["ab", "ba c"]), [[2, 3, 0, 0], [3, 2, 1, 1]])
    custom = TextVectorization(standardize=lambda t: np.char.upper(t),
                               split=lambda t: [s.split("-") for s in t],
                               vocabulary=["A", "B"], output_sequence_length=3)
    np.testing.assert_array_equal(custom(["a-b", "b"]), [[2, 3, 0], [3, 0, 0]])
    # Only ASCII letters are lowercased, as tf.strings.lower; only ASCII whitespace splits.
    layer = TextVectorization(vocabulary=["é", "É"])
    np.testing.assert_array_equal(layer(["É\u00a0é"]), [[1]])
    np.testing.assert_array_equal(layer(["É é"]), [[3, 2]])


def test_text_vectorization_vector_modes():
    texts = ["the cat", "the dog the end", "a cat"]
    layer = TextVectorization(output_mode="count")
    layer.adapt(texts)
    assert layer.get_vocabulary() == ["[UNK]", "the", "cat", "end", "dog", "a"]
    np.testing.assert_array_equal(layer(["the the cat zebra"]), [[1, 2, 1, 0, 0, 0]])
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(texts)
    idf = np.log(1 + 3 / (1 + np.array([2., 2., 1., 1., 1.]))).astype("float32")
    expected = np.concatenate([[idf.mean()], idf * [2, 1, 0, 0, 0]])
    np.testing.assert_allclose(tfidf(["the the cat zebra"])[0, 1:], expected[1:], rtol=1e-6)
    np.testing.assert_allclose(tfidf(["zebra"])[0, 0], idf.mean(), rtol=1e-6)
    padded = TextVectorization(max_tokens=10, pad_to_max_tokens=True, output_mode="multi_hot")
    padded.adapt(texts)
    assert padded(["cat"]).shape == (1, 10)


def test_text_vectorization_config_and_errors():
    layer = TextVectorization(max_tokens=20, ngrams=(1, 3), output_sequence_length=5)
    layer.adapt(["a b c d", "b c d e"])
    restored = _roundtrip(layer)
    assert restored.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(restored(["a b c"]), layer(["a b c"]))
    with pytest.raises(TypeError, match="tv_sym.*symbolic tensor"):
        TextVectorization(name="tv_sym")(ember.Input(shape=(1,)))
    with pytest.raises(ValueError, match="tv_bad.*no tokens"):
        TextVectorization(name="tv_bad").adapt(["", "  ,. "])
    with pytest.raises(ValueError, match="output_sequence_length"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="ngrams"):
        TextVectorization(ngrams="2")
    with pytest.raises(ValueError, match="standardize"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="ragged"):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))


@needs_keras_tf
def test_text_vectorization_keras_parity():
    rng = np.random.default_rng(18)
    words = ["Apple", "banana,", "cherry!", "date", "Elder-berry", "fig.", "GRAPE", "kiwi"]
    corpus = [" ".join(rng.choice(words, size=rng.integers(1, 9))) for _ in range(40)]
    probe = [" ".join(rng.choice(words + ["zz", "Qq"], size=rng.integers(0, 7)))
             for _ in range(6)]
    cases = [{}, {"output_sequence_length": 5}, {"max_tokens": 6}, {"ngrams": 2},
             {"ngrams": (1, 3), "output_sequence_length": 12}, {"standardize": "lower"},
             {"standardize": None, "split": "character"}, {"output_mode": "multi_hot"},
             {"output_mode": "count", "ngrams": 2}, {"output_mode": "tf_idf"},
             {"output_mode": "tf_idf", "max_tokens": 8, "pad_to_max_tokens": True},
             {"split": None, "output_mode": "count"}]
    for kwargs in cases:
        ours, theirs = TextVectorization(**kwargs), keras.layers.TextVectorization(**kwargs)
        ours.adapt(corpus)
        theirs.adapt(corpus)
        assert ours.get_vocabulary() == theirs.get_vocabulary(), kwargs
        x = np.array(probe)[:, None] if kwargs.get("split", "") is None else np.array(probe)
        a, b = ours(x), _np(theirs(x))
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=str(kwargs))
        assert a.dtype == b.dtype, (kwargs, a.dtype, b.dtype)


# ==== TextVectorization in a Dataset.map feeding an Embedding model ===========================
def test_text_vectorization_dataset_map_feeds_an_embedding_model():
    rng = np.random.default_rng(19)
    positive, negative = ["good", "great", "fine", "happy"], ["bad", "awful", "poor", "sad"]
    filler = ["the", "movie", "was", "a", "plot", "and", "it", "really"]
    texts, labels = [], []
    for _ in range(400):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(filler, size=5)) + [str(rng.choice(
            positive if label else negative))]
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
        labels.append(label)
    texts, labels = np.array(texts), np.array(labels, "float32")[:, None]

    vectorizer = TextVectorization(max_tokens=50, output_sequence_length=8)
    vectorizer.adapt(Dataset.from_tensor_slices(texts).batch(64))
    assert vectorizer.get_vocabulary()[:2] == ["", "[UNK]"]
    ds = (Dataset.from_tensor_slices((texts, labels)).shuffle(400, seed=0).batch(32)
          .map(lambda x, y: (vectorizer(x), y)))
    x_batch, _ = next(iter(ds))
    assert x_batch.dtype == np.int64 and x_batch.shape == (32, 8)

    inputs = ember.Input(shape=(8,), dtype="int64")
    h = layers.Embedding(vectorizer.vocabulary_size(), 8, mask_zero=True)(inputs)
    h = layers.GlobalAveragePooling1D()(h)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = ember.Model(inputs, outputs)
    model.compile(optimizer=ember.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(ds, epochs=8, verbose=0)
    assert history.history["accuracy"][-1] > 0.95, history.history
    probs = model.predict(vectorizer(["It was really great", "awful plot"]), verbose=0)
    assert probs[0, 0] > 0.5 > probs[1, 0]
