"""The losses without a fused op, and every loss under sample weights, class weights and masks:
NumPy references of Keras's formulas, float64 gradient checks, Keras parity when installed."""
import os

import numpy as np
import pytest

import ember
from ember import layers, losses
from op_harness import OpCase, check_forward, check_gradients, positive, uniform

EPS = 1e-7


def np_hinge_labels(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def np_normalize(x):
    return x * np.minimum(1 / np.sqrt((x ** 2).sum(-1, keepdims=True)), 1 / EPS)


REFERENCES = {
    "huber": (losses.Huber(delta=0.7), lambda t, p: np.mean(np.where(
        np.abs(p - t) <= 0.7, 0.5 * (p - t) ** 2, 0.7 * np.abs(p - t) - 0.5 * 0.7 ** 2), -1)),
    "log_cosh": (losses.LogCosh(), lambda t, p: np.mean(np.log(np.cosh(p - t)), -1)),
    "kl_divergence": (losses.KLDivergence(), lambda t, p: np.sum(
        np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / np.clip(p, EPS, 1)), -1)),
    "poisson": (losses.Poisson(), lambda t, p: np.mean(p - t * np.log(p + EPS), -1)),
    "cosine_similarity": (losses.CosineSimilarity(), lambda t, p: -np.sum(
        np_normalize(t) * np_normalize(p), -1)),
    "hinge": (losses.Hinge(), lambda t, p: np.mean(np.maximum(1 - np_hinge_labels(t) * p, 0),
                                                   -1)),
    "squared_hinge": (losses.SquaredHinge(), lambda t, p: np.mean(
        np.maximum(1 - np_hinge_labels(t) * p, 0) ** 2, -1)),
    "categorical_hinge": (losses.CategoricalHinge(), lambda t, p: np.maximum(
        np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0)),
    "msle": (losses.MeanSquaredLogarithmicError(), lambda t, p: np.mean(
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1)),
    "mape": (losses.MeanAbsolutePercentageError(), lambda t, p: 100 * np.mean(
        np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1)),
}
# Inputs kept where the formulas are smooth (away from the hinges' kinks and clip bounds).
SAMPLERS = {
    "kl_divergence": (positive((4, 5), 0.05, 0.9), positive((4, 5), 0.05, 0.9)),
    "poisson": (positive((4, 5), 0.0, 3.0), positive((4, 5), 0.2, 3.0)),
    "msle": (positive((4, 5), 0.1, 3.0), positive((4, 5), 0.1, 3.0)),
    "hinge": (lambda r: r.integers(0, 2, (4, 5)).astype(float), uniform((4, 5), 2.5, 4.0)),
    "squared_hinge": (lambda r: r.choice([-1.0, 1.0], (4, 5)), uniform((4, 5), -0.5, 0.5)),
    "categorical_hinge": (lambda r: np.eye(5)[r.integers(0, 5, 4)], uniform((4, 5), -0.3, 0.3)),
    "mape": (positive((4, 5), 0.5, 2.0), uniform((4, 5))),
}
CASES = [OpCase(f"loss_{name}", lambda t, p, l=loss: l(t, p),
                list(SAMPLERS.get(name, (uniform((4, 5)), uniform((4, 5))))),
                lambda t, p, r=ref: np.mean(r(t, p)), wrt=(1,), batch=(0, 1))
         for name, (loss, ref) in REFERENCES.items()]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


def test_function_forms_return_per_sample_values_and_names_resolve():
    t, p = np.random.default_rng(0).random((2, 3, 4))
    np.testing.assert_allclose(losses.huber(t, p), np.mean(np.where(
        np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5), -1), rtol=1e-6)
    for name, cls in [("huber", losses.Huber), ("logcosh", losses.LogCosh),
                      ("kld", losses.KLDivergence), ("msle", losses.MeanSquaredLogarithmicError),
                      ("mape", losses.MeanAbsolutePercentageError),
                      ("categorical_hinge", losses.CategoricalHinge)]:
        assert isinstance(losses.get(name), cls)
        assert isinstance(losses.deserialize(losses.serialize(cls())), cls)


# ---------------------------------------------------------------- weights and masks
def np_scce(y, p):
    p = p / p.sum(-1, keepdims=True)
    return -np.log(np.clip(np.take_along_axis(p, y[..., None], -1)[..., 0], EPS, 1 - EPS))


