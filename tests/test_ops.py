"""Every ember.ops function and internal op through the op harness, plus bad input, the
gradient conventions at kinks, and dropout. Adding an op's test is adding one OpCase."""
import math
import sys

import numpy as np
import pytest

import ember
from ember import ops
from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from op_harness import (
    OpCase, away_from, check_forward, check_gradients, check_shape_inference, distinct, grid,
    positive, uniform,
)

# ---------------------------------------------------------------- NumPy references

_erf = np.vectorize(math.erf)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def np_gelu(x, approximate):
    if approximate:  # Keras's tanh form
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def np_elu(x, alpha):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1.0))


def np_leaky_relu(x, slope):
    return np.where(x > 0, x, slope * x)


def np_softplus(x):
    return np.logaddexp(0.0, x)


DENSE_ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
              "sigmoid": np_sigmoid, "tanh": np.tanh}

# ---------------------------------------------------------------- kink predicates


def near(a, b):
    """True when some broadcast pair of a and b is within a kink margin (a tie)."""
    return np.min(np.abs(np.asarray(a) - np.asarray(b)), initial=np.inf) < 1e-2


# ---------------------------------------------------------------- cases

CASES = []


def case(*args, **kwargs):
    CASES.append(OpCase(*args, **kwargs))


# Binary elementwise ops over the broadcasting patterns: (shape_a, shape_b, batch inputs).
BROADCASTS = [
    ((3, 4), (3, 4), (0, 1)),
    ((3, 4), (4,), (0,)),
    ((3, 1), (1, 4), (0,)),
    ((2, 1, 4), (3, 1), (0,)),
    ((4,), (3, 4), (1,)),
    ((3, 4), (), (0,)),
]
BINARY = {
    "add": (np.add, None),
    "subtract": (np.subtract, None),
    "multiply": (np.multiply, None),
    "divide": (np.divide, None),
    "maximum": (np.maximum, near),
    "minimum": (np.minimum, near),
}
for name, (ref, avoid) in BINARY.items():
    fn = getattr(ops, name)
    for sa, sb, batch in BROADCASTS:
        # the divisor stays away from 0, where the quotient blows up
        b_sampler = away_from(sb, (0.0,), margin=0.5) if name == "divide" else uniform(sb)
        case(f"{name}{sa}{sb}", fn, [uniform(sa), b_sampler], ref, batch=batch, avoid=avoid)
    # a Python scalar operand takes the dtype of the tensor (Keras weak typing)
    case(f"{name}_python_scalar", lambda a, f=fn: f(a, 0.75), [uniform((2, 3))],
         lambda a, r=ref: r(a, 0.75), avoid=(lambda a: near(a, 0.75)) if avoid else None)

