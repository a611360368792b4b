"""clone_model and register_serializable (Keras's register_keras_serializable)."""
import numpy as np
import pytest

import ember
from ember import layers


def test_clone_sequential_has_the_structure_and_fresh_weights():
    ember.utils.set_random_seed(0)
    model = ember.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"),
                              layers.Dense(2)])
    clone = ember.models.clone_model(model)
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_functional_with_a_shared_layer_and_clone_function():
    a = ember.Input((4,))
    shared = layers.Dense(4, activation="tanh")
    out = layers.Add()([shared(a), shared(shared(a))])
    model = ember.Model(a, layers.Dense(1)(out))
    seen = []

    def clone_function(layer):
        seen.append(layer.name)
        return type(layer).from_config(layer.get_config())

    clone = ember.models.clone_model(model, clone_function=clone_function)
    assert shared.name in seen and len(clone.weights) == len(model.weights)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_registered_class_loads_without_custom_objects(tmp_path):
    @ember.saving.register_serializable(package="tests")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = ember.Sequential([layers.Input((3,)), Scale(3.0), layers.Dense(2)])
    config = ember.layers.serialize(model.layers[0])
    assert config["registered_name"] == "tests>Scale"
    model.save(tmp_path / "m.ember")
    loaded = ember.models.load_model(tmp_path / "m.ember")
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0
    with pytest.raises(ValueError, match="already been registered"):
        ember.saving.register_serializable(package="tests", name="Scale")(
            type("Other", (layers.Layer,), {}))
