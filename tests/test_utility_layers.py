"""Merge layers, activation layers, utility layers (Identity, Rescaling, Permute, RepeatVector,
Lambda, ActivityRegularization) and the activations composed from ops:
  - every single-input layer through the layer harness (tests/layer_harness.py) with a NumPy
    reference; the merge layers through the same checks for a list of inputs (below);
  - gradients of the new activations and of the merges through the op harness
    (tests/op_harness.py: float64 central differences, forward and shape inference);
  - the activity penalty in the training loss and gradient, against NumPy;
  - bad input errors that name the layer;
  - parity with Keras 3 (torch backend) when keras imports, skipped otherwise.
"""
import json
import os
import warnings

import numpy as np
import pytest

import ember
from ember import activations, layers, ops
from ember.activations.extra import SELU_ALPHA, SELU_SCALE, greater_mask
from layer_harness import run_layer_test
from op_harness import (
    OpCase, away_from, check_forward, check_gradients, check_shape_inference, distinct, positive,
    uniform,
)


def _import_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        return None
    return keras if keras.backend.backend() == "torch" else None


keras = _import_keras()
needs_keras = pytest.mark.skipif(keras is None, reason="keras (torch backend) is not installed")


# ---- NumPy references (Keras 3 / torch definitions) -----------------------------------------
def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def np_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.src.activations.activations.ReLU.static_call in NumPy."""
    if negative_slope != 0 and max_value is None and threshold == 0:
        return np.where(x >= 0, x, negative_slope * x)
    y = np.where(x > threshold, x, 0.0) if threshold != 0 else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if negative_slope != 0:
        y = y - negative_slope * np.maximum(threshold - x, 0.0)
    return y


def np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_glu(x, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    return a * np_sigmoid(b)


NP_ACTIVATIONS = {
    "relu6": lambda x: np.clip(x, 0, 6),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "mish": lambda x: x * np.tanh(np_softplus(x)),
    "selu": lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "log_sigmoid": lambda x: -np_softplus(-x),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(x)),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "glu": np_glu,
}
# Kinks (and discontinuities) of each, kept away from in the gradient checks.
KINKS = {"relu6": (0, 6), "hard_sigmoid": (-3, 3), "hard_silu": (-3, 3), "hard_swish": (-3, 3),
         "softsign": (0,), "selu": (0,), "celu": (0,), "hard_tanh": (-1, 1),
         "soft_shrink": (-0.5, 0.5), "hard_shrink": (-0.5, 0.5)}


# ---- activations through the op harness -----------------------------------------------------
def _act_case(name, fn, reference, shape=(3, 8), kinks=(), low=-4.0, high=7.5, **kw):
    sampler = away_from(shape, kinks, low, high) if kinks else uniform(shape, low, high)
    return OpCase(name, fn, [sampler], reference, **kw)


ACT_CASES = [_act_case(n, getattr(activations, n), NP_ACTIVATIONS[n], kinks=KINKS.get(n, ()))
             for n in sorted(NP_ACTIVATIONS) if n != "glu"]
ACT_CASES += [
    _act_case("celu_alpha", lambda x: activations.celu(x, alpha=0.5),
              lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * np.expm1(x / 0.5)), kinks=(0,)),
    _act_case("soft_shrink_t", lambda x: activations.soft_shrink(x, threshold=1.5),
              lambda x: np.where(x > 1.5, x - 1.5, np.where(x < -1.5, x + 1.5, 0.0)),
              kinks=(-1.5, 1.5)),
    _act_case("hard_shrink_t", lambda x: activations.hard_shrink(x, threshold=1.0),
              lambda x: np.where(np.abs(x) > 1.0, x, 0.0), kinks=(-1.0, 1.0)),
    _act_case("squareplus_b", lambda x: activations.squareplus(x, b=0.5),
              lambda x: (x + np.sqrt(x * x + 0.5)) / 2),
    _act_case("threshold", lambda x: activations.threshold(x, 1.0, -2.0),
              lambda x: np.where(x > 1.0, x, -2.0), kinks=(1.0,)),
    _act_case("glu_last", activations.glu, np_glu, shape=(3, 6)),
    _act_case("glu_axis1_rank3", lambda x: activations.glu(x, axis=1),
              lambda x: np_glu(x, axis=1), shape=(2, 4, 3)),
    _act_case("glu_axis_minus2_rank4", lambda x: activations.glu(x, axis=-2),
              lambda x: np_glu(x, axis=-2), shape=(2, 3, 2, 2)),
]
RELU_VARIANTS = {  # (negative_slope, max_value, threshold)
    "relu_max": (0.0, 2.5, 0.0),
    "relu_max6": (0.0, 6, 0.0),
    "relu_threshold": (0.0, None, 1.0),
    "relu_leaky_max": (0.2, 3.0, 0.0),
    "relu_leaky_threshold": (0.1, None, 0.5),
    "relu_all": (0.3, 4.0, 1.5),
}
for _name, (_s, _m, _t) in RELU_VARIANTS.items():
    ACT_CASES.append(_act_case(
        _name, lambda x, s=_s, m=_m, t=_t: activations.relu(x, s, m, t),
        lambda x, s=_s, m=_m, t=_t: np_relu(x, s, m, t),
        kinks=tuple(k for k in (0.0, _t, _m) if k is not None)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", ACT_CASES, ids=repr)
def test_activation_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", ACT_CASES, ids=repr)
def test_activation_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", ACT_CASES, ids=repr)
def test_activation_shape_inference(c):
    check_shape_inference(c)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_greater_mask_is_an_exact_step(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    for t in (0.0, 0.5, 1.0, 3.0):
        above = np.nextafter(np.asarray(t, dtype), np.asarray(np.inf, dtype))
        below = np.nextafter(np.asarray(t, dtype), np.asarray(-np.inf, dtype))
        x = np.array([t, above, below, t + 1e30, t - 1e30, t + tiny, t - tiny], dtype)
        np.testing.assert_array_equal(greater_mask(x, t), (x > t).astype(dtype))
    x = np.array([-tiny, 0.0, tiny, np.finfo(dtype).max], dtype)
    np.testing.assert_array_equal(greater_mask(x, 0.0), [0, 0, 1, 1])


def test_relu_threshold_gradient_is_zero_at_the_threshold():
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    x = input_tensor((5,), "float64")
    f = Function([x], [activations.relu(x, threshold=1.0)])
    values = np.array([0.5, 1.0, np.nextafter(1.0, 2.0), 2.0, -1.0])
    grads = f.gradients([values], [np.ones(5)])[1][0]
    np.testing.assert_array_equal(grads, [0, 0, 1, 1, 0])


def test_activations_by_name_and_serialize():
    for name in NP_ACTIVATIONS:
        fn = activations.get(name)
        assert callable(fn)
        assert activations.serialize(fn) == ("hard_silu" if name == "hard_swish" else name)
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get({"class_name": "function", "config": "mish"}) is activations.mish
    assert activations.deserialize("selu") is activations.selu
    # Dense applies a composed activation after its fused op, and saves it by name.
    layer = layers.Dense(3, activation="mish")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    y = layer(x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y, NP_ACTIVATIONS["mish"](x @ kernel + bias), rtol=1e-5,
                               atol=1e-6)
    assert layer.get_config()["activation"] == "mish"


@pytest.mark.parametrize("name", sorted(NP_ACTIVATIONS))
def test_activation_layer_by_name(name):
    shape = (3, 6)
    run_layer_test(layers.Activation, {"activation": name}, input_shape=shape,
                   expected_output_shape=(3, 3) if name == "glu" else shape,
                   reference=lambda x, _: NP_ACTIVATIONS[name](x.astype("float64")))


def test_glu_bad_input():
    with pytest.raises(ValueError, match=r"activation 'glu': expected an even.*\(2, 5\)"):
        activations.glu(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"activation 'glu': axis 2 is out of range"):
        activations.glu(np.zeros((2, 4), "float32"), axis=2)


# ---- activation layers through the layer harness --------------------------------------------
LAYER_CASES = {
    # id: (class, kwargs, input shape, output shape, reference(x, weights), trainable weights)
    "relu": (layers.ReLU, {}, (4, 5), (4, 5), lambda x, w: np_relu(x), 0),
    "relu_max6": (layers.ReLU, {"max_value": 6.0}, (4, 5), (4, 5),
                  lambda x, w: np_relu(x, max_value=6.0), 0),
    "relu_all": (layers.ReLU, {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.5},
                 (4, 5), (4, 5), lambda x, w: np_relu(x, 0.2, 1.0, 0.5), 0),
    "leaky_relu": (layers.LeakyReLU, {}, (4, 5), (4, 5),
                   lambda x, w: np.where(x >= 0, x, 0.3 * x), 0),
    "leaky_relu_slope": (layers.LeakyReLU, {"negative_slope": 0.05}, (2, 3, 4), (2, 3, 4),
                         lambda x, w: np.where(x >= 0, x, 0.05 * x), 0),
    "prelu": (layers.PReLU, {}, (4, 5), (4, 5),
              lambda x, w: np.maximum(x, 0) - w[0] * np.maximum(-x, 0), 1),
    "prelu_shared": (layers.PReLU, {"shared_axes": [1, 2]}, (2, 3, 4, 5), (2, 3, 4, 5),
                     lambda x, w: np.maximum(x, 0) - w[0] * np.maximum(-x, 0), 1),
    "elu": (layers.ELU, {}, (4, 5), (4, 5), lambda x, w: np_elu(x), 0),
    "elu_alpha": (layers.ELU, {"alpha": 0.5}, (4, 5), (4, 5), lambda x, w: np_elu(x, 0.5), 0),
    "softmax": (layers.Softmax, {}, (4, 5), (4, 5), lambda x, w: np_softmax(x), 0),
    "softmax_axis1": (layers.Softmax, {"axis": 1}, (2, 3, 4), (2, 3, 4),
                      lambda x, w: np_softmax(x, 1), 0),
    "softmax_axes": (layers.Softmax, {"axis": [1, 2]}, (2, 3, 4), (2, 3, 4),
                     lambda x, w: np_softmax(x, (1, 2)), 0),
    "identity": (layers.Identity, {}, (3, 4), (3, 4), lambda x, w: x, 0),
    "rescaling": (layers.Rescaling, {"scale": 1 / 255.0, "offset": -0.5}, (2, 3, 3), (2, 3, 3),
                  lambda x, w: x * (1 / 255.0) - 0.5, 0),
    "rescaling_per_channel": (layers.Rescaling, {"scale": [0.5, 2.0, -1.0], "offset": [1, 0, 2]},
                              (2, 4, 3), (2, 4, 3),
                              lambda x, w: x * np.array([0.5, 2, -1]) + np.array([1, 0, 2]), 0),
    "permute": (layers.Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3),
                lambda x, w: x.transpose(0, 2, 1), 0),
    "permute_3": (layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4),
                  lambda x, w: x.transpose(0, 3, 1, 2), 0),
    "repeat_vector": (layers.RepeatVector, {"n": 3}, (4, 5), (4, 3, 5),
                      lambda x, w: np.repeat(x[:, None, :], 3, axis=1), 0),
    "lambda_activation": (layers.Lambda, {"function": activations.mish}, (3, 4), (3, 4),
                          lambda x, w: NP_ACTIVATIONS["mish"](x), 0),
    "lambda_ops_arguments": (layers.Lambda, {"function": ops.sum,
                                             "arguments": {"axis": -1, "keepdims": True}},
                             (3, 4), (3, 1), lambda x, w: x.sum(-1, keepdims=True), 0),
    "activity_regularization": (layers.ActivityRegularization, {"l1": 0.01, "l2": 0.02},
                                (3, 4), (3, 4), lambda x, w: x, 0),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_harness(case):
    cls, kwargs, in_shape, out_shape, reference, n_weights = LAYER_CASES[case]

    def ref(x, weights):  # in float64
        return reference(x.astype("float64"), [w.astype("float64") for w in weights])
    run_layer_test(cls, kwargs, input_shape=in_shape, expected_output_shape=out_shape,
                   expected_num_trainable_weights=n_weights, reference=ref)


def test_prelu_weight_shapes_and_initializer():
    layer = layers.PReLU(shared_axes=2)
    layer(np.ones((2, 3, 4), "float32"))
    assert [w.shape for w in layer.get_weights()] == [(3, 1)]
    np.testing.assert_array_equal(layer.get_weights()[0], 0.0)  # alpha_initializer "Zeros"
    layer = layers.PReLU(alpha_initializer="ones")
    np.testing.assert_allclose(layer(np.array([[-2.0, 3.0]], "float32")), [[-2.0, 3.0]])
    config = layers.PReLU(shared_axes=[1]).get_config()
    assert config["shared_axes"] == [1] and config["alpha_initializer"]["class_name"] == "Zeros"


def test_softmax_mask():
    x = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    mask = np.array([[True, False, True, True], [False, False, False, False]])
    y = layers.Softmax()(x, mask=mask)
    expected = np.zeros_like(x)
    expected[0, mask[0]] = np_softmax(x[0, mask[0]])
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)  # all-masked row: zeros
    # A numeric mask keeps values > 0.5; a symbolic float mask works the same in a model.
    np.testing.assert_allclose(layers.Softmax()(x, mask=mask * 0.9), expected, rtol=1e-6,
                               atol=1e-7)
    inp, m = ember.Input((4,)), ember.Input((4,))
    model = ember.Model([inp, m], layers.Softmax()(inp, mask=m))
    np.testing.assert_allclose(model.predict([x, mask.astype("float32") * 0.9], verbose=0),
                               expected, rtol=1e-6, atol=1e-7)


def test_repeat_vector_and_permute_gradients():
    def dt(a):
        return str(a.dtype)
    cases = [
        OpCase("repeat_vector", lambda x: layers.RepeatVector(3, dtype=dt(x))(x),
               [uniform((2, 4))], lambda x: np.repeat(x[:, None], 3, axis=1)),
        OpCase("permute", lambda x: layers.Permute((3, 1, 2), dtype=dt(x))(x),
               [uniform((2, 3, 2, 4))], lambda x: x.transpose(0, 3, 1, 2)),
        OpCase("softmax_axes_masked",
               lambda x: layers.Softmax(axis=[1, 2], dtype=dt(x))(
                   x, mask=np.array([[1, 0, 1], [1, 1, 0]], bool)[None]),
               [uniform((2, 2, 3))],
               lambda x: np.where([[1, 0, 1], [1, 1, 0]], np_softmax(
                   np.where([[1, 0, 1], [1, 1, 0]], x, -1e9), (1, 2)), 0.0)),
        OpCase("rescaling", lambda x: layers.Rescaling([2.0, -1.0], 0.5, dtype=dt(x))(x),
               [uniform((3, 2))], lambda x: x * np.array([2.0, -1.0]) + 0.5),
    ]
    for c in cases:
        check_forward(c, "float64")
        check_forward(c, "float32")
        check_gradients(c)
        check_shape_inference(c)


# ---- merge layers ----------------------------------------------------------------------------
def run_merge_layer_test(layer_cls, init_kwargs, input_shapes, expected_output_shape,
                         reference, rtol=1e-5, atol=1e-6, seed=0):
    """run_layer_test's checks for a layer called on a list of inputs."""
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s).astype("float32") for s in input_shapes]
    expected_output_shape = tuple(expected_output_shape)
    # Symbolic, with a None batch.
    inputs = [ember.Input(shape=s[1:]) for s in input_shapes]
    layer = layer_cls(**init_kwargs)
    out = layer(inputs)
    assert tuple(out.shape) == (None,) + expected_output_shape[1:]
    assert tuple(layer.compute_output_shape([(None,) + tuple(s[1:]) for s in input_shapes])) == (
        (None,) + expected_output_shape[1:])
    # Eager, against NumPy.
    eager = layer_cls(**init_kwargs)
    y = eager(xs)
    assert isinstance(y, np.ndarray) and y.shape == expected_output_shape and y.dtype == "float32"
    assert eager.weights == [] and eager.count_params() == 0
    np.testing.assert_allclose(y, reference(*[x.astype("float64") for x in xs]), rtol=rtol,
                               atol=atol)
    # Config through JSON, directly and through layers.serialize / deserialize.
    config = json.loads(json.dumps(eager.get_config()))
    clone = layer_cls.from_config(config)
    assert json.loads(json.dumps(clone.get_config())) == config
    np.testing.assert_array_equal(clone(xs), y)
    again = layers.deserialize(json.loads(json.dumps(layers.serialize(eager))))
    assert type(again) is layer_cls
    np.testing.assert_array_equal(again(xs), y)
    # A training step: gradients flow through the merge into a Dense before each input.
    inputs = [ember.Input(shape=s[1:]) for s in input_shapes]
    denses = [layers.Dense(s[-1]) for s in input_shapes]
    merged = layer_cls(**init_kwargs)([d(i) for d, i in zip(denses, inputs)])
    model = ember.Model(inputs, merged)
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.1), loss="mse")
    before = [d.kernel.numpy() for d in denses]
    loss = model.train_on_batch(xs, rng.standard_normal(expected_output_shape).astype("float32"))
    assert np.isfinite(loss)
    for d, old in zip(denses, before):
        assert not np.array_equal(d.kernel.numpy(), old), f"{d.name} did not train"
    return eager


