"""SimpleRNN, LSTM and GRU: each a whole-sequence C++ op (forward and backward through time).

Weights as Keras's cells: kernel (input_dim, gates * units), recurrent_kernel (units, gates *
units), bias; gate order LSTM (i, f, c, o), GRU (z, r, h), so `set_weights` from a Keras model
reproduces its outputs. The op returns one packed tensor (batch, rows, units): the outputs (all
steps, or the last) followed by the final states, which `call` slices apart.
"""
import numpy as np

from ember import activations, initializers, ops, regularizers
from ember.backend.symbolic import SymbolicTensor
from ember.layers.layer import Layer


class _ForgetBiasInitializer:
    """Keras's unit_forget_bias: the bias initializer's values with the forget gate's at 1."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate([self.base((u,), dtype=dtype), np.ones((u,), dtype=dtype),
                               self.base((2 * u,), dtype=dtype)])


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, masking, state handling."""

    _op = None       # the C++ op
    _gates = 1       # blocks of `units` columns in the kernels
    _n_states = 1    # states the op carries (LSTM: h and c)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 use_cudnn="auto", **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        who = f"{type(self).__name__} '{self.name}'"
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{who}: expected a positive integer for `units`, received "
                             f"{units!r}")
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint),
                           ("recurrent_constraint", recurrent_constraint),
                           ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{who}: `{arg}` is not supported yet")
        if stateful:
            raise NotImplementedError(f"{who}: stateful recurrent layers are not supported yet")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
                raise ValueError(f"{who}: expected `{arg}` in [0, 1], received {rate!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # the fused op has no unrolled form; results are the same
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_cudnn = use_cudnn

    # ---- weights ---------------------------------------------------------------------------
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        if isinstance(input_shape, list):  # [inputs, *initial_states]
            input_shape = input_shape[0]
        who = f"{type(self).__name__} '{self.name}'"
        if len(input_shape) != 3:
            raise ValueError(f"{who}: expected an input of rank 3 (batch, timesteps, features), "
                             f"received shape {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"{who}: the last dimension of the input must be known, received "
                             f"shape {tuple(input_shape)}")
        width = self._gates * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], width), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(shape=(self.units, width),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        self.bias = (self.add_weight(shape=self._bias_shape(), name="bias",
                                     initializer=self._bias_initializer(),
                                     regularizer=self.bias_regularizer)
                     if self.use_bias else None)
        self.built = True

    # ---- call ------------------------------------------------------------------------------
    def _op_attrs(self):
        return {"activation": activations.serialize(self.activation)}

    def call(self, inputs, initial_state=None, mask=None, training=None):
        who = f"{type(self).__name__} '{self.name}'"
        if isinstance(inputs, (list, tuple)):  # Keras also takes [inputs, *initial_states]
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        if len(inputs.shape) != 3:
            raise ValueError(f"{who}: expected an input of rank 3 (batch, timesteps, features), "
                             f"received shape {tuple(inputs.shape)}")
        if self.dropout > 0 and training is not False:
            mode = -1 if training is None else 1
            inputs = ops.apply_op("dropout", [inputs], {
                "rate": self.dropout, "training": mode, "noise_shape": [0, 1, 0]})
        tensors = [inputs, self.kernel, self.recurrent_kernel]
        if self.use_bias:
            tensors.append(self.bias)
        states = self._check_states(initial_state, inputs)
        tensors.extend(states)
        if mask is not None:
            mask = self._check_mask(mask, inputs)
            tensors.append(mask)
        attrs = dict(self._op_attrs(), has_bias=self.use_bias, has_initial_state=bool(states),
                     has_mask=mask is not None, return_sequences=self.return_sequences,
                     return_state=self.return_state, go_backwards=self.go_backwards,
                     zero_output_for_mask=self.zero_output_for_mask,
                     recurrent_dropout=self.recurrent_dropout if training is not False else 0.0)
        packed = ops.apply_op(self._op, tensors, attrs)
        return self._unpack(packed)

    def _unpack(self, packed):
        if not self.return_state:
            return packed if self.return_sequences else ops.squeeze(packed, 1)
        n = self._n_states
        outputs = ops.slice_axis(packed, 0, -n, axis=1)
        if not self.return_sequences:
            outputs = ops.squeeze(outputs, 1)
        states = [ops.squeeze(ops.slice_axis(packed, -n + k, (-n + k + 1) or None, axis=1), 1)
                  for k in range(n)]
        return [outputs] + states

    def _check_states(self, initial_state, inputs):
        if initial_state is None:
            return []
        who = f"{type(self).__name__} '{self.name}'"
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if len(states) != self._n_states:
            raise ValueError(f"{who}: expected {self._n_states} initial state tensor(s) of shape "
                             f"(batch, {self.units}), received {len(states)}")
        for s in states:
            shape = tuple(s.shape) if hasattr(s, "shape") else np.shape(s)
            batch_ok = shape[:1] == (inputs.shape[0],) or None in (shape[0], inputs.shape[0])
            if len(shape) != 2 or shape[1] != self.units or not batch_ok:
                raise ValueError(
                    f"{who}: an initial state must have shape (batch, units) = "
                    f"({inputs.shape[0]}, {self.units}), received {shape}")
        return states

    def _check_mask(self, mask, inputs):
        who = f"{type(self).__name__} '{self.name}'"
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        shape = tuple(mask.shape) if hasattr(mask, "shape") else np.shape(mask)
        expected = tuple(inputs.shape[:2])
        if len(shape) != 2 or any(a is not None and b is not None and a != b
                                  for a, b in zip(shape, expected)):
            raise ValueError(f"{who}: expected a mask of shape (batch, timesteps) = {expected}, "
                             f"received {shape}")
        if not isinstance(mask, SymbolicTensor):
            mask = np.asarray(mask)
        return ops.cast(mask, inputs.dtype) if str(mask.dtype) != inputs.dtype else mask

    def compute_mask(self, inputs, previous_mask):
        if isinstance(previous_mask, (list, tuple)):
            previous_mask = previous_mask[0]
        output_mask = previous_mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * self._n_states
        return output_mask

    @property
    def states_count(self):
        return self._n_states

    # ---- config ----------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        return config


class SimpleRNN(_Recurrent):
    """Fully connected recurrence: h = activation(x W + h U + b)."""

    _op = "simple_rnn"

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), gate order i, f, c, o."""

    _op = "lstm"
    _gates = 4
    _n_states = 2

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return _ForgetBiasInitializer(self.bias_initializer, self.units)
        return self.bias_initializer

    def _op_attrs(self):
        return dict(super()._op_attrs(),
                    recurrent_activation=activations.serialize(self.recurrent_activation))

    def get_config(self):
        config = super().get_config()
        config.update({
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        })
        return config


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al., 2014), gate order z, r, h; reset_after=True is the
    variant cuDNN and Keras default to (a separate recurrent bias, bias shape (2, 3 * units))."""

    _op = "gru"
    _gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _op_attrs(self):
        return dict(super()._op_attrs(),
                    recurrent_activation=activations.serialize(self.recurrent_activation),
                    reset_after=self.reset_after)

    def get_config(self):
        config = super().get_config()
        config.update({
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        })
        return config
