"""MultiHeadAttention, Attention, AdditiveAttention, LayerNormalization and UnitNormalization as
layers: the layer harness, NumPy references, masks, Keras parity when Keras is installed."""
import os

import numpy as np
import pytest

import ember
from ember import layers
from ember.backend.function import Function
from layer_harness import run_layer_test


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_masked_softmax(scores, keep):
    """Keras's Softmax(mask): -1e9 where masked, masked positions zeroed after."""
    if keep is None:
        return np_softmax(scores)
    return np_softmax(np.where(keep > 0, scores, -1e9)) * (keep > 0)


def np_mha(w, query, value, key=None, keep=None, causal=False, fully_masked="uniform"):
    """Keras's MultiHeadAttention forward with weights w (use_bias=True), keep (B, T, S).
    A row with no visible key attends uniformly on Keras's default path, and to nothing
    (fully_masked='zero') on its masked-Softmax path (dropout or returned scores)."""
    key = value if key is None else key
    qk, qb, kk, kb, vk, vb, ok, ob = w
    q = np.einsum("btd,dhk->bthk", query, qk) + qb
    k = np.einsum("bsd,dhk->bshk", key, kk) + kb
    v = np.einsum("bsd,dhk->bshk", value, vk) + vb
    scores = np.einsum("bthk,bshk->bhts", q / np.sqrt(qk.shape[-1]), k)
    if causal:
        tri = np.tril(np.ones(scores.shape[-2:]))
        keep = tri[None] if keep is None else keep * tri[None]
    probs = np_masked_softmax(scores, None if keep is None else keep[:, None])
    if keep is not None and fully_masked == "uniform":
        probs = np_softmax(np.where(keep[:, None] > 0, scores, -1e30))
    out = np.einsum("bhts,bshk->bthk", probs, v)
    return np.einsum("bthk,hko->bto", out, ok) + ob, probs


class SelfAttention(layers.MultiHeadAttention):
    """MultiHeadAttention(x, x): the one-input form the layer harness calls."""

    def __call__(self, x, **kwargs):
        return super().__call__(x, x, **kwargs)


def test_mha_harness_self_attention():
    run_layer_test(SelfAttention, dict(num_heads=2, key_dim=3), (2, 5, 4),
                   (2, 5, 4), expected_num_trainable_weights=8,
                   reference=lambda x, w: np_mha(w, x, x)[0], rtol=2e-5, atol=2e-5)


def test_mha_weights_as_keras():
    mha = layers.MultiHeadAttention(num_heads=4, key_dim=8, value_dim=5, output_shape=7)
    mha(np.zeros((2, 3, 6), "float32"), np.zeros((2, 4, 9), "float32"))
    assert [w.shape for w in mha.weights] == [(6, 4, 8), (4, 8), (9, 4, 8), (4, 8), (9, 4, 5),
                                              (4, 5), (4, 5, 7), (7,)]
    assert [w.name for w in mha.weights] == [
        "query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias",
        "attention_output/kernel", "attention_output/bias"]


