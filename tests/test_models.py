"""Model structure: Sequential (list and add), functional (single/multi input and output),
subclassed Model and Layer, and the weight/layer accessors Keras users rely on."""
import numpy as np
import pytest

import ember
from ember import layers, ops


def _data(n=16, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype("float32")


def _mlp_reference(x, weights):
    """Dense(relu) -> Dense(linear), from get_weights."""
    k1, b1, k2, b2 = weights
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


# ---- Sequential -------------------------------------------------------------------------------
def test_sequential_from_list_and_by_add_are_the_same_model():
    a = ember.Sequential([ember.Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(2)])
    b = ember.Sequential()
    b.add(ember.Input((4,)))
    b.add(layers.Dense(5, activation="relu"))
    b.add(layers.Dense(2))
    assert a.built and b.built
    assert [type(l) for l in a.layers] == [type(l) for l in b.layers] == [layers.Dense] * 2
    b.set_weights(a.get_weights())
    x = _data()
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(a.predict(x, verbose=0), _mlp_reference(x, a.get_weights()),
                               rtol=1e-5, atol=1e-6)
    assert a.count_params() == 4 * 5 + 5 + 5 * 2 + 2
    assert a.output_shape == (None, 2) and a.input_shape == (None, 4)


def test_sequential_without_input_builds_on_first_data():
    model = ember.Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.built and model.weights == []
    with pytest.raises(ValueError, match="not built yet"):
        model.count_params()
    out = model.predict(_data(5, 6), verbose=0)
    assert out.shape == (5, 1) and model.built
    assert [w.shape for w in model.weights] == [(6, 3), (3,), (3, 1), (1,)]


def test_sequential_build_with_input_shape():
    model = ember.Sequential([layers.Dense(3)])
    model.build((None, 7))
    assert model.built and model.count_params() == 7 * 3 + 3


def test_sequential_add_after_build_and_pop():
    model = ember.Sequential([ember.Input((4,)), layers.Dense(3)])
    model.add(layers.Dense(2))
    assert model.output_shape == (None, 2) and len(model.layers) == 2
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and popped.units == 2
    assert model.output_shape == (None, 3) and len(model.layers) == 1
    assert model.predict(_data(3), verbose=0).shape == (3, 3)


def test_sequential_add_rejects_non_layers():
    model = ember.Sequential()
    with pytest.raises(TypeError, match=r"Sequential '.*': only layers can be added, received 3"):
        model.add(3)


def test_sequential_config_roundtrip():
    model = ember.Sequential([ember.Input((4,)), layers.Dense(3, activation="tanh"),
                              layers.Dropout(0.1), layers.Dense(1)])
    clone = ember.Sequential.from_config(model.get_config())
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    clone.set_weights(model.get_weights())
    x = _data(5)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- functional -------------------------------------------------------------------------------
def test_functional_single_input_matches_reference():
    inp = ember.Input((4,))
    hidden = layers.Dense(6, activation="relu", name="hidden")(inp)
    out = layers.Dense(2, name="out")(hidden)
    model = ember.Model(inp, out)
    assert [l.name for l in model.layers][1:] == ["hidden", "out"]
    assert isinstance(model.layers[0], layers.InputLayer)
    x = _data(7)
    np.testing.assert_allclose(model.predict(x, verbose=0), _mlp_reference(x, model.get_weights()),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x), model.predict(x, verbose=0), rtol=1e-6)
    assert model.inputs[0] is inp and model.outputs[0] is out


def test_functional_keyword_arguments_and_ops_on_symbolic_tensors():
    inp = ember.Input((3,))
    out = ops.multiply(ops.relu(inp), 2.0) + 1.0
    model = ember.Model(inputs=inp, outputs=out)
    x = _data(4, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.maximum(x, 0) * 2 + 1, rtol=1e-6)
    assert model.weights == [] and model.count_params() == 0


