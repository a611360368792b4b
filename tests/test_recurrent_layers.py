"""SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, Embedding and Masking as layers: the
layer harness, NumPy references (tests/rnn_reference.py), masks, states, bad input."""
import numpy as np
import pytest

import ember
from ember import layers
from ember.backend.function import Function
from layer_harness import run_layer_test
from rnn_reference import layer_reference

def _example():
    """examples/text_classification_lstm.py as a module (its data generator)."""
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                        "text_classification_lstm.py")
    spec = importlib.util.spec_from_file_location("text_classification_lstm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KINDS = {"simple_rnn": (layers.SimpleRNN, 1), "lstm": (layers.LSTM, 4), "gru": (layers.GRU, 3)}


def reference_for(kind, **options):
    use_bias = options.pop("use_bias", True)
    return lambda x, w: layer_reference(kind, w, x, use_bias=use_bias, **dict(options))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [
    {},
    {"return_sequences": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
    {"activation": "relu"},
], ids=["last", "sequences", "backwards", "no_bias", "relu"])
def test_layer_harness_against_numpy(kind, options):
    cls, _ = KINDS[kind]
    out_shape = (3, 5, 4) if options.get("return_sequences") else (3, 4)
    n_weights = 3 if options.get("use_bias", True) else 2
    run_layer_test(cls, dict(units=4, **options), (3, 5, 6), out_shape,
                   expected_num_trainable_weights=n_weights,
                   reference=reference_for(kind, **options), rtol=2e-5, atol=2e-5)


def test_gru_reset_before_and_lstm_other_activations():
    run_layer_test(layers.GRU, dict(units=3, reset_after=False), (2, 4, 5), (2, 3),
                   expected_num_trainable_weights=3,
                   reference=reference_for("gru", reset_after=False), rtol=2e-5, atol=2e-5)
    run_layer_test(layers.LSTM, dict(units=3, recurrent_activation="tanh", activation="relu"),
                   (2, 4, 5), (2, 3), expected_num_trainable_weights=3,
                   reference=reference_for("lstm", recurrent_activation="tanh",
                                           activation="relu"), rtol=2e-5, atol=2e-5,
                   run_training_check=False)  # tanh input gates may leave relu(c) all zero


def test_weight_shapes_and_names_as_keras():
    lstm = layers.LSTM(8)
    lstm(np.zeros((2, 3, 5), "float32"))
    assert [w.shape for w in lstm.weights] == [(5, 32), (8, 32), (32,)]
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    bias = lstm.get_weights()[2]  # unit_forget_bias: the forget gate's bias starts at 1
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    gru = layers.GRU(8)
    gru(np.zeros((2, 3, 5), "float32"))
    assert [w.shape for w in gru.weights] == [(5, 24), (8, 24), (2, 24)]
    gru_before = layers.GRU(8, reset_after=False)
    gru_before(np.zeros((2, 3, 5), "float32"))
    assert gru_before.weights[2].shape == (24,)
    rec = lstm.get_weights()[1]  # orthogonal recurrent kernel: orthonormal rows
    np.testing.assert_allclose(rec @ rec.T, np.eye(8), atol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [
    {"return_state": True},
    {"return_state": True, "return_sequences": True, "go_backwards": True},
])
def test_initial_state_and_return_state(kind, options):
    cls, _ = KINDS[kind]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    n = 2 if kind == "lstm" else 1
    states = [rng.normal(size=(3, 6)).astype("float32") for _ in range(n)]
    layer = cls(6, **options)
    got = layer(x, initial_state=states)
    want = layer_reference(kind, layer.get_weights(), x, initial_state=states, **options)
    assert len(got) == 1 + n
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)
    inp = ember.Input((5, 4))
    sym = cls(6, **options)(inp)
    assert [tuple(t.shape) for t in sym] == [tuple(np.shape(w))[:0] + (None,) + np.shape(w)[1:]
                                             for w in want]


