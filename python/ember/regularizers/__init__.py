"""Weight regularizers (Keras 3's `keras.regularizers`)."""

import inspect

from ember.regularizers.regularizers import L1, L1L2, L2, Regularizer

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
    if regularizer is None:
        return None
    if not hasattr(regularizer, "get_config"):
        raise TypeError(
            "regularizers.serialize: expected a Regularizer instance (with get_config), "
            f"received {regularizer!r}"
        )
    cls = type(regularizer)
    builtin = ALL_OBJECTS_DICT.get(cls.__name__) is cls
    return {
        "module": "ember.regularizers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": regularizer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config, custom_objects=None):
    """Returns a regularizer from the output of `serialize` (or a Keras config dict).

    Args:
        config: dict with `class_name` and `config` keys.
        custom_objects: optional dict mapping names to user-defined regularizer classes.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "regularizers.deserialize: expected a dict with keys 'class_name' and 'config', "
            f"received {config!r}"
        )
    custom_objects = custom_objects or {}
    names = [config.get("registered_name"), config["class_name"]]
    cls = next((custom_objects[n] for n in names if n in custom_objects), None)
    if cls is None:
        cls = ALL_OBJECTS_DICT.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"regularizers.deserialize: unknown regularizer {config['class_name']!r}. "
            f"Expected one of {sorted(ALL_OBJECTS_DICT)}, or a class passed in "
            "`custom_objects`."
        )
    inner = config.get("config") or {}
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)


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