def test_functional_multi_input():
    a, b = ember.Input((3,), name="a"), ember.Input((2,), name="b")
    merged = ops.concatenate([layers.Dense(4, name="da")(a), b], axis=-1)
    out = layers.Dense(1, name="head")(merged)
    model = ember.Model([a, b], out)
    xa, xb = _data(6, 3, seed=1), _data(6, 2, seed=2)
    ka, ba, kh, bh = model.get_weights()
    want = np.concatenate([xa @ ka + ba, xb], axis=-1) @ kh + bh
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), want, rtol=1e-5, atol=1e-6)
    model.compile("sgd", "mse")
    history = model.fit([xa, xb], np.ones((6, 1), "float32"), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    with pytest.raises(ValueError, match=r"the model has 2 inputs, so x must be a list of 2"):
        model.predict(xa, verbose=0)


def _two_output_model():
    inp = ember.Input((4,))
    hidden = layers.Dense(8, activation="relu", name="hidden")(inp)
    reg = layers.Dense(1, name="reg")(hidden)
    cls = layers.Dense(3, activation="softmax", name="cls")(hidden)
    return ember.Model(inp, [reg, cls])


def _mse(y, p):
    return float(np.mean((y - p) ** 2))


def _sparse_ce(y, p):
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))


@pytest.mark.parametrize("as_dict", [False, True])
def test_functional_multi_output_losses_and_loss_weights(as_dict):
    model = _two_output_model()
    if as_dict:
        model.compile(optimizer="sgd",
                      loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                      loss_weights={"reg": 0.5, "cls": 2.0}, metrics={"cls": ["accuracy"]})
    else:
        model.compile(optimizer="sgd", loss=["mse", ember.losses.SparseCategoricalCrossentropy()],
                      loss_weights=[0.5, 2.0], metrics=[[], ["accuracy"]])
    x = _data(10)
    rng = np.random.default_rng(3)
    y_reg = rng.standard_normal((10, 1)).astype("float32")
    y_cls = rng.integers(0, 3, 10)
    p_reg, p_cls = model.predict(x, verbose=0)
    assert p_reg.shape == (10, 1) and p_cls.shape == (10, 3)
    reg_loss, cls_loss = _mse(y_reg, p_reg), _sparse_ce(y_cls, p_cls)
    acc = float(np.mean(p_cls.argmax(-1) == y_cls))
    result = model.evaluate(x, [y_reg, y_cls], batch_size=10, verbose=0, return_dict=True)
    assert set(result) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    assert result["reg_loss"] == pytest.approx(reg_loss, rel=1e-5)
    assert result["cls_loss"] == pytest.approx(cls_loss, rel=1e-5)
    assert result["loss"] == pytest.approx(0.5 * reg_loss + 2.0 * cls_loss, rel=1e-5)
    assert result["cls_accuracy"] == pytest.approx(acc)
    history = model.fit(x, [y_reg, y_cls], epochs=3, batch_size=5, verbose=0)
    assert set(history.history) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())


def test_multi_output_bad_loss_structure():
    model = _two_output_model()
    with pytest.raises(ValueError, match=r"compile: loss names unknown outputs \['nope'\]; the "
                                         r"outputs are \['reg', 'cls'\]"):
        model.compile("sgd", loss={"nope": "mse"})
    with pytest.raises(ValueError, match=r"compile: expected 2 entries in loss, received 3"):
        model.compile("sgd", loss=["mse", "mse", "mse"])
    model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"])
    with pytest.raises(ValueError, match=r"the model has 2 outputs, so y must be a list of 2"):
        model.fit(_data(4), np.zeros((4, 1), "float32"), verbose=0)


def test_nested_model_used_as_a_layer():
    inner_in = ember.Input((4,))
    inner = ember.Model(inner_in, layers.Dense(3, activation="relu")(inner_in))
    outer = ember.Sequential([ember.Input((4,)), inner, layers.Dense(1)])
    k1, b1, k2, b2 = outer.get_weights()
    x = _data(5)
    np.testing.assert_allclose(outer.predict(x, verbose=0), _mlp_reference(x, [k1, b1, k2, b2]),
                               rtol=1e-5, atol=1e-6)
    assert len(outer.weights) == 4