def np_batch_dot(x, y, axes):
    """Keras's Dot on NumPy arrays: contract x's axes[0] with y's axes[1], per sample."""
    x = np.moveaxis(x, axes[0], -1)
    y = np.moveaxis(y, axes[1], 1)
    out = x.reshape(x.shape[0], -1, x.shape[-1]) @ y.reshape(y.shape[0], y.shape[1], -1)
    out = out.reshape((x.shape[0],) + x.shape[1:-1] + y.shape[2:])
    return out[:, None] if out.ndim == 1 else out


def np_normalize(x, axis):
    return x / np.maximum(np.sqrt(np.sum(x * x, axis=axis, keepdims=True)), 1e-7)


MERGE_CASES = {
    # id: (class, kwargs, input shapes, output shape, reference)
    "add": (layers.Add, {}, [(3, 4), (3, 4)], (3, 4), lambda a, b: a + b),
    "add_three": (layers.Add, {}, [(3, 4)] * 3, (3, 4), lambda a, b, c: a + b + c),
    "add_broadcast": (layers.Add, {}, [(3, 4), (3, 1)], (3, 4), lambda a, b: a + b),
    "add_ranks": (layers.Add, {}, [(2, 3, 4), (2, 4)], (2, 3, 4), lambda a, b: a + b[:, None]),
    "subtract": (layers.Subtract, {}, [(3, 4), (3, 4)], (3, 4), lambda a, b: a - b),
    "multiply": (layers.Multiply, {}, [(2, 3, 4), (2, 3, 1)], (2, 3, 4), lambda a, b: a * b),
    "average": (layers.Average, {}, [(3, 4)] * 3, (3, 4), lambda a, b, c: (a + b + c) / 3),
    "maximum": (layers.Maximum, {}, [(3, 4)] * 3, (3, 4), lambda *xs: np.max(xs, axis=0)),
    "minimum": (layers.Minimum, {}, [(3, 4), (3, 4)], (3, 4), np.minimum),
    "concatenate": (layers.Concatenate, {}, [(3, 4), (3, 2)], (3, 6),
                    lambda a, b: np.concatenate([a, b], -1)),
    "concatenate_axis1": (layers.Concatenate, {"axis": 1}, [(2, 3, 4), (2, 1, 4), (2, 2, 4)],
                          (2, 6, 4), lambda *xs: np.concatenate(xs, 1)),
    "dot_2d": (layers.Dot, {"axes": 1}, [(3, 4), (3, 4)], (3, 1),
               lambda a, b: np.sum(a * b, 1, keepdims=True)),
    "dot_2d_normalize": (layers.Dot, {"axes": -1, "normalize": True}, [(3, 4), (3, 4)], (3, 1),
                         lambda a, b: np.sum(np_normalize(a, 1) * np_normalize(b, 1), 1,
                                             keepdims=True)),
    "dot_3d": (layers.Dot, {"axes": (1, 2)}, [(2, 3, 5), (2, 4, 3)], (2, 5, 4),
               lambda a, b: np_batch_dot(a, b, (1, 2))),
    "dot_3d_last": (layers.Dot, {"axes": 2}, [(2, 3, 5), (2, 4, 5)], (2, 3, 4),
                    lambda a, b: np_batch_dot(a, b, (2, 2))),
    "dot_3d_2d": (layers.Dot, {"axes": (2, 1)}, [(2, 3, 5), (2, 5)], (2, 3),
                  lambda a, b: np_batch_dot(a, b, (2, 1))),
    "dot_4d_3d": (layers.Dot, {"axes": (3, 1)}, [(2, 3, 2, 4), (2, 4, 5)], (2, 3, 2, 5),
                  lambda a, b: np_batch_dot(a, b, (3, 1))),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_merge_layer(case):
    cls, kwargs, shapes, out_shape, reference = MERGE_CASES[case]
    run_merge_layer_test(cls, kwargs, shapes, out_shape, reference)


def _merge_op_case(name, cls, kwargs, samplers, reference):
    def fn(*xs):
        return cls(dtype=str(xs[0].dtype), **kwargs)(list(xs))
    return OpCase(name, fn, samplers, reference, batch=tuple(range(len(samplers))))


MERGE_GRAD_CASES = [
    _merge_op_case("add_broadcast", layers.Add, {}, [uniform((3, 4)), uniform((3, 1))],
                   lambda a, b: a + b),
    _merge_op_case("subtract", layers.Subtract, {}, [uniform((3, 4)), uniform((3, 4))],
                   lambda a, b: a - b),
    _merge_op_case("multiply_ranks", layers.Multiply, {}, [uniform((2, 3, 4)), uniform((2, 4))],
                   lambda a, b: a * b[:, None]),
    _merge_op_case("average", layers.Average, {}, [uniform((3, 4))] * 3,
                   lambda *xs: sum(xs) / 3),
    _merge_op_case("maximum", layers.Maximum, {}, [distinct((3, 4)), distinct((3, 4), -1.9, 2.1)],
                   np.maximum),
    _merge_op_case("minimum", layers.Minimum, {}, [distinct((3, 4)), distinct((3, 4), -1.9, 2.1)],
                   np.minimum),
    _merge_op_case("concatenate_axis1", layers.Concatenate, {"axis": 1},
                   [uniform((2, 3, 2)), uniform((2, 1, 2))], lambda *xs: np.concatenate(xs, 1)),
    _merge_op_case("dot_2d", layers.Dot, {"axes": 1}, [uniform((3, 4)), uniform((3, 4))],
                   lambda a, b: np.sum(a * b, 1, keepdims=True)),
    _merge_op_case("dot_3d_normalize", layers.Dot, {"axes": (1, 2), "normalize": True},
                   [positive((2, 3, 4)), uniform((2, 5, 3))],
                   lambda a, b: np_batch_dot(np_normalize(a, 1), np_normalize(b, 2), (1, 2))),
    _merge_op_case("dot_4d_3d", layers.Dot, {"axes": (1, 2)},
                   [uniform((2, 3, 2, 2)), uniform((2, 2, 3))],
                   lambda a, b: np_batch_dot(a, b, (1, 2))),
]


@pytest.mark.parametrize("c", MERGE_GRAD_CASES, ids=repr)
def test_merge_gradients(c):
    check_forward(c, "float64")
    check_forward(c, "float32")
    check_gradients(c)
    check_shape_inference(c)


def test_functional_forms():
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((3, 4)).astype("float32") for _ in range(2))
    for fn, expected in ((layers.add, a + b), (layers.subtract, a - b),
                         (layers.multiply, a * b), (layers.average, (a + b) / 2),
                         (layers.maximum, np.maximum(a, b)), (layers.minimum, np.minimum(a, b)),
                         (layers.concatenate, np.concatenate([a, b], -1)),
                         (layers.dot, np.sum(a * b, -1, keepdims=True))):
        np.testing.assert_allclose(fn([a, b]), expected, rtol=1e-6, atol=1e-6)
    x1, x2 = ember.Input((4,)), ember.Input((4,))
    out = layers.concatenate([x1, x2], axis=1, name="joined")
    assert out.shape == (None, 8) and out._layer.name == "joined"
    model = ember.Model([x1, x2], layers.Dense(1)(layers.add([x1, x2])))
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "InputLayer", "Add",
                                                        "Dense"]