@pytest.mark.parametrize("masks", ["none", "query_value", "attention", "causal", "all"])
def test_mha_cross_attention_with_masks(masks):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(3, 5, 6)).astype("float32")
    v = rng.normal(size=(3, 7, 4)).astype("float32")
    q_keep = np.ones((3, 5))
    q_keep[0, 3:] = 0
    v_keep = np.ones((3, 7))
    v_keep[1, :2] = 0
    v_keep[2, 6] = 0
    att = (rng.random((3, 5, 7)) > 0.3).astype("float32")
    att[:, :, 0] = 1  # every query row keeps a key (Keras's two paths differ on empty rows)
    qi, vi = ember.Input((5, 6)), ember.Input((7, 4))
    qin, vin = qi, vi
    keep = np.ones((3, 5, 7))
    kwargs = {}
    if masks in ("query_value", "all"):
        q[q_keep == 0] = 0.0
        v[v_keep == 0] = 0.0
        qin, vin = layers.Masking()(qi), layers.Masking()(vi)
        keep = keep * q_keep[:, :, None] * v_keep[:, None, :]
    if masks in ("attention", "all"):
        kwargs["attention_mask"] = att
        keep = keep * att
    if masks in ("causal", "all"):
        kwargs["use_causal_mask"] = True
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    out = mha(qin, vin, **kwargs)
    got = Function([qi, vi], [out])(q, v)[0]
    want, _ = np_mha(mha.get_weights(), q, v, keep=keep, causal=masks in ("causal", "all"))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    scored = mha(qin, vin, return_attention_scores=True, **kwargs)
    got_out, got_scores = Function([qi, vi], list(scored))(q, v)
    want, want_scores = np_mha(mha.get_weights(), q, v, keep=keep,
                               causal=masks in ("causal", "all"), fully_masked="zero")
    np.testing.assert_allclose(got_out, want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(got_scores, want_scores, rtol=2e-5, atol=2e-6)


def test_mha_fully_masked_query_rows_as_keras():
    """Keras's default path attends uniformly from a row with no visible key; its path with
    dropout (masked Softmax) outputs zero there, so the row gives the output bias."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    att = np.ones((2, 4, 4), "float32")
    att[0, 2] = 0
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    y = mha(x, x, attention_mask=att)
    w = mha.get_weights()
    uniform, _ = np_mha(w, x, x, keep=np.ones((2, 4, 4)))  # row 2 of sample 0: mean of values
    v = np.einsum("bsd,dhk->bshk", x, w[4]) + w[5]
    mean_v = v[0].mean(0)
    np.testing.assert_allclose(y[0, 2], np.einsum("hk,hko->o", mean_v, w[6]) + w[7], rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(uniform[0, 2], y[0, 2])
    dropped = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    dropped(x, x)
    dropped.set_weights(w)
    np.testing.assert_allclose(dropped(x, x, attention_mask=att)[0, 2], w[-1], atol=1e-6)


def test_mha_trains_and_masks_propagate():
    inp = ember.Input((6, 4))
    masked = layers.Masking()(inp)
    y = layers.MultiHeadAttention(num_heads=2, key_dim=4)(masked, masked)
    assert y._keras_mask is masked._keras_mask  # the query's mask passes on


def test_layer_normalization_harness():
    def ref(x, w, axes=(-1,), eps=1e-3):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[0] + w[1]
    run_layer_test(layers.LayerNormalization, {}, (3, 4, 5), (3, 4, 5),
                   expected_num_trainable_weights=2, reference=ref)
    run_layer_test(layers.LayerNormalization, {"axis": [1, 2]}, (3, 4, 5), (3, 4, 5),
                   expected_num_trainable_weights=2,
                   reference=lambda x, w: ref(x, w, (1, 2)))
    run_layer_test(layers.LayerNormalization, {"axis": 1, "epsilon": 1e-5}, (3, 4, 5),
                   (3, 4, 5), expected_num_trainable_weights=2,
                   reference=lambda x, w: ref(x, [w[0][:, None], w[1][:, None]], (1,), 1e-5))
    run_layer_test(layers.LayerNormalization, {"rms_scaling": True}, (3, 4, 5), (3, 4, 5),
                   expected_num_trainable_weights=1,
                   reference=lambda x, w: x / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * w[0])
    run_layer_test(layers.LayerNormalization, {"center": False, "scale": False}, (3, 5),
                   (3, 5), reference=lambda x, w: (x - x.mean(-1, keepdims=True))
                   / np.sqrt(x.var(-1, keepdims=True) + 1e-3))


def test_unit_normalization():
    run_layer_test(layers.UnitNormalization, {}, (3, 5), (3, 5),
                   reference=lambda x, w: x / np.linalg.norm(x, axis=-1, keepdims=True))
    run_layer_test(layers.UnitNormalization, {"axis": [1, 2]}, (2, 3, 4), (2, 3, 4),
                   reference=lambda x, w: x / np.sqrt((x ** 2).sum((1, 2), keepdims=True)))


def np_attention(q, v, k=None, scale=None, concat_weight=None, additive_scale=None,
                 v_keep=None, q_keep=None, causal=False, mode="dot"):
    k = v if k is None else k
    if mode == "dot":
        scores = q @ k.transpose(0, 2, 1)
        if scale is not None:
            scores = scores * scale
    else:
        summed = q[:, :, None] + k[:, None]
        if mode == "concat":
            scores = concat_weight * np.tanh(summed * (scale if scale is not None else 1)).sum(-1)
        else:
            scores = (np.tanh(summed) * (additive_scale if additive_scale is not None
                                         else 1)).sum(-1)
    keep = np.ones(scores.shape)
    if v_keep is not None:
        keep = keep * v_keep[:, None, :]
    if causal:
        keep = keep * np.tril(np.ones(scores.shape[1:]))[None]
    weights = np_softmax(scores - 1e9 * (1 - keep))
    out = weights @ v
    if q_keep is not None:
        out = out * q_keep[..., None]
    return out, weights


@pytest.mark.parametrize("kwargs", [{}, {"use_scale": True}, {"score_mode": "concat"},
                                    {"score_mode": "concat", "use_scale": True}])
def test_attention_layer(kwargs):
    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 3, 4)).astype("float32")
    v = rng.normal(size=(2, 5, 4)).astype("float32")
    k = rng.normal(size=(2, 5, 4)).astype("float32")
    layer = layers.Attention(**kwargs)
    layer([q, v])
    w = [np.float64(a) for a in layer.get_weights()]
    names = [x.name for x in layer.weights]
    scale = w[names.index("scale")] if "scale" in names else None
    concat = w[names.index("concat_score_weight")] if "concat_score_weight" in names else None
    if names:
        layer.set_weights([np.float32(1.7 + i) for i in range(len(names))])
        scale = 1.7 + names.index("scale") if "scale" in names else None
        concat = 1.7 + names.index("concat_score_weight") if concat is not None else None
    mode = kwargs.get("score_mode", "dot")
    v_keep = np.ones((2, 5))
    v_keep[0, 3:] = 0
    q_keep = np.array([[1, 1, 0], [1, 0, 1]], dtype=float)
    got, got_w = layer([q, v, k], mask=[q_keep, v_keep], return_attention_scores=True,
                       use_causal_mask=True)
    want, want_w = np_attention(q, v, k, scale, concat, v_keep=v_keep, q_keep=q_keep,
                                causal=True, mode=mode)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(got_w, want_w, rtol=2e-5, atol=2e-6)


def test_additive_attention_layer():
    rng = np.random.default_rng(3)
    q = rng.normal(size=(2, 3, 4)).astype("float32")
    v = rng.normal(size=(2, 5, 4)).astype("float32")
    layer = layers.AdditiveAttention()
    out = layer([q, v])
    (scale,) = layer.get_weights()
    assert scale.shape == (4,)
    np.testing.assert_allclose(out, np_attention(q, v, additive_scale=scale, mode="additive")[0],
                               rtol=2e-5, atol=2e-5)
    config = layer.get_config()
    assert "score_mode" not in config and config["use_scale"] is True


@pytest.mark.parametrize("call, words", [
    (lambda: layers.MultiHeadAttention(num_heads=2), ["key_dim"]),
    (lambda: layers.MultiHeadAttention(2, 3)(np.zeros((2, 3, 4), "float32"),
                                             np.zeros((2, 3), "float32")),
     ["MultiHeadAttention", "value", "(2, 3)"]),
    (lambda: layers.MultiHeadAttention(2, 3)(np.zeros((2, 3, 4), "float32"),
                                             np.zeros((2, 5, 4), "float32"),
                                             attention_mask=np.ones((2, 4, 5))),
     ["attention_mask", "(2, 4, 5)"]),
    (lambda: layers.Attention()([np.zeros((2, 3, 4)), np.zeros((2, 3, 5))]),
     ["same last dimension"]),
    (lambda: layers.Attention(score_mode="max"), ["score_mode"]),
    (lambda: layers.LayerNormalization(axis=3)(np.zeros((2, 3), "float32")), ["axis 3"]),
])
def test_bad_input(call, words):
    with pytest.raises(ValueError) as e:
        call()
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------- Keras parity (optional)
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def test_mha_matches_keras(keras):
    rng = np.random.default_rng(5)
    q = rng.normal(size=(2, 5, 8)).astype("float32")
    v = rng.normal(size=(2, 6, 8)).astype("float32")
    att = (rng.random((2, 5, 6)) > 0.3)
    att[:, :, 0] = True
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    want = keras.ops.convert_to_numpy(theirs(q, v, attention_mask=att, use_causal_mask=True))
    ours = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    ours(q, v)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.get_weights()])
    got = ours(q, v, attention_mask=att.astype("float32"), use_causal_mask=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_layer_norm_matches_keras(keras):
    x = np.random.default_rng(6).normal(size=(3, 4, 5)).astype("float32")
    for kwargs in ({}, {"rms_scaling": True}, {"axis": [1, 2]}):
        theirs = keras.layers.LayerNormalization(**kwargs)
        theirs.build(x.shape)
        ws = [np.random.default_rng(7).normal(size=w.shape).astype("float32")
              for w in theirs.get_weights()]
        theirs.set_weights(ws)
        ours = layers.LayerNormalization(**kwargs)
        ours(x)
        ours.set_weights(ws)
        np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-4,
                                   atol=1e-5)
