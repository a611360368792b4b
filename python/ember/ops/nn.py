"""Activations and neural-network ops (keras.ops names, signatures and defaults)."""
from ember.ops.core import apply_op

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu", "swish", "elu",
    "leaky_relu", "softplus", "dense", "dropout",
]


def relu(x):
    return apply_op("relu", [x])


def sigmoid(x):
    return apply_op("sigmoid", [x])


def tanh(x):
    return apply_op("tanh", [x])


def softmax(x, axis=-1):
    return apply_op("softmax", [x], {"axis": axis})


def log_softmax(x, axis=-1):
    return apply_op("log_softmax", [x], {"axis": axis})


def gelu(x, approximate=True):
    return apply_op("gelu", [x], {"approximate": approximate})


def silu(x):
    return apply_op("silu", [x])


swish = silu


def elu(x, alpha=1.0):
    return apply_op("elu", [x], {"alpha": alpha})


def leaky_relu(x, negative_slope=0.2):
    return apply_op("leaky_relu", [x], {"negative_slope": negative_slope})


def softplus(x):
    return apply_op("softplus", [x])


def dense(x, kernel, bias=None, activation="linear"):
    """y = activation(x @ kernel + bias) as one fused op (activation: linear/relu/sigmoid/tanh)."""
    inputs = [x, kernel] if bias is None else [x, kernel, bias]
    return apply_op("dense", inputs, {"activation": activation})


def dropout(x, rate, training=None):
    """Dropout with the inverted scaling; `training=None` follows fit (on) and predict (off)."""
    mode = -1 if training is None else int(bool(training))
    return apply_op("dropout", [x], {"rate": float(rate), "training": mode})