def test_identity_is_a_layer_of_the_model_and_maps_structures():
    a, b = ember.Input((3,)), ember.Input((2,))
    both = layers.Identity()([a, b])
    assert [t.shape for t in both] == [(None, 3), (None, 2)]
    model = ember.Model([a, b], layers.Identity(name="last")(layers.Concatenate()(both)))
    assert model.layers[-1].name == "last"  # its output is its own tensor, as in Keras
    x = [np.ones((2, 3), "float32"), np.zeros((2, 2), "float32")]
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.concatenate(x, -1))


# ---- ActivityRegularization in training -----------------------------------------------------
def _penalty(y, l1, l2):
    return (l1 * np.abs(y).reshape(len(y), -1).sum(1).mean()
            + l2 * np.square(y).reshape(len(y), -1).sum(1).mean())


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_activity_regularization_loss_and_gradient(kind):
    l1, l2, lr = 0.05, 0.1, 0.1
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3)).astype("float32")
    t = rng.standard_normal((6, 2)).astype("float32")
    dense, reg = layers.Dense(2), layers.ActivityRegularization(l1=l1, l2=l2)
    if kind == "sequential":
        model = ember.Sequential([ember.Input((3,)), dense, reg])
    else:
        inp = ember.Input((3,))
        model = ember.Model(inp, reg(dense(inp)))
        assert reg in model.layers
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=lr), loss="mse")
    reg(x)  # an eager call in between must not replace the model's penalty
    w, b = (v.astype("float64") for v in dense.get_weights())
    y = x @ w + b
    expected_loss = np.mean((y - t) ** 2) + _penalty(y, l1, l2)
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.evaluate(x, t, verbose=0), expected_loss, rtol=1e-5)
    loss = model.train_on_batch(x, t)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    n, units = y.shape
    grad_y = 2 * (y - t) / (n * units) + l1 * np.sign(y) / n + 2 * l2 * y / n
    np.testing.assert_allclose(dense.get_weights()[0], w - lr * x.T @ grad_y, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(dense.get_weights()[1], b - lr * grad_y.sum(0), rtol=1e-5,
                               atol=1e-6)


def test_activity_regularization_follows_sequential_rebuilds():
    model = ember.Sequential([ember.Input((3,)), layers.ActivityRegularization(l1=0.5)])
    model.add(layers.Dense(2))  # rebuilds the graph: the penalty must come from the new trace
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(4).standard_normal((5, 3)).astype("float32")
    y = np.zeros((5, 2), "float32")
    w, b = model.layers[1].get_weights()
    expected = np.mean((x @ w + b) ** 2) + _penalty(x.astype("float64"), 0.5, 0.0)
    np.testing.assert_allclose(model.train_on_batch(x, y), expected, rtol=1e-5)


def test_activity_regularization_rank3_and_fit_with_validation():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 2, 3)).astype("float32")
    inp = ember.Input((2, 3))
    out = layers.ActivityRegularization(l2=0.5)(inp)
    model = ember.Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    expected = np.mean(x ** 2) + _penalty(x.astype("float64"), 0.0, 0.5)  # target 0
    zeros = np.zeros_like(x)
    history = model.fit(x, zeros, validation_data=(x, zeros), batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"][0], expected, rtol=1e-5)


# ---- bad input -------------------------------------------------------------------------------
def _f32(*shape):
    return np.zeros(shape, "float32")


def test_merge_bad_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"Add 'bad_add'.*incompatible shapes.*\(4,\).*\(3,\)"):
        layers.Add(name="bad_add")([ember.Input((4,)), ember.Input((3,))])
    with pytest.raises(ValueError, match=r"Multiply '.*'.*different batch sizes"):
        layers.Multiply()([_f32(2, 3), _f32(3, 3)])
    with pytest.raises(ValueError, match=r"Average '.*'.*should be called on a list of inputs"):
        layers.Average()(ember.Input((4,)))
    with pytest.raises(ValueError, match=r"Subtract '.*'.*exactly 2 inputs"):
        layers.Subtract()([ember.Input((4,))] * 3)
    with pytest.raises(ValueError, match=r"Concatenate 'cat'.*matching shapes except for the "
                                         r"concatenation axis.*\(None, 3, 4\).*\(None, 2, 5\)"):
        layers.Concatenate(axis=1, name="cat")([ember.Input((3, 4)), ember.Input((2, 5))])
    with pytest.raises(ValueError, match=r"Concatenate '.*'.*matching shapes"):
        layers.Concatenate()([ember.Input((3, 4)), ember.Input((4,))])
    with pytest.raises(ValueError, match=r"Concatenate '.*'.*axis=3, out of range"):
        layers.Concatenate(axis=3)([ember.Input((3, 4)), ember.Input((3, 4))])


