"""Attention layers: MultiHeadAttention (projections through BLAS, attention in one fused C++ op
that never stores the score matrix), Attention (dot-product) and AdditiveAttention."""
import math

import numpy as np

from ember import initializers, ops, regularizers
from ember.layers.layer import Layer


def _mask_and(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return ops.logical_and(a, b)


def _reshape_tail(x, tail):
    """(B, T, ...) -> (B, T, *tail), whether or not B and T are known."""
    return ops.apply_op("reshape", [x], {"shape": list(tail), "keep_leading": 2}, cast=False)


def _causal_mask(t_q, t_k):
    """(1, Tq, Tk): query i sees keys j <= i (Keras's lower-triangular mask)."""
    if t_q is None or t_k is None:
        raise ValueError("a causal mask needs known query and key lengths, received "
                         f"{t_q} and {t_k}")
    return np.tril(np.ones((t_q, t_k), dtype="float32"))[None]


def _masked_softmax(scores, mask):
    """Keras's Softmax with a mask: -1e9 where masked, and masked positions zeroed afterwards (so
    a fully masked row attends to nothing)."""
    if mask is None:
        return ops.softmax(scores, axis=-1)
    keep = ops.cast(mask, scores.dtype) if not hasattr(mask, "node") else mask
    logits = ops.add(ops.multiply(scores, keep), ops.multiply(ops.subtract(keep, 1.0), 1e9))
    return ops.multiply(ops.softmax(logits, axis=-1), keep)


class MultiHeadAttention(Layer):
    """Keras's MultiHeadAttention over the sequence axis of (batch, time, features) inputs.

    Weights (shapes and order as Keras): query/key/value kernels (dim, num_heads, key_dim |
    value_dim) and biases (num_heads, key_dim | value_dim); output kernel (num_heads, value_dim,
    output_dim) and bias (output_dim,).
    """

    def __init__(self, num_heads, key_dim=None, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        who = f"MultiHeadAttention '{self.name}'"
        if key_dim is None:
            raise ValueError(f"{who}: `key_dim` must be given (the size of each attention head "
                             "for query and key)")
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{who}: expected a positive integer for `{arg}`, received "
                                 f"{value!r}")
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in ((1,), (-2,)):
            raise NotImplementedError(f"{who}: only attention over the sequence axis of rank-3 "
                                      f"inputs is supported, received attention_axes="
                                      f"{attention_axes!r}")
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint),
                           ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{who}: `{arg}` is not supported yet")
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise NotImplementedError(f"{who}: only a 1-D `output_shape` is supported, "
                                          f"received {output_shape!r}")
            output_shape = output_shape[0]
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_dim = output_shape
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self.supports_masking = True

    # ---- weights ---------------------------------------------------------------------------
    def _projection(self, name, dim, heads, head_dim):
        kernel = self.add_weight(shape=(dim, heads, head_dim), name=f"{name}/kernel",
                                 initializer=self.kernel_initializer,
                                 regularizer=self.kernel_regularizer)
        bias = (self.add_weight(shape=(heads, head_dim), name=f"{name}/bias",
                                initializer=self.bias_initializer,
                                regularizer=self.bias_regularizer)
                if self.use_bias else None)
        return kernel, bias

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None and isinstance(query_shape, list):  # built from a list of shapes
            shapes = list(query_shape) + [None, None]
            query_shape, value_shape, key_shape = shapes[0], shapes[1], shapes[2]
        value_shape = value_shape if value_shape is not None else query_shape
        key_shape = key_shape if key_shape is not None else value_shape
        who = f"MultiHeadAttention '{self.name}'"
        for what, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"{who}: expected the {what} of shape (batch, time, features) "
                                 f"with known features, received {tuple(s)}")
        h = self.num_heads
        self.query_kernel, self.query_bias = self._projection("query", query_shape[-1], h,
                                                              self.key_dim)
        self.key_kernel, self.key_bias = self._projection("key", key_shape[-1], h, self.key_dim)
        self.value_kernel, self.value_bias = self._projection("value", value_shape[-1], h,
                                                              self.value_dim)
        out_dim = self.output_dim if self.output_dim is not None else query_shape[-1]
        self.output_kernel = self.add_weight(shape=(h, self.value_dim, out_dim),
                                             name="attention_output/kernel",
                                             initializer=self.kernel_initializer,
                                             regularizer=self.kernel_regularizer)
        self.output_bias = (self.add_weight(shape=(out_dim,), name="attention_output/bias",
                                            initializer=self.bias_initializer,
                                            regularizer=self.bias_regularizer)
                            if self.use_bias else None)
        self.built = True

    def _project(self, x, kernel, bias, head_dim):
        """(B, T, dim) -> (B, T, heads, head_dim): one GEMM with the kernel seen as 2-D."""
        width = self.num_heads * head_dim
        y = ops.dense(x, ops.reshape(kernel, (kernel.shape[0], width)),
                      None if bias is None else ops.reshape(bias, (width,)))
        return _reshape_tail(y, (self.num_heads, head_dim))

    # ---- call ------------------------------------------------------------------------------
    def __call__(self, query, value=None, key=None, **kwargs):
        # Keras's signature: call(query, value, key=None, ...). The base class takes the first
        # argument as the inputs, so the weights are built here from all three shapes.
        if not self.built and value is not None:
            self.build(tuple(query.shape), tuple(value.shape),
                       None if key is None else tuple(key.shape))
            self.built = True
        return super().__call__(query, value, key, **kwargs)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        who = f"MultiHeadAttention '{self.name}'"
        if value is None:
            raise ValueError(f"{who}: `value` must be given: call(query, value, key=None)")
        key_is_value = key is None or key is value
        key = value if key is None else key
        if query.shape[-1] != self.query_kernel.shape[0]:
            raise ValueError(f"{who}: the query's last dimension must be "
                             f"{self.query_kernel.shape[0]} (as built), received shape "
                             f"{tuple(query.shape)}")
        if value.shape[-1] != self.value_kernel.shape[0] or \
                key.shape[-1] != self.key_kernel.shape[0]:
            raise ValueError(f"{who}: the value/key last dimensions must be "
                             f"{self.value_kernel.shape[0]}/{self.key_kernel.shape[0]} (as built),"
                             f" received shapes {tuple(value.shape)} and {tuple(key.shape)}")
        query_mask = query_mask if query_mask is not None else getattr(query, "_keras_mask", None)
        value_mask = value_mask if value_mask is not None else getattr(value, "_keras_mask", None)
        key_mask = None if key_is_value else (
            key_mask if key_mask is not None else getattr(key, "_keras_mask", None))
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                    attention_mask)
        q = self._project(query, self.query_kernel, self.query_bias, self.key_dim)
        k = self._project(key, self.key_kernel, self.key_bias, self.key_dim)
        v = self._project(value, self.value_kernel, self.value_bias, self.value_dim)
        scale = 1.0 / math.sqrt(float(self.key_dim))
        scores = None
        if return_attention_scores:
            if use_causal_mask:
                mask = _mask_and(mask, _causal_mask(query.shape[1], value.shape[1]))
            out, scores = self._explicit_attention(q, k, v, mask, scale, training)
        else:
            # Keras's default path lets a query row with no visible key attend uniformly; with
            # dropout it goes through a masked Softmax, which zeroes such a row.
            out = ops.dot_product_attention(
                q, k, v, mask=None if mask is None else ops.expand_dims(mask, 1), scale=scale,
                is_causal=bool(use_causal_mask), dropout=self.dropout,
                training=False if training is False else training,
                fully_masked="zero" if self.dropout > 0 else "uniform")
        width = self.num_heads * self.value_dim
        out = _reshape_tail(out, (width,))   # heads merged: (B, T, heads * value_dim)
        out_dim = self.output_kernel.shape[-1]
        y = ops.dense(out, ops.reshape(self.output_kernel, (width, out_dim)), self.output_bias)
        return (y, scores) if return_attention_scores else y

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask):
        """Keras's rule: query mask (B, T, 1) & value mask (B, 1, S) & key mask & the explicit
        attention_mask (B, T, S); None when nothing masks. (Causality is the op's own flag.)"""
        auto = None
        if query_mask is not None:
            auto = ops.expand_dims(ops.cast(query_mask, query.dtype), -1)
        for m in (value_mask, key_mask):
            if m is not None:
                auto = _mask_and(auto, ops.expand_dims(ops.cast(m, query.dtype), -2))
        if attention_mask is not None:
            shape = tuple(attention_mask.shape)
            expected = (query.shape[0], query.shape[1], value.shape[1])
            ok = len(shape) == 3 and all(
                a is None or b is None or a == b or a == 1 for a, b in zip(shape, expected))
            if not ok:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': the attention_mask must broadcast to "
                    f"(batch, query time, value time) = {expected}, received shape {shape}")
            attention_mask = ops.cast(attention_mask, query.dtype) \
                if str(attention_mask.dtype) != query.dtype else attention_mask
        return _mask_and(attention_mask, auto)

    def _explicit_attention(self, q, k, v, mask, scale, training):
        """The scores are returned, so they are materialised: softmax(q k^T * scale)."""
        qh = ops.transpose(q, (0, 2, 1, 3))        # (B, H, T, D)
        kh = ops.transpose(k, (0, 2, 3, 1))        # (B, H, D, S)
        vh = ops.transpose(v, (0, 2, 1, 3))        # (B, H, S, Dv)
        scores = ops.matmul(ops.multiply(qh, scale), kh)
        probs = _masked_softmax(scores, None if mask is None else ops.expand_dims(mask, 1))
        dropped = probs
        if self.dropout > 0 and training is not False:
            dropped = ops.dropout(probs, self.dropout, training=training)
        out = ops.transpose(ops.matmul(dropped, vh), (0, 2, 1, 3))  # (B, T, H, Dv)
        return out, probs

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        out_dim = self.output_dim if self.output_dim is not None else query_shape[-1]
        return tuple(query_shape[:-1]) + (out_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_dim,
            "attention_axes": self.attention_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
            "seed": self.seed,
        })
        return config


