"""Weight initializers (Keras 3's `keras.initializers`), each returning a NumPy array."""

import inspect
import re

import numpy as np

from ember.initializers.constant_initializers import Constant, Identity, Ones, Zeros
from ember.initializers.initializer import Initializer
from ember.initializers.random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomInitializer,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    compute_fans,
)
from ember.saving import deserialize_object, serialize_object

# Lower-case function-style aliases, as `keras.initializers.glorot_uniform` etc.
constant = Constant
identity = Identity
ones = Ones
zeros = Zeros
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling

ALL_OBJECTS = (
    Initializer,
    Constant,
    Identity,
    Ones,
    Zeros,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)


def _to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# The names `get` understands: class names, their snake_case forms and Keras's aliases.
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)


def serialize(initializer):
    """Returns the configuration of an initializer as a JSON-serializable dict:
    `{'module', 'class_name', 'config', 'registered_name'}` as Keras writes it."""
    return serialize_object(initializer, "ember.initializers", ALL_OBJECTS_DICT)


def deserialize(config, custom_objects=None):
    """Returns an initializer from the output of `serialize` (or a Keras config dict).

    Args:
        config: dict with `class_name` and `config` keys.
        custom_objects: optional dict mapping names to user-defined initializer classes.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "initializer", custom_objects)


def _array_initializer(value):
    """An initializer that returns a copy of a given array (shape must match)."""

    def initialize_fn(shape, dtype=None):
        if tuple(shape) != value.shape:
            raise ValueError(
                f"Expected `shape` to be {value.shape} for direct tensor as initializer. "
                f"Received shape={tuple(shape)}"
            )
        return np.array(value, dtype=dtype if dtype is not None else "float32")

    return initialize_fn


def get(identifier):
    """Retrieves an initializer.

    Args:
        identifier: None; a name such as "glorot_uniform", "he_normal" or "Zeros"
            (case-sensitive, as Keras); a config dict as returned by `serialize`; an
            Initializer instance (returned as is) or class (instantiated); a callable
            `f(shape, dtype=None)`; or a NumPy array, whose values are used directly.

    Returns:
        An initializer (or the callable), or None if `identifier` is None.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
        if obj is None:
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. "
                f"Expected one of {sorted(ALL_OBJECTS_DICT)}."
            )
    elif isinstance(identifier, (np.ndarray, np.generic)):
        obj = _array_initializer(np.asarray(identifier))
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(
        f"Could not interpret initializer identifier: {identifier!r}. Expected a name, a "
        "config dict, an Initializer, a callable or a NumPy array."
    )


__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]
