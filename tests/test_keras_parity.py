"""Parity with Keras 3 (torch backend): the same Sequential MLP with the same weights gives the
same predictions, losses and updated weights. Skipped when keras or torch is missing."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip(f"Keras runs on '{keras.backend.backend()}', these tests compare with torch",
                allow_module_level=True)

import ember  # noqa: E402

# Keras's torch backend calls np.array on objects without the NumPy 2 `copy` keyword.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TOL = 1e-5

# (hidden activations, output units, output activation, loss, label kind)
CASES = {
    "softmax_sparse_ce": (("relu", "tanh"), 5, "softmax", "sparse_categorical_crossentropy",
                          "sparse"),
    "softmax_ce": (("relu",), 4, "softmax", "categorical_crossentropy", "onehot"),
    "sigmoid_bce": (("sigmoid",), 1, "sigmoid", "binary_crossentropy", "binary"),
    "linear_mse": (("relu", "relu"), 3, None, "mse", "real"),
    "linear_mae": (("tanh",), 2, None, "mae", "real"),
}


def _build(lib, hidden, units, activation, features=6):
    stack = [lib.Input((features,))]
    stack += [lib.layers.Dense(8, activation=a) for a in hidden]
    stack.append(lib.layers.Dense(units, activation=activation))
    return lib.Sequential(stack)


def _labels(kind, n, units, rng):
    if kind == "sparse":
        return rng.integers(0, units, n).astype("int64")
    if kind == "onehot":
        return np.eye(units, dtype="float32")[rng.integers(0, units, n)]
    if kind == "binary":
        return rng.integers(0, 2, (n, units)).astype("float32")
    return rng.standard_normal((n, units)).astype("float32")


def _pair(case, optimizer_factory, seed=0):
    hidden, units, activation, loss, kind = CASES[case]
    k_model = _build(keras, hidden, units, activation)
    e_model = _build(ember, hidden, units, activation)
    e_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=optimizer_factory(keras), loss=loss)
    e_model.compile(optimizer=optimizer_factory(ember), loss=loss)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 6)).astype("float32")
    y = _labels(kind, 16, units, rng)
    return k_model, e_model, x, y


def _sgd(lib):
    return lib.optimizers.SGD(learning_rate=0.1)


@pytest.mark.parametrize("case", sorted(CASES))
def test_predict_matches_keras(case):
    k_model, e_model, x, _ = _pair(case, _sgd)
    want = k_model.predict(x, verbose=0)
    got = e_model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(e_model.predict(x, batch_size=5, verbose=0), want, rtol=TOL,
                               atol=TOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_and_update_after_train_on_batch_with_sgd_match_keras(case):
    k_model, e_model, x, y = _pair(case, _sgd)
    assert e_model.test_on_batch(x, y) == pytest.approx(float(k_model.test_on_batch(x, y)),
                                                        rel=TOL, abs=TOL)
    k_loss = float(k_model.train_on_batch(x, y))
    e_loss = e_model.train_on_batch(x, y)
    assert e_loss == pytest.approx(k_loss, rel=TOL, abs=TOL)
    for got, want in zip(e_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    # The loss with the updated weights agrees too.
    assert e_model.test_on_batch(x, y) == pytest.approx(float(k_model.test_on_batch(x, y)),
                                                        rel=TOL, abs=TOL)


@pytest.mark.parametrize("factory", [
    lambda lib: lib.optimizers.Adam(learning_rate=0.01),
    lambda lib: lib.optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
    lambda lib: lib.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True,
                                   clipnorm=0.5),
], ids=["adam", "rmsprop", "sgd_nesterov_clipnorm"])
def test_several_steps_with_other_optimizers_match_keras(factory):
    k_model, e_model, x, y = _pair("softmax_sparse_ce", factory)
    for step in range(3):
        rows = slice(4 * step, 4 * step + 8)
        k_loss = float(k_model.train_on_batch(x[rows], y[rows]))
        assert e_model.train_on_batch(x[rows], y[rows]) == pytest.approx(k_loss, rel=1e-4,
                                                                         abs=1e-5)
    for got, want in zip(e_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case, metrics", [
    ("softmax_sparse_ce", ["accuracy"]),
    ("softmax_ce", ["accuracy"]),
    ("sigmoid_bce", ["accuracy"]),
    ("linear_mse", ["mae", "mse"]),
])
def test_evaluate_with_metrics_matches_keras(case, metrics):
    """'accuracy' resolves to the sparse, categorical or binary form as Keras resolves it."""
    k_model, e_model, x, y = _pair(case, _sgd)
    loss = CASES[case][3]
    k_model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    e_model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    want = k_model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    got = e_model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=TOL, abs=TOL), key


def test_weight_shapes_and_order_match_keras():
    k_model = _build(keras, ("relu",), 3, "softmax")
    e_model = _build(ember, ("relu",), 3, "softmax")
    assert [w.shape for w in e_model.get_weights()] == [w.shape for w in k_model.get_weights()]
    assert e_model.count_params() == k_model.count_params()
