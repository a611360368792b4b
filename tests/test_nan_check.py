"""ember.config.enable_nan_check: the first op and layer producing a NaN or an infinity, and the
step, named in a FloatingPointError; off by default."""
import numpy as np
import pytest

import ember
from ember import layers, ops


@pytest.fixture
def nan_check():
    ember.config.enable_nan_check()
    yield
    ember.config.disable_nan_check()


def log_model():
    model = ember.Sequential([layers.Input((3,)), layers.Dense(4, name="proj"),
                              layers.Lambda(ops.log, name="take_log"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_off_by_default_nan_flows_through():
    assert not ember.config.is_nan_check_enabled()
    model = log_model()
    model.layers[0].set_weights([np.ones((3, 4)), np.zeros(4)])
    out = model.predict(-np.ones((2, 3)) * 100, verbose=0)
    assert np.isnan(out).any()


def test_forward_nan_names_op_layer_and_step(nan_check):
    model = log_model()
    model.layers[0].set_weights([np.ones((3, 4)), np.zeros(4)])
    x = np.ones((8, 3))
    model.train_on_batch(x, np.zeros((8, 1)))  # fine: positive inputs to log
    with pytest.raises(FloatingPointError) as e:
        model.train_on_batch(-x, np.zeros((8, 1)))
    msg = str(e.value)
    assert "op 'log'" in msg and "layer 'take_log'" in msg and "forward" in msg
    assert "training step 2" in msg
    with pytest.raises(FloatingPointError, match="op 'log'"):
        model.predict(-x, verbose=0)


def test_backward_infinity_is_caught(nan_check):
    # sqrt at 0 is finite forwards and infinite backwards.
    x = ember.Input((2,))
    h = layers.Dense(2, kernel_initializer="zeros")(x)
    y = layers.Dense(1)(layers.Lambda(ops.sqrt, name="root")(h))
    model = ember.Model(x, y)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(FloatingPointError) as e:
        model.train_on_batch(np.zeros((4, 2)), np.ones((4, 1)))
    assert "op 'sqrt'" in str(e.value) and "backward" in str(e.value)


def test_clean_training_is_unaffected(nan_check):
    rng = np.random.default_rng(0)
    model = ember.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.normal(size=(32, 3)), rng.normal(size=(32, 1)), epochs=2, verbose=0)
