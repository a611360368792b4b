"""Normalization ops (batch_norm, group_norm) and dropout's broadcast masks (noise_shape).

Op-harness cases with NumPy references transcribing Keras 3
(keras/src/layers/normalization/batch_normalization.py, group_normalization.py; biased batch
variance as ops.moments), the moving statistics that a training plan updates in place, and parity
with torch.nn.functional (and Keras, torch backend) when those import; skipped otherwise.

batch_norm inputs: (x, moving_mean, moving_variance[, gamma][, beta]), gamma present with attr
scale, beta with center. group_norm inputs: (x[, gamma][, beta]).
"""
import os

import numpy as np
import pytest

from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.ops import apply_op
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, positive, uniform,
)


# ---------------------------------------------------------------- NumPy references

def _bshape(x, axis):
    """Shape that broadcasts a per-channel vector along `axis` of x."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return shape


def np_moments(x, axis):
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    return x.mean(axis=axes), x.var(axis=axes)  # biased, as Keras's ops.moments


def np_batch_norm(x, mm, mv, gamma=None, beta=None, axis=-1, eps=1e-3, training=False):
    mean, var = np_moments(x, axis) if training else (mm, mv)
    s = _bshape(x, axis)
    y = (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + eps)
    if gamma is not None:
        y = y * gamma.reshape(s)
    if beta is not None:
        y = y + beta.reshape(s)
    return y


def np_moving_update(x, mm, mv, momentum, axis=-1):
    """Keras: moving = moving * momentum + batch * (1 - momentum), biased batch variance."""
    mean, var = np_moments(x, axis)
    return mm * momentum + mean * (1 - momentum), mv * momentum + var * (1 - momentum)


def np_group_norm(x, gamma=None, beta=None, groups=32, axis=-1, eps=1e-3):
    """Keras GroupNormalization: per sample, over the other axes and the group's channels."""
    axis = axis % x.ndim
    c = x.shape[axis]
    groups = c if groups == -1 else groups
    xt = np.moveaxis(x, axis, -1)
    g = xt.reshape(xt.shape[0], -1, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    y = np.moveaxis(((g - mean) / np.sqrt(var + eps)).reshape(xt.shape), -1, axis)
    s = _bshape(x, axis)
    if gamma is not None:
        y = y * gamma.reshape(s)
    if beta is not None:
        y = y + beta.reshape(s)
    return y


# ---------------------------------------------------------------- op calls

def batch_norm(x, mm, mv, *params, axis=-1, scale=True, center=True, training=-1,
               momentum=0.99, epsilon=1e-3):
    attrs = {"axis": axis, "scale": scale, "center": center, "training": training,
             "momentum": momentum, "epsilon": epsilon}
    return apply_op("batch_norm", [x, mm, mv, *params], attrs, cast=False)


def group_norm(x, *params, groups=32, axis=-1, scale=True, center=True, epsilon=1e-3):
    attrs = {"groups": groups, "axis": axis, "scale": scale, "center": center,
             "epsilon": epsilon}
    return apply_op("group_norm", [x, *params], attrs, cast=False)


def dropout(x, rate, noise_shape, training=-1):
    attrs = {"rate": rate, "training": training, "noise_shape": list(noise_shape)}
    return apply_op("dropout", [x], attrs, cast=False)


# ---------------------------------------------------------------- harness cases

CASES = []


def case(name, fn, inputs, reference, **kw):
    CASES.append(OpCase(name, fn, inputs, reference, **kw))


def bn_case(name, shape, axis=-1, scale=True, center=True, training=False):
    c = shape[axis]
    inputs = [uniform(shape, 0.5, 3.0), uniform((c,), -0.5, 0.5), positive((c,))]
    params = []
    if scale:
        params.append(len(inputs))
        inputs.append(positive((c,), 0.5, 1.5))
    if center:
        params.append(len(inputs))
        inputs.append(uniform((c,), -1.0, 1.0))
    mode = 1 if training else 0  # forced: the eager forward check and the plan agree

    def fn(x, mm, mv, *p):
        return batch_norm(x, mm, mv, *p, axis=axis, scale=scale, center=center, training=mode)

    def ref(x, mm, mv, *p):
        gamma = p[0] if scale else None
        beta = p[-1] if center else None
        return np_batch_norm(x, mm, mv, gamma, beta, axis, training=training)

    case(name, fn, inputs, ref, wrt=[0] + params, params=tuple(params), nondiff=(1, 2),
         training=training)


bn_case("batch_norm_inference", (5, 4))
bn_case("batch_norm_inference_plain", (2, 3, 4, 5), scale=False, center=False)
bn_case("batch_norm_inference_axis1", (3, 4, 2, 3), axis=1, center=False)
bn_case("batch_norm_training", (6, 4), training=True)
bn_case("batch_norm_training_plain", (4, 3, 5), scale=False, center=False, training=True)
bn_case("batch_norm_training_axis1", (3, 4, 2, 3), axis=1, scale=True, center=False,
        training=True)
bn_case("batch_norm_training_center_only", (2, 3, 3, 4), scale=False, training=True)
bn_case("batch_norm_training_large", (300, 200), training=True)            # parallel paths
bn_case("batch_norm_training_large_axis1", (8, 16, 20, 20), axis=1, training=True)
bn_case("batch_norm_inference_large", (64, 32, 32), center=False)


def gn_case(name, shape, groups, axis=-1, scale=True, center=True):
    c = shape[axis]
    inputs = [uniform(shape, -1.0, 2.0)]
    params = []
    if scale:
        params.append(len(inputs))
        inputs.append(positive((c,), 0.5, 1.5))
    if center:
        params.append(len(inputs))
        inputs.append(uniform((c,), -1.0, 1.0))

    def fn(x, *p):
        return group_norm(x, *p, groups=groups, axis=axis, scale=scale, center=center)

    def ref(x, *p):
        gamma = p[0] if scale else None
        beta = p[-1] if center else None
        return np_group_norm(x, gamma, beta, groups, axis)

    case(name, fn, inputs, ref, params=tuple(params))


gn_case("group_norm", (2, 4, 6), groups=3)
gn_case("group_norm_default_groups", (2, 3, 64), groups=32)
gn_case("group_norm_instance", (2, 3, 4), groups=-1, center=False)
gn_case("group_norm_layer", (3, 2, 4), groups=1, scale=False)
gn_case("group_norm_plain_2d", (3, 8), groups=2, scale=False, center=False)
gn_case("group_norm_axis1", (2, 6, 3, 2), groups=2, axis=1)
gn_case("group_norm_large", (16, 40, 64), groups=8)

case("dropout_spatial2d_grad", lambda x: dropout(x, 0.5, (-1, 1, 1, -1)),
     [uniform((3, 4, 5, 6))], None, training=True)
case("dropout_spatial1d_grad", lambda x: dropout(x, 0.3, (0, 1, 0)),
     [uniform((4, 7, 5))], None, training=True)
case("dropout_noise_shape_large_grad", lambda x: dropout(x, 0.3, (-1, 1, 1, -1)),
     [uniform((16, 24, 24, 8))], None, training=True)
case("dropout_noise_shape_inference", lambda x: dropout(x, 0.5, (-1, 1, 1, -1), training=0),
     [uniform((2, 3, 3, 4))], lambda x: x)

FORWARD_CASES = [c for c in CASES if c.reference is not None]


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


# ---------------------------------------------------------------- moving statistics

def _bn_function(shape, training, momentum=0.9, axis=-1):
    """A plan of batch_norm (gamma/beta constants) fed x and the moving statistics."""
    c = shape[axis]
    rng = np.random.default_rng(3)
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    xs, ms, vs = (input_tensor(shape, "float64"), input_tensor((c,), "float64"),
                  input_tensor((c,), "float64"))
    out = batch_norm(xs, ms, vs, gamma, beta, axis=axis, momentum=momentum)
    return Function([xs, ms, vs], [out], training=training), gamma, beta


def test_training_plan_updates_moving_statistics_in_place_each_run():
    f, gamma, beta = _bn_function((8, 5), training=True)
    rng = np.random.default_rng(0)
    mm, mv = rng.uniform(-0.5, 0.5, 5), rng.uniform(0.5, 2.0, 5)
    x1, x2 = rng.normal(1.0, 2.0, (8, 5)), rng.normal(-1.0, 0.5, (8, 5))
    want_m, want_v = np_moving_update(x1, mm, mv, 0.9)
    want_m, want_v = np_moving_update(x2, want_m, want_v, 0.9)
    m_arr, v_arr = mm.copy(), mv.copy()
    y1 = f(x1, m_arr, v_arr)[0]
    y2 = f(x2, m_arr, v_arr)[0]  # the arrays the plan updated feed the next run
    np.testing.assert_allclose(m_arr, want_m, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v_arr, want_v, rtol=1e-12, atol=1e-14)
    # Training output uses the batch statistics, whatever the moving ones are.
    np.testing.assert_allclose(y1, np_batch_norm(x1, mm, mv, gamma, beta, training=True),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y2, np_batch_norm(x2, mm, mv, gamma, beta, training=True),
                               rtol=1e-12, atol=1e-12)


def test_same_batch_twice_updates_twice():
    f, _, _ = _bn_function((6, 3), training=True, momentum=0.5)
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 1.0, (6, 3))
    mm, mv = np.zeros(3), np.ones(3)
    f(x, mm, mv)
    f(x, mm, mv)
    mean, var = np_moments(x, -1)
    np.testing.assert_allclose(mm, mean * 0.75, rtol=1e-12)  # 0.5 * (0.5 * mean) + 0.5 * mean
    np.testing.assert_allclose(mv, 0.25 + var * 0.75, rtol=1e-12)


