"""ember.activations: Keras 3 activation functions, by name or as functions."""
from ember import ops
from ember.activations import extra as _extra
from ember.activations.extra import (  # noqa: F401 - exported activations
    celu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, log_sigmoid, mish,
    relu6, selu, soft_shrink, softsign, squareplus, tanh_shrink, threshold,
)


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):  # noqa: F811 - Keras's name
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    return _extra.relu(x, negative_slope=negative_slope, max_value=max_value,
                       threshold=threshold)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def silu(x):
    return ops.silu(x)


swish = silu


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def softplus(x):
    return ops.softplus(x)


def exponential(x):
    return ops.exp(x)


_ALL = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "gelu": gelu, "silu": silu, "swish": swish, "elu": elu,
    "leaky_relu": leaky_relu, "softplus": softplus, "exponential": exponential,
}
_ALL.update(_extra.FUNCTIONS)
_ALL.update(_extra.ALIASES)
_ALIASES = {"swish"} | set(_extra.ALIASES)  # serialize writes the canonical name
_NAMES = {fn: name for name, fn in _ALL.items() if name not in _ALIASES}


def get(identifier):
    """An activation function from a name, a serialized dict, a callable or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        identifier = identifier.get("config", identifier.get("class_name"))
        if isinstance(identifier, dict):
            identifier = identifier.get("name")
    if isinstance(identifier, str):
        if identifier not in _ALL:
            raise ValueError(
                f"unknown activation '{identifier}'; valid names: {sorted(_ALL)}"
            )
        return _ALL[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"could not interpret activation {identifier!r}")


def serialize(activation):
    if activation in _NAMES:
        return _NAMES[activation]
    name = getattr(activation, "__name__", None)
    if name in _ALL:
        return name
    raise ValueError(f"activation {activation!r} is not a built-in and cannot be serialized")


def deserialize(config, custom_objects=None):
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    return get(config)
