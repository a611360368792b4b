"""ember.optimizers: Keras 3 optimizers, updated in C++ over one parameter arena."""
from ember.optimizers import schedules
from ember.optimizers.optimizer import Optimizer
from ember.optimizers.rules import SGD, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get",
           "serialize", "deserialize"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


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
    return {"module": "ember.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    classes = {c.__name__: c for c in _BY_NAME.values()}
    classes.update(custom_objects or {})
    cls = classes.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"unknown optimizer class {config.get('class_name')!r}")
    return cls.from_config(config.get("config", {}))
