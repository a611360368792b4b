"""ember.saving: the config-dict form of objects (Keras 3's `keras.saving` format)."""
from ember.saving.serialization import deserialize_object, serialize_object

__all__ = ["deserialize_object", "serialize_object"]