def test_inference_plan_uses_and_keeps_moving_statistics():
    f, gamma, beta = _bn_function((7, 4), training=False)
    rng = np.random.default_rng(2)
    x = rng.normal(0.5, 1.5, (7, 4))
    mm, mv = rng.uniform(-1, 1, 4), rng.uniform(0.5, 2.0, 4)
    keep_m, keep_v = mm.copy(), mv.copy()
    y = f(x, mm, mv)[0]
    np.testing.assert_array_equal(mm, keep_m)
    np.testing.assert_array_equal(mv, keep_v)
    np.testing.assert_allclose(y, np_batch_norm(x, mm, mv, gamma, beta), rtol=1e-12, atol=1e-12)


def test_eager_forced_training_updates_the_given_arrays():
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 1.0, (10, 3, 2))
    mm, mv = np.zeros(2), np.ones(2)
    want_m, want_v = np_moving_update(x, mm, mv, 0.99)
    y = batch_norm(x, mm, mv, scale=False, center=False, training=1)
    np.testing.assert_allclose(mm, want_m, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mv, want_v, rtol=1e-12)
    np.testing.assert_allclose(y, np_batch_norm(x, None, None, training=True), rtol=1e-12,
                               atol=1e-12)


def test_moving_statistics_receive_no_gradient_in_training():
    shape = (5, 3)
    xs, ms, vs = (input_tensor(shape, "float64"), input_tensor((3,), "float64"),
                  input_tensor((3,), "float64"))
    f = Function([xs, ms, vs], [batch_norm(xs, ms, vs, scale=False, center=False)],
                 training=True)
    rng = np.random.default_rng(5)
    _, grads, _ = f.gradients([rng.normal(size=shape), np.zeros(3), np.ones(3)],
                              [rng.normal(size=shape)])
    assert grads[0] is not None and grads[0].shape == shape
    assert grads[1] is None and grads[2] is None


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, kind, words", [
    (lambda: batch_norm(np.ones((2, 3)), np.zeros(3), np.ones(3)), ValueError,
     ["batch_norm", "expected 5 inputs", "received 3"]),
    (lambda: batch_norm(np.ones((2, 3)), np.zeros(4), np.ones(3), scale=False, center=False),
     ValueError, ["batch_norm", "moving_mean", "(3,)", "(4,)"]),
    (lambda: batch_norm(np.ones((2, 3)), np.zeros(3, "float32"), np.ones(3), scale=False,
                        center=False), TypeError, ["batch_norm", "moving_mean", "float32"]),
    (lambda: group_norm(np.ones((2, 6)), np.ones(6), np.zeros(6), groups=4), ValueError,
     ["group_norm", "groups (4)", "channels (6)"]),
    (lambda: group_norm(np.ones((2, 6)), np.ones(6), np.zeros(6), groups=12), ValueError,
     ["group_norm", "cannot be more"]),
    (lambda: group_norm(np.ones((2, 6)), np.ones(6), np.zeros(6), groups=2, axis=0),
     ValueError, ["group_norm", "batch axis"]),
    (lambda: dropout(np.ones((2, 3, 4)), 0.5, (1, 4)), ValueError,
     ["dropout", "noise_shape", "3 entries"]),
    (lambda: dropout(np.ones((2, 3, 4)), 0.5, (2, 2, 4)), ValueError,
     ["dropout", "noise_shape entry 1"]),
], ids=["bn_count", "bn_param_shape", "bn_param_dtype", "gn_divide", "gn_too_many",
        "gn_batch_axis", "dropout_noise_rank", "dropout_noise_extent"])
