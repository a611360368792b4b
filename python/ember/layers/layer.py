"""The Layer base class (Keras 3 semantics): weights, build/call, config, sublayer tracking."""
import inspect
import re

import numpy as np

from ember import initializers, regularizers
from ember.backend.function import Function
from ember.backend.symbolic import SymbolicTensor, input_tensor
from ember.backend.variables import Variable
from ember.ops.core import _tracing, tracing
from ember.utils import rng

_name_counts = {}


def unique_name(prefix):
    """Keras naming: the first 'dense', then 'dense_1', 'dense_2', ..."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def snake_case(name):
    """Keras's to_snake_case: 'Conv2D' -> 'conv2d', 'MaxPooling2D' -> 'max_pooling2d'."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [e for item in x for e in _flatten(item)]
    if isinstance(x, dict):
        return [e for item in x.values() for e in _flatten(item)]
    return [x]


def _map_structure(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map_structure(fn, e) for e in x)
    if isinstance(x, dict):
        return {k: _map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def _shape_of(x):
    return _map_structure(lambda t: tuple(t.shape), x)


class Layer:
    """Base class of all layers.

    Subclasses create weights in `build(input_shape)` with `add_weight` and compute outputs in
    `call(inputs)` with `ember.ops`; calling the layer records those ops into the model graph.
    """

    def __init__(self, name=None, dtype=None, trainable=True, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}"
            )
        self.__dict__.setdefault("_layers", [])
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = _dtype_name(dtype)
        self._trainable = bool(trainable)
        self.built = False
        self._variables = []
        self._regularized = []  # (variable, regularizer)
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        self._input_shape_arg = (
            None if input_shape is None else (batch_size,) + tuple(input_shape)
        )
        self._call_has_training = "training" in inspect.signature(self.call).parameters
        self._call_has_mask = "mask" in inspect.signature(self.call).parameters

    # ---- tracking -------------------------------------------------------------------------
    def __setattr__(self, key, value):
        tracked = self.__dict__.setdefault("_layers", [])
        if isinstance(value, Layer):
            if all(value is not l for l in tracked):
                tracked.append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
            for v in value:
                if all(v is not l for l in tracked):
                    tracked.append(v)
        object.__setattr__(self, key, value)

    # ---- weights --------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   regularizer=None, constraint=None, name=None, **kwargs):
        if constraint is not None:
            raise NotImplementedError(
                f"{self.name}: weight constraints are not supported by ember yet"
            )
        shape = tuple(int(d) for d in (shape or ()))
        dtype = _dtype_name(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.startswith("float") else "zeros"
        init = initializers.get(initializer)
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        name = name or f"variable_{len(self._variables)}"
        var = Variable(value, name=name, trainable=trainable and self._trainable, dtype=dtype,
                       path=f"{self.name}/{name}")
        var._declared_trainable = bool(trainable)
        self._variables.append(var)
        if regularizer is not None:
            self._regularized.append((var, regularizers.get(regularizer)))
        return var

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for v in self._variables:
            v.trainable = value and getattr(v, "_declared_trainable", True)
        for layer in self._layers:
            layer.trainable = value

    @property
    def layers(self):
        return list(self._layers)

    def _all_layers(self):
        out = []
        for l in self._layers:
            out.append(l)
            out.extend(l._all_layers())
        return out

    @property
    def weights(self):
        seen, out = set(), []
        for v in self._variables + [v for l in self._layers for v in l.weights]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_weights(self):
        return [v for v in self.weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        return [v for v in self.weights if not v.trainable]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expected {len(params)} weights, received {len(weights)} "
                f"(expected shapes {[p.shape for p in params]})"
            )
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{p.name}': expected shape {p.shape}, "
                    f"received shape {w.shape}"
                )
        for p, w in zip(params, weights):
            p.assign(w)

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet: call it on an input or build() it "
                "before counting its parameters"
            )
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    @property
    def losses(self):
        """Regularization terms of this layer and its sublayers, as ember.ops expressions:
        weight penalties, and the terms `add_loss` recorded in the latest symbolic call."""
        return self._weight_penalties() + self._collect_call_losses()

    def _weight_penalties(self):
        out = [reg(v.symbolic) for v, reg in self._regularized]
        for l in self._layers:
            out.extend(l._weight_penalties())
        return out

    def _collect_call_losses(self):
        """The add_loss terms of this layer's and its sublayers' latest symbolic calls."""
        out = list(self.__dict__.get("_call_losses", ()))
        for l in self._layers:
            out.extend(l._collect_call_losses())
        return out

    def add_loss(self, loss):
        """Adds a loss term computed in `call` from the call's tensors (e.g. an activity
        penalty). ember trains the traced graph, so `losses` holds the terms of this layer's
        latest symbolic call (the one that traced the model); eager calls leave them alone."""
        self.__dict__.setdefault("_call_losses", []).append(loss)

    # ---- masking (Keras 3) -----------------------------------------------------------------
    # A mask is a float tensor of 1 (valid) and 0 (padding) per timestep, carried by the
    # symbolic tensor it describes. Layers that support masking pass it on (compute_mask);
    # layers whose call takes `mask` receive the mask of their inputs.
    @property
    def supports_masking(self):
        default = type(self).compute_mask is not Layer.compute_mask
        return self.__dict__.get("_supports_masking", default)

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask):
        return previous_mask

    # ---- build / call ---------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        def make(s):
            return input_tensor(tuple(s), self.dtype)
        is_single = isinstance(input_shape, tuple) and all(
            d is None or isinstance(d, int) for d in input_shape)
        dummy = make(input_shape) if is_single else _map_structure(make, list(input_shape))
        return _shape_of(self(dummy))

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.pop("inputs")
        args = args[1:]
        flat = _flatten(inputs) + _flatten(list(args)) + _flatten(
            [v for k, v in kwargs.items() if "mask" not in k])
        # Inside another layer's traced call, a layer called on arrays (positions, a constant
        # table) is recorded too, so its weights take part in the graph and train.
        if any(isinstance(x, SymbolicTensor) for x in flat) or _tracing[0] > 0:
            return self._symbolic_call(inputs, args, kwargs)
        return self._eager_call(inputs, args, kwargs)

    def _symbolic_call(self, inputs, args, kwargs):
        # What the caller passed, for the model config (masks are recomputed on replay).
        record = CallRecord(self, (inputs,) + tuple(args), dict(kwargs))
        if not self._call_has_training:
            kwargs.pop("training", None)
        try:
            if not self.built:
                self.build(_shape_of(inputs) if not isinstance(inputs, SymbolicTensor)
                           else tuple(inputs.shape))
                self.built = True
            self.__dict__["_call_losses"] = []  # a new trace replaces the last one's terms
            input_masks = _map_structure(_mask_of, inputs)
            has_masks = any(m is not None for m in _flatten(input_masks))
            if self._call_has_mask and kwargs.get("mask") is None and has_masks:
                kwargs["mask"] = input_masks
            previous_mask = kwargs.get("mask") if kwargs.get("mask") is not None else input_masks
            with tracing(self.name):
                outputs = self.call(inputs, *args, **kwargs)
                if self.supports_masking:
                    self._set_output_masks(inputs, outputs, previous_mask)
        except (ValueError, TypeError, IndexError) as e:
            if str(e).startswith("Exception encountered when calling"):
                raise
            raise type(e)(
                f"Exception encountered when calling {type(self).__name__} '{self.name}': {e}"
            ) from None
        # Every tensor argument (MultiHeadAttention's value, an RNN's initial_state) is an input
        # of the call, so model structure finds the layers that made it.
        flat_inputs = [t for t in _flatten(inputs) + _flatten(list(args)) + _flatten(
            [v for k, v in kwargs.items() if "mask" not in k]) if isinstance(t, SymbolicTensor)]
        record.outputs = _flatten(outputs)
        for index, t in enumerate(record.outputs):
            if not isinstance(t, SymbolicTensor) or any(t is i for i in flat_inputs):
                continue  # a pass-through output stays the product of whoever made it
            if t._layer is None:
                t._layer = self
            t._history = (self, flat_inputs)  # the outermost call returning t sets it last
            t._call = (record, index)
        return outputs

    def _set_output_masks(self, inputs, outputs, previous_mask):
        flat_outputs = [t for t in _flatten(outputs) if isinstance(t, SymbolicTensor)]
        if not flat_outputs or all(t._keras_mask is not None for t in flat_outputs):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for t, m in zip(flat_outputs, _flatten(masks)):
            if t._keras_mask is None and m is not None:
                t._keras_mask = m

    def _eager_call(self, inputs, args, kwargs):
        """Runs the layer at once on arrays by tracing it on matching symbolic inputs."""
        arrays = _map_structure(lambda a: _as_input_array(a, self.dtype, self), inputs)
        symbolic = _map_structure(lambda a: input_tensor(a.shape, str(a.dtype)), arrays)
        training = bool(kwargs.get("training", False))
        # This trace runs once and is thrown away: the loss terms (add_loss) of the traced
        # model graph must survive it.
        saved = [(l, l.__dict__.get("_call_losses")) for l in [self] + self._all_layers()]
        try:
            outputs = self._symbolic_call(symbolic, args, dict(kwargs))
        finally:
            for l, terms in saved:
                l.__dict__["_call_losses"] = terms if terms is not None else []
        fn = Function(_flatten(symbolic), _flatten(outputs), training=training)
        # A fresh seed per training call, so each call draws a new dropout mask (as Keras's
        # seed generator does) and set_random_seed reproduces them.
        seed = rng.next_seed() if training else 0
        values = iter(fn(*_flatten(arrays), seed=seed))
        return _map_structure(lambda _: next(values), outputs)

    # ---- config ---------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._input_shape_arg is not None:
            config["batch_input_shape"] = self._input_shape_arg
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        batch_input_shape = config.pop("batch_input_shape", None)
        if batch_input_shape is not None:
            config["input_shape"] = tuple(batch_input_shape[1:])
            config["batch_size"] = batch_input_shape[0]
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class CallRecord:
    """One symbolic call of a layer: its arguments (tensors included) and flat outputs. Functional
    models serialize their graph as these calls (Keras's inbound nodes) and replay them."""

    __slots__ = ("layer", "args", "kwargs", "outputs")

    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, []


def _mask_of(x):
    return getattr(x, "_keras_mask", None)


def _dtype_name(dtype):
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get("config", {}).get("name", "float32")
    name = getattr(dtype, "name", dtype)
    name = str(np.dtype(name)) if not isinstance(name, str) else name
    if name not in ("float32", "float64", "int32", "int64"):
        raise ValueError(f"unsupported dtype '{name}': expected float32 or float64")
    return name


def _as_input_array(a, dtype, layer):
    a = np.asarray(a)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}': expected a numeric input array, received "
            f"an array of dtype {a.dtype}"
        )
    if a.dtype.kind == "f" and a.dtype != dtype:  # floats take the layer's dtype; integers
        a = a.astype(dtype, copy=False)         # (token ids) stay integers, as in Keras
    elif a.dtype.kind == "b":
        a = a.astype(dtype)
    return np.asarray(a, order="C")
