"""Keras 3 activations beyond the C++ ones, composed from `ember.ops` so that they run eagerly,
record into graphs and get their gradients from the ops they are made of.

Formulas are those of Keras 3's torch backend (torch.nn.functional), written in the same order
of operations where that keeps the results bit-for-bit or within an ulp.
"""
import numpy as np

from ember import ops

# SELU's constants (Klambauer et al. 2017), as torch.nn.functional.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _is_float64(x):
    dtype = getattr(x, "dtype", None)
    return dtype is not None and str(np.dtype(dtype)) == "float64"


def greater_mask(x, threshold):
    """1.0 where x > threshold, else 0.0, in x's dtype; zero gradient away from the threshold.

    ember has no comparison op, so the step is built from exact floating-point operations:
    z = x - threshold is > 0 exactly where x > threshold (gradual underflow keeps any positive
    difference nonzero). Scaling by a power of two is exact, and two scalings lift even the
    smallest subnormal above 1, where `1 - relu(1 - .)` saturates to 1; z <= 0 gives 0.
    relu'(0) = 0, so the gradient is 0 at the threshold too, as with Keras's `where`.
    """
    scale = 2.0 ** 600 if _is_float64(x) else 2.0 ** 100  # float32 tops out near 2**128
    z = ops.subtract(x, threshold) if threshold != 0 else x
    lifted = ops.multiply(ops.relu(ops.multiply(z, scale)), scale)
    return ops.subtract(1.0, ops.relu(ops.subtract(1.0, lifted)))


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu with every option (keras.src.activations.activations.ReLU.static_call)."""
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return ops.leaky_relu(x, negative_slope=negative_slope)
        negative_part = (ops.relu(ops.add(ops.negative(x), threshold)) if threshold != 0
                         else ops.relu(ops.negative(x)))
    clip_max = max_value is not None
    if threshold != 0:  # x where x > threshold, else 0
        y = ops.multiply(x, greater_mask(x, threshold))
    elif max_value == 6:
        y = relu6(x)
        clip_max = False
    else:
        y = ops.relu(x)
    if clip_max:
        y = ops.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = ops.subtract(y, ops.multiply(negative_part, negative_slope))
    return y


def relu6(x):
    return ops.clip(x, 0.0, 6.0)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition; Keras 2 used 0.2 x + 0.5)."""
    return ops.divide(ops.clip(ops.add(x, 3.0), 0.0, 6.0), 6.0)


def hard_silu(x):
    return ops.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def mish(x):
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


def selu(x):
    return ops.multiply(ops.elu(x, alpha=SELU_ALPHA), SELU_SCALE)


def softsign(x):
    return ops.divide(x, ops.add(ops.abs(x), 1.0))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return ops.negative(ops.softplus(ops.negative(x)))


def tanh_shrink(x):
    return ops.subtract(x, ops.tanh(x))


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    elu(z) - relu(z) is exactly min(0, exp(z) - 1), so the positive side stays exactly x."""
    if alpha == 0:
        raise ValueError("activation 'celu': alpha must be nonzero, received 0")
    if alpha == 1.0:
        return ops.elu(x, alpha=1.0)
    z = ops.divide(x, alpha)
    negative = ops.subtract(ops.elu(z, alpha=1.0), ops.relu(z))
    return ops.add(ops.relu(x), ops.multiply(negative, alpha))


def hard_tanh(x):
    return ops.clip(x, -1.0, 1.0)


def soft_shrink(x, threshold=0.5):
    """x - t above t, x + t below -t, 0 between."""
    return ops.subtract(ops.relu(ops.subtract(x, threshold)),
                        ops.relu(ops.subtract(ops.negative(x), threshold)))


def hard_shrink(x, threshold=0.5):
    """x where |x| > t, else 0."""
    return ops.multiply(x, greater_mask(ops.abs(x), threshold))


def squareplus(x, b=4):
    return ops.divide(ops.add(x, ops.sqrt(ops.add(ops.square(x), float(b)))), 2.0)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value (torch.nn.functional.threshold)."""
    keep = greater_mask(x, threshold)
    return ops.add(ops.multiply(x, keep),
                   ops.multiply(ops.subtract(1.0, keep), float(default_value)))


def glu(x, axis=-1):
    """a * sigmoid(b), where a and b are the two halves of x along `axis`."""
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    rank = len(shape)
    if not -rank <= axis < rank:
        raise ValueError(f"activation 'glu': axis {axis} is out of range for an input of shape "
                         f"{shape}")
    axis %= rank
    n = shape[axis]
    if n is None or n % 2:
        raise ValueError(f"activation 'glu': expected an even, known extent along axis {axis} "
                         f"to split in halves, received shape {shape}")
    trail = shape[axis + 1:]
    if any(d is None for d in trail) or sum(d is None for d in shape[:axis]) > 1:
        raise ValueError(f"activation 'glu': at most one unknown extent, before axis {axis}, "
                         f"is supported; received shape {shape}")
    # (lead, n, trail) is the rank-3 layout whose axis 1 the `crop` op can cut.
    cube = ops.reshape(x, (-1, n, int(np.prod(trail, dtype=np.int64))))
    half = n // 2
    a = ops.apply_op("crop", [cube], {"crops": [0, half]}, cast=False)
    b = ops.apply_op("crop", [cube], {"crops": [half, 0]}, cast=False)
    out_shape = [-1 if d is None else d for d in shape[:axis]] + [half] + list(trail)
    return ops.reshape(ops.multiply(a, ops.sigmoid(b)), out_shape)


# name -> function, for ember.activations.get / serialize (aliases listed in ALIASES).
FUNCTIONS = {
    "relu6": relu6, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "mish": mish,
    "selu": selu, "softsign": softsign, "log_sigmoid": log_sigmoid, "tanh_shrink": tanh_shrink,
    "celu": celu, "hard_tanh": hard_tanh, "soft_shrink": soft_shrink, "hard_shrink": hard_shrink,
    "squareplus": squareplus, "threshold": threshold, "glu": glu,
}
ALIASES = {"hard_swish": hard_silu}