def test_bad_input(call, kind, words):
    with pytest.raises(kind) as err:
        call()
    for w in words:
        assert w in str(err.value), f"{w!r} not in {str(err.value)!r}"


# ---------------------------------------------------------------- dropout broadcast masks

@pytest.mark.parametrize("shape, noise", [
    ((4, 5, 6, 8), (-1, 1, 1, -1)),    # SpatialDropout2D
    ((6, 9, 7), (-1, 1, -1)),          # SpatialDropout1D
    ((2, 3, 4, 5, 6), (0, 1, 1, 1, 0)),  # SpatialDropout3D
    ((32, 20, 20, 12), (-1, 1, 1, -1)),  # past the parallel grain
])
def test_dropout_noise_shape_mask_broadcasts_and_gradient_is_the_mask(shape, noise):
    rate = 0.4
    xs = input_tensor(shape, "float64")
    f = Function([xs], [dropout(xs, rate, noise)], training=True)
    x = np.random.default_rng(6).uniform(0.5, 1.5, shape)
    y = f(x, seed=11)[0]
    keep = y != 0
    np.testing.assert_allclose(y[keep], x[keep] / (1 - rate), rtol=1e-15)
    # One decision per position of the noise shape: constant along the broadcast axes.
    bcast = tuple(a for a, n in enumerate(noise) if n == 1)
    first = keep[tuple(slice(0, 1) if a in bcast else slice(None) for a in range(len(shape)))]
    np.testing.assert_array_equal(keep, np.broadcast_to(first, shape))
    assert 0.2 < 1 - first.mean() < 0.6  # about `rate` of the drawn values drop
    _, (gx,), _ = f.gradients([x], [np.ones(shape)], seed=11)
    np.testing.assert_array_equal(gx, keep / (1 - rate))
    # A new seed draws a new mask.
    assert not np.array_equal(f(x, seed=12)[0] != 0, keep)