class Attention(Layer):
    """Dot-product attention (Luong style): call([query, value] or [query, value, key]).
    score_mode 'dot': scores = query @ key^T (times a learned `scale` with use_scale);
    'concat': scores = concat_score_weight * sum(tanh(scale * (query + key)))."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__} '{self.name}': invalid score_mode "
                             f"{score_mode!r}: expected 'dot' or 'concat'")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = (self.add_weight(shape=(), name="scale", initializer="ones")
                      if self.use_scale else None)
        self.concat_score_weight = (
            self.add_weight(shape=(), name="concat_score_weight", initializer="ones")
            if self.score_mode == "concat" else None)
        self.built = True

    def _check_inputs(self, inputs):
        who = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{who}: expected a list [query, value] or [query, value, key], "
                             f"received {inputs!r}")
        shapes = [tuple(getattr(t, "shape", t)) for t in inputs]
        if shapes[0][-1] != shapes[1][-1] or (len(shapes) == 3 and shapes[2][-1] != shapes[1][-1]):
            raise ValueError(f"{who}: query, value and key must have the same last dimension, "
                             f"received shapes {shapes}")

    def _score(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
            return ops.multiply(scores, self.scale) if self.scale is not None else scores
        q = ops.expand_dims(query, -2)   # (B, T, 1, D)
        k = ops.expand_dims(key, -3)     # (B, 1, S, D)
        summed = ops.add(q, k)
        if self.scale is not None:
            summed = ops.multiply(summed, self.scale)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(summed), axis=-1))

    def call(self, inputs, mask=None, training=None, return_attention_scores=False,
             use_causal_mask=False):
        self._check_inputs(inputs)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        q_mask = mask[0] if mask is not None else None
        v_mask = mask[1] if mask is not None and len(mask) > 1 else None
        scores = self._score(query, key)
        keep = None
        if v_mask is not None:
            keep = ops.expand_dims(ops.cast(v_mask, scores.dtype), -2)   # (B, 1, S)
        if use_causal_mask:
            keep = _mask_and(keep, _causal_mask(scores.shape[1], scores.shape[2]))
        if keep is not None:
            # Keras's Attention subtracts 1e9 from masked scores (no zeroing afterwards).
            keep = ops.cast(keep, scores.dtype) if not hasattr(keep, "node") else keep
            scores = ops.subtract(scores, ops.multiply(ops.subtract(1.0, keep), 1e9))
        weights = ops.softmax(scores, axis=-1)
        dropped = weights
        if self.dropout > 0 and training is not False:
            dropped = ops.dropout(weights, self.dropout, training=training)
        result = ops.matmul(dropped, value)
        if q_mask is not None:
            result = ops.multiply(result, ops.expand_dims(ops.cast(q_mask, result.dtype), -1))
        return (result, weights) if return_attention_scores else result

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None or previous_mask[0] is None:
            return None
        return previous_mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                       "dropout": self.dropout, "seed": self.seed})
        return config


class AdditiveAttention(Attention):
    """Bahdanau-style attention: scores = sum(scale * tanh(query + key)), `scale` a learned
    vector (use_scale=True, the default) or 1."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        dim = tuple(getattr(input_shape[0], "shape", input_shape[0]))[-1]
        self.scale = (self.add_weight(shape=(dim,), name="scale",
                                      initializer="glorot_uniform")
                      if self.use_scale else None)
        self.concat_score_weight = None
        self.built = True

    def _score(self, query, key):
        summed = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        if self.scale is not None:
            summed = ops.multiply(summed, self.scale)
        return ops.sum(summed, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode", None)
        return config