def classifier(seed=0):
    ember.utils.set_random_seed(seed)
    model = ember.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_sample_weight_in_evaluate_and_train_on_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.integers(0, 3, 40)
    w = rng.random(40).astype("float32")
    model = classifier()
    p = model.predict(x, verbose=0)
    expected = np.mean(np_scce(y, p) * w)
    np.testing.assert_allclose(model.evaluate(x, y, sample_weight=w, batch_size=40, verbose=0),
                               expected, rtol=1e-5)
    np.testing.assert_allclose(model.test_on_batch(x, y, sample_weight=w), expected, rtol=1e-5)
    # zero weights: those samples do not move the weights at all
    zero = classifier()
    before = zero.get_weights()
    zero.train_on_batch(x, y, sample_weight=np.zeros(40))
    for a, b in zip(before, zero.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_class_weight_equals_the_matching_sample_weight():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = rng.integers(0, 3, 48)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a, b = classifier(), classifier()
    a.fit(x, y, class_weight=cw, epochs=2, batch_size=16, shuffle=False, verbose=0)
    b.fit(x, y, sample_weight=np.array([cw[c] for c in y]), epochs=2, batch_size=16,
          shuffle=False, verbose=0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)


def test_masked_sequence_loss_averages_valid_steps_only():
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 9, size=(6, 5))
    ids[0, 3:] = 0
    ids[2, 1:] = 0
    y = rng.integers(0, 2, size=(6, 5, 1)).astype("float32")
    ember.utils.set_random_seed(0)
    inp = ember.Input((5,), dtype="int32")
    h = layers.Embedding(9, 4, mask_zero=True)(inp)
    out = layers.Dense(1, activation="sigmoid")(h)
    model = ember.Model(inp, out)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    p = np.clip(model.predict(ids, verbose=0), EPS, 1 - EPS)
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))[..., 0]
    keep = ids != 0
    np.testing.assert_allclose(model.evaluate(ids, y, batch_size=6, verbose=0),
                               per[keep].mean(), rtol=1e-5)


@pytest.mark.parametrize("call, words", [
    (lambda m, x, y: m.fit(x, y, sample_weight=np.ones(3), verbose=0), ["one entry per sample"]),
    (lambda m, x, y: m.fit(x, y, class_weight=[1, 2], verbose=0), ["dict"]),
    (lambda m, x, y: m.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(8), verbose=0),
     ["not both"]),
])
def test_bad_weights(call, words):
    model = classifier()
    with pytest.raises((ValueError, TypeError)) as e:
        call(model, np.zeros((8, 4), "float32"), np.zeros(8, "int32"))
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------- Keras parity (optional)
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_losses_match_keras_with_sample_weight(keras, name):
    t_sampler, p_sampler = SAMPLERS.get(name, (uniform((4, 5)), uniform((4, 5))))
    rng = np.random.default_rng(4)
    t, p = t_sampler(rng).astype("float32"), p_sampler(rng).astype("float32")
    w = rng.random(4).astype("float32")
    ours, _ = REFERENCES[name]
    kwargs = {"delta": ours.fn_kwargs["delta"]} if name == "huber" else {}
    theirs = getattr(keras.losses, type(ours).__name__)(**kwargs)
    want = keras.ops.convert_to_numpy(theirs(t, p, sample_weight=w))
    np.testing.assert_allclose(ours(t, p, sample_weight=w), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum", "none", "mean_with_sample_weight",
                                       "sum_over_batch_size"])
def test_reductions_against_numpy(reduction):
    rng = np.random.default_rng(5)
    t, p = rng.random((4, 3)), rng.random((4, 3))
    w = rng.random(4)
    per = np.mean((t - p) ** 2, -1) * w
    want = {"sum": per.sum(), "none": per, "mean_with_sample_weight": per.sum() / w.sum(),
            "sum_over_batch_size": per.mean()}[reduction]
    got = losses.MeanSquaredError(reduction=reduction)(t, p, sample_weight=w)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_reduction_none_cannot_train_and_unknown_reductions_are_refused():
    with pytest.raises(ValueError, match="reduction"):
        losses.Huber(reduction="max")
    model = classifier()
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(reduction="none"))
    with pytest.raises(ValueError, match="reduction 'none'"):
        model.fit(np.zeros((4, 4), "float32"), np.zeros(4, "int32"), verbose=0)
