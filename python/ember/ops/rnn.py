"""Recurrent ops: whole-sequence LSTM, GRU and SimpleRNN, and embedding lookups.

Each recurrent function runs one core op over the whole sequence, with Keras' weight layouts
(kernel (features, n*units), recurrent_kernel (units, n*units), gate orders i, f, c, o and z, r, h)
and Keras' semantics for masks, go_backwards (outputs in processing order, not flipped back),
return_sequences and return_state. The core op returns one packed tensor (batch, S, units):
the outputs, then the final states; these functions unpack it as Keras does:
`output` or `[output, *states]` (lstm states: h, c).
"""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.ops.core import apply_op

__all__ = ["lstm", "gru", "simple_rnn", "embedding"]


def lstm(inputs, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
         activation="tanh", recurrent_activation="sigmoid", return_sequences=False,
         return_state=False, go_backwards=False, zero_output_for_mask=False,
         recurrent_dropout=0.0):
    """LSTM over (batch, timesteps, features). initial_state: [h0, c0] or None."""
    return _recurrent("lstm", 2, inputs, kernel, recurrent_kernel, bias, initial_state, mask,
                      dict(activation=activation, recurrent_activation=recurrent_activation),
                      return_sequences, return_state, go_backwards, zero_output_for_mask,
                      recurrent_dropout)


def gru(inputs, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
        activation="tanh", recurrent_activation="sigmoid", reset_after=True,
        return_sequences=False, return_state=False, go_backwards=False,
        zero_output_for_mask=False, recurrent_dropout=0.0):
    """GRU over (batch, timesteps, features); bias (2, 3*units) when reset_after, else (3*units,)."""
    return _recurrent("gru", 1, inputs, kernel, recurrent_kernel, bias, initial_state, mask,
                      dict(activation=activation, recurrent_activation=recurrent_activation,
                           reset_after=bool(reset_after)),
                      return_sequences, return_state, go_backwards, zero_output_for_mask,
                      recurrent_dropout)


def simple_rnn(inputs, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
               activation="tanh", return_sequences=False, return_state=False,
               go_backwards=False, zero_output_for_mask=False, recurrent_dropout=0.0):
    """SimpleRNN over (batch, timesteps, features): h = activation(x W + b + h_prev U)."""
    return _recurrent("simple_rnn", 1, inputs, kernel, recurrent_kernel, bias, initial_state,
                      mask, dict(activation=activation), return_sequences, return_state,
                      go_backwards, zero_output_for_mask, recurrent_dropout)


def embedding(table, ids):
    """Rows of `table` (input_dim, output_dim) at integer `ids` (any shape, int32/int64):
    (*ids.shape, output_dim). Ids out of [0, input_dim) raise IndexError; float ids TypeError."""
    return apply_op("embedding", [table, ids], cast=False)


def _recurrent(op, n_states, x, kernel, recurrent_kernel, bias, initial_state, mask, attrs,
               return_sequences, return_state, go_backwards, zero_output_for_mask,
               recurrent_dropout):
    inputs = [x, kernel, recurrent_kernel]
    if bias is not None:
        inputs.append(bias)
    if initial_state is not None:
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != n_states:
            raise ValueError(f"op '{op}': expected {n_states} initial state tensor(s), "
                             f"received {len(states)}")
        inputs.extend(states)
    if mask is not None:
        if isinstance(mask, (np.ndarray, list, tuple, bool)) or np.isscalar(mask):
            mask = np.asarray(mask)
            if mask.dtype == bool:  # the op reads the mask in x's dtype, nonzero = valid
                mask = mask.astype("float32")
        inputs.append(mask)
    attrs = dict(attrs, has_bias=bias is not None, has_initial_state=initial_state is not None,
                 has_mask=mask is not None, return_sequences=bool(return_sequences),
                 return_state=bool(return_state), go_backwards=bool(go_backwards),
                 zero_output_for_mask=bool(zero_output_for_mask),
                 recurrent_dropout=float(recurrent_dropout))
    packed = apply_op(op, inputs, attrs)
    return _unpack(op, packed, n_states, return_sequences, return_state)


def _unpack(op, packed, n_states, return_sequences, return_state):
    """Keras' (output[, *states]) from the packed (batch, S_out + states, units) result."""
    if not return_state:
        return packed if return_sequences else _row(packed, 0, 0)
    s = packed.shape[1]
    if s is None:
        raise ValueError(
            f"op '{op}': return_sequences with return_state needs a known number of "
            "timesteps to split the outputs from the states; received None")
    s_out = s - n_states
    outputs = _crop(packed, 0, n_states) if return_sequences else _row(packed, 0, s - 1)
    states = [_row(packed, s_out + k, s - s_out - k - 1) for k in range(n_states)]
    return [outputs] + states


def _crop(x, before, after):
    if isinstance(x, SymbolicTensor):
        return apply_op("crop", [x], {"crops": [before, after]}, cast=False)
    return np.ascontiguousarray(x[:, before:x.shape[1] - after])


def _row(x, before, after):
    """Row `before` of axis 1 of x (batch, S, units), as (batch, units)."""
    if isinstance(x, SymbolicTensor):
        if before or after:
            x = apply_op("crop", [x], {"crops": [before, after]}, cast=False)
        return apply_op("squeeze", [x], {"axis": [1]}, cast=False)
    return np.ascontiguousarray(x[:, before])
