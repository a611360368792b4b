"""NumPy references of Keras's recurrent layers (float64 loops written from Keras's equations),
shared by the recurrent layer tests."""
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTS = {"tanh": np.tanh, "sigmoid": sigmoid, "relu": lambda x: np.maximum(x, 0.0),
        "linear": lambda x: x}


def run(cell, x, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras's backend rnn loop: returns (outputs (B, T, U) in processing order, last output,
    final states). `cell(x_t, states) -> (output, new_states)`."""
    batch, steps = x.shape[:2]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs, prev = [], None
    for t in order:
        out, new = cell(x[:, t], states)
        if mask is not None:
            m = mask[:, t][:, None] > 0
            prev = np.zeros_like(out) if prev is None else prev
            out = np.where(m, out, prev)
            new = [np.where(m, n, s) for n, s in zip(new, states)]
        states, prev = new, out
        outputs.append(out)
    seq = np.stack(outputs, 1)
    if mask is not None and zero_output_for_mask:
        m = (mask[:, ::-1] if go_backwards else mask)[..., None] > 0
        seq = np.where(m, seq, 0.0)
    return seq, seq[:, -1], states


def simple_cell(kernel, recurrent, bias, activation="tanh"):
    act = ACTS[activation]

    def cell(x, states):
        h = act(x @ kernel + states[0] @ recurrent + (0 if bias is None else bias))
        return h, [h]
    return cell


def lstm_cell(kernel, recurrent, bias, activation="tanh", recurrent_activation="sigmoid"):
    act, ract = ACTS[activation], ACTS[recurrent_activation]

    def cell(x, states):
        h, c = states
        z = x @ kernel + h @ recurrent + (0 if bias is None else bias)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = ract(f) * c + ract(i) * act(g)
        h = ract(o) * act(c)
        return h, [h, c]
    return cell


def gru_cell(kernel, recurrent, bias, reset_after=True, activation="tanh",
             recurrent_activation="sigmoid"):
    act, ract = ACTS[activation], ACTS[recurrent_activation]
    units = recurrent.shape[0]
    if bias is None:
        b_in, b_rec = 0.0, 0.0
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, 0.0

    def cell(x, states):
        h = states[0]
        xz = x @ kernel + b_in
        x_z, x_r, x_h = np.split(xz, 3, axis=-1)
        if reset_after:
            inner = h @ recurrent + b_rec
            r_z, r_r, r_h = np.split(inner, 3, axis=-1)
            z, r = ract(x_z + r_z), ract(x_r + r_r)
            hh = act(x_h + r * r_h)
        else:
            z = ract(x_z + h @ recurrent[:, :units])
            r = ract(x_r + h @ recurrent[:, units:2 * units])
            hh = act(x_h + (r * h) @ recurrent[:, 2 * units:])
        h = z * h + (1 - z) * hh
        return h, [h]
    return cell


def layer_reference(kind, weights, x, use_bias=True, initial_state=None, mask=None, **options):
    """Output (or [output, *states]) of SimpleRNN / LSTM / GRU with these weights."""
    return_sequences = options.pop("return_sequences", False)
    return_state = options.pop("return_state", False)
    go_backwards = options.pop("go_backwards", False)
    zero_output = options.pop("zero_output_for_mask", False)
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if use_bias else None
    units = recurrent.shape[0]
    n_states = 2 if kind == "lstm" else 1
    cell = {"simple_rnn": simple_cell, "lstm": lstm_cell, "gru": gru_cell}[kind](
        kernel, recurrent, bias, **options)
    states = list(initial_state) if initial_state is not None else \
        [np.zeros((x.shape[0], units))] * n_states
    seq, last, states = run(cell, x.astype(np.float64), states, mask, go_backwards, zero_output)
    out = seq if return_sequences else last
    return [out] + list(states) if return_state else out