# Unary math and activations: name, fn, sampler, reference.
UNARY = [
    ("negative", ops.negative, uniform((3, 4)), np.negative),
    ("exp", ops.exp, uniform((3, 4)), np.exp),
    ("exp_scalar", ops.exp, uniform(()), np.exp),
    ("log", ops.log, positive((3, 4), 0.2, 3.0), np.log),
    ("sqrt", ops.sqrt, positive((3, 4), 0.2, 3.0), np.sqrt),
    ("square", ops.square, uniform((3, 4)), np.square),
    ("abs", ops.abs, away_from((3, 4)), np.abs),
    ("absolute_alias", ops.absolute, away_from((2, 3)), np.abs),
    ("relu", ops.relu, away_from((3, 4)), lambda x: np.maximum(x, 0.0)),
    ("relu_rank3", ops.relu, away_from((2, 3, 4)), lambda x: np.maximum(x, 0.0)),
    ("sigmoid", ops.sigmoid, uniform((3, 4), -6, 6), np_sigmoid),
    ("tanh", ops.tanh, uniform((3, 4), -3, 3), np.tanh),
    ("softplus", ops.softplus, uniform((3, 4), -6, 6), np_softplus),
    ("silu", ops.silu, uniform((3, 4), -4, 4), lambda x: x * np_sigmoid(x)),
    ("swish_alias", ops.swish, uniform((2, 3)), lambda x: x * np_sigmoid(x)),
    ("gelu_default_approximate", ops.gelu, uniform((3, 4), -4, 4),
     lambda x: np_gelu(x, True)),
    ("gelu_approximate", lambda x: ops.gelu(x, approximate=True), uniform((3, 4), -4, 4),
     lambda x: np_gelu(x, True)),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False), uniform((3, 4), -4, 4),
     lambda x: np_gelu(x, False)),
    ("elu_default", ops.elu, away_from((3, 4)), lambda x: np_elu(x, 1.0)),
    ("elu_alpha", lambda x: ops.elu(x, alpha=0.5), away_from((3, 4)), lambda x: np_elu(x, 0.5)),
    ("leaky_relu_default", ops.leaky_relu, away_from((3, 4)), lambda x: np_leaky_relu(x, 0.2)),
    ("leaky_relu_slope", lambda x: ops.leaky_relu(x, negative_slope=0.01), away_from((3, 4)),
     lambda x: np_leaky_relu(x, 0.01)),
    ("clip", lambda x: ops.clip(x, -0.5, 0.7), away_from((3, 4), (-0.5, 0.7)),
     lambda x: np.clip(x, -0.5, 0.7)),
    ("clip_open_above", lambda x: ops.clip(x, 0.0, np.inf), away_from((3, 4)),
     lambda x: np.clip(x, 0.0, np.inf)),
    ("clip_min_above_max", lambda x: ops.clip(x, 0.5, -0.5), away_from((3, 4), (-0.5, 0.5)),
     lambda x: np.clip(x, 0.5, -0.5)),
]
for name, fn, sampler, ref in UNARY:
    case(name, fn, [sampler], ref)

# Reductions over axis variants of a (2, 3, 4) input.
REDUCE_AXES = [None, 0, -1, 1, (0, 2), (-1, 0), (0, 1, 2), ()]
REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
for name, ref in REDUCTIONS.items():
    for axis in REDUCE_AXES:
        for keepdims in (False, True):
            case(f"{name}_axis{axis}_keepdims{keepdims}",
                 lambda x, n=name, ax=axis, kd=keepdims: getattr(ops, n)(x, ax, kd),
                 [distinct((2, 3, 4))],
                 lambda x, r=ref, ax=axis, kd=keepdims: r(x, axis=ax, keepdims=kd))
    case(f"{name}_vector", getattr(ops, name), [distinct((5,))], ref)
case("max_initial", lambda x: ops.max(x, axis=1, initial=0.3), [distinct((3, 4))],
     lambda x: np.max(x, axis=1, initial=0.3), avoid=lambda x: near(np.max(x, axis=1), 0.3))
case("min_initial", lambda x: ops.min(x, axis=0, initial=-0.3), [distinct((3, 4))],
     lambda x: np.min(x, axis=0, initial=-0.3), avoid=lambda x: near(np.min(x, axis=0), -0.3))

# Shape ops.
RESHAPES = [((6, 4), ()), ((-1, 4), (0,)), ((2, -1), (0,)), ((-1,), (0,)), (-1, (0,)),
            ((4, -1, 3), ()), ((24,), ()), ((2, 3, 2, 2), ())]
for shape, batch in RESHAPES:
    case(f"reshape{shape}", lambda x, s=shape: ops.reshape(x, s), [uniform((2, 3, 4))],
         lambda x, s=shape: np.reshape(x, s), batch=batch)
case("reshape_to_scalar", lambda x: ops.reshape(x, ()), [uniform((1, 1))],
     lambda x: np.reshape(x, ()), batch=())

for perm in [None, (1, 0, 2), (2, 0, 1), (0, 2, 1), (-1, 0, 1)]:
    case(f"transpose{perm}", lambda x, p=perm: ops.transpose(x, p), [uniform((2, 3, 4))],
         lambda x, p=perm: np.transpose(x, p))
