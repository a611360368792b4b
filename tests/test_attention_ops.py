"""Attention and layer-norm ops: dot_product_attention (padding masks, causal, both, Tq != Tk,
D != Dv, lengths that do not fill the kernel's 64-wide tiles, H > 1) and layer_norm (gamma/beta,
none, rms_scaling, begin_axis -2) through the op harness with NumPy references, bad input,
dropout on the attention probabilities, the plan's workspace growing linearly with the sequence
length, and parity with torch.nn.functional when torch imports (skipped otherwise).

The references transcribe Keras 3: keras/src/backend/numpy/nn.py's dot_product_attention (masked
logits replaced by -0.7 * 3.38953e38, so a fully masked row attends uniformly) and
keras/src/ops/nn.py's _layer_normalization (rms_scaling: x * rsqrt(var + eps) * gamma).
"""
import numpy as np
import pytest

from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.ops import apply_op
from ember.ops.attention import dot_product_attention, layer_norm, layer_normalization
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, positive, uniform,
)

MASKED_LOGIT = -0.7 * 3.38953e38  # Keras's large negative for float32/float64


# ---------------------------------------------------------------- NumPy references

def np_attention(q, k, v, mask=None, causal=False, scale=None, fully_masked="uniform"):
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("btnh,bsnh->bnts", q, k) * scale
    visible = np.ones(s.shape, dtype=bool)
    if mask is not None:
        visible &= np.broadcast_to(mask != 0, s.shape)
    if causal:
        visible &= np.tril(np.ones(s.shape[-2:], dtype=bool))
    s = np.where(visible, s, MASKED_LOGIT)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if fully_masked == "zero":  # keras.layers.Softmax: where(mask, softmax, 0)
        p = np.where(visible, p, 0.0)
    return np.einsum("bnts,bsnh->btnh", p, v)


