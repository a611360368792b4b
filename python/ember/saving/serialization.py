"""One serialize/deserialize pair for every family of configurable objects (initializers,
regularizers, losses, metrics, optimizers, layers), in Keras 3's dict format:
`{'module', 'class_name', 'config', 'registered_name'}`."""


# User classes registered with @register_serializable, by "package>name" (Keras's key).
_REGISTERED = {}


def register_serializable(package="Custom", name=None):
    """Class decorator: `deserialize` (and load_model) then find the class without
    custom_objects. The class is written with registered_name "package>name"."""
    def decorate(cls):
        key = f"{package}>{name or cls.__name__}"
        if key in _REGISTERED and _REGISTERED[key] is not cls:
            raise ValueError(f"{key} has already been registered to {_REGISTERED[key]}")
        if not hasattr(cls, "get_config"):
            raise ValueError(f"cannot register {cls.__name__}: it has no get_config() method")
        _REGISTERED[key] = cls
        cls._registered_name = key
        return cls
    return decorate


def get_registered_name(cls):
    return getattr(cls, "_registered_name", None) or cls.__name__


def get_registered_object(name, custom_objects=None):
    custom_objects = custom_objects or {}
    return custom_objects.get(name) or _REGISTERED.get(name)


def serialize_object(obj, module, registry):
    """The config dict of `obj` (None for None).

    Args:
        obj: an object with `get_config()`.
        module: the public module of the family's built-in classes, e.g. "ember.losses".
        registry: the family's dict of names to built-in classes. A class found there under
            its own name is written as built-in (`module`, registered_name None); any other
            is written as custom (its own module, registered_name = its class name), which
            `deserialize_object` finds again through `custom_objects`.
    """
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"{module}.serialize: expected an object with a get_config() method, "
            f"received {obj!r}"
        )
    cls = type(obj)
    builtin = registry.get(cls.__name__) is cls
    return {
        "module": module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": None if builtin else get_registered_name(cls),
    }


def deserialize_object(config, registry, kind, custom_objects=None):
    """The object a config dict describes (the output of `serialize_object`, or Keras's).

    Args:
        config: dict with 'class_name' and optionally 'config' (the constructor arguments)
            and 'registered_name'.
        registry: the family's dict of names to built-in classes.
        kind: what the family is called in errors, e.g. "loss".
        custom_objects: optional dict of names to user classes; looked up first, by
            registered_name and then by class_name, so a user class may shadow a built-in.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"cannot deserialize {kind}: expected a dict with keys 'class_name' and 'config', "
            f"received {config!r}"
        )
    custom_objects = custom_objects or {}
    name = config["class_name"]
    keys = (config.get("registered_name"), name)
    cls = next((custom_objects[k] for k in keys if k in custom_objects), None)
    if cls is None and config.get("registered_name") in _REGISTERED:
        cls = _REGISTERED[config["registered_name"]]
    if cls is None:
        cls = registry.get(name)
    if cls is None:
        raise ValueError(
            f"unknown {kind} {name!r}; expected one of {sorted(registry)}, or a class passed "
            "in `custom_objects`"
        )
    inner = config.get("config") or {}
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)
