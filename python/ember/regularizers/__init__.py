"""Weight regularizers (Keras 3's `keras.regularizers`)."""

import inspect

from ember.regularizers.regularizers import L1, L1L2, L2, Regularizer
from ember.saving import deserialize_object, serialize_object

# Function-style aliases, as `keras.regularizers.l1`, `l2`, `l1_l2`.
l1 = L1
l2 = L2
l1_l2 = L1L2

ALL_OBJECTS = (Regularizer, L1, L2, L1L2)

# The names `get` understands: class names, their snake_case forms ("l1l2" as Keras derives
# it) and the exported alias "l1_l2".
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
                         "l1_l2": L1L2})


def serialize(regularizer):
    """Returns the configuration of a regularizer as a JSON-serializable dict:
    `{'module', 'class_name', 'config', 'registered_name'}` as Keras writes it."""
    return serialize_object(regularizer, "ember.regularizers", ALL_OBJECTS_DICT)


def deserialize(config, custom_objects=None):
    """Returns a regularizer from the output of `serialize` (or a Keras config dict).

    Args:
        config: dict with `class_name` and `config` keys.
        custom_objects: optional dict mapping names to user-defined regularizer classes.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "regularizer", custom_objects)


def get(identifier):
    """Retrieves a regularizer.

    Args:
        identifier: None; a name ("l1", "l2", "l1_l2", "L1", ...; the factor is then the
            class default, 0.01 for L1 and L2); a config dict as returned by `serialize`; a
            Regularizer instance (returned as is) or class (instantiated); or a callable
            `f(weight) -> scalar`.

    Returns:
        A regularizer (or the callable), or None if `identifier` is None.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
        if obj is None:
            raise ValueError(
                f"Could not interpret regularizer identifier: {identifier!r}. "
                f"Expected one of {sorted(ALL_OBJECTS_DICT)}."
            )
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(
        f"Could not interpret regularizer identifier: {identifier!r}. Expected a name, a "
        "config dict, a Regularizer or a callable."
    )


__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "L1",
    "L1L2",
    "L2",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "serialize",
]
