"""TensorSpec: the shape and dtype of one array of a dataset element (as tf.TensorSpec)."""

import numpy as np

from ember.data.structure import flatten, unflatten


class TensorSpec:
    """Describes one component of a dataset element; `None` marks a dimension that varies.

    Used for `Dataset.from_generator(output_signature=...)`, which checks and casts every
    generated element against it, and returned (in the element's structure) by
    `Dataset.element_spec`.

    Args:
        shape: a tuple of ints or None (e.g. `(None, 28, 28)`).
        dtype: a NumPy dtype or its name; default "float32".
        name: an optional name, kept for the user.
    """

    __slots__ = ("dtype", "name", "shape")

    def __init__(self, shape, dtype="float32", name=None):
        try:
            dims = tuple(shape)
        except TypeError:
            raise TypeError(
                f"TensorSpec: expected `shape` to be a tuple of ints or None, received {shape!r}"
            ) from None
        for dim in dims:
            if dim is not None and (
                isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0
            ):
                raise ValueError(
                    f"TensorSpec: expected non-negative int or None dimensions, received "
                    f"shape {shape!r}"
                )
        self.shape = tuple(None if dim is None else int(dim) for dim in dims)
        self.dtype = np.dtype(dtype)
        self.name = name

    @classmethod
    def from_value(cls, value):
        """The spec of one concrete array (or NumPy scalar)."""
        return cls(np.shape(value), np.asarray(value).dtype)

    def is_compatible_with(self, value):
        """Whether an array or spec has this dtype, this rank and agrees on every known dim."""
        shape = value.shape if isinstance(value, TensorSpec) else np.shape(value)
        dtype = value.dtype if isinstance(value, TensorSpec) else np.asarray(value).dtype
        return dtype == self.dtype and _shapes_agree(self.shape, shape)

    def most_specific_common(self, other):
        """The spec both self and other satisfy (dims that differ become None), or None if the
        dtypes or ranks differ."""
        if self.dtype != other.dtype or len(self.shape) != len(other.shape):
            return None
        shape = tuple(a if a == b else None for a, b in zip(self.shape, other.shape))
        return TensorSpec(shape, self.dtype)

    def __eq__(self, other):
        if not isinstance(other, TensorSpec):
            return NotImplemented
        return (self.shape, self.dtype, self.name) == (other.shape, other.dtype, other.name)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.name))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"


def _shapes_agree(spec_shape, shape):
    return len(spec_shape) == len(shape) and all(
        want is None or want == got for want, got in zip(spec_shape, shape)
    )


def spec_of(element):
    """The element's structure with every array replaced by its TensorSpec."""
    leaves, treedef = flatten(element)
    return unflatten(treedef, [TensorSpec.from_value(leaf) for leaf in leaves])
