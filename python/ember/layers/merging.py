"""Merge layers (Keras 3's keras.layers.merging): Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot, and their functional forms add(), subtract(), ... dot().

Each takes a list of tensors. Elementwise merges broadcast as Keras does: the shapes without
the batch axis are aligned from the right, an extent of 1 stretches, and inputs of lower rank
get axes inserted after the batch axis.
"""
from ember import ops
from ember.layers.layer import Layer


def _is_shape(s):
    return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, int) for d in s)


def _describe(shapes):
    return [tuple(s) for s in shapes]


class Merge(Layer):
    """Base of the elementwise merges: checks the list of inputs and their shapes in build."""

    _min_inputs = 1

    def _check_list(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
                _is_shape(s) for s in input_shape):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. Received: "
                f"input_shape={input_shape} (not a list of shapes)")
        if len(input_shape) < self._min_inputs:
            raise ValueError(
                f"A `{type(self).__name__}` layer should be called on a list of at least "
                f"{self._min_inputs} inputs. Received {len(input_shape)} inputs. Full "
                f"input_shape received: {_describe(input_shape)}")

    def build(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                "Cannot merge tensors with different batch sizes. Received tensors with shapes "
                f"{_describe(input_shape)}")
        self._merged_shape(input_shape)  # raises on incompatible shapes
        self.built = True

    def _merged_shape(self, input_shapes):
        """Broadcast of the shapes without their batch axis (Keras's elementwise rule)."""
        out = tuple(input_shapes[0][1:])
        for s in input_shapes[1:]:
            out = _elementwise_shape(out, tuple(s[1:]))
        return out

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        batch = batch_sizes.pop() if len(batch_sizes) == 1 else None
        return (batch,) + self._merged_shape(input_shape)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. Received: inputs={inputs} "
                "(not a list of tensors)")
        ranks = [len(x.shape) for x in inputs]
        if len(set(ranks)) > 1:  # Keras: expand lower-rank inputs at axis 1 until ranks agree
            top = max(ranks)
            expanded = []
            for x, r in zip(inputs, ranks):
                for _ in range(top - r):
                    x = ops.expand_dims(x, 1)
                expanded.append(x)
            inputs = expanded
        return self._merge_function(list(inputs))

    def _merge_function(self, inputs):
        raise NotImplementedError

    def compute_mask(self, inputs, previous_mask):
        """Keras: a step is valid where it is valid in every masked input."""
        masks = _check_masks(inputs, previous_mask)
        if masks is None:
            return None
        return _fold(ops.logical_and, [m for m in masks if m is not None])


def _check_masks(inputs, masks):
    """The list of masks, or None when no input is masked; raises on a malformed mask list."""
    if masks is None:
        return None
    if not isinstance(masks, (list, tuple)):
        raise ValueError(f"`mask` should be a list. Received mask={masks}")
    if len(masks) != len(inputs):
        raise ValueError(
            "The lists `inputs` and `mask` should have the same length. Received: "
            f"{len(inputs)} inputs and {len(masks)} masks")
    if all(m is None for m in masks):
        return None
    return list(masks)


def _elementwise_shape(shape1, shape2):
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return shape1
    out = list(shape1[:-len(shape2)])
    for i, j in zip(shape1[-len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ValueError(
                f"Inputs have incompatible shapes. Received shapes {shape1} and {shape2}")
    return tuple(out)


def _fold(op, inputs):
    out = inputs[0]
    for x in inputs[1:]:
        out = op(out, x)
    return out


class Add(Merge):
    def _merge_function(self, inputs):
        return _fold(ops.add, inputs)


class Subtract(Merge):
    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                "A `Subtract` layer should be called on exactly 2 inputs. Received: "
                f"input_shape={_describe(input_shape)}")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs. Received "
                f"{len(inputs)} inputs")
        return ops.subtract(inputs[0], inputs[1])


class Multiply(Merge):
    def _merge_function(self, inputs):
        return _fold(ops.multiply, inputs)


class Average(Merge):
    def _merge_function(self, inputs):
        return ops.divide(_fold(ops.add, inputs), float(len(inputs)))


class Maximum(Merge):
    def _merge_function(self, inputs):
        return _fold(ops.maximum, inputs)


class Minimum(Merge):
    def _merge_function(self, inputs):
        return _fold(ops.minimum, inputs)


