"""Model.summary(): the same text as Keras 3's, character for character.

The parity tests build the same models with the same names in Keras (torch backend) and in
ember, through one driver script run once per framework, and compare the summaries. The
literal tests hold Keras's output written out, so they run without Keras.
"""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import layers
from ember.utils.summary import print_summary

# One driver for both frameworks: `K` is keras or ember (same API). Each entry records every
# call print_fn received, at two terminal widths (Keras caps the table at COLUMNS - 4).
_DRIVER = r'''
import json, os, sys
import numpy as np

which, out_path = sys.argv[1], sys.argv[2]
if which == "keras":
    import keras as K
    from keras.src.utils.summary_utils import print_summary
else:
    import ember as K
    from ember.utils.summary import print_summary
L = K.layers
results = {}


def record(key, model, **kwargs):
    for columns in ("80", "200"):
        os.environ["COLUMNS"] = columns
        calls = []
        print_summary(model, print_fn=calls.append, **kwargs)
        results[f"{key}@{columns}"] = calls


class AddLayer(L.Layer):
    def call(self, inputs):
        a, b = inputs
        return a + b


def dense_784():
    return K.Sequential([K.Input((784,)), L.Dense(128, activation="relu", name="dense"),
                         L.Dense(10, name="dense_1")], name="sequential")


record("dense", dense_784())
record("dense_trainable", dense_784(), show_trainable=True)
record("dense_custom_width", dense_784(), line_length=60, positions=[0.5, 0.8, 1.0])

mnist = K.Sequential([K.Input((28, 28)), L.Flatten(name="flatten"),
                      L.Dropout(0.2, name="dropout"),
                      L.Dense(10, activation="softmax", name="dense")], name="mnist")
record("dropout_flatten", mnist)
record("dropout_flatten_trainable", mnist, show_trainable=True)
record("layer_range", mnist, layer_range=["drop.*", "dense"])

record("unbuilt", K.Sequential([L.Dense(8, name="d1"), L.Dense(2, name="d2")], name="unbuilt"))

frozen = K.Sequential([K.Input((5,)), L.Dense(7, name="frozen", trainable=False),
                       L.Dense(3, name="head")], name="frozen_model")
record("frozen", frozen, show_trainable=True)

x = K.Input((8,), name="inp")
h = L.Dense(4, activation="relu", name="hidden")(x)
record("chain", K.Model(x, L.Dense(2, name="out")(h), name="chain"))

a = K.Input((8,), name="in_a")
b = K.Input((6,), name="in_b")
da = L.Dense(4, name="dense_a")(a)
db = L.Dense(4, name="dense_b")(b)
s = AddLayer(name="add")([da, db])
two = K.Model([a, b], L.Dense(1, name="out")(s), name="two_inputs")
record("two_inputs", two)
record("two_inputs_trainable", two, show_trainable=True)
record("two_inputs_wide", two, line_length=140)

# Inputs created between the layers: Keras orders rows by depth, not by creation.
a = K.Input((8,), name="in_a")
da = L.Dense(4, name="dense_a")(a)
b = K.Input((6,), name="in_b")
db = L.Dense(4, name="dense_b")(b)
record("branches", K.Model([a, b], [da, db], name="branches"))

a = K.Input((8,), name="in_a")
b = K.Input((8,), name="in_b")
shared = L.Dense(4, name="shared")
s = AddLayer(name="add")([shared(a), shared(b)])
record("shared", K.Model([a, b], L.Dense(1, name="out")(s), name="shared_layer"))

inner = K.Sequential([K.Input((8,)), L.Dense(4, name="inner_dense"),
                      L.Dense(3, name="inner_out")], name="inner")
x = K.Input((8,), name="x")
outer = K.Model(x, L.Dense(2, name="head")(inner(x)), name="outer")
record("nested", outer)
record("nested_expanded", outer, expand_nested=True)

class Block(L.Layer):  # a layer calling a sublayer: one row, as Keras records no inner call
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = L.Dense(3, name="block_inner")

    def call(self, x):
        return self.inner(x) * 2.0


x = K.Input((4,), name="x")
record("composite", K.Model(x, L.Dense(1, name="head")(Block(name="block")(x)), name="composite"))

data_x = np.linspace(-1, 1, 48, dtype="float32").reshape(8, 6)
data_y = np.linspace(0, 1, 8, dtype="float32").reshape(8, 1)
schedule = K.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
optimizers = {
    "adam": lambda: K.optimizers.Adam(),
    "amsgrad": lambda: K.optimizers.Adam(amsgrad=True),
    "adamw": lambda: K.optimizers.AdamW(),
    "sgd": lambda: K.optimizers.SGD(),
    "sgd_momentum": lambda: K.optimizers.SGD(momentum=0.9),
    "rmsprop": lambda: K.optimizers.RMSprop(momentum=0.5, centered=True),
    "adagrad": lambda: K.optimizers.Adagrad(),
    "schedule": lambda: K.optimizers.Adam(schedule),
}
for key, make in optimizers.items():
    model = K.Sequential([K.Input((6,)), L.Dense(5, name="hidden"), L.Dense(1, name="out")],
                         name=f"opt_{key}")
    model.compile(optimizer=make(), loss="mse")
    record(f"compiled_{key}", model)  # the optimizer has no state yet
    model.fit(data_x, data_y, batch_size=4, epochs=1, verbose=0)
    record(f"trained_{key}", model)

model = K.Sequential([K.Input((6,)), L.Dense(1, name="out")], name="evaluated")
model.compile(optimizer="adam", loss="mse")
model.evaluate(data_x, data_y, verbose=0)  # builds the optimizer in Keras too
record("evaluated", model)

with open(out_path, "w") as f:  # not stdout: imports may print there
    json.dump(results, f)
'''


