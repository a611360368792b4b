"""Layer tests through the shared harness (tests/layer_harness.py), plus the behaviour each
layer has beyond it: Dense's arguments, every activation name, dropout statistics, reshape
inference, InputLayer, and bad constructor arguments."""
import math
import re

import numpy as np
import pytest

import ember
from ember import initializers, layers, regularizers
from layer_harness import run_layer_test


# ---- NumPy references (Keras 3 definitions and defaults) -------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gelu_exact(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "log_softmax": lambda x: np.log(_softmax(x)),
    "gelu": _gelu_exact,  # keras.activations.gelu defaults to approximate=False
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "exponential": np.exp,
}


def _dense_reference(activation="linear", use_bias=True):
    def ref(x, weights):
        y = x.astype("float64") @ weights[0].astype("float64")
        if use_bias:
            y = y + weights[1]
        return ACTIVATIONS[activation](y)
    return ref


# ---- Dense ------------------------------------------------------------------------------------
def test_dense_default():
    layer = run_layer_test(layers.Dense, {"units": 3}, input_shape=(5, 4),
                           expected_output_shape=(5, 3), expected_num_trainable_weights=2,
                           reference=_dense_reference())
    assert [w.shape for w in layer.weights] == [(4, 3), (3,)]
    assert [w.name for w in layer.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_activation(activation):
    # relu/sigmoid/tanh run fused in the dense op; the others as a separate op after it.
    run_layer_test(layers.Dense, {"units": 3, "activation": activation}, input_shape=(6, 4),
                   expected_output_shape=(6, 3), expected_num_trainable_weights=2,
                   reference=_dense_reference(activation), rtol=1e-5, atol=1e-5)


def test_dense_callable_activation():
    layer = layers.Dense(3, activation=ember.activations.tanh)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(layer(x), _dense_reference("tanh")(x, layer.get_weights()),
                               rtol=1e-5, atol=1e-6)
    assert layer.get_config()["activation"] == "tanh"


def test_dense_no_bias():
    layer = run_layer_test(layers.Dense, {"units": 2, "use_bias": False}, input_shape=(3, 4),
                           expected_output_shape=(3, 2), expected_num_trainable_weights=1,
                           reference=_dense_reference(use_bias=False))
    assert layer.bias is None and layer.get_config()["use_bias"] is False


def test_dense_on_3d_input_acts_on_last_axis():
    run_layer_test(layers.Dense, {"units": 3, "activation": "relu"}, input_shape=(2, 5, 4),
                   expected_output_shape=(2, 5, 3), expected_num_trainable_weights=2,
                   reference=_dense_reference("relu"))


def test_dense_initializers_by_name_and_object():
    layer = layers.Dense(3, kernel_initializer="ones",
                         bias_initializer=initializers.Constant(0.5))
    layer(np.zeros((1, 4), "float32"))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((4, 3)))
    np.testing.assert_array_equal(layer.bias.numpy(), np.full(3, 0.5))
    config = layer.get_config()
    assert config["kernel_initializer"]["class_name"] == "Ones"
    assert config["bias_initializer"]["config"] == {"value": 0.5}
    run_layer_test(layers.Dense, {"units": 3, "kernel_initializer": "ones",
                                  "bias_initializer": initializers.Constant(0.5)},
                   input_shape=(2, 4), expected_output_shape=(2, 3),
                   expected_num_trainable_weights=2, reference=_dense_reference())


def test_dense_default_initializers_are_glorot_uniform_and_zeros():
    layer = layers.Dense(50)
    layer(np.zeros((1, 30), "float32"))
    limit = np.sqrt(6.0 / (30 + 50))
    kernel = layer.kernel.numpy()
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(50))


def test_dense_regularizers_add_to_the_training_loss():
    run_layer_test(layers.Dense, {"units": 2, "kernel_regularizer": "l2",
                                  "bias_regularizer": regularizers.L1(0.1)},
                   input_shape=(3, 4), expected_output_shape=(3, 2),
                   expected_num_trainable_weights=2, reference=_dense_reference())
    # Exact penalty: kernel all ones (4x2), bias all ones (2): 0.5 * 8 + 0.25 * 2.
    inp = ember.Input((4,))
    dense = layers.Dense(2, kernel_initializer="ones", bias_initializer="ones",
                         kernel_regularizer=regularizers.L2(0.5),
                         bias_regularizer=regularizers.L1(0.25))
    model = ember.Model(inp, dense(inp))
    assert len(model.losses) == 2
    model.compile(optimizer=ember.optimizers.SGD(0.0), loss="mse")
    x = np.zeros((3, 4), "float32")
    y = np.ones((3, 2), "float32")  # prediction is the bias (1): mse 0
    assert model.test_on_batch(x, y) == pytest.approx(4.0 + 0.5, rel=1e-6)


