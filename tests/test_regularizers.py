"""Tests of ember.regularizers: penalties, Keras names/defaults, get/serialize."""

import json
import sys
import types

import numpy as np
import pytest

import ember
from ember import regularizers

X = np.array([[1.0, -2.0], [0.5, 0.0]], dtype=np.float32)  # sum|x| = 3.5, sum x^2 = 5.25


def test_l1_l2_l1l2_on_numpy():
    assert regularizers.L1(0.1)(X) == pytest.approx(0.35)
    assert regularizers.L2(0.1)(X) == pytest.approx(0.525)
    assert regularizers.L1L2(l1=0.1, l2=0.2)(X) == pytest.approx(0.35 + 1.05)
    assert regularizers.L1L2(l2=0.2)(X) == pytest.approx(1.05)
    for value in (regularizers.L1(0.1)(X), regularizers.L1L2(0.1, 0.2)(X)):
        assert type(value) is float


def test_penalties_accept_lists_and_float64():
    assert regularizers.L2(1.0)([1.0, 2.0]) == pytest.approx(5.0)
    assert regularizers.L1(1.0)(np.array([-1e-3, 2.0])) == pytest.approx(2.001)


def test_keras_defaults():
    assert regularizers.L1().l1 == 0.01
    assert regularizers.L2().l2 == 0.01
    assert regularizers.L1(None).l1 == 0.01
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.L1L2()(X) == 0.0
    assert regularizers.Regularizer()(X) == 0.0


def test_aliases():
    assert regularizers.l1 is regularizers.L1
    assert regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", True])
@pytest.mark.parametrize("cls, arg", [(regularizers.L1, "l1"), (regularizers.L2, "l2"),
                                      (regularizers.L1L2, "l1"), (regularizers.L1L2, "l2")])
def test_bad_factors(cls, arg, bad):
    with pytest.raises(ValueError, match=f"{cls.__name__}: invalid value for argument {arg}"):
        cls(**{arg: bad})


@pytest.mark.parametrize(
    "name, cls, config",
    [("l1", regularizers.L1, {"l1": 0.01}), ("L1", regularizers.L1, {"l1": 0.01}),
     ("l2", regularizers.L2, {"l2": 0.01}), ("L2", regularizers.L2, {"l2": 0.01}),
     ("l1_l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
     ("l1l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
     ("L1L2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0})],
)
def test_get_by_name(name, cls, config):
    obj = regularizers.get(name)
    assert type(obj) is cls and obj.get_config() == config


def test_get_other_identifiers():
    assert regularizers.get(None) is None
    inst = regularizers.L2(0.5)
    assert regularizers.get(inst) is inst
    assert type(regularizers.get(regularizers.L1)) is regularizers.L1

    def penalty(w):
        return 0.0

    assert regularizers.get(penalty) is penalty
    got = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.3, "l2": 0.4}})
    assert got.get_config() == {"l1": 0.3, "l2": 0.4}
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: "
                                         "'l3'.*'l1_l2'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        regularizers.get(5)


@pytest.mark.parametrize("obj", [regularizers.L1(0.2), regularizers.L2(0.3),
                                 regularizers.L1L2(l1=0.1, l2=0.4)])
def test_serialize_round_trip(obj):
    config = regularizers.serialize(obj)
    assert config == {"module": "ember.regularizers", "class_name": type(obj).__name__,
                      "config": obj.get_config(), "registered_name": None}
    restored = regularizers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()
    assert restored(X) == obj(X)
    assert type(obj).from_config(obj.get_config()).get_config() == obj.get_config()


def test_deserialize_keras_config_and_custom_objects():
    keras_config = {"module": "keras.regularizers", "class_name": "L2",
                    "config": {"l2": 0.5}, "registered_name": None}
    assert regularizers.deserialize(keras_config).l2 == 0.5

    class Scaled(regularizers.Regularizer):
        def __init__(self, k=1.0):
            self.k = k

        def __call__(self, x):
            return self.k

        def get_config(self):
            return {"k": self.k}

    config = regularizers.serialize(Scaled(2.0))
    with pytest.raises(ValueError, match="unknown regularizer 'Scaled'"):
        regularizers.deserialize(config)
    assert regularizers.deserialize(config, custom_objects={"Scaled": Scaled}).k == 2.0
    with pytest.raises(NotImplementedError, match="get_config"):
        regularizers.Regularizer().get_config()


class FakeTensor:
    """Stands for a symbolic ember tensor: not a NumPy array."""

    def __init__(self, expr):
        self.expr = expr


def _fake_ops():
    def wrap(name):
        def op(*args):
            parts = [a.expr if isinstance(a, FakeTensor) else repr(a) for a in args]
            return FakeTensor(f"{name}({', '.join(parts)})")
        return op

    return types.SimpleNamespace(**{n: wrap(n) for n in
                                    ("sum", "abs", "square", "multiply", "add")})


def test_tensors_go_through_ember_ops(monkeypatch):
    # A layer's weight inside a model is a symbolic tensor: the penalty must be recorded with
    # ember.ops (here a recording stand-in) rather than computed with NumPy.
    fake = _fake_ops()
    monkeypatch.setitem(sys.modules, "ember.ops", fake)
    monkeypatch.setattr(ember, "ops", fake, raising=False)
    w = FakeTensor("w")
    assert regularizers.L1(0.5)(w).expr == "multiply(0.5, sum(abs(w)))"
    assert regularizers.L2(0.25)(w).expr == "multiply(0.25, sum(square(w)))"
    assert (regularizers.L1L2(0.5, 0.25)(w).expr
            == "add(multiply(0.5, sum(abs(w))), multiply(0.25, sum(square(w))))")
    assert regularizers.L1L2(l2=0.25)(w).expr == "multiply(0.25, sum(square(w)))"


@pytest.mark.skipif(not hasattr(ember, "Input"), reason="ember.Input is not available")
def test_symbolic_tensors_record_ops():
    # With the real ember.ops: a model input is symbolic, so the penalty is a graph node.
    x = ember.Input((3,))
    for reg in (regularizers.L1(0.1), regularizers.L2(0.1), regularizers.L1L2(0.1, 0.2)):
        penalty = reg(x)
        assert not isinstance(penalty, (float, np.ndarray))
        assert type(penalty) is type(x)