case("transpose_matrix", ops.transpose, [uniform((3, 5))], np.transpose)
case("transpose_rank4", lambda x: ops.transpose(x, (0, 3, 1, 2)), [uniform((2, 3, 2, 4))],
     lambda x: np.transpose(x, (0, 3, 1, 2)))

CONCATS = [  # (shapes, axis, batch inputs)
    (((2, 3), (4, 3)), 0, (0, 1)),
    (((2, 3), (2, 5)), 1, (0, 1)),
    (((2, 3, 4), (2, 3, 1), (2, 3, 2)), -1, (0, 1, 2)),
    (((2, 3, 4), (2, 1, 4)), -2, (0, 1)),
    (((3,), (2,)), 0, (0, 1)),
]
for shapes, axis, batch in CONCATS:
    case(f"concatenate{shapes}_axis{axis}",
         lambda *xs, ax=axis: ops.concatenate(list(xs), axis=ax), [uniform(s) for s in shapes],
         lambda *xs, ax=axis: np.concatenate(xs, axis=ax), batch=batch)
case("concatenate_default_axis0", lambda a, b: ops.concatenate([a, b]),
     [uniform((2, 3)), uniform((1, 3))], lambda a, b: np.concatenate([a, b]), batch=(0, 1))

for axis in [0, 1, -1, 2, -3, (0, 3), (1, -1)]:
    case(f"expand_dims{axis}", lambda x, ax=axis: ops.expand_dims(x, ax), [uniform((2, 3))],
         lambda x, ax=axis: np.expand_dims(x, ax))

SQUEEZES = [((1, 3, 1, 2), None, ()), ((3, 1, 2), 1, (0,)), ((3, 2, 1), -1, (0,)),
            ((1, 3, 1), (0, 2), ()), ((3, 1, 1), (-1, 1), (0,)), ((4, 1), None, (0,))]
for shape, axis, batch in SQUEEZES:
    case(f"squeeze{shape}_axis{axis}", lambda x, ax=axis: ops.squeeze(x, ax), [uniform(shape)],
         lambda x, ax=axis: np.squeeze(x, ax), batch=batch)

# matmul: 2-D, folded batch, batched, broadcast batches, 1-D operands.
MATMULS = [
    ((3, 4), (4, 5), (0,)),
    ((2, 3, 4), (4, 5), (0,)),
    ((2, 3, 4), (2, 4, 5), (0, 1)),
    ((2, 1, 3, 4), (3, 4, 5), (0,)),
    ((3, 4), (2, 4, 5), (1,)),
    ((1, 3, 4), (2, 4, 2), (1,)),
    ((4,), (4, 5), ()),
    ((3, 4), (4,), (0,)),
    ((4,), (4,), ()),
    ((2, 3, 4), (4,), (0,)),
    ((4,), (2, 4, 5), ()),
]
for sa, sb, batch in MATMULS:
    case(f"matmul{sa}{sb}", ops.matmul, [uniform(sa), uniform(sb)], np.matmul, batch=batch)

