"""Recurrent ops (lstm, gru, simple_rnn) and embedding.

Op-harness cases (exported as CASES) with NumPy references written from Keras 3's cells
(keras/src/layers/rnn/{lstm,gru,simple_rnn}.py) and its loop (keras/src/backend/torch/rnn.py:
at a masked step the states carry over and the output repeats the previous one, zeros before
any valid step, or is zero with zero_output_for_mask; go_backwards emits outputs in processing
order). Each case returns Keras' outputs and, with return_state, the states concatenated on
axis 1, so the unpacking in ember.ops.rnn is under test too. Plus bad input, and parity with
torch.nn.LSTM / GRU when torch imports.
"""
import numpy as np
import pytest

from ember import ops
from ember.ops import rnn
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, const, labels, uniform,
)

# ---------------------------------------------------------------- NumPy references

_ACTS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0),
    "linear": lambda x: x,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


def np_rnn(cell, x, kernel, rkernel, bias=None, states=None, mask=None, activation="tanh",
           recurrent_activation="sigmoid", reset_after=True, return_sequences=False,
           return_state=False, go_backwards=False, zero_output_for_mask=False):
    """Keras' RNN layer loop around one cell; returns output or [output, *states]."""
    a, ra = _ACTS[activation], _ACTS[recurrent_activation]
    B, T, _ = x.shape
    U = rkernel.shape[0]
    n_states = 2 if cell == "lstm" else 1
    st = [np.zeros((B, U)) for _ in range(n_states)] if states is None else list(states)
    prev = np.zeros((B, U))
    outs = []
    for s in range(T):
        t = T - 1 - s if go_backwards else s
        h = st[0]
        if cell == "lstm":
            z = x[:, t] @ kernel + h @ rkernel + (0 if bias is None else bias)
            i, f, g, o = np.split(z, 4, axis=1)
            c = ra(f) * st[1] + ra(i) * a(g)
            new = [ra(o) * a(c), c]
        elif cell == "gru":
            b_in = b_rec = 0
            if bias is not None:
                b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, 0)
            xz, xr, xh = np.split(x[:, t] @ kernel + b_in, 3, axis=1)
            if reset_after:
                rz, rr, rh = np.split(h @ rkernel + b_rec, 3, axis=1)
                zg, rg = ra(xz + rz), ra(xr + rr)
                hh = a(xh + rg * rh)
            else:
                rz, rr = np.split(h @ rkernel[:, :2 * U], 2, axis=1)
                zg, rg = ra(xz + rz), ra(xr + rr)
                hh = a(xh + (rg * h) @ rkernel[:, 2 * U:])
            new = [zg * h + (1 - zg) * hh]
        else:
            new = [a(x[:, t] @ kernel + h @ rkernel + (0 if bias is None else bias))]
        ok = np.ones((B, 1), bool) if mask is None else (mask[:, t] != 0)[:, None]
        out = np.where(ok, new[0], 0.0 if zero_output_for_mask else prev)
        st = [np.where(ok, n, o) for n, o in zip(new, st)]
        prev = out
        outs.append(out)
    output = np.stack(outs, axis=1) if return_sequences else outs[-1]
    return [output] + st if return_state else output


def _joined(result, return_sequences, return_state):
    """Keras' result as one array: (B, S_out, U) outputs then each state as a row of axis 1."""
    if not return_state:
        return result
    out, *states = result
    rows = [out if return_sequences else out[:, None]] + [s[:, None] for s in states]
    return np.concatenate(rows, axis=1)


def _joined_ops(result, return_sequences, return_state):
    """The same join written with ember.ops (records on symbolic tensors)."""
    if not return_state:
        return result
    out, *states = result
    rows = [out if return_sequences else ops.expand_dims(out, 1)]
    rows += [ops.expand_dims(s, 1) for s in states]
    return ops.concatenate(rows, axis=1)


# ---------------------------------------------------------------- harness cases

CASES = []


def case(name, fn, inputs, reference, **kw):
    CASES.append(OpCase(name, fn, inputs, reference, **kw))