def test_dense_trainable_false():
    layer = run_layer_test(layers.Dense, {"units": 2, "trainable": False}, input_shape=(3, 4),
                           expected_output_shape=(3, 2), expected_num_non_trainable_weights=2,
                           reference=_dense_reference())
    assert layer.trainable is False and layer.get_config()["trainable"] is False


def test_dense_float64():
    layer = run_layer_test(layers.Dense, {"units": 3, "dtype": "float64"}, input_shape=(2, 4),
                           expected_output_shape=(2, 3), expected_num_trainable_weights=2,
                           input_dtype="float64", reference=_dense_reference(), rtol=1e-12)
    assert all(w.dtype == "float64" for w in layer.weights)


def test_dense_name_and_input_shape_arguments():
    layer = layers.Dense(3, name="my_dense", input_shape=(4,))
    assert layer.name == "my_dense"
    model = ember.Sequential([layer])
    assert model.built and model.count_params() == 4 * 3 + 3
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.name == "my_dense"
    assert ember.Sequential([clone]).built
    assert ember.Sequential([layers.Dense(3, input_dim=7)]).count_params() == 7 * 3 + 3


def test_dense_automatic_names_are_unique():
    a, b = layers.Dense(1), layers.Dense(1)
    assert a.name != b.name and a.name.startswith("dense") and b.name.startswith("dense")


def test_dense_on_unknown_last_dimension_fails_clearly():
    with pytest.raises(ValueError, match=r"Dense '.*'.*last dimension.*\(None, None\)"):
        layers.Dense(3)(ember.Input(shape=(None,)))


@pytest.mark.parametrize("units", [0, -3, "a", 2.5, None, True])
def test_dense_bad_units(units):
    with pytest.raises(ValueError, match=r"Dense .*positive integer for `units`, received " +
                       re.escape(repr(units))):
        layers.Dense(units)


@pytest.mark.parametrize("arg", ["activity_regularizer", "kernel_constraint",
                                 "bias_constraint", "lora_rank"])
def test_dense_unsupported_arguments_are_refused_not_ignored(arg):
    with pytest.raises(NotImplementedError, match=f"Dense .*`{arg}`"):
        layers.Dense(2, **{arg: 4 if arg == "lora_rank" else "l2"})


def test_dense_unknown_activation_and_keyword():
    with pytest.raises(ValueError, match=r"unknown activation 'relu7'.*'relu'"):
        layers.Dense(2, activation="relu7")
    with pytest.raises(TypeError, match=r"Dense.*unexpected keyword.*'kernel_size'"):
        layers.Dense(2, kernel_size=3)
    with pytest.raises(ValueError, match=r"unsupported dtype 'float16'"):
        layers.Dense(2, dtype="float16")


def test_dense_input_of_wrong_width_after_build():
    layer = layers.Dense(2)
    layer(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match=r"Dense 'dense.*'.*4.*3|Dense 'dense.*'.*3.*4"):
        layer(np.zeros((1, 3), "float32"))


# ---- Activation -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer(name):
    layer = run_layer_test(layers.Activation, {"activation": name}, input_shape=(3, 5),
                           expected_output_shape=(3, 5),
                           reference=lambda x, _: ACTIVATIONS[name](x.astype("float64")),
                           rtol=1e-5, atol=1e-6)
    # 'swish' is Keras's alias of silu and serializes as 'silu', as in Keras.
    assert layer.get_config()["activation"] == ("silu" if name == "swish" else name)


def test_activation_on_rank_3_and_float64():
    run_layer_test(layers.Activation, {"activation": "softmax", "dtype": "float64"},
                   input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4), input_dtype="float64",
                   reference=lambda x, _: _softmax(x), rtol=1e-12)