# softmax / log_softmax along each axis.
for name, ref in (("softmax", np_softmax), ("log_softmax", np_log_softmax)):
    for shape, axis in [((3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1),
                        ((5,), 0), ((2, 3, 4), -3)]:
        case(f"{name}{shape}_axis{axis}", lambda x, n=name, ax=axis: getattr(ops, n)(x, axis=ax),
             [uniform(shape, -3, 3)], lambda x, r=ref, ax=axis: r(x, axis=ax))
    case(f"{name}_default_axis", getattr(ops, name), [uniform((3, 4), -3, 3)], ref)


# dense: with and without bias, each fused activation, kernel/bias as parameters or inputs.
def dense_ref(act, bias):
    f = DENSE_ACTS[act]
    if bias:
        return lambda x, w, b: f(np.matmul(x, w) + b)
    return lambda x, w: f(np.matmul(x, w))


def dense_kink(bias, margin=1e-2):  # relu's kink: a pre-activation near 0
    if bias:
        return lambda x, w, b: np.min(np.abs(np.matmul(x, w) + b)) < margin
    return lambda x, w: np.min(np.abs(np.matmul(x, w))) < margin


for act in DENSE_ACTS:
    for bias in (True, False):
        shapes = [(3, 4), (4, 5)] + ([(5,)] if bias else [])
        case(f"dense_{act}_bias{bias}",
             lambda x, w, *b, a=act: ops.dense(x, w, b[0] if b else None, activation=a),
             [uniform(s) for s in shapes], dense_ref(act, bias),
             params=(1, 2) if bias else (1,), avoid=dense_kink(bias) if act == "relu" else None)
case("dense_rank3_inputs_not_params",
     lambda x, w, b: ops.dense(x, w, b, activation="tanh"),
     [uniform((2, 3, 4)), uniform((4, 5)), uniform((5,))], dense_ref("tanh", True))
case("dense_default_linear", lambda x, w, b: ops.dense(x, w, b),
     [uniform((3, 4)), uniform((4, 2)), uniform((2,))], dense_ref("linear", True), params=(1, 2))

# dropout: inference is the identity; in training the harness checks the gradient under a
# fixed mask (its forward is tested below, as the mask is ember's own).
case("dropout_inference", lambda x: ops.dropout(x, 0.5, training=False), [uniform((3, 4))],
     lambda x: x)
case("dropout_follows_plan_inference", lambda x: ops.dropout(x, 0.5), [uniform((3, 4))],
     lambda x: x)
case("dropout_training_grad", lambda x: ops.dropout(x, 0.4, training=True), [uniform((4, 6))],
     None, training=True)

# Composite: ops chained in one graph, a shared input used twice (gradients accumulate).
case("composite_shared_input",
     lambda x, w: ops.sum(ops.multiply(ops.tanh(ops.matmul(x, w)), ops.sigmoid(x @ w)), axis=1),
     [uniform((3, 4)), uniform((4, 2))],
     lambda x, w: np.sum(np.tanh(x @ w) * np_sigmoid(x @ w), axis=1))
case("composite_param_twice", lambda x, w: ops.matmul(ops.tanh(ops.matmul(x, w)), w),
     [uniform((3, 2)), uniform((2, 2))], lambda x, w: np.tanh(x @ w) @ w, params=(1,))

# Large inputs: past kParallelGrain (32768 elements), so the kernels' OpenMP paths run.
BIG = (300, 200)
case("add_large_broadcast", ops.add, [uniform(BIG), uniform(BIG[1:])], np.add)
case("multiply_large_broadcast", ops.multiply, [uniform(BIG), uniform((BIG[0], 1))], np.multiply,
     batch=(0, 1))
case("maximum_large", ops.maximum, [grid(BIG), grid(BIG, offset=0.05)], np.maximum,
     batch=(0, 1))
case("divide_large", ops.divide, [uniform(BIG), positive(BIG)], np.divide,
     batch=(0, 1))
case("relu_large", ops.relu, [away_from(BIG)], lambda x: np.maximum(x, 0.0))
case("gelu_exact_large", lambda x: ops.gelu(x, approximate=False), [uniform(BIG)],
     lambda x: np_gelu(x, False))
case("elu_large", ops.elu, [away_from(BIG)], lambda x: np_elu(x, 1.0))
case("clip_large", lambda x: ops.clip(x, -1.0, 1.0), [away_from(BIG, (-1.0, 1.0))],
     lambda x: np.clip(x, -1.0, 1.0))
case("exp_large", ops.exp, [uniform(BIG)], np.exp)
for axis in (None, 0, -1):
    case(f"sum_large_axis{axis}", lambda x, ax=axis: ops.sum(x, axis=ax), [uniform(BIG)],
         lambda x, ax=axis: np.sum(x, axis=ax))
    case(f"max_large_axis{axis}", lambda x, ax=axis: ops.max(x, axis=ax), [distinct(BIG)],
         lambda x, ax=axis: np.max(x, axis=ax))
case("mean_large_middle_axis", lambda x: ops.mean(x, axis=1, keepdims=True),
     [uniform((40, 30, 50))], lambda x: np.mean(x, axis=1, keepdims=True))
for axis in (0, -1):
    case(f"softmax_large_axis{axis}", lambda x, ax=axis: ops.softmax(x, axis=ax),
         [uniform(BIG, -3, 3)], lambda x, ax=axis: np_softmax(x, ax))
case("log_softmax_large", ops.log_softmax, [uniform(BIG, -3, 3)], np_log_softmax)
case("transpose_large", ops.transpose, [uniform(BIG)], np.transpose)
case("transpose_large_rank3", lambda x: ops.transpose(x, (2, 0, 1)), [uniform((30, 40, 50))],
     lambda x: np.transpose(x, (2, 0, 1)))
case("concatenate_large", lambda a, b: ops.concatenate([a, b], axis=1),
     [uniform(BIG), uniform((BIG[0], 50))], lambda a, b: np.concatenate([a, b], axis=1),
     batch=(0, 1))
case("matmul_large", ops.matmul, [uniform((200, 150)), uniform((150, 100))], np.matmul)
case("matmul_large_batched", ops.matmul, [uniform((4, 60, 50)), uniform((4, 50, 40))],
     np.matmul, batch=(0, 1))
case("dense_large_relu", lambda x, w, b: ops.dense(x, w, b, activation="relu"),
     [uniform((256, 128)), uniform((128, 64), -0.2, 0.2), uniform((64,))], dense_ref("relu", True),
     params=(1, 2), avoid=dense_kink(True, 1e-5))  # directional steps move z by ~1e-6
case("dense_large_sigmoid", lambda x, w, b: ops.dense(x, w, b, activation="sigmoid"),
     [uniform((256, 128)), uniform((128, 64), -0.2, 0.2), uniform((64,))],
     dense_ref("sigmoid", True), params=(1, 2))
case("dropout_large_training_grad", lambda x: ops.dropout(x, 0.3, training=True),
     [uniform(BIG)], None, training=True)

FORWARD_CASES = [c for c in CASES if c.reference is not None]


# ---------------------------------------------------------------- the harness checks

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", FORWARD_CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


def _ops_recorded(cases):
    """Names of the ops each case's symbolic graph records."""
    seen = set()
    for c in cases:
        arrays = c.sample(c.rng())
        out = c.fn(*[input_tensor(a.shape, str(a.dtype)) for a in arrays])
        stack = [out.node]
        while stack:
            n = stack.pop()
            if n.kind == "op":
                seen.add(n.op)
            stack.extend(t.node for t in n.inputs)
    return seen


# The loss, metric, convolution-family and slicing ops have their cases in their own files.
CASE_MODULES = ("test_losses_ops", "test_conv_ops_conv", "test_conv_ops_pooling",
                "test_conv_ops_norm", "test_ops_slicing", "test_attention_ops",
                "test_recurrent_ops", "test_noise_layers",
                "test_augmentation_layers")


def _all_cases():
    import importlib
    return CASES + [c for m in CASE_MODULES for c in importlib.import_module(m).CASES]


def test_every_op_has_a_case():
    missing = set(ember._core.op_names()) - _ops_recorded(_all_cases())
    assert not missing, f"ops without a harness case: {sorted(missing)}"


def test_every_ops_function_has_a_case():
    # Record the code of every function the cases run (aliases share their target's code).
    called = set()

    def profile(frame, event, arg):
        if event == "call":
            called.add(frame.f_code)

    cases = _all_cases()
    sys.setprofile(profile)
    try:
        for c in cases:
            c.fn(*c.sample(c.rng()))
    finally:
        sys.setprofile(None)
    missing = [n for n in ops.__all__ if n not in ("apply_op", "convert_to_numpy")
               and getattr(ops, n).__code__ not in called]
    assert not missing, f"ember.ops functions without a harness case: {missing}"


# ---------------------------------------------------------------- gradients at kinks
# Central differences are meaningless at a kink; these pin down ember's conventions there
# (those of torch, which Keras users meet too).

def _grad_at(fn, *arrays, g=None):
    syms = [input_tensor(a.shape, "float64") for a in arrays]
    out = fn(*syms)
    f = Function(syms, [out])
    g = np.ones(out.shape) if g is None else g
    return f.gradients([np.asarray(a, dtype="float64") for a in arrays], [g])[1]


@pytest.mark.parametrize("fn, x, expected", [
    (ops.relu, [-1.0, 0.0, 1.0], [0.0, 0.0, 1.0]),
    (ops.abs, [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]),
    (lambda x: ops.leaky_relu(x, 0.1), [-1.0, 0.0, 1.0], [0.1, 0.1, 1.0]),
    (lambda x: ops.elu(x, 0.5), [0.0, 1.0], [0.5, 1.0]),
    (lambda x: ops.clip(x, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0], [0, 1, 1, 1, 0]),
], ids=["relu", "abs", "leaky_relu", "elu", "clip_bounds_included"])
def test_gradient_at_kinks(fn, x, expected):
    np.testing.assert_array_equal(_grad_at(fn, np.array(x))[0], expected)


def test_maximum_splits_ties_evenly():
    ga, gb = _grad_at(ops.maximum, np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 4.0]))
    np.testing.assert_array_equal(ga, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0, 1.0])


