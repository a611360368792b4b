"""ember.layers: Keras 3 layers."""
from ember.layers.activation import Activation
from ember.layers.dense import Dense
from ember.layers.dropout import Dropout
from ember.layers.input_layer import Input, InputLayer
from ember.layers.layer import Layer
from ember.layers.reshaping import Flatten, Reshape

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer", "Reshape"]


def serialize(layer):
    return {"module": "ember.layers", "class_name": type(layer).__name__,
            "config": layer.get_config()}


def deserialize(config, custom_objects=None):
    classes = {name: globals()[name] for name in __all__ if name != "Input"}
    classes.update(custom_objects or {})
    name = config["class_name"]
    if name not in classes:
        raise ValueError(
            f"unknown layer class '{name}'; known: {sorted(classes)} (pass custom_objects for "
            "your own layers)"
        )
    return classes[name].from_config(config["config"])