def masked_inputs(rng, batch=4, steps=6, dim=3):
    x = rng.normal(size=(batch, steps, dim))
    mask = np.ones((batch, steps))
    mask[0, :2] = 0          # leading padding
    mask[1, 4:] = 0          # trailing padding
    mask[2, 3] = 0           # a hole
    x[mask == 0] = 0.0
    return x.astype("float32"), mask


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [
    {}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True},
    {"return_sequences": True, "zero_output_for_mask": True},
])
def test_masking_layer_feeds_the_mask(kind, options):
    cls, _ = KINDS[kind]
    x, mask = masked_inputs(np.random.default_rng(1))
    inp = ember.Input((6, 3))
    rnn = cls(5, **options)
    out = rnn(layers.Masking()(inp))
    got = Function([inp], [out])(x)[0]
    want = layer_reference(kind, rnn.get_weights(), x, mask=mask, **options)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    assert (out._keras_mask is not None) == bool(options.get("return_sequences"))


def test_embedding_mask_zero_reaches_the_lstm():
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 20, size=(4, 7))
    ids[0, :3] = 0
    ids[3, 5:] = 0
    model = ember.Sequential([layers.Input((7,), dtype="int32"),
                              layers.Embedding(20, 6, mask_zero=True), layers.LSTM(5)])
    got = model.predict(ids, verbose=0)
    emb, lstm = model.layers[0], model.layers[1]
    vectors = emb.get_weights()[0][ids]
    want = layer_reference("lstm", lstm.get_weights(), vectors, mask=(ids != 0) * 1.0)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_embedding_layer():
    run_layer_test(layers.Embedding, dict(input_dim=10, output_dim=4), (3, 5), (3, 5, 4),
                   expected_num_trainable_weights=1, input_dtype="int32",
                   expected_output_dtype="float32",
                   reference=lambda ids, w: w[0][ids], run_training_check=False)
    emb = layers.Embedding(10, 4, weights=[np.arange(40.0).reshape(10, 4)])
    np.testing.assert_array_equal(emb(np.array([[3, 0]])), [[[12, 13, 14, 15], [0, 1, 2, 3]]])
    inp = ember.Input((5,), dtype="int32")
    assert layers.Embedding(10, 4)(inp)._keras_mask is None
    masked = layers.Embedding(10, 4, mask_zero=True)(inp)
    got = Function([inp], [masked._keras_mask])(np.array([[0, 3, 0, 1, 9]], "int32"))[0]
    np.testing.assert_array_equal(got, [[0, 1, 0, 1, 1]])


def test_embedding_trains_only_the_rows_used():
    model = ember.Sequential([layers.Input((3,), dtype="int32"), layers.Embedding(50, 4),
                              layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer=ember.optimizers.SGD(0.1), loss="mse")
    before = model.layers[0].get_weights()[0].copy()
    model.train_on_batch(np.array([[1, 2, 2], [7, 1, 3]]), np.ones((2, 1)))
    after = model.layers[0].get_weights()[0]
    changed = np.flatnonzero(np.any(after != before, axis=1))
    np.testing.assert_array_equal(changed, [1, 2, 3, 7])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    rng = np.random.default_rng(3)
    x, mask = masked_inputs(rng)
    inp = ember.Input((6, 3))
    bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode=merge_mode)
    out = bi(layers.Masking()(inp))
    outs = out if isinstance(out, list) else [out]
    got = Function([inp], outs)(x)
    w = bi.get_weights()
    assert len(w) == 6
    fw = layer_reference("lstm", w[:3], x, mask=mask, return_sequences=True,
                         zero_output_for_mask=True)
    bw = layer_reference("lstm", w[3:], x, mask=mask, return_sequences=True, go_backwards=True,
                         zero_output_for_mask=True)[:, ::-1]
    want = {"concat": [np.concatenate([fw, bw], -1)], "sum": [fw + bw], "mul": [fw * bw],
            "ave": [(fw + bw) / 2], None: [fw, bw]}[merge_mode]
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)
    assert [l.name for l in bi.layers] == [bi.forward_layer.name, bi.backward_layer.name]
    assert bi.forward_layer.name.startswith("forward_")
    assert bi.backward_layer.go_backwards