def test_max_reduction_gives_ties_to_the_first():
    (g,) = _grad_at(lambda x: ops.max(x, axis=1), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])


# ---------------------------------------------------------------- dropout


def _dropout_fn(shape, rate, training_attr=None, plan_training=True):
    x = input_tensor(shape, "float64")
    return Function([x], [ops.dropout(x, rate, training=training_attr)], training=plan_training)


def test_dropout_training_mask_and_scale():
    rate, x = 0.3, np.random.default_rng(0).uniform(1.0, 2.0, size=(50, 40))
    f = _dropout_fn(x.shape, rate)
    (y,) = f(x, seed=7)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-12)
    assert abs(1 - kept.mean() - rate) < 0.03, f"dropped {1 - kept.mean():.3f}, rate {rate}"
    # the same seed draws the same mask; another seed another one
    np.testing.assert_array_equal(f(x, seed=7)[0], y)
    assert not np.array_equal(f(x, seed=8)[0] != 0, kept)


def test_dropout_gradient_is_the_scaled_mask():
    rate, x = 0.5, np.random.default_rng(1).uniform(1.0, 2.0, size=(8, 16))
    f = _dropout_fn(x.shape, rate)
    g = np.random.default_rng(2).standard_normal(x.shape)
    (y,), (gx,), _ = f.gradients([x], [g], seed=3)
    mask = (y != 0) / (1 - rate)
    np.testing.assert_allclose(gx, g * mask, rtol=1e-12)
    np.testing.assert_array_equal(f(x, seed=3)[0], y)  # forward alone: the same mask


