"""ember.saving: model files (save_model/load_model, save_weights/load_weights) and the config-dict
form of objects (Keras 3's `keras.saving` format)."""
from ember.saving.file_format import FileFormatError
from ember.saving.model_io import load_model, load_weights, save_model, save_weights
from ember.saving.serialization import deserialize_object, serialize_object

__all__ = ["FileFormatError", "deserialize_object", "load_model", "load_weights", "save_model",
           "save_weights", "serialize_object"]