def sample_mask(B, T):
    """Row 0 masks its first and a middle step, the last row its second half."""
    m = np.ones((B, T))
    m[0, 0] = m[0, T // 2] = 0
    m[-1, T // 2:] = 0
    return m


_FNS = {"lstm": rnn.lstm, "gru": rnn.gru, "simple_rnn": rnn.simple_rnn}


def rnn_case(name, cell, B=3, T=4, D=3, U=3, bias=True, init=False, mask=False, training=False,
             **attrs):
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    n_states = 2 if cell == "lstm" else 1
    reset_after = attrs.get("reset_after", True)
    seqs, state = attrs.get("return_sequences", False), attrs.get("return_state", False)
    inputs = [uniform((B, T, D), -1, 1), uniform((D, G * U), -0.7, 0.7),
              uniform((U, G * U), -0.7, 0.7)]
    if bias:
        inputs.append(uniform((2, G * U) if cell == "gru" and reset_after else (G * U,)))
    params = tuple(range(1, len(inputs)))
    n_init = n_states if init else 0
    inputs += [uniform((B, U), -1, 1) for _ in range(n_init)]
    n_diff = len(inputs)
    if mask:
        inputs.append(const(sample_mask(B, T)))
    batch = (0,) + tuple(range(n_diff - n_init, len(inputs)))

    def split(args):
        x, k, r, *rest = args
        b = rest.pop(0) if bias else None
        st = [rest.pop(0) for _ in range(n_init)] or None
        m = rest.pop(0) if mask else None
        return x, k, r, b, st, m

    def fn(*args):
        x, k, r, b, st, m = split(args)
        return _joined_ops(_FNS[cell](x, k, r, b, st, m, **attrs), seqs, state)

    def ref(*args):
        x, k, r, b, st, m = split(args)
        return _joined(np_rnn(cell, x, k, r, b, st, m, **attrs), seqs, state)

    case(name, fn, inputs, None if training else ref, wrt=list(range(n_diff)), params=params,
         batch=batch, training=training)


for cell in ("lstm", "gru", "simple_rnn"):
    rnn_case(f"{cell}", cell)
    rnn_case(f"{cell}_sequences", cell, return_sequences=True)
    rnn_case(f"{cell}_mask_state", cell, init=True, mask=True, return_state=True)
    rnn_case(f"{cell}_mask_sequences_state", cell, init=True, mask=True, return_sequences=True,
             return_state=True)
    rnn_case(f"{cell}_mask_zero_output", cell, mask=True, return_sequences=True,
             zero_output_for_mask=True)
    rnn_case(f"{cell}_backwards", cell, mask=True, init=True, return_sequences=True,
             return_state=True, go_backwards=True)
    rnn_case(f"{cell}_no_bias", cell, bias=False, return_sequences=True)
    rnn_case(f"{cell}_recurrent_dropout_grad", cell, init=True, mask=True, training=True,
             return_sequences=True, recurrent_dropout=0.4)
    rnn_case(f"{cell}_large", cell, B=6, T=5, D=8, U=40, mask=True, return_sequences=True,
             return_state=True)  # wide: the units split over threads
rnn_case("lstm_elu_softplus", "lstm", activation="elu", recurrent_activation="softplus",
         return_sequences=True, mask=True)
rnn_case("gru_elu_silu", "gru", activation="elu", recurrent_activation="silu",
         return_sequences=True)
rnn_case("simple_rnn_linear", "simple_rnn", activation="linear", return_sequences=True)
for name, extra in [("", {}), ("_mask_state", dict(init=True, mask=True, return_state=True)),
                    ("_backwards", dict(mask=True, return_sequences=True, go_backwards=True)),
                    ("_no_bias", dict(bias=False, return_sequences=True)),
                    ("_recurrent_dropout_grad", dict(training=True, return_sequences=True,
                                                     recurrent_dropout=0.4))]:
    rnn_case(f"gru_reset_before{name}", "gru", reset_after=False, **extra)
rnn_case("gru_reset_before_large", "gru", B=6, T=5, D=8, U=40, reset_after=False, mask=True,
         return_sequences=True)

case("embedding", rnn.embedding, [uniform((7, 4)), labels((3, 5), 7)],
     lambda t, ids: t[ids], params=(0,), nondiff=(1,), wrt=[0], batch=(1,))
case("embedding_int32_vector", rnn.embedding, [uniform((5, 3)), labels((6,), 5, "int32")],
     lambda t, ids: t[ids], params=(0,), nondiff=(1,), wrt=[0], batch=(1,))
case("embedding_large", rnn.embedding, [uniform((300, 64)), labels((32, 20), 300)],
     lambda t, ids: t[ids], params=(0,), nondiff=(1,), wrt=[0], batch=(1,))

FORWARD_CASES = [c for c in CASES if c.reference is not None]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", FORWARD_CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


# ---------------------------------------------------------------- semantics beyond the harness

def _weights(rng, cell, D, U, reset_after=True):
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    bias_shape = (2, G * U) if cell == "gru" and reset_after else (G * U,)
    return (rng.uniform(-0.5, 0.5, (D, G * U)), rng.uniform(-0.5, 0.5, (U, G * U)),
            rng.uniform(-0.5, 0.5, bias_shape))


def test_masked_steps_carry_states_and_repeat_outputs():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 5, 3))
    k, r, b = _weights(rng, "lstm", 3, 4)
    mask = np.array([[0, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    out, h, c = rnn.lstm(x, k, r, b, mask=mask, return_sequences=True, return_state=True)
    np.testing.assert_array_equal(out[0, 0], 0)          # before any valid step: zeros
    np.testing.assert_array_equal(out[0, 3], out[0, 2])  # masked: the previous output
    np.testing.assert_array_equal(out[0, 4], out[0, 2])
    np.testing.assert_array_equal(h[0], out[0, 2])       # the state stopped at the last valid step
    # the trailing masked steps change nothing: same as the sequence cut after step 2
    cut, hc, cc = rnn.lstm(x[:1, :3], k, r, b, mask=mask[:1, :3], return_sequences=True,
                           return_state=True)
    np.testing.assert_allclose(c[0], cc[0], rtol=1e-12)


def test_recurrent_dropout_only_in_training_and_reproducible():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (4, 6, 3)).astype("float32")
    k, r, b = (w.astype("float32") for w in _weights(rng, "gru", 3, 8))
    plain = rnn.gru(x, k, r, b, return_sequences=True)
    dropped = rnn.gru(x, k, r, b, return_sequences=True, recurrent_dropout=0.5)
    np.testing.assert_array_equal(plain, dropped)  # eager calls run at inference


def test_float32_ids_are_rejected_and_bad_ids_named():
    table = np.zeros((5, 2), "float32")
    with pytest.raises(TypeError, match="embedding"):
        rnn.embedding(table, np.array([1.0, 2.0]))
    with pytest.raises(IndexError, match=r"id 5 .*5 rows"):
        rnn.embedding(table, np.array([0, 5]))
    with pytest.raises(IndexError, match=r"id -1"):
        rnn.embedding(table, np.array([[0, -1]], "int32"))


def test_embedding_gradient_touches_only_the_rows_used():
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    from ember.backend.variables import Variable

    table = Variable(np.arange(12.0).reshape(6, 2), name="t", dtype="float64")
    ids = input_tensor((4,), "int64")
    f = Function([ids], [rnn.embedding(table, ids)])
    g = np.arange(8.0).reshape(4, 2)
    _, _, (dt,) = f.gradients([np.array([3, 1, 3, 0])], [g])
    expected = np.zeros((6, 2))
    np.add.at(expected, [3, 1, 3, 0], g)
    np.testing.assert_array_equal(dt, expected)


# (call, exception, words the message must contain)
_X = np.zeros((2, 5, 3))
_K, _R, _B = np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16)


@pytest.mark.parametrize("call, kind, words", [
    (lambda: rnn.lstm(np.zeros((2, 3)), _K, _R), ValueError, ["lstm", "rank 3"]),
    (lambda: rnn.lstm(np.zeros((2, 5, 2)), _K, _R), ValueError, ["lstm", "2 rows"]),
    (lambda: rnn.lstm(_X, np.zeros((3, 12)), _R), ValueError, ["lstm", "16 columns"]),
    (lambda: rnn.lstm(_X, _K, np.zeros((4, 12))), ValueError, ["lstm", "recurrent_kernel"]),
    (lambda: rnn.lstm(_X, _K, _R, np.zeros(15)), ValueError, ["lstm", "bias", "(16"]),
    (lambda: rnn.gru(_X, _K[:, :12], _R[:, :12], np.zeros(12)), ValueError,
     ["gru", "bias", "(2, 12)"]),
    (lambda: rnn.lstm(_X, _K, _R, initial_state=[np.zeros((2, 4))]), ValueError,
     ["lstm", "2 initial state"]),
    (lambda: rnn.lstm(_X, _K, _R, initial_state=[np.zeros((2, 4)), np.zeros((3, 4))]),
     ValueError, ["lstm", "c0", "(2, 4)"]),
    (lambda: rnn.simple_rnn(_X, _K[:, :4], _R[:, :4], mask=np.ones((2, 4))), ValueError,
     ["simple_rnn", "mask", "(2, 5)"]),
    (lambda: rnn.lstm(_X, _K, _R, activation="nope"), ValueError, ["lstm", "nope"]),
    (lambda: rnn.gru(_X, _K[:, :12], _R[:, :12], recurrent_dropout=1.5), ValueError,
     ["gru", "recurrent_dropout"]),
    (lambda: rnn.embedding(np.zeros(5), np.array([1])), ValueError, ["embedding", "2-D"]),
    (lambda: rnn.embedding(np.zeros((5, 2)), np.array([7])), IndexError, ["embedding", "7", "5"]),
])
def test_bad_input(call, kind, words):
    with pytest.raises(kind) as e:
        call()
    for w in words:
        assert w in str(e.value), f"{w!r} not in {e.value}"


# ---------------------------------------------------------------- parity with torch

def test_lstm_and_gru_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    B, T, D, U = 4, 7, 5, 6
    x = rng.uniform(-1, 1, (B, T, D))
    xt = torch.tensor(x)
    k, r, b = _weights(rng, "lstm", D, U)
    m = torch.nn.LSTM(D, U, batch_first=True).double()
    with torch.no_grad():  # torch rows i, f, g, o = Keras columns i, f, c, o
        m.weight_ih_l0.copy_(torch.tensor(k.T))
        m.weight_hh_l0.copy_(torch.tensor(r.T))
        m.bias_ih_l0.copy_(torch.tensor(b))
        m.bias_hh_l0.zero_()
        seq, (h, c) = m(xt)
    out, eh, ec = rnn.lstm(x, k, r, b, return_sequences=True, return_state=True)
    np.testing.assert_allclose(out, seq.numpy(), atol=1e-12)
    np.testing.assert_allclose(eh, h[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(ec, c[0].numpy(), atol=1e-12)

    k, r, b = _weights(rng, "gru", D, U)
    g = torch.nn.GRU(D, U, batch_first=True).double()
    order = np.r_[U:2 * U, 0:U, 2 * U:3 * U]  # Keras z, r, h -> torch r, z, n
    with torch.no_grad():
        g.weight_ih_l0.copy_(torch.tensor(k[:, order].T))
        g.weight_hh_l0.copy_(torch.tensor(r[:, order].T))
        g.bias_ih_l0.copy_(torch.tensor(b[0, order]))
        g.bias_hh_l0.copy_(torch.tensor(b[1, order]))
        seq, h = g(xt)
    out, eh = rnn.gru(x, k, r, b, return_sequences=True, return_state=True)
    np.testing.assert_allclose(out, seq.numpy(), atol=1e-12)
    np.testing.assert_allclose(eh, h[0].numpy(), atol=1e-12)