class Concatenate(Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"Concatenate '{self.name}': expected an integer `axis`, received "
                            f"{axis!r}")
        self.axis = axis

    def build(self, input_shape):
        self._check_list(input_shape)
        self._output_shape(input_shape)  # raises on mismatched shapes
        self.built = True

    def _output_shape(self, input_shapes):
        shapes = [tuple(s) for s in input_shapes]
        error = ("A `Concatenate` layer requires inputs with matching shapes except for the "
                 f"concatenation axis. Received: input_shape={shapes}")
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError(error)
        if not -rank <= self.axis < rank:
            raise ValueError(f"A `Concatenate` layer got axis={self.axis}, out of range for "
                             f"inputs of rank {rank}. Received: input_shape={shapes}")
        axis = self.axis % rank
        for d in range(rank):  # unknown extents match anything, as in Keras
            if d != axis and len({s[d] for s in shapes} - {None}) > 1:
                raise ValueError(error)
        out = list(shapes[0])
        extents = [s[axis] for s in shapes]
        out[axis] = None if None in extents else sum(extents)
        return tuple(out)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        return self._output_shape(input_shape)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                "A `Concatenate` layer should be called on a list of inputs. Received: "
                f"inputs={inputs}")
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, previous_mask):
        """Keras: each input's mask broadcast to its shape (all ones when unmasked), concatenated
        along the axis, then valid where any feature is."""
        masks = _check_masks(inputs, previous_mask)
        if masks is None:
            return None
        full = []
        for x, m in zip(inputs, masks):
            zeros = ops.multiply(x, 0.0)
            if m is None:
                full.append(ops.add(zeros, 1.0))
            elif len(m.shape) < len(x.shape):
                full.append(ops.maximum(ops.expand_dims(m, -1), zeros))
            else:
                full.append(m)
        return ops.any(ops.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Dot(Merge):
    """Dot product of the samples of two tensors along `axes` (Keras's batch_dot)."""

    def compute_mask(self, inputs, previous_mask):
        return None

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int) or isinstance(axes, bool):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(
                    f"Dot '{self.name}': invalid type for argument `axes`: it should be a list "
                    f"or an int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError(
                    f"Dot '{self.name}': invalid format for argument `axes`: it should contain "
                    f"two elements. Received: axes={axes}")
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(
                    f"Dot '{self.name}': invalid format for argument `axes`: list elements "
                    f"should be integers. Received: axes={axes}")
            axes = tuple(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, shape1, shape2):
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        out = []
        for a, s in zip(pair, (shape1, shape2)):
            if not -len(s) <= a < len(s):
                raise ValueError(
                    f"Dot '{self.name}': axes={self.axes} is out of range for input shapes "
                    f"{tuple(shape1)} and {tuple(shape2)}")
            out.append(a % len(s))
        return out

    def _check(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
                _is_shape(s) for s in input_shape):
            raise ValueError(
                f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                f"input_shape={input_shape}")
        shape1, shape2 = (tuple(s) for s in input_shape)
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(
                f"Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes "
                f"{shape1} and {shape2}.")
        if shape1[0] is not None and shape2[0] is not None and shape1[0] != shape2[0]:
            raise ValueError(
                f"Cannot do batch_dot on inputs with different batch sizes. Received inputs "
                f"with shapes {shape1} and {shape2}.")
        a1, a2 = self._resolved_axes(shape1, shape2)
        if a1 == 0 or a2 == 0:
            raise ValueError(
                f"Dot '{self.name}': cannot perform batch_dot over axis 0 (the batch axis). "
                f"Received axes={self.axes} for input shapes {shape1} and {shape2}")
        d1, d2 = shape1[a1], shape2[a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f"Incompatible input shapes: axis values {d1} (at axis {a1}) != {d2} (at axis "
                f"{a2}). Full input shapes: {shape1}, {shape2}")
        return shape1, shape2, a1, a2

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shape1, shape2, a1, a2 = self._check(input_shape)
        s1, s2 = list(shape1), list(shape2)
        s1.pop(a1)
        s2.pop(a2)
        s2.pop(0)
        out = s1 + s2
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs. Received: "
                             f"inputs={inputs}")
        x1, x2 = inputs
        _, _, a1, a2 = self._check([tuple(x1.shape), tuple(x2.shape)])
        if self.normalize:
            x1, x2 = _l2_normalize(x1, a1), _l2_normalize(x2, a2)
        return _batch_dot(x1, x2, a1, a2)

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


_EPSILON = 1e-7  # keras.config.epsilon()


def _l2_normalize(x, axis):
    """x / max(||x||, epsilon) along `axis` (Keras's ops.normalize); the floor is applied to the
    squared norm, so an all-zero sample gets a finite gradient."""
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(square_sum, _EPSILON ** 2)))


def _batch_dot(x, y, a0, a1):
    """Keras's batch_dot for resolved axes (a0 of x, a1 of y, neither the batch axis): moves the
    summed axis of x last and that of y to axis 1, flattens the other axes into one, and runs
    one batched matmul."""
    x_ndim, y_ndim = len(x.shape), len(y.shape)
    orig_x_ndim, orig_y_ndim = x_ndim, y_ndim
    if x_ndim == 2:
        x = ops.expand_dims(x, 1)
        a0 += 1
        x_ndim += 1
    if y_ndim == 2:
        y = ops.expand_dims(y, 2)
        y_ndim += 1
    if a0 != x_ndim - 1:
        x = ops.transpose(x, [d for d in range(x_ndim) if d != a0] + [a0])
    if a1 != 1:
        y = ops.transpose(y, [0, a1] + [d for d in range(1, y_ndim) if d != a1])
    x_mid = tuple(x.shape[1:-1])
    y_trail = tuple(y.shape[2:])
    if x_ndim > 3:
        x = ops.reshape(x, (-1, _prod(x_mid), x.shape[-1]))
    if y_ndim > 3:
        y = ops.reshape(y, (-1, y.shape[1], _prod(y_trail)))
    result = ops.matmul(x, y)
    if x_ndim > 3 or y_ndim > 3:
        result = ops.reshape(result, (-1,) + x_mid + y_trail)
    if orig_x_ndim == 2:
        result = ops.squeeze(result, 1)
    elif orig_y_ndim == 2:
        result = ops.squeeze(result, -1)
    return result


def _prod(dims):
    out = 1
    for d in dims:
        if d is None:
            raise ValueError(f"Dot: the non-batch extents must be known, received {dims}")
        out *= d
    return out


# ---- functional forms ------------------------------------------------------------------------
def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
