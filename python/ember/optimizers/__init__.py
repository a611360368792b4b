"""ember.optimizers: Keras 3 optimizers, updated in C++ over one parameter arena."""
from ember.optimizers import schedules
from ember.optimizers.optimizer import Optimizer
from ember.optimizers.rules import SGD, Adagrad, Adam, AdamW, RMSprop
from ember.saving import deserialize_object, serialize_object

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get",
           "serialize", "deserialize"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"unknown optimizer '{identifier}'; valid names: {sorted(_BY_NAME)}"
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"could not interpret optimizer {identifier!r}")


def serialize(optimizer):
    return serialize_object(optimizer, "ember.optimizers", _CLASSES)


def deserialize(config, custom_objects=None):
    return deserialize_object(config, _CLASSES, "optimizer", custom_objects)