def test_activation_bad_names():
    with pytest.raises(ValueError, match=r"unknown activation 'nope'; valid names: .*'sigmoid'"):
        layers.Activation("nope")
    with pytest.raises(ValueError, match=r"could not interpret activation 3"):
        layers.Activation(3)


# ---- Dropout ----------------------------------------------------------------------------------
def test_dropout_harness():
    # Called outside fit, dropout is the identity (training defaults to off).
    run_layer_test(layers.Dropout, {"rate": 0.5}, input_shape=(4, 6), expected_output_shape=(4, 6),
                   reference=lambda x, _: x)
    run_layer_test(layers.Dropout, {"rate": 0.0}, input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 4), reference=lambda x, _: x)


def test_dropout_in_training_drops_rate_and_rescales():
    rate = 0.3
    x = np.ones((200, 100), "float32")
    y = layers.Dropout(rate)(x, training=True)
    kept = y != 0
    assert abs(1.0 - kept.mean() - rate) < 0.02  # 20000 draws: 4+ standard deviations
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - rate), rtol=1e-6)
    np.testing.assert_array_equal(layers.Dropout(rate)(x, training=False), x)


def test_dropout_draws_a_new_mask_per_call_reproducibly():
    x = np.ones((8, 50), "float32")
    layer = layers.Dropout(0.5)
    ember.utils.set_random_seed(11)
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(first, second)
    ember.utils.set_random_seed(11)
    np.testing.assert_array_equal(layer(x, training=True), first)
    np.testing.assert_array_equal(layer(x, training=True), second)


def test_dropout_noise_shape_shares_the_mask_along_broadcast_axes():
    x = np.ones((16, 5, 40), "float32")
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 40))
    y = layer(x, training=True)
    for t in range(1, 5):  # one mask per (sample, feature), shared by every step
        np.testing.assert_array_equal(y[:, t], y[:, 0])
    assert 0.3 < (y[:, 0] == 0).mean() < 0.7
    assert layers.Dropout.from_config(layer.get_config()).noise_shape == (None, 1, 40)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 1))(x, training=True)


def test_dropout_config():
    layer = layers.Dropout(0.25, seed=7)
    assert layer.get_config()["rate"] == 0.25 and layer.get_config()["seed"] == 7


@pytest.mark.parametrize("rate", [1.5, -0.1, "a", None])
def test_dropout_bad_rate(rate):
    with pytest.raises(ValueError, match=r"Dropout .*`rate` in \[0, 1\], received " +
                       re.escape(repr(rate))):
        layers.Dropout(rate)


# ---- Flatten / Reshape ------------------------------------------------------------------------
def test_flatten():
    run_layer_test(layers.Flatten, {}, input_shape=(2, 3, 4), expected_output_shape=(2, 12),
                   reference=lambda x, _: x.reshape(2, -1))
    run_layer_test(layers.Flatten, {}, input_shape=(2, 3, 4, 5), expected_output_shape=(2, 60),
                   reference=lambda x, _: x.reshape(2, -1))
    run_layer_test(layers.Flatten, {}, input_shape=(3, 5), expected_output_shape=(3, 5),
                   reference=lambda x, _: x)


def test_flatten_of_a_vector_batch_gives_one_column():
    run_layer_test(layers.Flatten, {}, input_shape=(4,), expected_output_shape=(4, 1),
                   reference=lambda x, _: x.reshape(4, 1))


def test_flatten_channels_first_moves_channels_last():
    run_layer_test(layers.Flatten, {"data_format": "channels_first"}, input_shape=(2, 3, 4, 5),
                   expected_output_shape=(2, 60),
                   reference=lambda x, _: x.transpose(0, 2, 3, 1).reshape(2, -1))


def test_flatten_bad_data_format():
    with pytest.raises(ValueError, match=r"Flatten .*data_format.*received 'nhwc'"):
        layers.Flatten(data_format="nhwc")


@pytest.mark.parametrize("input_shape, target, expected", [
    ((2, 12), (3, 4), (2, 3, 4)),
    ((2, 12), (-1, 4), (2, 3, 4)),
    ((2, 12), (2, -1), (2, 2, 6)),
    ((2, 3, 4), (-1,), (2, 12)),
    ((2, 3, 4), (12, 1), (2, 12, 1)),
])
def test_reshape(input_shape, target, expected):
    run_layer_test(layers.Reshape, {"target_shape": target}, input_shape=input_shape,
                   expected_output_shape=expected, reference=lambda x, _: x.reshape(expected))


