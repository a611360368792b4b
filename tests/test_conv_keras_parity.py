"""Parity of the convolution-family layers with Keras 3 (torch backend): for each layer and a few
argument combinations, the same arguments give the same weights (names, shapes, order) and, once
Keras's weights are copied with set_weights, the same outputs and the same SGD step. A small CNN
(Conv2D + BatchNormalization + MaxPooling2D + Dense) trains one step to the same loss and
weights. Keras configs load in ember. Skipped when keras or torch is missing.

Not compared here, on purpose: AveragePooling with uneven 'same' padding (more padding after
than before). Keras's torch backend pads those edges by replicating values and counts them in
the mean; ember averages only the real elements, as TF does and Keras documents. ember is tested
against a NumPy reference there (tests/test_conv_layers.py).
"""
import os
import re

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
RTOL, ATOL = 1e-4, 1e-5

CF = {"data_format": "channels_first"}
# (layer class name, constructor arguments, input shape with batch)
CASES = [
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (2, 9, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 9, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
     (2, 9, 3)),
    ("Conv1D", {"filters": 6, "kernel_size": 3, "groups": 2, "activation": "relu"}, (2, 8, 4)),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "padding": "same", **CF}, (2, 3, 8)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "activation": "gelu", "use_bias": False},
     (2, 9, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, (2, 7, 6, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same",
                "activation": "relu"}, (2, 7, 6, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
     (2, 7, 6, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 3, "activation": "tanh"},
     (2, 6, 6, 6)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", **CF},
     (2, 3, 7, 6)),
    ("Conv2D", {"filters": 4, "kernel_size": 2, "activation": "gelu"}, (2, 5, 6, 3)),
    ("Conv3D", {"filters": 3, "kernel_size": 2}, (2, 4, 5, 3, 2)),
    ("Conv3D", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", **CF},
     (2, 2, 5, 4, 3)),
    ("Conv3D", {"filters": 4, "kernel_size": (1, 2, 2), "groups": 2, "activation": "sigmoid"},
     (2, 3, 4, 4, 4)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
     (2, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1},
     (2, 5, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3}, (2, 4, 5, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same",
                         "activation": "relu"}, (2, 4, 5, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": (3, 2), "strides": (2, 3)},
     (2, 4, 3, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 2, "strides": 2, **CF}, (2, 2, 4, 3)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "dilation_rate": (1, 2),
                         "padding": "same", "use_bias": False}, (2, 4, 5, 2)),
    ("DepthwiseConv2D", {"kernel_size": 3}, (2, 6, 5, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2,
                         "padding": "same", "activation": "relu"}, (2, 6, 5, 3)),
    ("DepthwiseConv2D", {"kernel_size": 2, "dilation_rate": 2, "depth_multiplier": 3, **CF},
     (2, 2, 6, 5)),
    ("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "dilation_rate": 2}, (2, 9, 8, 2)),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (2, 8, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, (2, 6, 5, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "strides": 2,
                         "padding": "same", "activation": "relu"}, (2, 6, 5, 3)),
    ("SeparableConv2D", {"filters": 5, "kernel_size": 2, **CF}, (2, 3, 6, 5)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3}, (2, 8, 3)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                         "padding": "same"}, (2, 8, 3)),
    ("SeparableConv1D", {"filters": 3, "kernel_size": 2, "strides": 2, "dilation_rate": 2,
                         "padding": "same"}, (2, 9, 3)),
    ("MaxPooling1D", {"pool_size": 2}, (2, 8, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    ("MaxPooling2D", {"pool_size": 2}, (2, 6, 5, 3)),
    ("MaxPooling2D", {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"},
     (2, 6, 5, 3)),
    ("MaxPooling2D", {"pool_size": 2, **CF}, (2, 3, 6, 5)),
    ("MaxPooling3D", {"pool_size": 2}, (2, 4, 5, 4, 2)),
    ("MaxPooling3D", {"pool_size": 2, "strides": 1, "padding": "same"}, (2, 3, 4, 3, 2)),
    # Average pooling: 'valid', or 'same' with as much padding before as after (see above).
    ("AveragePooling1D", {"pool_size": 2}, (2, 8, 3)),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 8, 3)),
    ("AveragePooling2D", {"pool_size": 2}, (2, 6, 5, 3)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 5, 4, 3)),
    ("AveragePooling2D", {"pool_size": 2, "strides": 2, "padding": "same", **CF},
     (2, 3, 6, 4)),
    ("AveragePooling3D", {"pool_size": 2}, (2, 4, 5, 4, 2)),
    ("AveragePooling3D", {"pool_size": 3, "strides": 1, "padding": "same"}, (1, 3, 4, 3, 2)),
    ("GlobalMaxPooling1D", {}, (2, 5, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 5, 4, 3)),
    ("GlobalMaxPooling3D", {**CF}, (2, 3, 4, 3, 2)),
    ("GlobalAveragePooling1D", {"keepdims": True, **CF}, (2, 3, 5)),
    ("GlobalAveragePooling2D", {}, (2, 5, 4, 3)),
    ("GlobalAveragePooling3D", {"keepdims": True}, (2, 3, 4, 3, 2)),
    ("BatchNormalization", {}, (4, 5, 3)),
    ("BatchNormalization", {"axis": 1, "momentum": 0.9}, (3, 2, 4, 5)),
    ("BatchNormalization", {"center": False, "epsilon": 0.01}, (6, 3)),
    ("BatchNormalization", {"scale": False}, (4, 2, 3)),
    ("GroupNormalization", {"groups": 2}, (3, 5, 4)),
    ("GroupNormalization", {"groups": -1, "axis": 1}, (2, 3, 4, 5)),
    ("GroupNormalization", {"groups": 3, "center": False}, (2, 4, 3, 6)),
    ("ZeroPadding1D", {"padding": (2, 1)}, (2, 5, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (2, 4, 3, 2)),
    ("ZeroPadding2D", {"padding": 1, **CF}, (2, 2, 4, 3)),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}, (1, 2, 3, 2, 2)),
    ("Cropping1D", {"cropping": (1, 2)}, (2, 6, 3)),
    ("Cropping2D", {"cropping": ((1, 0), (0, 2))}, (2, 4, 5, 2)),
    ("Cropping2D", {"cropping": 1, **CF}, (2, 2, 4, 5)),
    ("Cropping3D", {"cropping": (1, 0, 1)}, (1, 4, 3, 5, 2)),
    ("UpSampling1D", {"size": 3}, (2, 4, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear", **CF}, (2, 2, 3, 4)),
    ("UpSampling3D", {"size": (1, 2, 2)}, (1, 2, 3, 2, 2)),
    ("SpatialDropout1D", {"rate": 0.5}, (2, 5, 3)),
    ("SpatialDropout2D", {"rate": 0.5, **CF}, (2, 3, 4, 2)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def _layers(name, kwargs):
    return getattr(keras.layers, name)(**kwargs), getattr(ember.layers, name)(**kwargs)


def _numpy(t):
    return keras.ops.convert_to_numpy(t)


def _random_keras_weights(k_layer, rng):
    """Random weights (biases and betas too, so a zero cannot hide a mistake); positive
    moving variances."""
    weights = []
    for w in k_layer.weights:
        shape = tuple(w.shape)
        if w.name == "moving_variance":
            weights.append(rng.uniform(0.5, 2.0, shape).astype("float32"))
        else:
            weights.append((0.5 * rng.standard_normal(shape)).astype("float32"))
    k_layer.set_weights(weights)


def _built_pair(name, kwargs, input_shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape).astype("float32")
    k_layer, e_layer = _layers(name, kwargs)
    k_layer(x)
    e_layer(x)
    _random_keras_weights(k_layer, rng)
    e_layer.set_weights(k_layer.get_weights())
    return k_layer, e_layer, x, rng


def _prefix(layer_name):
    return re.sub(r"_\d+$", "", layer_name)


@pytest.mark.parametrize("name,kwargs,input_shape", CASES, ids=IDS)
def test_weights_match_keras_names_shapes_and_order(name, kwargs, input_shape):
    k_layer, e_layer = _layers(name, kwargs)
    x = np.zeros(input_shape, "float32")
    k_layer(x)
    e_layer(x)
    assert [(w.name, tuple(w.shape)) for w in e_layer.weights] == [
        (w.name, tuple(w.shape)) for w in k_layer.weights]
    assert [w.name for w in e_layer.trainable_weights] == [
        w.name for w in k_layer.trainable_weights]
    assert [w.name for w in e_layer.non_trainable_weights] == [
        w.name for w in k_layer.non_trainable_weights]
    assert e_layer.count_params() == k_layer.count_params()
    assert _prefix(e_layer.name) == _prefix(k_layer.name)  # 'conv2d', 'max_pooling2d', ...


@pytest.mark.parametrize("name,kwargs,input_shape", CASES, ids=IDS)
def test_inference_output_matches_keras(name, kwargs, input_shape):
    k_layer, e_layer, x, _ = _built_pair(name, kwargs, input_shape, seed=len(name))
    want = _numpy(k_layer(x, training=False))
    got = e_layer(x, training=False) if name.startswith(("Batch", "Spatial")) else e_layer(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # The symbolic path infers the same shape Keras does.
    k_shape = k_layer.compute_output_shape((None,) + input_shape[1:])
    assert tuple(e_layer.compute_output_shape((None,) + input_shape[1:])) == tuple(k_shape)


@pytest.mark.parametrize("name,kwargs,input_shape",
                         [c for c in CASES if c[0] == "BatchNormalization"],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] == "BatchNormalization"])
def test_batch_normalization_training_output_matches_keras(name, kwargs, input_shape):
    k_layer, e_layer, x, _ = _built_pair(name, kwargs, input_shape, seed=5)
    want = _numpy(k_layer(x, training=True))
    np.testing.assert_allclose(e_layer(x, training=True), want, rtol=RTOL, atol=ATOL)


def _model(lib, layer, input_shape):
    inp = lib.Input(input_shape[1:])
    model = lib.Model(inp, layer(inp))
    model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


WEIGHTED = [c for c in CASES if c[0] not in ("SpatialDropout1D", "SpatialDropout2D")
            and ("Conv" in c[0] or "Normalization" in c[0])]


@pytest.mark.parametrize("name,kwargs,input_shape", WEIGHTED,
                         ids=[i for i, c in zip(IDS, CASES) if c in WEIGHTED])
def test_one_sgd_step_matches_keras(name, kwargs, input_shape):
    """Backward parity: one mse step through the layer moves every weight as Keras does (batch
    norm's moving statistics included)."""
    k_layer, e_layer, x, rng = _built_pair(name, kwargs, input_shape, seed=7)
    k_model, e_model = _model(keras, k_layer, input_shape), _model(ember, e_layer, input_shape)
    target = rng.standard_normal(_numpy(k_layer(x)).shape).astype("float32")
    k_loss = float(k_model.train_on_batch(x, target))
    e_loss = float(e_model.train_on_batch(x, target))
    assert e_loss == pytest.approx(k_loss, rel=RTOL, abs=ATOL)
    for w, got, want in zip(k_layer.weights, e_layer.get_weights(), k_layer.get_weights()):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=w.name)


@pytest.mark.parametrize("name,kwargs,input_shape", CASES, ids=IDS)
def test_keras_config_loads_in_ember(name, kwargs, input_shape):
    """ember.layers.X.from_config(keras_layer.get_config()) gives the layer those arguments
    make in ember."""
    k_layer, e_layer = _layers(name, kwargs)
    k_config = k_layer.get_config()
    clone = getattr(ember.layers, name).from_config(k_config)
    want = e_layer.get_config()
    got = clone.get_config()
    assert got["name"] == k_config["name"]
    for key in want:
        if key != "name":
            assert got[key] == want[key], key


def _cnn(lib):
    return lib.Sequential([
        lib.Input((8, 8, 2)),
        lib.layers.Conv2D(4, 3, padding="same", activation="relu"),
        lib.layers.BatchNormalization(),
        lib.layers.MaxPooling2D(),
        lib.layers.Flatten(),
        lib.layers.Dense(3, activation="softmax"),
    ])


def test_small_cnn_one_sgd_step_matches_keras():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, 6).astype("int64")
    k_model, e_model = _cnn(keras), _cnn(ember)
    assert [w.shape for w in e_model.weights] == [tuple(w.shape) for w in k_model.weights]
    weights = k_model.get_weights()
    weights[1] = (0.1 * rng.standard_normal(weights[1].shape)).astype("float32")  # conv bias
    k_model.set_weights(weights)
    e_model.set_weights(weights)
    for m, lib in ((k_model, keras), (e_model, ember)):
        m.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1),
                  loss="sparse_categorical_crossentropy")
    np.testing.assert_allclose(e_model.predict(x, verbose=0), k_model.predict(x, verbose=0),
                               rtol=RTOL, atol=ATOL)
    k_loss = float(k_model.train_on_batch(x, y))
    e_loss = float(e_model.train_on_batch(x, y))
    assert e_loss == pytest.approx(k_loss, rel=RTOL)
    for i, (got, want) in enumerate(zip(e_model.get_weights(), k_model.get_weights())):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL, err_msg=f"weight {i}")
    # After the step: inference with the updated moving statistics agrees too.
    np.testing.assert_allclose(e_model.predict(x, verbose=0), k_model.predict(x, verbose=0),
                               rtol=RTOL, atol=ATOL)