# ---- subclassing ------------------------------------------------------------------------------
class ScaledLinear(layers.Layer):
    """y = (x @ w + b) * scale, written with ember.ops; `scale` is a non-trainable weight."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="ones", name="b")
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=False,
                                     name="scale")

    def call(self, inputs):
        return ops.multiply(ops.add(ops.matmul(inputs, self.w), self.b), self.scale)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_layer_with_add_weight_and_ops():
    layer = ScaledLinear(3)
    x = _data(5)
    y = layer(x)
    w, b, s = layer.get_weights()
    assert (w.shape, b.shape, s.shape) == ((4, 3), (3,), ())
    np.testing.assert_allclose(y, (x @ w + b) * s, rtol=1e-5, atol=1e-6)
    assert [v.name for v in layer.trainable_weights] == ["w", "b"]
    assert [v.name for v in layer.non_trainable_weights] == ["scale"]
    layer.set_weights([w, b, np.array(2.0, "float32")])
    np.testing.assert_allclose(layer(x), (x @ w + b) * 2.0, rtol=1e-5, atol=1e-6)
    assert layer(ember.Input((4,))).shape == (None, 3)
    clone = ScaledLinear.from_config(layer.get_config())
    assert clone.units == 3 and clone.name == layer.name


def test_custom_layer_trains_inside_a_model_and_keeps_non_trainable_weight():
    inp = ember.Input((4,))
    layer = ScaledLinear(1)
    model = ember.Model(inp, layer(inp))
    model.compile(ember.optimizers.SGD(0.1), "mse")
    x = _data(32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    w0, b0, s0 = layer.get_weights()
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0, shuffle=False)
    w1, b1, s1 = layer.get_weights()
    assert not np.array_equal(w0, w1) and not np.array_equal(b0, b1)
    np.testing.assert_array_equal(s0, s1)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


class MLP(ember.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.head = layers.Dense(2)

    def call(self, inputs, training=None):
        return self.head(self.dropout(self.hidden(inputs), training=training))


def test_subclassed_model():
    model = MLP()
    assert not model.built
    assert [type(l) for l in model.layers] == [layers.Dense, layers.Dropout, layers.Dense]
    x = _data(12)
    out = model.predict(x, verbose=0)  # dropout is off in predict
    assert out.shape == (12, 2) and model.built
    k1, b1, k2, b2 = model.get_weights()
    np.testing.assert_allclose(out, _mlp_reference(x, [k1, b1, k2, b2]), rtol=1e-5, atol=1e-6)
    assert model.count_params() == 4 * 8 + 8 + 8 * 2 + 2
    np.testing.assert_allclose(model(x), out, rtol=1e-6)
    model.compile(ember.optimizers.Adam(0.01), "mse")
    y = np.zeros((12, 2), "float32")
    history = model.fit(x, y, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


class TwoInputs(ember.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.head = layers.Dense(1)

    def call(self, inputs):
        a, b = inputs
        return self.head(ops.concatenate([a, b], axis=-1))


def test_subclassed_model_with_two_inputs():
    model = TwoInputs()
    xa, xb = _data(6, 3, seed=1), _data(6, 2, seed=2)
    out = model.predict([xa, xb], verbose=0)  # the list builds a two-input model
    kernel, bias = model.get_weights()
    assert kernel.shape == (5, 1)
    np.testing.assert_allclose(out, np.concatenate([xa, xb], -1) @ kernel + bias, rtol=1e-5,
                               atol=1e-6)
    model.compile("sgd", "mse")
    assert np.isfinite(model.fit([xa, xb], np.ones((6, 1), "float32"), verbose=0)
                       .history["loss"][0])


def test_unbuilt_sequential_given_two_inputs():
    model = ember.Sequential([layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Sequential '.*' takes one input, received 2"):
        model.predict([_data(4, 3), _data(4, 2)], verbose=0)


def test_subclassed_model_without_call_fails_clearly():
    class Empty(ember.Model):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty subclasses ember.Model and must "
                                                  r"implement call"):
        Empty().predict(_data(2), verbose=0)


# ---- accessors --------------------------------------------------------------------------------
def _named_sequential():
    return ember.Sequential([ember.Input((4,)), layers.Dense(3, name="first"),
                             layers.Dense(2, name="second")])


def test_get_layer_by_name_and_index():
    model = _named_sequential()
    assert model.get_layer("first") is model.layers[0]
    assert model.get_layer(index=1).name == "second"
    assert model.get_layer(index=-1).name == "second"
    with pytest.raises(ValueError, match=r"No such layer: third. Existing layers are: "
                                         r"\['first', 'second'\]"):
        model.get_layer("third")
    with pytest.raises(ValueError, match=r"index 5 is out of range for a model with 2 layers"):
        model.get_layer(index=5)


def test_weights_and_trainable_weights():
    model = _named_sequential()
    assert [w.path for w in model.weights] == ["first/kernel", "first/bias", "second/kernel",
                                               "second/bias"]
    assert model.trainable_weights == model.weights and model.non_trainable_weights == []
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2


def test_freezing_a_layer_keeps_its_weights_during_fit():
    model = _named_sequential()
    frozen = model.get_layer("first")
    frozen.trainable = False
    assert [w.path for w in model.non_trainable_weights] == ["first/kernel", "first/bias"]
    assert [w.path for w in model.trainable_weights] == ["second/kernel", "second/bias"]
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2  # frozen weights still count
    model.compile(ember.optimizers.SGD(0.1), "mse")
    before = model.get_weights()
    model.fit(_data(16), np.ones((16, 2), "float32"), epochs=2, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[2], before[2]) and not np.array_equal(after[3], before[3])

    # Unfreezing (and recompiling, as Keras asks) trains the layer again.
    frozen.trainable = True
    model.compile(ember.optimizers.SGD(0.1), "mse")
    model.fit(_data(16), np.ones((16, 2), "float32"), epochs=1, verbose=0)
    assert not np.array_equal(model.get_weights()[0], after[0])


def test_freezing_after_a_first_fit():
    model = _named_sequential()
    model.compile(ember.optimizers.SGD(0.1), "mse")
    x, y = _data(16), np.ones((16, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    model.get_layer("second").trainable = False
    model.compile(ember.optimizers.SGD(0.1), "mse")
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    after = model.get_weights()
    assert not np.array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[2], before[2])
    np.testing.assert_array_equal(after[3], before[3])


def test_frozen_model_fits_without_changing_anything():
    model = _named_sequential()
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    model.compile(ember.optimizers.SGD(0.1), "mse")
    before = model.get_weights()
    history = model.fit(_data(8), np.ones((8, 2), "float32"), epochs=2, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"][0] == pytest.approx(history.history["loss"][1])


def test_model_get_set_weights_roundtrip_and_errors():
    model = _named_sequential()
    x = _data(5)
    weights = [np.random.default_rng(i).standard_normal(w.shape).astype("float32")
               for i, w in enumerate(model.get_weights())]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    k1, b1, k2, b2 = weights
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ k1 + b1) @ k2 + b2,
                               rtol=1e-5, atol=1e-5)
    # After compile/fit the weights live in the C++ arena: set_weights must still reach them.
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((5, 2), "float32"), verbose=0)
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ k1 + b1) @ k2 + b2,
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected 4 weights, received 3"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"weight 'kernel': expected shape \(4, 3\), received "
                                         r"shape \(3, 4\)"):
        model.set_weights([k1.T, b1, k2, b2])


def test_shared_layer_counts_its_weights_once():
    inp = ember.Input((3,))
    shared = layers.Dense(3, name="shared")
    model = ember.Model(inp, shared(shared(inp)))
    assert len(model.weights) == 2 and model.count_params() == 12
    k, b = model.get_weights()
    x = _data(4, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ k + b) @ k + b, rtol=1e-5,
                               atol=1e-6)


def test_functional_layers_exclude_sublayers_called_inside_a_layer():
    class Block(ember.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = ember.layers.Dense(4, name="inner_dense")

        def call(self, x):
            return ember.ops.relu(self.inner(x))

    inp = ember.Input((3,), name="block_in")
    block = Block(name="block")
    out = ember.layers.Dense(2, name="head")(block(inp))
    model = ember.Model(inp, out)
    assert [l.name for l in model.layers] == ["block_in", "block", "head"]
    assert len(model.weights) == 4  # the sublayer's weights still belong to the model