def test_reshape_config_keeps_target_shape():
    layer = layers.Reshape((3, -1))
    assert tuple(layer.get_config()["target_shape"]) == (3, -1)


@pytest.mark.parametrize("target", [(-1, -1), (2, -1, -1)])
def test_reshape_two_unknowns(target):
    with pytest.raises(ValueError, match=r"Reshape .*at most one -1.*received target_shape " +
                       re.escape(repr(target))):
        layers.Reshape(target)


@pytest.mark.parametrize("target", [(0, 4), (-2, 3), (2.5,)])
def test_reshape_bad_dimensions(target):
    with pytest.raises(ValueError, match=r"Reshape .*positive dimensions"):
        layers.Reshape(target)


def test_reshape_to_a_different_size_fails_clearly():
    with pytest.raises(ValueError, match=r"Reshape 'reshape.*'"):
        layers.Reshape((5,))(ember.Input((12,)))
    with pytest.raises(ValueError, match=r"Reshape 'reshape.*'"):
        layers.Reshape((5,))(np.zeros((2, 12), "float32"))
    with pytest.raises(ValueError, match=r"Reshape 'reshape.*'"):
        layers.Reshape((5, -1))(np.zeros((2, 12), "float32"))


# ---- InputLayer / Input -----------------------------------------------------------------------
def test_input_layer_shapes_and_config_roundtrip():
    layer = layers.InputLayer(shape=(4, 3))
    assert layer.output.shape == (None, 4, 3) and layer.output.dtype == "float32"
    assert layer.built and layer.weights == [] and layer.count_params() == 0
    config = layer.get_config()
    assert tuple(config["batch_shape"]) == (None, 4, 3)
    clone = layers.InputLayer.from_config(config)
    assert clone.output.shape == (None, 4, 3) and clone.name == layer.name

    fixed = layers.InputLayer(shape=(5,), batch_size=8, dtype="float64")
    assert fixed.output.shape == (8, 5) and fixed.output.dtype == "float64"
    assert layers.InputLayer(batch_shape=(None, 7)).output.shape == (None, 7)
    assert layers.InputLayer(shape=6).output.shape == (None, 6)


def test_input_function():
    x = ember.Input(shape=(3,), name="features")
    assert x.shape == (None, 3) and x.dtype == "float32"
    assert x._layer.name == "features"
    assert ember.Input(batch_shape=(2, 3), dtype="int32").shape == (2, 3)
    assert ember.Input((None, 4)).shape == (None, None, 4)


def test_input_layer_in_sequential_and_model_runs_identity_through_flatten():
    model = ember.Sequential([layers.InputLayer(shape=(2, 3)), layers.Flatten()])
    x = np.arange(12, dtype="float32").reshape(2, 2, 3)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x.reshape(2, 6))


def test_input_layer_bad_arguments():
    with pytest.raises(ValueError, match=r"InputLayer .*expected `shape` or `batch_shape`"):
        layers.InputLayer()
    with pytest.raises(ValueError, match=r"InputLayer .*positive dimensions.*\(None, -2\)"):
        layers.InputLayer(shape=(-2,))
    with pytest.raises(ValueError, match=r"InputLayer .*sparse"):
        layers.InputLayer(shape=(2,), sparse=True)


# ---- Layer base class -------------------------------------------------------------------------
def test_count_params_before_build_fails_clearly():
    with pytest.raises(ValueError, match=r"Layer 'dense.*' is not built yet"):
        layers.Dense(3).count_params()


def test_set_weights_checks_count_and_shapes():
    layer = layers.Dense(2)
    layer(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"expected 2 weights, received 1"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"weight 'kernel': expected shape \(3, 2\), received "
                                         r"shape \(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_layers_serialize_deserialize():
    layer = layers.Dense(4, activation="relu", name="d")
    config = layers.serialize(layer)
    assert config["class_name"] == "Dense"
    clone = layers.deserialize(config)
    assert isinstance(clone, layers.Dense) and clone.units == 4 and clone.name == "d"
    with pytest.raises(ValueError, match=r"unknown layer 'Conv9D'; expected one of \["):
        layers.deserialize({"class_name": "Conv9D", "config": {}})
