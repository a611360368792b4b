"""Bad input gets a Python exception of the right type whose message names the layer, op or
argument, what was expected and what was received; never a crash, a hang or a silent result.
After each error the model must still work."""
import re

import numpy as np
import pytest

import ember
from ember import layers


def _mnist_like_model(classes=10):
    model = ember.Sequential([ember.Input((784,)), layers.Dense(16, activation="relu"),
                              layers.Dense(classes, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=20, features=784, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, features), dtype=np.float32),
            rng.integers(0, classes, n).astype("int64"))


def _still_works(model, x, y):
    """A failed call must leave the model usable."""
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (len(x), 10)


# ---- wrong input shapes -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "predict", "evaluate", "train_on_batch",
                                    "predict_on_batch"])
def test_780_features_on_a_784_model(method):
    model = _mnist_like_model()
    x, y = _data()
    bad = np.zeros((20, 780), "float32")
    args = (bad,) if method.startswith("predict") else (bad, y)
    kwargs = {"verbose": 0} if method in ("fit", "predict", "evaluate") else {}
    with pytest.raises(ValueError, match=re.escape(
            "x: input 'input_layer") + r".*expected shape \(None, 784\), received an array of "
            r"shape \(20, 780\)"):
        getattr(model, method)(*args, **kwargs)
    _still_works(model, x, y)


@pytest.mark.parametrize("shape", [(5, 28, 28), (784,), (5, 784, 1)])
def test_input_of_the_wrong_rank(shape):
    model = _mnist_like_model()
    with pytest.raises(ValueError, match=r"expected shape \(None, 784\), received an array of "
                                         + re.escape(f"shape {shape}")):
        model.predict(np.zeros(shape, "float32"), verbose=0)


def test_layer_called_on_the_wrong_width_after_build():
    dense = layers.Dense(3, name="narrow")
    dense(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match=r"Dense 'narrow'.*expected an input with last "
                                         r"dimension 4, received shape \(2, 5\)"):
        dense(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"Dense 'narrow'.*last dimension 4, received shape "
                                         r"\(None, 5\)"):
        dense(ember.Input((5,)))
    assert dense(np.zeros((2, 4), "float32")).shape == (2, 3)


def test_functional_model_built_from_incompatible_layers():
    inp = ember.Input((6,))
    with pytest.raises(ValueError, match=r"Reshape 'bad_reshape'.*"):
        layers.Reshape((4,), name="bad_reshape")(inp)


# ---- labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [10, -1, 1000])
def test_sparse_labels_out_of_range_in_fit(label):
    model = _mnist_like_model()
    x, y = _data()
    before = model.get_weights()
    bad = np.full(20, label)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*labels must be in "
                                         rf"\[0, 10\), received {label}"):
        model.fit(x, bad, verbose=0)
    # The failing step applied no update.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=rf"labels must be in \[0, 10\), received {label}"):
        model.evaluate(x, bad, verbose=0)
    with pytest.raises(ValueError, match=rf"labels must be in \[0, 10\), received {label}"):
        model.train_on_batch(x, bad)
    _still_works(model, x, y)


def test_one_bad_label_among_good_ones():
    model = _mnist_like_model()
    x, y = _data()
    bad = y.copy()
    bad[7] = 12
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\), received 12"):
        model.evaluate(x, bad, verbose=0)


def test_fractional_sparse_labels():
    model = _mnist_like_model()
    x, _ = _data()
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*labels must be "
                                         r"integers in \[0, 10\), received 1.5"):
        model.fit(x, np.full(20, 1.5), verbose=0)


@pytest.mark.parametrize("y_shape", [(20, 10), (20, 3)])
def test_sparse_labels_of_the_wrong_shape(y_shape):
    model = _mnist_like_model()
    x, _ = _data()
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*expected y_true of "
                                         r"shape \(None,\) or \(None, 1\).*received y_true "
                                         + re.escape(f"(None, {y_shape[1]}) and y_pred "
                                                     "(None, 10)")):
        model.fit(x, np.zeros(y_shape, "int64"), verbose=0)