def test_bidirectional_states_and_config_roundtrip():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    bi = layers.Bidirectional(layers.GRU(4, return_state=True))
    out, h_fw, h_bw = bi(x)
    assert out.shape == (2, 8) and h_fw.shape == (2, 4) and h_bw.shape == (2, 4)
    np.testing.assert_allclose(out, np.concatenate([h_fw, h_bw], -1), rtol=1e-6)
    clone = layers.Bidirectional.from_config(bi.get_config())
    clone(x)
    clone.set_weights(bi.get_weights())
    for a, b in zip(clone(x), bi(x)):
        np.testing.assert_array_equal(a, b)


def test_time_distributed_dense():
    run_layer_test(layers.TimeDistributed, dict(layer=layers.Dense(3)), (2, 4, 5), (2, 4, 3),
                   expected_num_trainable_weights=2,
                   reference=lambda x, w: x @ w[0] + w[1], run_training_check=True)


def test_seed_text_classifier_learns_an_order_dependent_task():
    """The seed script with only the imports changed: label 1 when token A comes before B."""
    (x_train, y_train), (x_test, y_test) = _example().make_order_task(
        n_train=2000, n_test=500, maxlen=30, max_features=50, seed=0)
    ember.utils.set_random_seed(0)
    max_features = 50
    model = ember.Sequential([layers.Embedding(max_features, 32), layers.LSTM(32),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=4, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95


@pytest.mark.parametrize("call, kind, words", [
    (lambda: layers.Embedding(10, 4)(np.array([[1.5, 2.0]])), (TypeError, ValueError),
     ["embedding", "1.5"]),
    (lambda: layers.Embedding(10, 4)(np.array([[3, 10]])), (IndexError, ValueError),
     ["embedding", "10"]),
    (lambda: layers.Embedding(10, 4)(np.array([[3, -1]])), (IndexError, ValueError),
     ["embedding", "-1"]),
    (lambda: layers.LSTM(4)(np.zeros((2, 3), "float32")), ValueError, ["LSTM", "rank 3"]),
    (lambda: layers.GRU(4)(np.zeros((2, 3, 5), "float32"), mask=np.ones((2, 4))), ValueError,
     ["GRU", "mask", "(2, 4)"]),
    (lambda: layers.LSTM(4)(np.zeros((2, 3, 5), "float32"),
                            initial_state=[np.zeros((2, 4)), np.zeros((2, 5))]),
     ValueError, ["LSTM", "initial state", "(2, 5)"]),
    (lambda: layers.LSTM(4)(np.zeros((2, 3, 5), "float32"), initial_state=[np.zeros((2, 4))]),
     ValueError, ["LSTM", "2 initial state"]),
    (lambda: layers.LSTM(0), ValueError, ["units"]),
    (lambda: layers.Bidirectional(layers.LSTM(2), merge_mode="max"), ValueError, ["merge_mode"]),
])
def test_bad_input(call, kind, words):
    with pytest.raises(kind) as e:
        call()
    for w in words:
        assert w in str(e.value)


def _padded_tokens(rng, n, steps, vocab):
    lengths = rng.integers(3, steps + 1, size=n)
    ids = rng.integers(1, vocab, size=(n, steps))
    for i, k in enumerate(lengths):
        ids[i, k:] = 0  # post padding: masked steps
    return ids


def test_sequence_to_one_bidirectional_masked_trains_and_saves(tmp_path):
    """Label: is the first token of the sequence larger than its last real token? Needs both
    ends of variable-length, padded sequences."""
    rng = np.random.default_rng(5)
    ids = _padded_tokens(rng, 1200, 12, 20)
    last = ids[np.arange(len(ids)), (ids != 0).sum(1) - 1]
    y = (ids[:, 0] > last).astype("float32")
    ember.utils.set_random_seed(2)
    model = ember.Sequential([layers.Input((12,), dtype="int32"),
                              layers.Embedding(20, 16, mask_zero=True),
                              layers.Bidirectional(layers.GRU(16)),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=ember.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(ids[:1000], y[:1000], epochs=8, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(ids[1000:], y[1000:], verbose=0)
    assert accuracy > 0.9
    model.save(tmp_path / "s2o.ember")
    loaded = ember.models.load_model(tmp_path / "s2o.ember")
    np.testing.assert_array_equal(loaded.predict(ids[1000:], verbose=0),
                                  model.predict(ids[1000:], verbose=0))


def test_sequence_to_sequence_bidirectional_masked_trains_and_saves(tmp_path):
    """Per step: the token at this step is larger than the sequence's first token (a bidirectional
    tagger over padded sequences; padding steps are masked)."""
    rng = np.random.default_rng(6)
    ids = _padded_tokens(rng, 1200, 10, 12)
    y = (ids > ids[:, :1]).astype("float32")[..., None]
    inp = ember.Input((10,), dtype="int32")
    h = layers.Embedding(12, 16, mask_zero=True)(inp)
    h = layers.Bidirectional(layers.LSTM(16, return_sequences=True), merge_mode="concat")(h)
    out = layers.TimeDistributed(layers.Dense(1, activation="sigmoid"))(h)
    ember.utils.set_random_seed(3)
    model = ember.Model(inp, out)
    model.compile(optimizer=ember.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(ids[:1000], y[:1000], epochs=6, batch_size=32, verbose=0)
    pred = model.predict(ids[1000:], verbose=0)
    real = ids[1000:] != 0
    accuracy = ((pred[..., 0] > 0.5) == (y[1000:, :, 0] > 0.5))[real].mean()
    assert accuracy > 0.95
    model.save(tmp_path / "s2s.ember")
    loaded = ember.models.load_model(tmp_path / "s2s.ember")
    np.testing.assert_array_equal(loaded.predict(ids[1000:], verbose=0), pred)


# ---------------------------------------------------------------- Keras parity (optional)
@pytest.fixture(scope="module")
def keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("kind, kwargs", [
    ("LSTM", {"return_sequences": True}),
    ("GRU", {"go_backwards": True, "return_state": True}),
    ("GRU", {"reset_after": False, "return_sequences": True}),
    ("SimpleRNN", {"return_sequences": True, "activation": "relu"}),
])
def test_layers_match_keras_with_masks(keras, kind, kwargs):
    x, mask = masked_inputs(np.random.default_rng(8))
    theirs = getattr(keras.layers, kind)(5, **kwargs)
    want = theirs(x, mask=mask.astype(bool))
    ours = getattr(layers, kind)(5, **kwargs)
    ours(x)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.get_weights()])
    got = ours(x, mask=mask)
    want = want if isinstance(want, (list, tuple)) else [want]
    got = got if isinstance(got, (list, tuple)) else [got]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, keras.ops.convert_to_numpy(w), rtol=1e-5, atol=1e-5)


def test_bidirectional_model_matches_keras(keras):
    rng = np.random.default_rng(9)
    ids = _padded_tokens(rng, 6, 7, 15)

    def build(lib):
        inp = lib.Input((7,), dtype="int32")
        h = lib.layers.Embedding(15, 4, mask_zero=True)(inp)
        h = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(h)
        h = lib.layers.Bidirectional(lib.layers.GRU(3), merge_mode="sum")(h)
        return lib.Model(inp, lib.layers.Dense(2)(h))

    theirs, ours = build(keras), build(ember)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours.predict(ids, verbose=0),
                               keras.ops.convert_to_numpy(theirs(ids)), rtol=1e-5, atol=1e-5)


def test_a_layer_called_on_arrays_inside_a_traced_call_is_recorded_and_trains():
    """Keras's position-embedding idiom: self.embedding(np.arange(n)) inside call()."""
    class Positions(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.table = layers.Embedding(5, 3)

        def call(self, x):
            return x + self.table(np.arange(5))

    inp = ember.Input((5, 3))
    positions = Positions()
    model = ember.Model(inp, layers.Dense(1)(positions(inp)))
    model.compile("sgd", "mse")
    before = positions.table.get_weights()[0].copy()
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 5, 3)).astype("float32"), rng.random((8, 5, 1)).astype("float32"),
              verbose=0)
    assert not np.allclose(before, positions.table.get_weights()[0])
