"""Attention and layer normalization (keras.ops names and signatures), each one fused C++ op.

`dot_product_attention` is the FlashAttention-style op 'dot_product_attention': memory linear in
the sequence length, masks and causality applied inside the kernel. `layer_norm` is op
'layer_norm' (LayerNormalization's computation); `layer_normalization` is the keras.ops spelling.
"""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.backend.variables import Variable
from ember.ops.core import apply_op

__all__ = ["dot_product_attention", "layer_norm", "layer_normalization"]

_OP = "dot_product_attention"


def _dtype_of(x):
    if isinstance(x, (SymbolicTensor, Variable)):
        return str(x.dtype)
    a = np.asarray(x)
    return str(a.dtype) if a.dtype in (np.float32, np.float64) else "float32"


def _rank(x):
    return len(x.shape) if hasattr(x, "shape") else np.ndim(x)


def _mask_input(mask, dtype):
    """The mask as a 4-D array of the query's dtype (nonzero = attend), leading axes added as
    NumPy broadcasting would. A symbolic mask must already have the query's dtype."""
    if isinstance(mask, (SymbolicTensor, Variable)):
        from ember.ops.math import expand_dims
        if _rank(mask) > 4:
            raise ValueError(f"op '{_OP}': expected a mask of rank <= 4 broadcastable to "
                             f"(batch, heads, query_len, key_len), received shape {mask.shape}")
        while _rank(mask) < 4:
            mask = expand_dims(mask, 0)
        return mask
    m = np.asarray(mask)
    if m.ndim > 4:
        raise ValueError(f"op '{_OP}': expected a mask of rank <= 4 broadcastable to "
                         f"(batch, heads, query_len, key_len), received shape {m.shape}")
    return (m != 0).astype(dtype).reshape((1,) * (4 - m.ndim) + m.shape)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None, *, dropout=0.0,
                          training=None, fully_masked="uniform"):
    """softmax(scale * query @ key^T, masked) @ value, as keras.ops.dot_product_attention.

    query (B, Tq, H, D), key (B, Tk, H, D), value (B, Tk, H, Dv) -> (B, Tq, H, Dv). `mask`
    broadcasts to (B, H, Tq, Tk) (True/nonzero = attend); masked logits take Keras's large
    negative, so a fully masked row attends uniformly. `scale` defaults to 1 / sqrt(D).
    `flash_attention` is accepted for Keras compatibility: ember always runs its tiled kernel.
    ember extension for MultiHeadAttention: `dropout` (rate on the attention probabilities)
    with `training` (None: on in fit, off in predict; True/False forces it), and
    `fully_masked="zero"`: a query row with no visible key outputs 0, as keras.layers.Softmax
    with a mask does (MultiHeadAttention's path with dropout or return_attention_scores).
    """
    if bias is not None:
        raise NotImplementedError(
            f"op '{_OP}': an additive `bias` is not supported; pass a boolean `mask` instead")
    if attn_logits_soft_cap is not None:
        raise NotImplementedError(f"op '{_OP}': `attn_logits_soft_cap` is not supported")
    attrs = {"causal": bool(is_causal), "has_mask": mask is not None,
             "scale": float(scale) if scale is not None else 0.0,
             "dropout": float(dropout), "training": -1 if training is None else int(bool(training)),
             "fully_masked": fully_masked}
    if scale is not None and not float(scale) > 0.0:
        raise ValueError(f"op '{_OP}': expected scale > 0, received {scale}")
    inputs = [query, key, value]
    if mask is not None:
        inputs.append(_mask_input(mask, _dtype_of(query)))
    return apply_op(_OP, inputs, attrs)


def layer_norm(x, gamma=None, beta=None, begin_axis=-1, epsilon=1e-3, rms_scaling=False):
    """LayerNormalization's computation over the axes from `begin_axis` to the last.

    gamma and beta (optional) have the shape of those trailing axes. rms_scaling=True is Keras's
    y = x * rsqrt(var(x) + epsilon) * gamma (no beta).
    """
    inputs = [x] + [p for p in (gamma, beta) if p is not None]
    attrs = {"begin_axis": int(begin_axis), "epsilon": float(epsilon),
             "rms_scaling": bool(rms_scaling), "has_gamma": gamma is not None,
             "has_beta": beta is not None}
    return apply_op("layer_norm", inputs, attrs)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False):
    """keras.ops.layer_normalization: `axis` an int or the list of trailing axes normalised;
    epsilon defaults to Keras's backend epsilon (1e-7), as the keras.ops function."""
    rank = _rank(x)
    axes = sorted(a % rank for a in ([axis] if isinstance(axis, int) else list(axis)))
    if axes != list(range(axes[0], rank)):
        raise ValueError(f"op 'layer_norm': expected `axis` to name the trailing axes of x "
                         f"(rank {rank}), received {axis}")
    return layer_norm(x, gamma, beta, begin_axis=axes[0],
                      epsilon=1e-7 if epsilon is None else epsilon, rms_scaling=rms_scaling)