def test_dot_bad_axes_name_the_layer():
    with pytest.raises(ValueError, match=r"Dot 'dot_bad'.*Incompatible input shapes: axis "
                                         r"values 4 \(at axis 1\) != 5 \(at axis 1\)"):
        layers.Dot(axes=1, name="dot_bad")([ember.Input((4,)), ember.Input((5,))])
    with pytest.raises(ValueError, match=r"Dot '.*'.*batch_dot over axis 0"):
        layers.Dot(axes=0)([ember.Input((4,)), ember.Input((4,))])
    with pytest.raises(ValueError, match=r"Dot '.*'.*axes=\(1, 3\) is out of range"):
        layers.Dot(axes=(1, 3))([ember.Input((4, 2)), ember.Input((4, 2))])
    with pytest.raises(ValueError, match=r"Dot '.*'.*list of 2 inputs"):
        layers.Dot(axes=1)([ember.Input((4,))] * 3)
    with pytest.raises(TypeError, match=r"Dot '.*'.*invalid type for argument `axes`"):
        layers.Dot(axes="1")
    with pytest.raises(ValueError, match=r"Dot '.*'.*should contain two elements"):
        layers.Dot(axes=(1, 2, 3))


def test_utility_layers_bad_arguments():
    with pytest.raises(ValueError, match=r"Permute 'perm'.*must be consecutive and start from "
                                         r"1. Received dims=\(0, 1\)"):
        layers.Permute((0, 1), name="perm")
    with pytest.raises(ValueError, match=r"Permute '.*'.*Received dims=\(1, 1\)"):
        layers.Permute((1, 1))
    with pytest.raises(ValueError, match=r"Permute '.*'.*expected an input of rank 3, received "
                                         r"shape \(None, 4\)"):
        layers.Permute((2, 1))(ember.Input((4,)))
    with pytest.raises(ValueError, match=r"RepeatVector '.*'.*rank 2.*\(None, 2, 3\)"):
        layers.RepeatVector(2)(ember.Input((2, 3)))
    with pytest.raises(TypeError, match=r"RepeatVector '.*'.*integer value for `n`"):
        layers.RepeatVector(2.0)
    with pytest.raises(ValueError, match=r"RepeatVector '.*'.*positive integer.*n=0"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match=r"Rescaling '.*'.*`scale`"):
        layers.Rescaling("big")
    with pytest.raises(ValueError, match=r"ActivityRegularization '.*'.*non-negative.*l1=-1"):
        layers.ActivityRegularization(l1=-1)


