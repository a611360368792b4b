"""model.save / ember.models.load_model and save_weights / load_weights: identical predictions
after loading, training that resumes exactly (optimizer state saved), safetensors layout,
clear errors on bad files."""
import json
import os

import numpy as np
import pytest

import ember
from ember import layers
from ember.saving import FileFormatError, file_format


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, :3].sum(1) > 0).astype("int32")
    return x, y


def sequential():
    ember.utils.set_random_seed(0)
    model = ember.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                              layers.Dropout(0.1), layers.BatchNormalization(),
                              layers.Dense(2, activation="softmax")])
    model.compile(optimizer=ember.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def functional():
    ember.utils.set_random_seed(0)
    a = ember.Input((6,), name="features")
    shared = layers.Dense(8, activation="tanh", name="shared")
    h = layers.Concatenate(name="cat")([shared(a), shared(layers.Dense(6, name="pre")(a))])
    out = layers.Dense(2, activation="softmax", name="head")(h)
    model = ember.Model(a, out, name="two_paths")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("make", [sequential, functional])
def test_save_load_predicts_identically_and_resumes_training_exactly(make, tmp_path):
    x, y = data()
    model = make()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "m.ember"
    model.save(path)
    loaded = ember.models.load_model(path)
    assert type(loaded) is type(model)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    # the same further training from both: identical weights (optimizer state restored)
    ember.utils.set_random_seed(7)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    ember.utils.set_random_seed(7)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_file_is_safetensors_with_named_weights(tmp_path):
    model = sequential()
    model.fit(*data(), epochs=1, verbose=0)
    path = tmp_path / "m.ember"
    model.save(path)
    metadata, tensors = file_format.read_file(str(path))
    assert metadata["format"] == "ember.model"
    config = json.loads(metadata["model_config"])
    assert config["class_name"] == "Sequential"
    names = json.loads(metadata["weight_names"])
    first = model.layers[0].name
    assert names[:2] == [f"{first}/kernel", f"{first}/bias"]
    np.testing.assert_array_equal(tensors[f"{first}/kernel"], model.layers[0].get_weights()[0])
    assert any(k.startswith("optimizer/slot_") for k in tensors)
    safetensors = pytest.importorskip("safetensors.numpy")
    np.testing.assert_array_equal(safetensors.load_file(str(path))[f"{first}/bias"],
                                  model.layers[0].get_weights()[1])


def test_save_weights_load_weights(tmp_path):
    x, _ = data()
    model = functional()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    other = functional()
    other.set_weights([w * 0 for w in other.get_weights()])
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="weights"):
        sequential().load_weights(path)


def test_uncompiled_model_saves_and_loads_uncompiled(tmp_path):
    model = ember.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.save(tmp_path / "m.ember")
    loaded = ember.models.load_model(tmp_path / "m.ember")
    assert not loaded.compiled
    loaded_no_compile = ember.models.load_model(tmp_path / "m.ember", compile=False)
    assert not loaded_no_compile.compiled


def test_custom_layer_needs_custom_objects(tmp_path):
    class Doubler(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = ember.Sequential([layers.Input((3,)), Doubler(), layers.Dense(1)])
    model.save(tmp_path / "c.ember")
    with pytest.raises(ValueError, match="Doubler"):
        ember.models.load_model(tmp_path / "c.ember")
    loaded = ember.models.load_model(tmp_path / "c.ember", custom_objects={"Doubler": Doubler})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bad_files_raise_clear_errors(tmp_path):
    model = sequential()
    path = tmp_path / "m.ember"
    model.save(path)
    raw = path.read_bytes()
    (tmp_path / "cut.ember").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match="cut.ember"):
        ember.models.load_model(tmp_path / "cut.ember")
    with pytest.raises(FileNotFoundError):
        ember.models.load_model(tmp_path / "missing.ember")
    with pytest.raises(ValueError, match="must end with"):
        model.save(tmp_path / "m.txt")
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)
    weights_only = tmp_path / "w.weights.ember"
    model.save_weights(weights_only)
    with pytest.raises(ValueError, match="not an ember model"):
        ember.models.load_model(weights_only)


def test_functional_config_round_trip_is_keras_shaped():
    model = functional()
    config = json.loads(json.dumps(model.get_config()))
    assert config["input_layers"] == ["features", 0, 0]  # one tensor, as Keras 3 writes it
    assert config["output_layers"] == ["head", 0, 0]
    shared = next(l for l in config["layers"] if l["name"] == "shared")
    assert len(shared["inbound_nodes"]) == 2
    rebuilt = ember.Model.from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config


def test_ops_outside_layers_cannot_be_saved_as_config():
    a = ember.Input((3,))
    model = ember.Model(a, layers.Dense(2)(a) * 2.0)
    with pytest.raises(NotImplementedError, match="Lambda"):
        model.get_config()