def np_layer_norm(x, gamma=None, beta=None, begin_axis=-1, epsilon=1e-3, rms_scaling=False):
    axes = tuple(range(begin_axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + epsilon)
    if rms_scaling:
        y = x * inv
        return y * gamma if gamma is not None else y
    y = (x - mean) * inv
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


# ---------------------------------------------------------------- samplers

def padding_mask(shape, keep=0.7):
    """0/1 values (as float64); the harness casts them to the case's dtype."""
    return lambda rng: (rng.uniform(size=shape) < keep).astype(np.float64)


def padding_mask_with_empty_row(shape):
    """A (B, H, Tq, Tk) 0/1 mask whose query row 1 sees no key: it attends uniformly."""
    def sample(rng):
        m = (rng.uniform(size=shape) < 0.7).astype(np.float64)
        m[:, :, 1, :] = 0.0
        return m
    return sample


# ---------------------------------------------------------------- harness cases

CASES = []


def case(name, fn, inputs, reference, **kw):
    CASES.append(OpCase(name, fn, inputs, reference, **kw))


def attn_case(name, B, Tq, Tk, H, D, Dv, mask=None, causal=False, scale=None, batch_mask=True,
              dropout=0.0, fully_masked="uniform"):
    inputs = [uniform((B, Tq, H, D), -1.5, 1.5), uniform((B, Tk, H, D), -1.5, 1.5),
              uniform((B, Tk, H, Dv))]
    kw = {}
    if mask is not None:
        inputs.append(mask)
        kw = dict(wrt=[0, 1, 2], nondiff=(3,), batch=[0, 1, 2, 3] if batch_mask else [0, 1, 2])
    else:
        kw = dict(batch=[0, 1, 2])

    def fn(q, k, v, m=None):
        return dot_product_attention(q, k, v, mask=m, scale=scale, is_causal=causal,
                                     dropout=dropout, fully_masked=fully_masked)

    def ref(q, k, v, m=None):
        return np_attention(q, k, v, m, causal, scale, fully_masked)

    case(name, fn, inputs, None if dropout else ref, training=dropout > 0, **kw)


attn_case("attention", 2, 5, 5, 2, 3, 4)
attn_case("attention_scale", 2, 4, 6, 1, 3, 3, scale=0.3)
attn_case("attention_padding_mask", 2, 6, 7, 2, 3, 2, mask=padding_mask((2, 1, 1, 7)))
attn_case("attention_causal", 2, 7, 7, 2, 2, 3, causal=True)
attn_case("attention_causal_tq_gt_tk", 1, 9, 5, 2, 2, 2, causal=True)
attn_case("attention_causal_and_mask", 2, 6, 6, 2, 2, 3, causal=True,
          mask=padding_mask_with_empty_row((2, 2, 6, 6)))
attn_case("attention_causal_and_mask_zero_rows", 2, 6, 6, 2, 2, 3, causal=True,
          mask=padding_mask_with_empty_row((2, 2, 6, 6)), fully_masked="zero")
attn_case("attention_query_key_mask", 2, 5, 8, 1, 3, 2,
          mask=padding_mask((1, 1, 5, 8)), batch_mask=False)
attn_case("attention_t37_causal_mask", 2, 37, 37, 2, 4, 3, causal=True,
          mask=padding_mask((2, 1, 1, 37)))
attn_case("attention_multi_tile", 1, 70, 67, 2, 8, 5, causal=True,
          mask=padding_mask((1, 1, 70, 1), keep=0.9))                        # two tiles each way
attn_case("attention_many_heads", 8, 66, 66, 4, 4, 4, causal=True)          # many (b, h)
attn_case("attention_dropout_grad", 2, 9, 9, 2, 3, 3, causal=True, dropout=0.3)


def ln_case(name, shape, begin_axis=-1, gamma=True, beta=True, rms=False, epsilon=1e-3):
    trailing = shape[begin_axis % len(shape):]
    inputs = [uniform(shape, -2.0, 3.0)]
    params = []
    if gamma:
        params.append(len(inputs))
        inputs.append(positive(trailing, 0.5, 1.5))
    if beta:
        params.append(len(inputs))
        inputs.append(uniform(trailing, -1.0, 1.0))

    def split(p):
        return (p[0] if gamma else None), (p[-1] if beta else None)

    def fn(x, *p):
        g, b = split(p)
        return layer_norm(x, g, b, begin_axis=begin_axis, epsilon=epsilon, rms_scaling=rms)

    def ref(x, *p):
        g, b = split(p)
        return np_layer_norm(x, g, b, begin_axis, epsilon, rms)

    case(name, fn, inputs, ref, params=tuple(params))


ln_case("layer_norm", (4, 6))
ln_case("layer_norm_3d", (2, 3, 5))
ln_case("layer_norm_begin_axis_m2", (2, 3, 4), begin_axis=-2)
ln_case("layer_norm_plain", (3, 5), gamma=False, beta=False)
ln_case("layer_norm_gamma_only", (3, 5), beta=False)
ln_case("layer_norm_rms", (4, 6), beta=False, rms=True)
ln_case("layer_norm_rms_plain_axis_m2", (2, 3, 4), begin_axis=-2, gamma=False, beta=False,
        rms=True, epsilon=1e-2)
ln_case("layer_norm_large", (128, 512))                                       # parallel rows
case("layer_normalization_keras_spelling",
     lambda x, g, b: layer_normalization(x, g, b, axis=[-2, -1]),
     [uniform((2, 3, 4)), positive((3, 4)), uniform((3, 4))],
     lambda x, g, b: np_layer_norm(x, g, b, -2, 1e-7), params=(1, 2))

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


# ---------------------------------------------------------------- semantics

def test_fully_masked_row_attends_uniformly():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s).astype("float32") for s in [(1, 3, 1, 4), (1, 5, 1, 4),
                                                                   (1, 5, 1, 2)])
    mask = np.ones((1, 1, 3, 5), dtype=bool)
    mask[0, 0, 2] = False
    out = dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out[0, 2, 0], v[0, :, 0].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(out, np_attention(q.astype(float), k.astype(float),
                                                 v.astype(float), mask), rtol=1e-5, atol=1e-6)


def test_mask_of_lower_rank_broadcasts_like_numpy():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in [(2, 4, 2, 3), (2, 6, 2, 3), (2, 6, 2, 3)])
    mask = rng.uniform(size=(4, 6)) < 0.6  # (Tq, Tk) -> (1, 1, Tq, Tk)
    np.testing.assert_allclose(dot_product_attention(q, k, v, mask=mask),
                               np_attention(q, k, v, mask[None, None]), rtol=1e-10, atol=1e-12)


def test_layer_normalization_keras_spelling():
    rng = np.random.default_rng(2)
    x, g, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(layer_normalization(x, g, b, axis=[-2, -1]),
                               np_layer_norm(x, g, b, -2, 1e-7), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="trailing axes"):
        layer_normalization(x, axis=1)


# ---------------------------------------------------------------- bad input

def _attn(*shapes, dtypes=None, **kw):
    dtypes = dtypes or ["float32"] * len(shapes)
    arrays = [np.zeros(s, d) for s, d in zip(shapes, dtypes)]
    return apply_op("dot_product_attention", arrays, kw, cast=False)