def test_activation_layers_bad_arguments():
    with pytest.raises(ValueError, match=r"ReLU '.*'.*max_value.*negative.*-1"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match=r"ReLU '.*'.*negative_slope.*-0.5"):
        layers.ReLU(negative_slope=-0.5)
    with pytest.raises(ValueError, match=r"ReLU '.*'.*threshold.*None"):
        layers.ReLU(threshold=None)
    with pytest.raises(ValueError, match=r"LeakyReLU '.*'.*negative_slope=-1"):
        layers.LeakyReLU(negative_slope=-1)
    with pytest.raises(ValueError, match=r"PReLU '.*'.*shared_axes \[3\].*\(None, 4, 2\)"):
        layers.PReLU(shared_axes=3)(ember.Input((4, 2)))
    with pytest.raises(ValueError, match=r"Softmax '.*'.*mask must be broadcastable.*\(2, 3\)"):
        layers.Softmax()(_f32(2, 4), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"Softmax '.*'.*axis 2 is out of range"):
        layers.Softmax(axis=2)(_f32(2, 4))
    with pytest.warns(UserWarning, match="alpha"):
        assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1


def test_lambda_config_only_for_builtin_functions():
    layer = layers.Lambda(lambda x: ops.multiply(x, 2.0), name="double")
    np.testing.assert_allclose(layer(np.ones((2, 3), "float32")), 2.0)
    with pytest.raises(ValueError, match=r"Lambda 'double': cannot save `function`.*Only the "
                                         r"built-in functions of ember.activations and ember.ops"):
        layer.get_config()
    config = layers.Lambda(ops.square, output_shape=(3,)).get_config()
    assert config["function"] == {"module": "ember.ops", "class_name": "function",
                                  "config": "square", "registered_name": "function"}
    clone = layers.Lambda.from_config(json.loads(json.dumps(config)))
    assert clone.function is ops.square and clone.compute_output_shape((None, 3)) == (None, 3)
    # Keras's config for a built-in function loads by name.
    keras_style = {"name": "k", "function": {"module": "keras.src.activations.activations",
                                             "class_name": "function", "config": "relu6",
                                             "registered_name": "function"}}
    assert layers.Lambda.from_config(keras_style).function is activations.relu6
    with pytest.raises(ValueError, match=r"Lambda: unknown function 'nope'"):
        layers.Lambda.from_config({"function": "nope"})
    with pytest.raises(ValueError, match=r"Lambda: this config holds the bytecode"):
        layers.Lambda.from_config({"function": {"class_name": "__lambda__", "config": {}}})


