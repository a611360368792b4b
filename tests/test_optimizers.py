"""Optimizers against a NumPy transcription of Keras 3's update rules.

The model is Dense(1) with a bias under an MSE loss, so the gradient is known exactly:
    p = x @ w + b,  L = mean((p - y)^2),  dL/dw = 2/n x^T (p - y),  dL/db = 2/n sum(p - y).
Each step follows keras/src/optimizers/base_optimizer.py `apply`: clip the gradients
(clipnorm per variable, global_clipnorm over all, clipvalue elementwise), decay the weights
(w -= w * weight_decay * lr), apply the rule (sgd.py, adam.py, rmsprop.py, adagrad.py;
AdamW is Adam with weight_decay=0.004 by default), then count the step.
"""
import numpy as np
import pytest

import ember
from ember import optimizers

KERAS_DEFAULTS = {
    "sgd": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "adamw": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                  epsilon=1e-7, amsgrad=False),
    "rmsprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    "adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
}
CLASSES = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "adamw": optimizers.AdamW,
           "rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad}


class KerasReference:
    """Keras 3's optimizer step in float64 NumPy, one state dict per variable."""

    def __init__(self, kind, **kwargs):
        self.kind = kind
        cfg = dict(KERAS_DEFAULTS[kind], weight_decay=KERAS_DEFAULTS[kind].get("weight_decay"),
                   clipnorm=None, clipvalue=None, global_clipnorm=None)
        cfg.update(kwargs)
        self.cfg = cfg
        self.iterations = 0
        self.state = None
        self.clipped = False  # whether clipping changed any gradient (the test needs it to)

    def _clip(self, grads):
        c = self.cfg
        if c["clipnorm"]:
            out = [g * c["clipnorm"] / max(np.sqrt(np.sum(g * g)), c["clipnorm"]) for g in grads]
        elif c["global_clipnorm"]:
            norm = np.sqrt(sum(np.sum(g * g) for g in grads))
            out = [g * c["global_clipnorm"] * min(1.0 / norm, 1.0 / c["global_clipnorm"])
                   for g in grads]
        elif c["clipvalue"]:
            out = [np.clip(g, -c["clipvalue"], c["clipvalue"]) for g in grads]
        else:
            return grads
        self.clipped |= any(not np.allclose(a, b) for a, b in zip(out, grads))
        return out

    def apply(self, params, grads):
        c, lr = self.cfg, self.cfg["learning_rate"]
        if self.state is None:
            acc0 = c.get("initial_accumulator_value", 0.0)
            self.state = [dict(m=np.zeros_like(p), v=np.zeros_like(p), vhat=np.zeros_like(p),
                               mom=np.zeros_like(p), avg=np.zeros_like(p),
                               acc=np.full_like(p, acc0)) for p in params]
        grads = self._clip(grads)
        if c["weight_decay"]:
            params = [p - p * c["weight_decay"] * lr for p in params]
        out = [getattr(self, "_" + self.kind.replace("adamw", "adam"))(p, g, s, lr)
               for p, g, s in zip(params, grads, self.state)]
        self.iterations += 1
        return out

    def _sgd(self, w, g, s, lr):
        momentum = self.cfg["momentum"]
        if momentum == 0:
            return w - g * lr
        s["m"] = s["m"] * momentum - g * lr
        if self.cfg["nesterov"]:
            return w + (s["m"] * momentum - g * lr)
        return w + s["m"]

    def _adam(self, w, g, s, lr):
        c = self.cfg
        t = self.iterations + 1
        alpha = lr * np.sqrt(1 - c["beta_2"] ** t) / (1 - c["beta_1"] ** t)
        s["m"] = s["m"] + (g - s["m"]) * (1 - c["beta_1"])
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - c["beta_2"])
        v = s["v"]
        if c["amsgrad"]:
            s["vhat"] = np.maximum(s["vhat"], s["v"])
            v = s["vhat"]
        return w - s["m"] * alpha / (np.sqrt(v) + c["epsilon"])

    def _rmsprop(self, w, g, s, lr):
        c = self.cfg
        rho = c["rho"]
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        if c["centered"]:
            s["avg"] = rho * s["avg"] + (1 - rho) * g
            denominator = s["v"] - s["avg"] ** 2 + c["epsilon"]
        else:
            denominator = s["v"] + c["epsilon"]
        increment = lr * g / np.sqrt(denominator)
        if c["momentum"] > 0:
            s["mom"] = c["momentum"] * s["mom"] + increment
            return w - s["mom"]
        return w - increment

    def _adagrad(self, w, g, s, lr):
        s["acc"] = s["acc"] + g * g
        return w - lr * g / np.sqrt(s["acc"] + self.cfg["epsilon"])


def _mse_grads(x, y, kernel, bias):
    residual = x @ kernel + bias - y
    n = len(x)
    return [2.0 / n * x.T @ residual, 2.0 / n * residual.sum(axis=0)]


def _run_both(kind, kwargs, dtype, steps=4, n=8, d=3, seed=0):
    """Returns (ember weights, reference weights, reference) after `steps` train_on_batch."""
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((d, 1))
    bias = rng.standard_normal(1)
    model = ember.Sequential([ember.Input((d,), dtype=dtype), ember.layers.Dense(1, dtype=dtype)])
    model.set_weights([kernel, bias])
    optimizer = CLASSES[kind](**kwargs)
    model.compile(optimizer=optimizer, loss="mse")
    reference = KerasReference(kind, **kwargs)
    params = [kernel, bias]
    for _ in range(steps):
        x = rng.standard_normal((n, d))
        y = rng.standard_normal((n, 1)) * 3.0
        model.train_on_batch(x.astype(dtype), y.astype(dtype))
        params = reference.apply(params, _mse_grads(x, y, *params))
    assert optimizer.iterations == steps
    return model.get_weights(), params, reference