def test_dense_labels_of_the_wrong_shape():
    model = ember.Sequential([ember.Input((4,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"mean_squared_error.*same shape.*received y_true "
                                         r"\(None, 5\) and y_pred \(None, 1\)"):
        model.fit(np.zeros((8, 4), "float32"), np.zeros((8, 5), "float32"), verbose=0)
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*same shape.*received y_true "
                                         r"\(None, 3\) and y_pred \(None, 1\)"):
        model.fit(np.zeros((8, 4), "float32"), np.zeros((8, 3), "float32"), verbose=0)


def test_string_labels():
    model = _mnist_like_model()
    x, _ = _data()
    with pytest.raises(TypeError, match=r"y: expected a numeric array, received an array of "
                                        r"dtype <U3"):
        model.fit(x, np.array(["cat"] * 20), verbose=0)


# ---- x / y consistency ------------------------------------------------------------------------
def test_x_and_y_of_different_lengths():
    model = _mnist_like_model()
    x, y = _data()
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples, "
                                         r"received x: 20 samples and y: 19 samples"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r"received x: 20 samples and y: 21 samples"):
        model.evaluate(x, np.concatenate([y, y[:1]]), verbose=0)


def test_multi_input_arrays_of_different_lengths():
    a, b = ember.Input((2,)), ember.Input((3,))
    model = ember.Model([a, b], layers.Dense(1)(ember.ops.concatenate([a, b], axis=-1)))
    with pytest.raises(ValueError, match=r"all input arrays must have the same number of "
                                         r"samples, received 4 and 5 \(x\[1\]\)"):
        model.predict([np.zeros((4, 2), "float32"), np.zeros((5, 3), "float32")], verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_empty_x(method):
    model = _mnist_like_model()
    x, y = _data()
    args = (x[:0],) if method == "predict" else (x[:0], y[:0])
    with pytest.raises(ValueError, match=r"expected at least one sample, received an empty "
                                         r"array for x"):
        getattr(model, method)(*args, verbose=0)


def test_missing_x_or_y():
    model = _mnist_like_model()
    x, _ = _data()
    with pytest.raises(ValueError, match=r"expected input data x, received None"):
        model.predict(None, verbose=0)
    with pytest.raises(ValueError, match=r"fit: expected labels y, received None"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: expected labels y, received None"):
        model.evaluate(x, verbose=0)


# ---- non-numeric arrays -----------------------------------------------------------------------
@pytest.mark.parametrize("bad, dtype", [
    (np.array([["a"] * 784] * 4), "<U1"),
    (np.array([None] * 4, dtype=object), "object"),
    (np.array([{"a": 1}] * 4, dtype=object), "object"),
])
def test_non_numeric_x(bad, dtype):
    model = _mnist_like_model()
    with pytest.raises(TypeError, match=rf"x: expected a numeric array, received an array of "
                                        rf"dtype {dtype}"):
        model.predict(bad, verbose=0)
    with pytest.raises(TypeError, match=rf"x: expected a numeric array.*dtype {dtype}"):
        model.fit(bad, np.zeros(4, "int64"), verbose=0)


def test_ragged_x():
    model = ember.Sequential([ember.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=r"x: expected a rectangular numeric array, received "
                                         r"sequences of different lengths"):
        model.predict([[1.0, 2.0], [3.0]], verbose=0)


def test_non_numeric_input_to_a_layer():
    with pytest.raises(TypeError, match=r"Dense 'strings': expected a numeric input array, "
                                        r"received an array of dtype <U1"):
        layers.Dense(2, name="strings")(np.array([["a", "b"]]))


# ---- unknown names ----------------------------------------------------------------------------
def _fresh():
    return ember.Sequential([ember.Input((3,)), layers.Dense(2)])


def test_unknown_optimizer_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'; valid names: \[.*'adam'"
                                         r".*'sgd'\]"):
        _fresh().compile(optimizer="adamm", loss="mse")


def test_unknown_loss_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown loss 'mean_squared_eror'; valid names: "
                                         r"\[.*'mean_squared_error'.*'sparse_categorical_"
                                         r"crossentropy'.*\]"):
        _fresh().compile(optimizer="sgd", loss="mean_squared_eror")


def test_unknown_metric_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'; valid names: \[.*"
                                         r"'accuracy'.*\]"):
        _fresh().compile(optimizer="sgd", loss="mse", metrics=["acuracy"])


def test_uninterpretable_identifiers():
    with pytest.raises(ValueError, match=r"could not interpret optimizer 42"):
        _fresh().compile(optimizer=42, loss="mse")
    with pytest.raises(ValueError, match=r"could not interpret loss 42"):
        _fresh().compile(optimizer="sgd", loss=42)


def test_unknown_activation_and_initializer_names():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'; valid names: \[.*'relu'"):
        layers.Dense(2, activation="rleu")
    with pytest.raises(ValueError, match=r"glorot_unifrom"):
        layers.Dense(2, kernel_initializer="glorot_unifrom")


# ---- invalid layer arguments ------------------------------------------------------------------
@pytest.mark.parametrize("make, error, match", [
    (lambda: layers.Dense(0), ValueError,
     r"Dense '.*': expected a positive integer for `units`, received 0"),
    (lambda: layers.Dense(-3), ValueError, r"Dense .*`units`, received -3"),
    (lambda: layers.Dense("a"), ValueError, r"Dense .*`units`, received 'a'"),
    (lambda: layers.Dropout(1.5), ValueError,
     r"Dropout '.*': expected `rate` in \[0, 1\], received 1.5"),
    (lambda: layers.Dropout(-0.1), ValueError, r"Dropout .*received -0.1"),
    (lambda: layers.Reshape((-1, -1)), ValueError,
     r"Reshape '.*': expected positive dimensions with at most one -1, received target_shape "
     r"\(-1, -1\)"),
    (lambda: layers.Flatten(data_format="channels_middle"), ValueError,
     r"Flatten .*received 'channels_middle'"),
    (lambda: layers.InputLayer(), ValueError, r"InputLayer .*expected `shape` or `batch_shape`"),
    (lambda: layers.Dense(2, unitz=3), TypeError,
     r"Dense: unexpected keyword argument\(s\) \['unitz'\]"),
    (lambda: ember.Input((3,), dtype="string"), ValueError,
     r"unsupported dtype 'string': expected float32 or float64"),
])
def test_invalid_layer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---- calls out of order -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_before_compile_is_a_runtime_error(method):
    model = _fresh()
    x, y = np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32")
    with pytest.raises(RuntimeError, match=rf"You must call compile\(\) on model '.*' before "
                                           rf"calling {method}\(\)"):
        getattr(model, method)(x, y)
    # predict needs no compile.
    assert model.predict(x, verbose=0).shape == (4, 2)


def test_compile_without_loss_cannot_fit():
    model = _fresh()
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"compile\(\) was given no loss"):
        model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)


# ---- bad fit arguments ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, r"batch_size must be a positive integer, received 0"),
    ({"batch_size": 2.5}, r"batch_size must be a positive integer, received 2.5"),
    ({"verbose": 3}, r"verbose must be 'auto', 0, 1 or 2, received 3"),
    ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\), received 1.0"),
    ({"validation_split": 0.96}, r"validation_split=0.96 leaves no samples for training "
                                 r"out of 20"),
    ({"validation_data": (1, 2, 3, 4)}, r"validation_data must be a tuple \(x_val, y_val\) or "
                                        r"\(x_val, y_val, val_sample_weight\), received 4 items"),
])
def test_bad_fit_arguments(kwargs, match):
    model = _mnist_like_model()
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, **{"verbose": 0, **kwargs})


def test_unsupported_compile_features_are_refused_not_ignored():
    model = _mnist_like_model()
    with pytest.raises(NotImplementedError, match=r"weighted_metrics"):
        model.compile(optimizer="sgd", loss="mse", weighted_metrics=["mae"])