def test_dropout_noise_shape_as_input_is_the_plain_mask():
    xs = input_tensor((6, 7, 8), "float32")
    plain = Function([xs], [apply_op("dropout", [xs], {"rate": 0.5, "training": -1})],
                     training=True)
    full = Function([xs], [dropout(xs, 0.5, (-1, 0, 8))], training=True)
    x = np.random.default_rng(7).uniform(1, 2, (6, 7, 8)).astype("float32")
    np.testing.assert_array_equal(plain(x, seed=3)[0], full(x, seed=3)[0])


# ---------------------------------------------------------------- parity with torch

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(training):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    n, h, w, c = 4, 5, 3, 6
    x = rng.normal(1.0, 2.0, (n, h, w, c))
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    mm, mv = rng.uniform(-0.5, 0.5, c), rng.uniform(0.5, 2.0, c)
    g = rng.normal(size=x.shape)
    momentum, eps = 0.9, 1e-3

    xs = input_tensor(x.shape, "float64")
    gs, bs = input_tensor((c,), "float64"), input_tensor((c,), "float64")
    ms, vs = input_tensor((c,), "float64"), input_tensor((c,), "float64")
    f = Function([xs, ms, vs, gs, bs], [batch_norm(xs, ms, vs, gs, bs, momentum=momentum)],
                 training=training)
    m_arr, v_arr = mm.copy(), mv.copy()
    (y,), (gx, _, _, dgamma, dbeta), _ = f.gradients([x, m_arr, v_arr, gamma, beta], [g])

    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)  # torch is channels first
    tg = torch.tensor(gamma, requires_grad=True)
    tb = torch.tensor(beta, requires_grad=True)
    rm, rv = torch.tensor(mm), torch.tensor(mv)
    ty = F.batch_norm(tx, rm, rv, tg, tb, training=training, momentum=1 - momentum, eps=eps)
    ty.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    to_last = lambda t: t.detach().numpy().transpose(0, 2, 3, 1)  # noqa: E731
    np.testing.assert_allclose(y, to_last(ty), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gx, to_last(tx.grad), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(m_arr, rm.numpy(), rtol=1e-12, atol=1e-14)
    if training:
        # torch tracks the unbiased batch variance, Keras (and ember) the biased one.
        count = n * h * w
        batch_var = x.reshape(-1, c).var(axis=0)
        np.testing.assert_allclose(
            v_arr - rv.numpy(), (1 - momentum) * (batch_var - batch_var * count / (count - 1)),
            rtol=1e-9, atol=1e-14)
    else:
        np.testing.assert_array_equal(v_arr, mv)


@pytest.mark.parametrize("groups", [1, 3, 6])
def test_group_norm_matches_torch(groups):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    x = rng.normal(0.5, 1.5, (3, 4, 5, 6))
    c = x.shape[-1]
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    g = rng.normal(size=x.shape)
    xs, gs, bs = (input_tensor(x.shape, "float64"), input_tensor((c,), "float64"),
                  input_tensor((c,), "float64"))
    f = Function([xs, gs, bs], [group_norm(xs, gs, bs, groups=groups)])
    (y,), (gx, dgamma, dbeta), _ = f.gradients([x, gamma, beta], [g])
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    tg = torch.tensor(gamma, requires_grad=True)
    tb = torch.tensor(beta, requires_grad=True)
    ty = F.group_norm(tx, groups, tg, tb, eps=1e-3)
    ty.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    to_last = lambda t: t.detach().numpy().transpose(0, 2, 3, 1)  # noqa: E731
    np.testing.assert_allclose(y, to_last(ty), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gx, to_last(tx.grad), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_group_norm_axis1_matches_torch_channels_first():
    torch = _torch()
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 6, 4, 3))
    gamma, beta = rng.uniform(0.5, 1.5, 6), rng.uniform(-1, 1, 6)
    y = group_norm(x, gamma, beta, groups=2, axis=1)
    ty = torch.nn.functional.group_norm(torch.tensor(x), 2, torch.tensor(gamma),
                                        torch.tensor(beta), eps=1e-3)
    np.testing.assert_allclose(y, ty.numpy(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- parity with Keras

def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    _torch()
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on '{keras.backend.backend()}'")
    return keras


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_batch_norm_moving_statistics_match_keras_layer():
    keras = _keras()
    rng = np.random.default_rng(12)
    shape, c = (6, 4, 5), 5
    layer = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-3)
    layer.build(shape)
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    mm, mv = rng.uniform(-0.5, 0.5, c), rng.uniform(0.5, 2.0, c)
    layer.set_weights([w.astype("float32") for w in (gamma, beta, mm, mv)])
    xs = [rng.normal(1.0, 2.0, shape).astype("float32") for _ in range(2)]
    for x in xs:
        want = np.asarray(keras.ops.convert_to_numpy(layer(x, training=True)))
    m_arr, v_arr = mm.astype("float32"), mv.astype("float32")
    for x in xs:
        y = batch_norm(x, m_arr, v_arr, gamma.astype("float32"), beta.astype("float32"),
                       momentum=0.8, training=1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    k_mm, k_mv = (np.asarray(keras.ops.convert_to_numpy(v)) for v in
                  (layer.moving_mean, layer.moving_variance))
    np.testing.assert_allclose(m_arr, k_mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v_arr, k_mv, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_group_norm_matches_keras_layer():
    keras = _keras()
    rng = np.random.default_rng(13)
    x = rng.normal(0.5, 1.5, (3, 4, 8)).astype("float32")
    layer = keras.layers.GroupNormalization(groups=4)
    layer.build(x.shape)
    gamma, beta = rng.uniform(0.5, 1.5, 8), rng.uniform(-1, 1, 8)
    layer.set_weights([gamma.astype("float32"), beta.astype("float32")])
    want = np.asarray(keras.ops.convert_to_numpy(layer(x)))
    y = group_norm(x, gamma.astype("float32"), beta.astype("float32"), groups=4)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
