"""ember.activations: Keras 3 activation functions, by name or as functions."""
from ember import ops


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 or max_value is not None or threshold != 0.0:
        raise NotImplementedError(
            "activations.relu: negative_slope, max_value and threshold are not supported yet"
        )
    return ops.relu(x)


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
_NAMES = {fn: name for name, fn in _ALL.items() if name != "swish"}


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