def test_dropout_nodes_draw_independent_masks():
    x = input_tensor((20, 20), "float64")
    f = Function([x], [ops.dropout(x, 0.5), ops.dropout(x, 0.5)], training=True)
    a, b = f(np.ones((20, 20)), seed=1)
    assert not np.array_equal(a != 0, b != 0)


@pytest.mark.parametrize("training_attr, plan_training", [(None, False), (False, True)])
def test_dropout_inference_is_identity(training_attr, plan_training):
    x = np.random.default_rng(3).standard_normal((6, 7))
    f = _dropout_fn(x.shape, 0.5, training_attr, plan_training)
    (y,), (gx,), _ = f.gradients([x], [np.full(x.shape, 2.0)], seed=5)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(gx, np.full(x.shape, 2.0))


def test_dropout_training_forced_and_edge_rates():
    x = np.ones((4, 5))
    assert np.count_nonzero(_dropout_fn(x.shape, 0.5, True, False)(x, seed=1)[0] == 0) > 0
    np.testing.assert_array_equal(_dropout_fn(x.shape, 0.0)(x, seed=1)[0], x)
    np.testing.assert_array_equal(_dropout_fn(x.shape, 1.0)(x, seed=1)[0], np.zeros_like(x))
    eager = ops.dropout(x.astype("float32"), 0.5, training=True)
    assert eager.dtype == np.float32 and set(np.unique(eager)) <= {0.0, 2.0}