@pytest.mark.parametrize("shapes,kw,exc,pattern", [
    ([(2, 5, 8), (2, 6, 2, 4), (2, 6, 2, 4)], {}, ValueError, r"query of rank 4.*\(2, 5, 8\)"),
    ([(2, 5, 2, 4), (3, 6, 2, 4), (3, 6, 2, 4)], {}, ValueError, r"batch size"),
    ([(2, 5, 2, 4), (2, 6, 3, 4), (2, 6, 3, 4)], {}, ValueError, r"number of heads"),
    ([(2, 5, 2, 4), (2, 6, 2, 5), (2, 6, 2, 4)], {}, ValueError, r"same depth"),
    ([(2, 5, 2, 4), (2, 6, 2, 4), (2, 7, 2, 4)], {}, ValueError, r"same sequence length"),
    ([(2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4), (2, 1, 5, 7)], {"has_mask": True}, ValueError,
     r"mask of shape \(2, 1, 5, 7\) is not broadcastable to .*\(2, 2, 5, 6\)"),
    ([(2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4)], {"has_mask": True}, ValueError, r"4 inputs"),
    ([(2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4)], {"dropout": 1.5}, ValueError, r"dropout rate"),
    ([(2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4)], {"fully_masked": "nan"}, ValueError,
     r"fully_masked"),
])
def test_attention_bad_input(shapes, kw, exc, pattern):
    with pytest.raises(exc, match="op 'dot_product_attention': " + ".*" + pattern):
        _attn(*shapes, **kw)


def test_attention_non_float():
    with pytest.raises(TypeError, match=r"op 'dot_product_attention': .*query.*float32 or "
                                        r"float64, received int32"):
        _attn((2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4), dtypes=["int32", "float32", "float32"])
    with pytest.raises(TypeError, match=r"op 'dot_product_attention': .*value.*float32 like "
                                        r"query, received float64"):
        _attn((2, 5, 2, 4), (2, 6, 2, 4), (2, 6, 2, 4), dtypes=["float32", "float32", "float64"])


