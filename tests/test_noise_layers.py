"""GaussianNoise, GaussianDropout, AlphaDropout: identity at inference, Keras's statistics in
training, gradients consistent with the drawn noise, configs."""
import numpy as np
import pytest

import ember
from ember import layers
from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.ops import apply_op
from layer_harness import run_layer_test
from op_harness import OpCase, check_gradients, check_shape_inference, uniform

CASES = [
    OpCase("gaussian_noise_training", lambda x: apply_op("gaussian_noise", [x],
                                                         {"stddev": 0.3, "training": 1}),
           [uniform((4, 5))], None, training=True),
    OpCase("gaussian_dropout_training", lambda x: apply_op("gaussian_dropout", [x],
                                                           {"rate": 0.3, "training": 1}),
           [uniform((4, 5))], None, training=True),
    OpCase("alpha_dropout_training", lambda x: apply_op("alpha_dropout", [x],
                                                        {"rate": 0.3, "training": 1}),
           [uniform((4, 5))], None, training=True),
]


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


def sample(op, attrs, x, seed=7):
    sym = input_tensor(x.shape, "float64")
    return Function([sym], [apply_op(op, [sym], attrs)], training=True)(x, seed=seed)[0]


def test_statistics_match_keras_formulas():
    x = np.full((400, 500), 2.0)
    noise = sample("gaussian_noise", {"stddev": 0.5}, x) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01
    factor = sample("gaussian_dropout", {"rate": 0.2}, x) / x
    assert abs(factor.mean() - 1) < 0.01 and abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 500))
    y = sample("alpha_dropout", {"rate": 0.1}, z)
    assert abs(y.mean() - z.mean()) < 0.02 and abs(y.std() - z.std()) < 0.02  # self-normalising
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.1) * (1 + 0.1 * alpha_p ** 2)) ** -0.5
    dropped = ~np.isclose(y, a * z + (-a * alpha_p * 0.1))
    np.testing.assert_allclose(y[dropped], a * alpha_p - a * alpha_p * 0.1)
    assert abs(dropped.mean() - 0.1) < 0.01
    np.testing.assert_array_equal(sample("gaussian_noise", {"stddev": 0.5}, x, seed=3),
                                  sample("gaussian_noise", {"stddev": 0.5}, x, seed=3))


@pytest.mark.parametrize("cls, kwargs", [
    (layers.GaussianNoise, {"stddev": 0.4}), (layers.GaussianDropout, {"rate": 0.3}),
    (layers.AlphaDropout, {"rate": 0.2}),
])
def test_layers_are_identity_at_inference_and_round_trip(cls, kwargs):
    run_layer_test(cls, kwargs, (3, 4), (3, 4), reference=lambda x, w: x)
    layer = cls(**kwargs)
    x = np.ones((50, 40), "float32")
    assert not np.allclose(layer(x, training=True), x)
    m = layers.Masking()(ember.Input((3, 2)))
    assert cls(**kwargs)(m)._keras_mask is m._keras_mask


@pytest.mark.parametrize("call", [
    lambda: layers.GaussianNoise(-1.0), lambda: layers.GaussianDropout(1.5),
    lambda: layers.AlphaDropout(0.1, noise_shape=(1, 2)),
])
def test_bad_arguments(call):
    with pytest.raises((ValueError, NotImplementedError)):
        call()