RULES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adam", {}), ("adam", {"amsgrad": True}),
    ("adamw", {}), ("adamw", {"amsgrad": True}),
    ("rmsprop", {}), ("rmsprop", {"momentum": 0.5}), ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adagrad", {}),
]
COMMON = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.05},
    "clipnorm": {"clipnorm": 0.5},
    "clipvalue": {"clipvalue": 0.05},
    "global_clipnorm": {"global_clipnorm": 0.5},
}


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-5)])
@pytest.mark.parametrize("common", sorted(COMMON))
@pytest.mark.parametrize("kind, rule_kwargs", RULES,
                         ids=[k + "".join(f"-{a}" for a in kw) for k, kw in RULES])
def test_update_matches_keras_rule(kind, rule_kwargs, common, dtype, rtol):
    kwargs = {"learning_rate": 0.1, **rule_kwargs, **COMMON[common]}
    got, want, reference = _run_both(kind, kwargs, dtype)
    if common in ("clipnorm", "clipvalue", "global_clipnorm"):
        assert reference.clipped, "the test data must make clipping matter"
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_keras_defaults_and_update_with_them(kind):
    optimizer = CLASSES[kind]()
    config = optimizer.get_config()
    for key, value in KERAS_DEFAULTS[kind].items():
        assert config[key] == pytest.approx(value) if isinstance(value, float) else \
            config[key] == value, key
    got, want, _ = _run_both(kind, {}, "float64", steps=3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_weight_decay_skips_frozen_weights():
    model = ember.Sequential([ember.Input((3,)), ember.layers.Dense(2, trainable=False),
                              ember.layers.Dense(1)])
    model.compile(optimizers.AdamW(learning_rate=0.1, weight_decay=0.5), "mse")
    before = model.get_weights()
    model.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 1), "float32"))
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[2], before[2])


def test_optimizer_state_persists_across_fit_calls():
    """Momentum built in a first fit keeps acting in the second, as in one longer run."""
    kwargs = {"learning_rate": 0.1, "momentum": 0.9}
    got, want, _ = _run_both("sgd", kwargs, "float64", steps=2)
    rng = np.random.default_rng(0)
    kernel, bias = rng.standard_normal((3, 1)), rng.standard_normal(1)
    model = ember.Sequential([ember.Input((3,), dtype="float64"),
                              ember.layers.Dense(1, dtype="float64")])
    model.set_weights([kernel, bias])
    model.compile(optimizers.SGD(**kwargs), "mse")
    for _ in range(2):
        x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1)) * 3.0
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for g, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(g, w, rtol=1e-10)


# ---- get / serialize --------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [("sgd", optimizers.SGD), ("SGD", optimizers.SGD),
                                       ("adam", optimizers.Adam), ("Adam", optimizers.Adam),
                                       ("adamw", optimizers.AdamW),
                                       ("rmsprop", optimizers.RMSprop),
                                       ("adagrad", optimizers.Adagrad)])
def test_get_by_name(name, cls):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls
    assert optimizer.learning_rate == pytest.approx(KERAS_DEFAULTS[cls.__name__.lower()]
                                                    ["learning_rate"])


def test_get_other_identifiers():
    adam = optimizers.Adam(0.5)
    assert optimizers.get(adam) is adam
    assert type(optimizers.get(optimizers.RMSprop)) is optimizers.RMSprop
    restored = optimizers.get(optimizers.serialize(optimizers.SGD(0.2, momentum=0.5)))
    assert type(restored) is optimizers.SGD
    assert restored.learning_rate == pytest.approx(0.2) and restored.momentum == 0.5


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamax'; valid names: "
                                         r"\['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\]"):
        optimizers.get("adamax")
    with pytest.raises(ValueError, match=r"could not interpret optimizer 3"):
        optimizers.get(3)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_config_roundtrip(kind):
    optimizer = CLASSES[kind](learning_rate=0.25, clipnorm=1.5)
    clone = CLASSES[kind].from_config(optimizer.get_config())
    assert clone.get_config() == optimizer.get_config()


def test_schedule_config_roundtrip():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    optimizer = optimizers.SGD(learning_rate=schedule)
    clone = optimizers.SGD.from_config(optimizer.get_config())
    assert clone.learning_rate == pytest.approx(0.1)
    clone.iterations = 10
    assert clone.learning_rate == pytest.approx(0.05)


@pytest.mark.parametrize("make, match", [
    (lambda: optimizers.SGD(momentum=1.5), r"SGD: `momentum` must be in \[0, 1\], received 1.5"),
    (lambda: optimizers.Adam(learning_rate=-1.0),
     r"Adam: `learning_rate` must be >= 0, received -1.0"),
    (lambda: optimizers.SGD(clipnorm=-1.0), r"SGD: `clipnorm` must be >= 0, received -1.0"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0),
     r"SGD: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set"),
    (lambda: optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0),
     r"Adam: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set"),
    (lambda: optimizers.AdamW(weight_decay=None), r"AdamW: `weight_decay` must be set"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_keyword_and_unsupported_features():
    with pytest.raises(TypeError, match=r"Adam: unexpected keyword argument\(s\) \['lr'\]"):
        optimizers.Adam(lr=0.1)
    with pytest.raises(NotImplementedError, match=r"use_ema"):
        optimizers.Adam(use_ema=True)