# ---------------------------------------------------------------- bad input
# Each must raise ValueError/TypeError/IndexError naming the op, eagerly and while recording.


def _raises_both(exc, fn, arrays, match):
    """The error is raised eagerly on arrays and at shape inference on symbolic tensors."""
    with pytest.raises(exc, match=match):
        fn(*[np.asarray(a) for a in arrays])
    syms = [input_tensor(np.shape(a), str(np.asarray(a).dtype)) for a in arrays]
    with pytest.raises(exc, match=match):
        fn(*syms)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_incompatible_broadcast(name):
    _raises_both(ValueError, getattr(ops, name), [np.ones((3, 4)), np.ones((5,))],
                 rf"op '{name}'.*\(3, 4\).*\(5,\)")


@pytest.mark.parametrize("sa, sb", [((3, 4), (5, 2)), ((2, 3, 4), (3, 2)), ((4,), (3,)),
                                    ((2, 3, 4), (3, 4, 5))])
def test_matmul_mismatch(sa, sb):
    _raises_both(ValueError, ops.matmul, [np.ones(sa), np.ones(sb)], r"op 'matmul'")


def test_matmul_mismatch_with_none_batch_names_shapes():
    with pytest.raises(ValueError, match=r"op 'matmul'.*\(None, 784\) and \(128, 10\)"):
        ops.matmul(input_tensor((None, 784), "float32"), input_tensor((128, 10), "float32"))


@pytest.mark.parametrize("fn, name", [
    (lambda x: ops.sum(x, axis=2), "sum"),
    (lambda x: ops.mean(x, axis=-3), "mean"),
    (lambda x: ops.max(x, axis=(0, 5)), "max"),
    (lambda x: ops.min(x, axis=7), "min"),
    (lambda x: ops.softmax(x, axis=2), "softmax"),
    (lambda x: ops.log_softmax(x, axis=-3), "log_softmax"),
    (lambda x: ops.concatenate([x, x], axis=2), "concatenate"),
    (lambda x: ops.expand_dims(x, 3), "expand_dims"),
    (lambda x: ops.squeeze(x, 4), "squeeze"),
])
def test_bad_axis(fn, name):
    _raises_both(IndexError, fn, [np.ones((3, 1))], rf"op '{name}'.*axis")


def test_repeated_axis():
    _raises_both(ValueError, lambda x: ops.sum(x, axis=(0, -2)), [np.ones((3, 4))],
                 r"op 'sum'.*repeated")


@pytest.mark.parametrize("shape, why", [((5, -1), "not divisible"), ((5, 3), "counts differ"),
                                        ((-1, -1), "at most one -1"), ((-2, 6), ">= 0 or -1")])
def test_bad_reshape(shape, why):
    _raises_both(ValueError, lambda x: ops.reshape(x, shape), [np.ones((3, 4))],
                 rf"op 'reshape'.*{why}")


@pytest.mark.parametrize("perm", [(0, 0), (0,), (0, 2), (1, 0, 2)])
def test_bad_transpose(perm):
    _raises_both(ValueError, lambda x: ops.transpose(x, perm), [np.ones((3, 4))],
                 r"op 'transpose'.*permutation")


def test_bad_concatenate_and_squeeze():
    _raises_both(ValueError, lambda a, b: ops.concatenate([a, b], axis=0),
                 [np.ones((2, 3)), np.ones((2, 4))], r"op 'concatenate'.*agree")
    _raises_both(ValueError, lambda a: ops.squeeze(a, 0), [np.ones((2, 3))],
                 r"op 'squeeze'.*expected extent 1")


