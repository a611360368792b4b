"""Small utility layers: Identity, Rescaling, Permute, RepeatVector, Lambda and
ActivityRegularization (Keras 3 semantics, arguments and configs)."""
import inspect
import math

import numpy as np

from ember import activations, ops
from ember.layers.layer import Layer, _map_structure


def _copy(x):
    """x as a new tensor of the same shape (a one-copy reshape). Layers that return their input
    use it so that the output is theirs: a functional model then lists them in `layers`, and
    ActivityRegularization's penalty hangs off its own output, as in Keras."""
    if len(x.shape) == 0:
        return x
    return ops.apply_op("reshape", [x], {"shape": [-1], "keep_leading": len(x.shape) - 1},
                        cast=False)


def _check_rank(layer, inputs, rank):
    if len(inputs.shape) != rank:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expected an input of rank {rank}, received "
            f"shape {tuple(inputs.shape)}")


class Identity(Layer):
    """Returns its input (a tensor or a list/dict of tensors) unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return _map_structure(_copy, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


# ---- Rescaling ------------------------------------------------------------------------------
def _serialize_value(v):
    """A float, a list, or Keras's '__numpy__' dict for arrays (what Keras writes)."""
    if isinstance(v, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": v.tolist(), "dtype": str(v.dtype)}}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _deserialize_value(v):
    if isinstance(v, dict) and v.get("class_name") == "__numpy__":
        return np.array(v["config"]["value"], dtype=v["config"].get("dtype"))
    return v


class Rescaling(Layer):
    """inputs * scale + offset (scale and offset: numbers, or arrays broadcast to the input,
    e.g. one value per channel)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        for arg, value in (("scale", scale), ("offset", offset)):
            try:
                array = np.asarray(value, dtype="float64")
            except (TypeError, ValueError):
                array = None
            if array is None or not np.all(np.isfinite(array)):
                raise ValueError(f"Rescaling '{self.name}': expected a finite number or array "
                                 f"for `{arg}`, received {value!r}")
        self.scale = scale
        self.offset = offset

    def _constant(self, value, dtype):
        return value if isinstance(value, (int, float)) else np.asarray(value, dtype=dtype)

    def call(self, inputs):
        dtype = inputs.dtype
        return ops.add(ops.multiply(inputs, self._constant(self.scale, dtype)),
                       self._constant(self.offset, dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": _serialize_value(self.scale),
                       "offset": _serialize_value(self.offset)})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["scale"] = _deserialize_value(config["scale"])
        config["offset"] = _deserialize_value(config["offset"])
        return super().from_config(config)


# ---- reshaping ------------------------------------------------------------------------------
class Permute(Layer):
    """Permutes the non-batch axes: dims=(2, 1) swaps axes 1 and 2 (indices start at 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            dims = None
        if dims is None or sorted(dims) != list(range(1, len(dims) + 1)) or any(
                isinstance(d, bool) for d in dims):
            raise ValueError(
                f"Permute '{self.name}': invalid permutation argument `dims`. The set of indices "
                f"in `dims` must be consecutive and start from 1. Received dims={dims}")
        self.dims = dims

    def call(self, inputs):
        _check_rank(self, inputs, len(self.dims) + 1)
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"RepeatVector '{self.name}': expected an integer value for `n`, "
                            f"got {type(n).__name__}.")
        if n <= 0:
            raise ValueError(f"RepeatVector '{self.name}': argument `n` should be a positive "
                             f"integer. Received: n={n}")
        self.n = n

    def call(self, inputs):
        _check_rank(self, inputs, 2)
        # No tile op: a broadcast multiply by ones copies each sample n times (exactly, x * 1),
        # and its backward sums the n gradients.
        ones = np.ones((1, self.n, 1), dtype=inputs.dtype)
        return ops.multiply(ops.expand_dims(inputs, 1), ones)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


# ---- Lambda ---------------------------------------------------------------------------------
def _builtin_functions():
    """(module, name) -> function for the callables a Lambda config can name: ember's
    activations and ops (Keras's own modules are accepted on reload by name)."""
    out = {("ember.activations", name): fn for name, fn in activations._ALL.items()}
    out.update({("ember.ops", name): getattr(ops, name) for name in ops.__all__
                if callable(getattr(ops, name, None))})
    return out


def _serialize_function(layer, fn, what):
    for (module, name), builtin in _builtin_functions().items():
        if builtin is fn:
            return {"module": module, "class_name": "function", "config": name,
                    "registered_name": "function"}
    raise ValueError(
        f"Lambda '{layer.name}': cannot save `{what}` {fn!r} in a config. Only the built-in "
        "functions of ember.activations and ember.ops can be serialized; ember does not save "
        "Python code (lambdas, local or user functions). Write a Layer subclass with "
        "get_config instead, or rebuild the Lambda in code.")


def _deserialize_function(config, custom_objects=None):
    if callable(config):
        return config
    if isinstance(config, str):
        name, module = config, None
    elif isinstance(config, dict) and config.get("class_name") == "function":
        name, module = config.get("config"), config.get("module", "")
    elif isinstance(config, dict) and config.get("class_name") == "__lambda__":
        raise ValueError(
            "Lambda: this config holds the bytecode of a Python lambda, which ember does not "
            "load; pass the function through `custom_objects` or rebuild the Lambda in code")
    else:
        raise ValueError(f"Lambda: cannot interpret the function config {config!r}")
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    builtins = _builtin_functions()
    if module in ("ember.activations", "ember.ops"):
        found = builtins.get((module, name))
    else:  # Keras's modules (keras.src.activations..., keras.src.ops...) or a bare name
        prefer = "ember.ops" if module and ".ops" in module else "ember.activations"
        other = "ember.activations" if prefer == "ember.ops" else "ember.ops"
        found = builtins.get((prefer, name)) or builtins.get((other, name))
    if found is None:
        raise ValueError(
            f"Lambda: unknown function {name!r} (module {module!r}); only the functions of "
            "ember.activations and ember.ops, or ones passed in `custom_objects`, can be loaded")
    return found


class Lambda(Layer):
    """Wraps a function of the inputs (written with ember.ops) as a layer. Its config can only
    be saved when the function is a built-in of ember.activations or ember.ops."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': expected a callable `function`, received "
                            f"{function!r}")
        self.supports_masking = True
        self.mask = mask  # None, a mask, or mask(inputs, previous_mask) -> mask
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda '{self.name}': expected a dict for `arguments`, received "
                            f"{arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        if isinstance(output_shape, list):
            output_shape = tuple(output_shape)
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):  # some builtins have no signature
            params = {}
        self._fn_expects_training_arg = "training" in params
        self._fn_expects_mask_arg = "mask" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, previous_mask):
        if callable(self.mask):
            return self.mask(inputs, previous_mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        batch = input_shape[0] if isinstance(input_shape[0], (int, type(None))) else (
            input_shape[0][0])
        return (batch,) + tuple(self._output_shape)

    def get_config(self):
        config = super().get_config()
        config["function"] = _serialize_function(self, self.function, "function")
        if self._output_shape is not None:
            config["output_shape"] = (
                _serialize_function(self, self._output_shape, "output_shape")
                if callable(self._output_shape) else self._output_shape)
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _deserialize_function(config["function"], custom_objects)
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = _deserialize_function(shape, custom_objects)
        elif isinstance(shape, list):
            config["output_shape"] = tuple(shape)
        return super().from_config(config)


# ---- ActivityRegularization -----------------------------------------------------------------
def _check_factor(layer, name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(
            value) or value < 0:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': invalid value for argument "
                         f"{name}: expected a non-negative float. Received: {name}={value!r}")
    return float(value)


class ActivityRegularization(Layer):
    """Passes its input through and adds l1 * sum|x| + l2 * sum x^2, divided by the batch size
    (Keras's activity penalty), to the model's loss."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.l1 = _check_factor(self, "l1", 0.0 if l1 is None else l1)
        self.l2 = _check_factor(self, "l2", 0.0 if l2 is None else l2)

    def call(self, inputs):
        outputs = _copy(inputs)
        if self.l1 or self.l2:
            self.add_loss(self._penalty(outputs))
        return outputs

    def _penalty(self, x):
        """Mean over the batch of each sample's l1 * sum|x| + l2 * sum x^2: Keras's penalty
        (a sum over the whole batch) divided by the batch size, which may be unknown here."""
        def per_batch(values):
            if len(values.shape) == 0:
                return values
            if len(values.shape) > 1:
                values = ops.sum(values, axis=list(range(1, len(values.shape))))
            return ops.mean(values, axis=0)
        penalty = None
        for factor, term in ((self.l1, ops.abs), (self.l2, ops.square)):
            if factor:
                part = ops.multiply(per_batch(term(x)), factor)
                penalty = part if penalty is None else ops.add(penalty, part)
        return penalty

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"l1": self.l1, "l2": self.l2})
        return config
