"""ember.saving: model files (save_model/load_model, save_weights/load_weights) and the config-dict
form of objects (Keras 3's `keras.saving` format)."""
from ember.saving.file_format import FileFormatError
from ember.saving.model_io import load_model, load_weights, save_model, save_weights
from ember.saving.serialization import (
    deserialize_object, get_registered_name, get_registered_object, register_serializable,
    serialize_object,
)

register_keras_serializable = register_serializable  # Keras's name

__all__ = ["FileFormatError", "deserialize_object", "get_registered_name",
           "get_registered_object", "load_model", "load_weights", "register_keras_serializable",
           "register_serializable", "save_model", "save_weights", "serialize_object"]