@pytest.mark.parametrize("args, match", [
    ([(2, 3), (4, 5)], r"op 'dense'.*last dimension 4"),
    ([(2, 3), (3, 5), (4,)], r"op 'dense'.*bias of shape \(5,\)"),
    ([(2, 3), (3,)], r"op 'dense'.*2-D kernel"),
])
def test_bad_dense(args, match):
    _raises_both(ValueError, lambda *a: ops.dense(*a), [np.ones(s) for s in args], match)


def test_bad_attributes():
    with pytest.raises(ValueError, match=r"op 'dense'.*activation 'gelu'"):
        ops.dense(np.ones((2, 3)), np.ones((3, 4)), activation="gelu")
    with pytest.raises(ValueError, match=r"op 'dropout'.*rate in \[0, 1\].*1.5"):
        ops.dropout(np.ones((2, 3)), 1.5, training=True)


def test_dtype_mismatch_in_a_graph():
    with pytest.raises(TypeError, match=r"op 'matmul'"):
        ops.apply_op("matmul", [input_tensor((2, 3), "float32"), input_tensor((3, 2), "float64")],
                     cast=False)
    with pytest.raises(TypeError, match=r"op 'relu'.*float32 or float64"):
        ops.apply_op("relu", [np.arange(3)], cast=False)


NON_NUMERIC = [np.array(["a", "b", "c"]), np.array([1.0, None, 2.0], dtype=object),
               np.array([b"x", b"y", b"z"])]


@pytest.mark.parametrize("bad", NON_NUMERIC, ids=lambda a: str(a.dtype))
@pytest.mark.parametrize("name, call", [
    ("add", lambda b: ops.add(b, np.ones(3))),
    ("add", lambda b: ops.add(np.ones(3), b)),
    ("relu", ops.relu),
    ("sum", ops.sum),
    ("reshape", lambda b: ops.reshape(b, (3, 1))),
    ("matmul", lambda b: ops.matmul(b, np.ones(3))),
    ("concatenate", lambda b: ops.concatenate([np.ones(3), b])),
    ("add", lambda b: ops.add(input_tensor((3,), "float32"), b)),
])
def test_non_numeric_input(name, call, bad):
    with pytest.raises(TypeError, match=rf"op '{name}'.*numeric"):
        call(bad)


# ---------------------------------------------------------------- thread-count independence

@pytest.fixture
def restore_threads():
    n = ember.config.get_num_threads()
    yield
    ember.config.set_num_threads(n)


def test_dropout_mask_does_not_depend_on_thread_count(restore_threads):
    x = np.ones((300, 200))  # past kParallelGrain: the mask is drawn in parallel
    f = _dropout_fn(x.shape, 0.5)
    masks = []
    for n in (1, 3):
        ember.config.set_num_threads(n)
        masks.append(f(x, seed=11)[0])
    np.testing.assert_array_equal(masks[0], masks[1])


# ---------------------------------------------------------------- the harness itself can fail

def test_harness_catches_a_wrong_reference():
    bad = OpCase("relu_vs_leaky", ops.relu, [away_from((3, 4))], lambda x: np_leaky_relu(x, 0.01))
    with pytest.raises(AssertionError, match="forward"):
        check_forward(bad, "float64")


@pytest.mark.parametrize("shape", [(3,), (300, 200)], ids=["elementwise", "directional"])
def test_harness_catches_a_wrong_gradient(shape):
    # At relu's kink central differences see slope 1/2 while the op reports 0.
    at_kink = OpCase("relu_at_kink", ops.relu, [np.zeros(shape)], lambda x: np.maximum(x, 0.0))
    with pytest.raises(AssertionError, match="gradient of input 0"):
        check_gradients(at_kink)


def test_harness_catches_a_wrong_inferred_shape():
    # eager reduces axis 0, symbolic axis 1: shapes (4,) and (3,) differ
    def inconsistent(x):
        return ops.sum(x, axis=0 if isinstance(x, np.ndarray) else 1)
    bad = OpCase("inconsistent", inconsistent, [uniform((3, 4))], lambda x: np.sum(x, axis=0))
    with pytest.raises(AssertionError, match="inferred shape"):
        check_shape_inference(bad)