def _keras_with_torch():
    return importlib.util.find_spec("keras") is not None and (
        importlib.util.find_spec("torch") is not None)


def _run_driver(which, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "torch",
           "PYTHONPATH": str(pathlib.Path(ember.__file__).parents[1])}
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    out = tmp_path / f"{which}.json"
    done = subprocess.run([sys.executable, "-c", _DRIVER, which, str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    if not _keras_with_torch():
        pytest.skip("Keras and torch are not installed: no reference summaries to compare with")
    tmp_path = tmp_path_factory.mktemp("summaries")
    return _run_driver("keras", tmp_path), _run_driver("ember", tmp_path)


_CASES = ["dense", "dense_trainable", "dense_custom_width", "dropout_flatten",
          "dropout_flatten_trainable", "layer_range", "unbuilt", "frozen", "chain", "two_inputs",
          "two_inputs_trainable", "two_inputs_wide", "branches", "shared", "nested",
          "nested_expanded", "composite", "evaluated"] + [
    f"{state}_{opt}" for opt in ("adam", "amsgrad", "adamw", "sgd", "sgd_momentum", "rmsprop",
                                 "adagrad", "schedule") for state in ("compiled", "trained")]


@pytest.mark.parametrize("columns", ["80", "200"])
@pytest.mark.parametrize("case", _CASES)
def test_summary_matches_keras(summaries, case, columns):
    keras_text, ember_text = (s[f"{case}@{columns}"] for s in summaries)
    assert len(keras_text) == 1  # Keras hands print_fn the whole summary in one call
    assert ember_text == keras_text, "\n" + keras_text[0] + "\n" + ember_text[0]


def test_parity_cases_cover_the_branches_that_matter(summaries):
    keras_text = summaries[0]
    assert "Connected to" in keras_text["two_inputs@200"][0]
    assert "Connected to" not in keras_text["chain@200"][0]
    assert "shared[1][0]" in keras_text["shared@200"][0]
    assert "└ inner_dense" in keras_text["nested_expanded@200"][0]
    assert "Optimizer params" in keras_text["trained_adam@200"][0]
    assert "Optimizer params" not in keras_text["compiled_adam@200"][0]


# ---- literal expectations (Keras 3.15.1 output), no Keras needed ------------------------------
_DENSE_784 = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ dense (Dense)                        │ (None, 128)                 │         100,480 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_1 (Dense)                      │ (None, 10)                  │           1,290 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 101,770 (397.54 KB)
 Trainable params: 101,770 (397.54 KB)
 Non-trainable params: 0 (0.00 B)
"""

_DENSE_784_TRAINED = _DENSE_784.replace(
    " Total params: 101,770 (397.54 KB)", " Total params: 305,312 (1.16 MB)"
) + " Optimizer params: 203,542 (795.09 KB)\n"

_TWO_INPUTS = """\
Model: "two_inputs"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ in_a (InputLayer)   │ (None, 8)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ in_b (InputLayer)   │ (None, 6)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ da (Dense)          │ (None, 4)         │         36 │ in_a[0][0]        │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ db (Dense)          │ (None, 4)         │         28 │ in_b[0][0]        │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (AddLayer)      │ (None, 4)         │          0 │ da[0][0],         │
│                     │                   │            │ db[0][0]          │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out (Dense)         │ (None, 1)         │          5 │ add[0][0]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 69 (276.00 B)
 Trainable params: 69 (276.00 B)
 Non-trainable params: 0 (0.00 B)
"""


@pytest.fixture
def plain_terminal(monkeypatch):
    """A 100-column terminal without forced colours, whatever runs the tests."""
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def _dense_784():
    return ember.Sequential([ember.Input((784,)),
                             layers.Dense(128, activation="relu", name="dense"),
                             layers.Dense(10, name="dense_1")], name="sequential")


class AddLayer(layers.Layer):
    def call(self, inputs):
        a, b = inputs
        return a + b


def test_sequential_summary_text(plain_terminal):
    calls = []
    _dense_784().summary(print_fn=calls.append)
    assert calls == [_DENSE_784]


def test_summary_prints_to_stdout_without_print_fn(plain_terminal, capsys):
    _dense_784().summary()
    assert capsys.readouterr().out == _DENSE_784


def test_optimizer_params_line_once_trained(plain_terminal):
    model = _dense_784()
    model.compile(optimizer="adam", loss="mse")
    calls = []
    model.summary(print_fn=calls.append)
    assert calls == [_DENSE_784]  # compiled, but the optimizer holds no state yet
    model.fit(np.zeros((4, 784), "float32"), np.zeros((4, 10), "float32"), verbose=0)
    calls = []
    model.summary(print_fn=calls.append)
    assert calls == [_DENSE_784_TRAINED]


def test_two_input_functional_summary_text(plain_terminal):
    a = ember.Input((8,), name="in_a")
    b = ember.Input((6,), name="in_b")
    s = AddLayer(name="add")([layers.Dense(4, name="da")(a), layers.Dense(4, name="db")(b)])
    model = ember.Model([a, b], layers.Dense(1, name="out")(s), name="two_inputs")
    calls = []
    print_summary(model, line_length=76, print_fn=calls.append)
    assert calls == [_TWO_INPUTS]


def test_optimizer_slot_table_matches_the_cpp_optimizer():
    # The summary counts Keras's slot variables per trainable weight; the C++ optimizer must
    # hold the same number of slots, or the "Optimizer params" line would be wrong.
    from ember.utils.summary import _slots_per_variable
    x = np.ones((4, 3), "float32")
    y = np.ones((4, 1), "float32")
    for opt in (ember.optimizers.SGD(momentum=0.5), ember.optimizers.Adam(amsgrad=True),
                ember.optimizers.Adam(), ember.optimizers.RMSprop(momentum=0.5, centered=True),
                ember.optimizers.RMSprop(), ember.optimizers.Adagrad(),
                ember.optimizers.AdamW()):
        model = ember.Sequential([ember.Input((3,)), layers.Dense(1)])
        model.compile(optimizer=opt, loss="mse")
        model.fit(x, y, verbose=0)
        assert len(opt.core_optimizer().slots()) == _slots_per_variable(opt), opt.get_config()


def test_subclassed_model_rows_follow_its_trace(plain_terminal):
    class TwoDense(ember.Model):
        def __init__(self):
            super().__init__(name="two_dense")
            self.d1 = layers.Dense(16, name="d1")
            self.d2 = layers.Dense(3, name="d2")

        def call(self, x):
            return self.d2(self.d1(x))

    model = TwoDense()
    calls = []
    model.summary(print_fn=calls.append)
    assert "│ d1 (Dense)" in calls[0] and calls[0].count("0 (unbuilt)") == 2
    model.build((None, 5))
    calls = []
    model.summary(print_fn=calls.append)
    rows = [line for line in calls[0].splitlines() if line.startswith("│")]
    assert rows[0].split("│")[2].strip() == "(None, 16)" and rows[0].endswith("96 │")
    assert rows[1].split("│")[2].strip() == "(None, 3)" and rows[1].endswith("51 │")
    assert " Total params: 147 (588.00 B)" in calls[0]


def test_identity_layer_in_sequential_shows_its_input_shape(plain_terminal):
    # Dropout(0) returns its input unchanged, so no tensor in the graph is its own.
    model = ember.Sequential([ember.Input((6,)), layers.Dense(4, name="d"),
                              layers.Dropout(0.0, name="noop")], name="identity")
    calls = []
    model.summary(print_fn=calls.append)
    row = next(line for line in calls[0].splitlines() if "noop (Dropout)" in line)
    assert row.split("│")[2].strip() == "(None, 4)"


def test_too_narrow_raises(plain_terminal):
    with pytest.raises(ValueError, match="Insufficient console width"):
        _dense_784().summary(line_length=8, print_fn=lambda s: None)


def test_bad_layer_range_raises(plain_terminal):
    with pytest.raises(ValueError, match="do not match the layer names"):
        print_summary(_dense_784(), layer_range=["nope", "dense"], print_fn=lambda s: None)
    with pytest.raises(ValueError, match="length 2"):
        print_summary(_dense_784(), layer_range=["dense"], print_fn=lambda s: None)
