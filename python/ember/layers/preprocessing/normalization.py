"""Normalization: (x - mean) / sqrt(variance), per index of the kept axes (Keras 3 semantics)."""
import math

import numpy as np

from ember import ops
from ember.layers.preprocessing.adapt_data import batches, is_batch_iterable
from ember.layers.preprocessing.numeric_layer import NumericPreprocessingLayer

_EPSILON = 1e-7  # Keras's backend.epsilon(): the floor of sqrt(variance)


class Normalization(NumericPreprocessingLayer):
    """Shifts and scales inputs to mean 0 and standard deviation 1: `(x - mean) / sqrt(var)`
    (or back, with `invert=True`), computed with ember.ops, so it runs inside a model.

    `mean` and `variance` are either passed (then they are constants, not weights) or learned by
    `adapt(data)` into the non-trainable weights `mean`, `variance` and `count`. `data` is an
    array of all the data, or an `ember.data.Dataset` / iterable of batches (`(x, y)` batches
    contribute x). `axis` (int, tuple or None) names the axes with their own mean and variance;
    None normalizes by one scalar mean and variance.

    Differences from Keras: `count` (kept, as in Keras, only for compatibility and never updated)
    is a float scalar of the layer's dtype, because an ember model holds its weights in one
    arena of one dtype; Keras's is int32.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        if any(not isinstance(a, int) or isinstance(a, bool) for a in axis):
            raise ValueError(f"Normalization '{self.name}': `axis` must be an integer, a tuple "
                             f"of integers or None. Received: axis={axis}")
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        self._mean_const = None  # the given mean / variance, broadcast for the input
        self._variance_const = None
        if (mean is not None) != (variance is not None):
            raise ValueError(
                f"Normalization '{self.name}': when setting values directly, both `mean` and "
                f"`variance` must be set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    f"Normalization '{self.name}': when setting values directly, `mean` and "
                    f"`variance` must have the same shape. Received: mean shape "
                    f"{np.shape(mean)} and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"Normalization '{self.name}': the rank of `mean` must be less than or "
                    f"equal to the number of axes ({len(self.axis)}). Received: mean shape "
                    f"{np.shape(mean)} for axis {self.axis}")

    # ---- build ----------------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        self._build_input_shape = input_shape
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"Normalization '{self.name}': all `axis` values must be in the range "
                f"[-ndim, ndim). Received inputs with ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a if a >= 0 else a + ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(
                    f"Normalization '{self.name}': all `axis` values to be kept must have a "
                    f"known shape. Received axis={self.axis}, inputs.shape={input_shape}, with "
                    f"unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1
                                 for d in range(ndim)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance",
                                                  shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros",
                                         trainable=False)
        else:
            self._mean_const = self._broadcast_given(self.input_mean, ndim)
            self._variance_const = self._broadcast_given(self.input_variance, ndim)
        self.built = True

    def _broadcast_given(self, value, ndim):
        """Keras's alignment: a scalar broadcasts; otherwise the value's axes are matched to the
        kept axes from the right."""
        value = np.asarray(value, dtype="float64")
        expanded = [1] * ndim
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        try:
            out = np.broadcast_to(value.reshape(expanded), self._broadcast_shape)
        except ValueError:
            raise ValueError(
                f"Normalization '{self.name}': `mean`/`variance` of shape {value.shape} cannot "
                f"be broadcast to the kept axes of the input, shape "
                f"{tuple(self._broadcast_shape)}") from None
        return np.ascontiguousarray(out, dtype=self.dtype)

    # ---- adapt ----------------------------------------------------------------------------
    def adapt(self, data):
        """Computes the mean and variance of `data` per index of the kept axes (Keras's
        algorithm: one pass over a dataset, merging batch means and variances)."""
        if self.input_mean is not None:
            raise ValueError(f"Normalization '{self.name}': cannot adapt a layer created with "
                             "`mean` and `variance`")
        streamed = is_batch_iterable(data, lists_are_data=False)
        if streamed:
            stream = batches(data, f"Normalization '{self.name}'")
            first = np.asarray(next(stream))
            stream = _chain_first(first, stream)
            input_shape = first.shape
        else:
            data = np.asarray(data)
            input_shape = data.shape
        _check_numeric(self, data if not streamed else first)
        if not self.built:
            self.build(input_shape)
        else:
            self._check_kept_extents(input_shape)
        if not streamed:
            if data.size == 0:
                raise ValueError(f"Normalization '{self.name}': adapt() received empty data of "
                                 f"shape {data.shape}")
            total_mean = np.mean(data, axis=self._reduce_axis)
            total_var = np.var(data, axis=self._reduce_axis)
        else:
            total_mean = np.zeros(self._mean_and_var_shape, dtype=self.dtype)
            total_var = np.zeros(self._mean_and_var_shape, dtype=self.dtype)
            total_count = 0
            for batch in stream:
                batch = np.asarray(batch, dtype=self.dtype)
                _check_numeric(self, batch)
                self._check_kept_extents(batch.shape, batch=True)
                if batch.size == 0:
                    continue
                batch_mean = np.mean(batch, axis=self._reduce_axis)
                batch_var = np.var(batch, axis=self._reduce_axis)
                batch_count = math.prod(batch.shape[d] for d in self._reduce_axis)
                total_count += batch_count
                batch_weight = float(batch_count) / total_count
                existing_weight = 1.0 - batch_weight
                new_total_mean = total_mean * existing_weight + batch_mean * batch_weight
                # Lack-of-fit sum of squares: merges the two groups' variances exactly.
                total_var = ((total_var + (total_mean - new_total_mean) ** 2) * existing_weight
                             + (batch_var + (batch_mean - new_total_mean) ** 2) * batch_weight)
                total_mean = new_total_mean
            if total_count == 0:
                raise ValueError(f"Normalization '{self.name}': adapt() received only empty "
                                 "batches")
        self.adapt_mean.assign(np.asarray(total_mean, dtype=self.dtype).reshape(
            self._mean_and_var_shape))
        self.adapt_variance.assign(np.asarray(total_var, dtype=self.dtype).reshape(
            self._mean_and_var_shape))

    def _check_kept_extents(self, shape, batch=False):
        for d in self._keep_axis:
            if len(shape) != len(self._build_input_shape) or shape[d] != (
                    self._build_input_shape[d]):
                what = "a batch of" if batch else "data with"
                raise ValueError(
                    f"Normalization '{self.name}': the layer was built with input_shape="
                    f"{self._build_input_shape}, but adapt() received {what} an incompatible "
                    f"shape, data.shape={tuple(shape)}")

    # ---- call -----------------------------------------------------------------------------
    def call(self, inputs):
        if str(inputs.dtype) != self.dtype:  # Keras computes in the layer's dtype
            inputs = ops.cast(inputs, self.dtype)
        if self._mean_const is not None:
            mean, variance = self._mean_const, self._variance_const
        else:
            mean = ops.reshape(self.adapt_mean, self._broadcast_shape)
            variance = ops.reshape(self.adapt_variance, self._broadcast_shape)
        scale = ops.maximum(ops.sqrt(variance), _EPSILON)
        if self.invert:
            return ops.add(mean, ops.multiply(inputs, scale))
        return ops.divide(ops.subtract(inputs, mean), scale)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        })
        return config


def _chain_first(first, rest):
    yield first
    yield from rest


def _check_numeric(layer, data):
    a = np.asarray(data)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"Normalization '{layer.name}': adapt() expects numeric data, received "
                        f"an array of dtype {a.dtype}")