def test_attention_bad_input_from_the_wrapper():
    q = np.zeros((2, 5, 2, 4), "float32")
    with pytest.raises(NotImplementedError, match="bias"):
        dot_product_attention(q, q, q, bias=np.zeros((2, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"mask of rank <= 4"):
        dot_product_attention(q, q, q, mask=np.ones((1, 2, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"not broadcastable"):
        dot_product_attention(q, q, q, mask=np.ones((3, 5)))
    # symbolic: a None batch passes inference, a wrong head count does not
    qs = input_tensor((None, 5, 2, 4), "float32")
    assert dot_product_attention(qs, qs, qs).shape == (None, 5, 2, 4)
    with pytest.raises(ValueError, match="number of heads"):
        dot_product_attention(qs, input_tensor((None, 5, 3, 4), "float32"), qs)


def test_layer_norm_bad_input():
    x = np.zeros((2, 3, 4), "float32")
    with pytest.raises(ValueError, match=r"op 'layer_norm': expected gamma of shape \(3, 4\).*"
                                         r"received \(4,\)"):
        layer_norm(x, np.ones(4, "float32"), begin_axis=-2)
    with pytest.raises(ValueError, match=r"op 'layer_norm': rms_scaling=true takes no beta"):
        layer_norm(x, np.ones(4, "float32"), np.ones(4, "float32"), rms_scaling=True)
    with pytest.raises(IndexError, match="layer_norm"):
        layer_norm(x, begin_axis=3)
    with pytest.raises(TypeError, match=r"op 'layer_norm': expected x to be float32 or float64"):
        apply_op("layer_norm", [np.zeros((2, 3), "int32")], {}, cast=False)
    with pytest.raises(ValueError, match=r"op 'layer_norm': expected epsilon >= 0"):
        layer_norm(x, epsilon=-1.0)


# ---------------------------------------------------------------- dropout

def _dropout_function(shape_q, shape_kv, rate):
    q, k, v = (input_tensor(s, "float64") for s in (shape_q, shape_kv, shape_kv))
    out = dot_product_attention(q, k, v, is_causal=True, dropout=rate)
    return Function([q, k, v], [out], training=True)


def test_dropout_deterministic_per_seed_and_mean_preserved():
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 12, 2, 4)), rng.standard_normal((2, 12, 2, 4)), \
        rng.standard_normal((2, 12, 2, 4))
    f = _dropout_function(q.shape, k.shape, 0.4)
    a, b, c = (f(q, k, v, seed=s)[0] for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    plain = np_attention(q, k, v, causal=True)
    assert not np.allclose(a, plain)
    mean = np.mean([f(q, k, v, seed=s)[0] for s in range(400)], axis=0)
    assert np.abs(mean - plain).mean() < 0.05 * np.abs(plain).mean()
    # Inference (a plan without training, or training=False) ignores the rate.
    qs, ks, vs = (input_tensor(x.shape, "float64") for x in (q, k, v))
    infer = Function([qs, ks, vs], [dot_product_attention(qs, ks, vs, is_causal=True,
                                                          dropout=0.4)])
    np.testing.assert_allclose(infer(q, k, v, seed=5)[0], plain, rtol=1e-10, atol=1e-12)
    forced_off = Function([qs, ks, vs], [dot_product_attention(
        qs, ks, vs, is_causal=True, dropout=0.4, training=False)], training=True)
    np.testing.assert_allclose(forced_off(q, k, v, seed=5)[0], plain, rtol=1e-10, atol=1e-12)


def test_dropout_gradient_matches_the_dropped_output():
    """The backward redraws the forward's mask: gradients equal those of the realised linear
    map out = (P * Z) v with respect to v, Z recovered from two forwards."""
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((1, 6, 1, 3)), rng.standard_normal((1, 6, 1, 3))
    f = _dropout_function(q.shape, k.shape, 0.5)
    # out is linear in v: column j of the realised matrix is out(v = e_j) for one head, dim 1.
    A = np.stack([f(q, k, np.eye(6)[:, j].reshape(1, 6, 1, 1).repeat(3, -1), seed=9)[0][0, :, 0, 0]
                  for j in range(6)], axis=1)
    v = rng.standard_normal((1, 6, 1, 3))
    g = rng.standard_normal((1, 6, 1, 3))
    _, grads, _ = f.gradients([q, k, v], [g], seed=9)
    np.testing.assert_allclose(grads[2][0, :, 0], A.T @ g[0, :, 0], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- memory

def attention_workspace_bytes(B, T, H, D, dtype="float32"):
    """Workspace of a plan running one attention op forward and backward (w.r.t. q, k, v)."""
    q, k, v = (input_tensor((B, T, H, D), dtype) for _ in range(3))
    out = dot_product_attention(q, k, v, is_causal=True)
    f = Function([q, k, v], [out])
    z = np.zeros((B, T, H, D), dtype)
    f.gradients([z, z, z], [z])
    (plan,) = [p for key, p in f._plans.items() if key[1]]
    return plan.workspace_bytes


def test_workspace_grows_linearly_with_sequence_length():
    sizes = {T: attention_workspace_bytes(2, T, 2, 8) for T in (256, 512, 1024)}
    # Twice the length, about twice the memory (a T x T matrix would quadruple it).
    assert sizes[1024] / sizes[512] < 2.2 and sizes[512] / sizes[256] < 2.2, sizes


# ---------------------------------------------------------------- parity with PyTorch

def test_parity_with_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s) for s in [(2, 9, 2, 4), (2, 11, 2, 4), (2, 11, 2, 3)])
    mask = rng.uniform(size=(2, 1, 9, 11)) < 0.7
    mask[..., 0] = True  # torch gives NaN for rows with no visible key
    g = rng.standard_normal((2, 9, 2, 3))
    for causal, m in [(False, mask), (True, None)]:
        tq, tk, tv = (torch.tensor(x.transpose(0, 2, 1, 3), requires_grad=True) for x in (q, k, v))
        ref = F.scaled_dot_product_attention(
            tq, tk, tv, attn_mask=None if m is None else torch.tensor(m), is_causal=causal)
        ref.backward(torch.tensor(g.transpose(0, 2, 1, 3)))
        qs, ks, vs = (input_tensor(x.shape, "float64") for x in (q, k, v))
        out = dot_product_attention(qs, ks, vs, mask=m, is_causal=causal)
        f = Function([qs, ks, vs], [out])
        (got,), grads, _ = f.gradients([q, k, v], [g])
        np.testing.assert_allclose(got, ref.detach().numpy().transpose(0, 2, 1, 3), atol=1e-10)
        for mine, t in zip(grads, (tq, tk, tv)):
            np.testing.assert_allclose(mine, t.grad.numpy().transpose(0, 2, 1, 3), atol=1e-10)
    x = rng.standard_normal((3, 4, 6))
    gamma, beta = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    ref = F.layer_norm(torch.tensor(x), (4, 6), torch.tensor(gamma), torch.tensor(beta), 1e-3)
    np.testing.assert_allclose(layer_norm(x, gamma, beta, begin_axis=-2), ref.numpy(),
                               rtol=1e-10, atol=1e-12)