def test_lambda_training_argument_and_model():
    seen = []

    def fn(x, training=None):
        seen.append(training)
        return ops.multiply(x, 3.0)
    inp = ember.Input((2,))
    model = ember.Model(inp, layers.Lambda(fn)(inp, training=True))
    assert seen == [True]
    np.testing.assert_allclose(model.predict(np.ones((1, 2), "float32"), verbose=0), 3.0)


# ---- Keras parity ----------------------------------------------------------------------------
def _keras_numpy(x):
    return keras.ops.convert_to_numpy(x)


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(NP_ACTIVATIONS))
def test_keras_parity_activations(name):
    x = np.linspace(-7, 7, 57, dtype="float32").reshape(3, 19)
    x = np.concatenate([x, x + 0.013], axis=1)  # even width for glu, values off the kinks
    ours = activations.get(name)(x)
    theirs = _keras_numpy(keras.activations.get(name)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("args", [(0.0, None, 0.0), (0.0, 6, 0.0), (0.0, 2.5, 0.0),
                                  (0.0, None, 1.0), (0.2, None, 0.0), (0.2, 3.0, 0.0),
                                  (0.1, None, 0.5), (0.3, 4.0, 1.5)], ids=str)
def test_keras_parity_relu_options(args):
    x = np.concatenate([np.linspace(-6, 8, 141), [0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 4.0, 6.0]])
    x = x.astype("float32")[None]
    s, m, t = args
    np.testing.assert_array_equal(activations.relu(x, s, m, t),
                                  _keras_numpy(keras.activations.relu(x, s, m, t)))


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_keras_parity_layers(case):
    cls, kwargs, in_shape, _, _, _ = LAYER_CASES[case]
    if cls is layers.Lambda:
        pytest.skip("the function differs per library")
    x = np.random.default_rng(7).standard_normal(in_shape).astype("float32")
    ours = cls(**kwargs)
    y = ours(x)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    theirs.build(in_shape)
    assert [tuple(w.shape) for w in theirs.weights] == [w.shape for w in ours.get_weights()]
    if ours.weights:
        new = [np.random.default_rng(8).standard_normal(w.shape).astype("float32")
               for w in ours.get_weights()]
        ours.set_weights(new)
        theirs.set_weights(new)
        y = ours(x)
    np.testing.assert_allclose(y, _keras_numpy(theirs(x)), rtol=1e-5, atol=1e-6)
    assert tuple(theirs.compute_output_shape((None,) + in_shape[1:])) == (
        tuple(ours.compute_output_shape((None,) + in_shape[1:])))


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_keras_parity_merges(case):
    cls, kwargs, shapes, _, _ = MERGE_CASES[case]
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal(s).astype("float32") for s in shapes]
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    np.testing.assert_allclose(cls(**kwargs)(xs), _keras_numpy(theirs(xs)), rtol=1e-5,
                               atol=1e-6)
    sym = [(None,) + s[1:] for s in shapes]
    assert tuple(theirs.compute_output_shape(sym)) == tuple(cls(**kwargs).compute_output_shape(
        sym))


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_parity_activity_regularization_training():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 3)).astype("float32")
    t = rng.standard_normal((8, 4)).astype("float32")

    def build(lib):
        inp = lib.Input((3,))
        h = lib.layers.ActivityRegularization(l1=0.02, l2=0.05)(lib.layers.Dense(4)(inp))
        model = lib.Model(inp, lib.layers.PReLU()(h))
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss="mse")
        return model
    theirs, ours = build(keras), build(ember)
    weights = [w + rng.standard_normal(w.shape).astype("float32") * 0.1
               for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_loss = float(theirs.train_on_batch(x, t))
    np.testing.assert_allclose(ours.train_on_batch(x, t), k_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_activity_penalty_in_a_subclassed_model_survives_fit_with_validation():
    class Net(ember.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)
            self.reg = layers.ActivityRegularization(l2=0.5)

        def call(self, x, training=False):
            return self.reg(self.dense(x))

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.zeros((16, 3), "float32")
    model = Net()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    out = model.predict(x, verbose=0)
    expected = np.mean(out ** 2) + 0.5 * np.mean(np.sum(out ** 2, axis=1))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)


def test_activity_penalty_of_a_nested_functional_model_follows_the_outer_inputs():
    inner_in = ember.Input((4,))
    inner = ember.Model(inner_in, layers.ActivityRegularization(l1=0.1)(layers.Dense(3)(inner_in)))
    outer_in = ember.Input((4,))
    outer = ember.Model(outer_in, layers.Dense(2)(inner(outer_in)))
    outer.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    y = np.zeros((8, 2), "float32")
    outer.fit(x, y, epochs=1, verbose=0)
    hidden = inner.predict(x, verbose=0)
    pred = outer.predict(x, verbose=0)
    expected = np.mean(pred ** 2) + 0.1 * np.mean(np.sum(np.abs(hidden), axis=1))
    np.testing.assert_allclose(outer.evaluate(x, y, verbose=0), expected, rtol=1e-5)
