"""Nested dataset elements: an element is an array, or tuples/lists/dicts nesting arrays.

Stages work on the flat list of leaves plus a "treedef" that records the nesting, so that
batching, slicing and checking are loops over leaves rather than recursive walks. A treedef is
None for a leaf, or (container type, dict keys or None, child treedefs); treedefs compare with
`==`. Dicts flatten in sorted key order (as tf.nest), so dicts with the same keys inserted in a
different order have the same treedef.
"""

import numbers

import numpy as np

_SCALAR_TYPES = (numbers.Number, str, bytes, np.generic)
_ARRAY_TYPES = (np.ndarray, np.generic)


def flatten(element):
    """Returns (leaves, treedef) of a nested element."""
    leaves = []
    treedef = _flatten_into(element, leaves)
    return leaves, treedef


def _flatten_into(value, leaves):
    if isinstance(value, _ARRAY_TYPES):  # the common case first: this runs for every element
        leaves.append(value)
        return None
    if isinstance(value, dict):
        keys = tuple(sorted(value))
        return (dict, keys, tuple([_flatten_into(value[key], leaves) for key in keys]))
    if isinstance(value, tuple) or (isinstance(value, list) and not _is_data_list(value)):
        return (type(value), None, tuple([_flatten_into(item, leaves) for item in value]))
    leaves.append(value)
    return None


def _is_data_list(value):
    """A list of numbers (or of such lists) is one array, not a structure.

    tf.data users write `from_tensor_slices([1, 2, 3])` and generators that yield `[0.5, 1.5]`;
    a list holding arrays, tuples or dicts is a structure, like a tuple.
    """
    return all(
        isinstance(item, _SCALAR_TYPES) or (isinstance(item, list) and _is_data_list(item))
        for item in value
    )


def unflatten(treedef, leaves):
    """Rebuilds the nesting `treedef` describes around `leaves` (the inverse of flatten)."""
    if treedef is None:
        return leaves[0]
    return _build(treedef, iter(leaves))


def _build(treedef, leaves):
    if treedef is None:
        return next(leaves)
    kind, keys, children = treedef
    values = [_build(child, leaves) for child in children]
    if kind is tuple:
        return tuple(values)
    if keys is not None:
        return dict(zip(keys, values))
    if hasattr(kind, "_fields"):  # a namedtuple takes its fields as arguments
        return kind(*values)
    return kind(values)


def leaf_paths(treedef, prefix="element"):
    """Names of the leaves in flatten order, e.g. "element[0]['image']", for error messages."""
    if treedef is None:
        return [prefix]
    _, keys, children = treedef
    labels = keys if keys is not None else range(len(children))
    paths = []
    for label, child in zip(labels, children):
        paths.extend(leaf_paths(child, f"{prefix}[{label!r}]"))
    return paths


def as_leaf(value):
    """Converts a leaf to NumPy: an array, or a NumPy scalar when it has no dimensions."""
    if isinstance(value, np.generic):
        return value
    array = np.asarray(value)
    return array[()] if array.ndim == 0 else array


def to_numpy(element):
    """Returns `element` with every leaf converted by `as_leaf`."""
    if isinstance(element, _ARRAY_TYPES):
        return element
    leaves, treedef = flatten(element)
    return unflatten(treedef, [as_leaf(leaf) for leaf in leaves])


def describe(element):
    """A short rendering of an element's structure, dtypes and shapes for error messages."""
    leaves, treedef = flatten(element)
    return _describe(treedef, iter(leaves))


def _describe(treedef, leaves):
    if treedef is None:
        leaf = np.asarray(next(leaves))
        return f"{leaf.dtype}{leaf.shape}"
    kind, keys, children = treedef
    parts = [_describe(child, leaves) for child in children]
    if keys is not None:
        return "{" + ", ".join(f"{key!r}: {part}" for key, part in zip(keys, parts)) + "}"
    if issubclass(kind, list):
        return "[" + ", ".join(parts) + "]"
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def leading_length(leaves, treedef, who):
    """Returns the first dimension the leaves share: the number of slices they make."""
    if not leaves:
        raise ValueError(
            f"{who}: expected at least one array to slice, received an empty structure"
        )
    for path, leaf in zip(leaf_paths(treedef), leaves):
        if np.ndim(leaf) == 0:
            raise ValueError(
                f"{who}: cannot slice {path}, a scalar; every component needs a first dimension "
                f"to slice along"
            )
    lengths = [np.shape(leaf)[0] for leaf in leaves]
    if any(length != lengths[0] for length in lengths):
        detail = ", ".join(f"{path}: {n}" for path, n in zip(leaf_paths(treedef), lengths))
        raise ValueError(
            f"{who}: expected all components to have the same first dimension, received "
            f"lengths {detail}"
        )
    return lengths[0]


def iter_slices(leaves, treedef, length):
    """Yields element i = the i-th row of every leaf, for i < length."""
    for i in range(length):
        yield unflatten(treedef, [leaf[i] for leaf in leaves])


def call_with_element(fn, element):
    """Calls a user function on an element: a tuple's components become positional arguments.

    As tf.data, only a plain tuple is unpacked (so `map(lambda x, y: ...)` works on (x, y)
    pairs); a dict, list or namedtuple is passed as one argument.
    """
    if type(element) is tuple:
        return fn(*element)
    return fn(element)
