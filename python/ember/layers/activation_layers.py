"""Activation layers with arguments (Keras 3's keras.layers.activations): ReLU, LeakyReLU,
PReLU, ELU, Softmax."""
import warnings

import numpy as np

from ember import activations, initializers, ops, regularizers
from ember.activations.extra import greater_mask
from ember.backend.symbolic import SymbolicTensor
from ember.layers.layer import Layer


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class ReLU(Layer):
    """max(x, 0) with an optional cap `max_value`, a slope below `threshold`, and the
    threshold under which values are zeroed (Keras's activations.relu)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if max_value is not None and (not _is_number(max_value) or max_value < 0.0):
            raise ValueError(
                f"ReLU '{self.name}': max_value cannot be a negative value. Received: "
                f"max_value={max_value}")
        if not _is_number(negative_slope) or negative_slope < 0.0:
            raise ValueError(
                f"ReLU '{self.name}': negative_slope cannot be None or a negative value. "
                f"Received: negative_slope={negative_slope}")
        if not _is_number(threshold) or threshold < 0.0:
            raise ValueError(
                f"ReLU '{self.name}': threshold cannot be None or a negative value. Received: "
                f"threshold={threshold}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x below (Keras 3's layer default slope is 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated. Use `negative_slope` "
                          "instead.")
        super().__init__(**kwargs)
        self.supports_masking = True
        if not _is_number(negative_slope) or negative_slope < 0:
            raise ValueError(
                f"LeakyReLU '{self.name}': the negative_slope value cannot be None or a "
                f"negative value. Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class PReLU(Layer):
    """relu(x) - alpha * relu(-x) with a learned `alpha` per element, shared along
    `shared_axes` (e.g. shared_axes=[1, 2] for one alpha per channel of an image)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if alpha_constraint is not None:
            raise NotImplementedError(
                f"PReLU '{self.name}': `alpha_constraint` is not supported by ember yet")
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        param_shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if not 1 <= a < rank:
                raise ValueError(
                    f"PReLU '{self.name}': shared_axes {self.shared_axes} must name axes in "
                    f"1..{rank - 1} of an input of shape {input_shape}")
            param_shape[a - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"PReLU '{self.name}': the extents of the unshared axes must be known, received "
                f"input shape {input_shape} with shared_axes={self.shared_axes}")
        self._input_rank = rank
        self.alpha = self.add_weight(shape=param_shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer)
        self.built = True

    def call(self, inputs):
        if len(inputs.shape) != self._input_rank:
            raise ValueError(
                f"PReLU '{self.name}': expected an input of rank {self._input_rank} (as when "
                f"built), received shape {tuple(inputs.shape)}")
        positive = ops.relu(inputs)
        negative = ops.multiply(ops.negative(self.alpha), ops.relu(ops.negative(inputs)))
        return ops.add(positive, negative)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        })
        return config


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) below."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not _is_number(alpha):
            raise ValueError(f"ELU '{self.name}': expected a number for `alpha`, received "
                             f"{alpha!r}")
        self.alpha = float(alpha)

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        # Keras's ELU leaves alpha out of its config (and so loses it on reload); ember keeps
        # it, and Keras's ELU(alpha=...) still accepts the result.
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


_MASKED_LOGIT = -1e9  # Keras's large negative number for float32/float64


class Softmax(Layer):
    """Softmax over `axis` (an int or a list of axes), with an optional `mask` at call time:
    masked positions get probability 0 (as Keras: logits -1e9, then zeroed)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if isinstance(axis, (list, tuple)):
            if not axis or not all(isinstance(a, int) for a in axis):
                raise ValueError(f"Softmax '{self.name}': expected an int or a non-empty list of "
                                 f"ints for `axis`, received {axis!r}")
            axis = list(axis)
        elif not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"Softmax '{self.name}': expected an int or a list of ints for "
                             f"`axis`, received {axis!r}")
        self.axis = axis

    def call(self, inputs, mask=None):
        rank = len(inputs.shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank for a in axes):
            raise ValueError(f"Softmax '{self.name}': axis {self.axis} is out of range for an "
                             f"input of shape {tuple(inputs.shape)}")
        keep = None
        if mask is not None:
            keep = self._mask_weights(inputs, mask)
            # x where kept, -1e9 where masked, without a select op: x*1 + 0 and x*0 - 1e9.
            inputs = ops.add(ops.multiply(inputs, keep),
                             ops.multiply(ops.subtract(keep, 1.0), -_MASKED_LOGIT))
        if len(axes) == 1:
            outputs = ops.softmax(inputs, axis=axes[0])
        else:  # exp(x - logsumexp(x)) over several axes
            top = ops.max(inputs, axis=axes, keepdims=True)
            shifted = ops.subtract(inputs, top)
            log_sum = ops.log(ops.sum(ops.exp(shifted), axis=axes, keepdims=True))
            outputs = ops.exp(ops.subtract(shifted, log_sum))
        if keep is not None:  # a fully masked row gives zeros, not a uniform distribution
            outputs = ops.multiply(outputs, keep)
        return outputs

    def _mask_weights(self, inputs, mask):
        """The mask as 1.0 (keep) / 0.0 (masked) in the input's dtype: True or > 0.5 keeps."""
        in_shape = tuple(inputs.shape)
        m_shape = tuple(mask.shape) if hasattr(mask, "shape") else np.shape(mask)
        broadcastable = len(m_shape) <= len(in_shape) and all(
            m is None or i is None or m in (1, i) for m, i in zip(m_shape[::-1], in_shape[::-1]))
        if not broadcastable:
            raise ValueError(
                f"Softmax '{self.name}': the mask must be broadcastable to the inputs: each mask "
                f"dimension must be 1 or match the input's, and the mask must not have more "
                f"dimensions. Received: inputs.shape={in_shape}, mask.shape={m_shape}")
        if isinstance(mask, SymbolicTensor):
            if mask.dtype != inputs.dtype:
                raise TypeError(
                    f"Softmax '{self.name}': a symbolic mask must have the inputs' dtype "
                    f"{inputs.dtype} (1 keeps, 0 masks), received {mask.dtype}")
            return greater_mask(mask, 0.5)
        m = np.asarray(mask)
        m = m if m.dtype == bool else m > 0.5
        return m.astype(getattr(inputs, "dtype", "float32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
