"""Random initializers, with Keras 3's names, defaults and formulas.

Randomness comes from `ember.utils.rng`: an initializer given an integer `seed` returns the same
values on every call; one without a seed draws a fresh seed from `next_seed()` on every call, so
two layers built with the same unseeded initializer differ, and `set_random_seed` makes a whole
run reproducible.
"""

import math

import numpy as np

from ember.initializers.initializer import (
    Initializer,
    standardize_float_dtype,
    standardize_shape,
)
from ember.utils import rng

# Standard deviation of a unit normal truncated to [-2, 2]: dividing by it makes the truncated
# distribution have the requested standard deviation.
_TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978


def _sample_dtype(dtype):
    # NumPy's generators draw float32 or float64 only; narrower floats are drawn as float32.
    return np.float64 if dtype == np.float64 else np.float32


def _normal(gen, shape, dtype):
    return gen.standard_normal(size=shape, dtype=_sample_dtype(dtype))


def _truncated_normal(gen, shape, dtype):
    """Unit normal values; those more than 2 from 0 are discarded and drawn again."""
    z = _normal(gen, shape, dtype)
    flat = z.reshape(-1)
    redraw = np.flatnonzero(np.abs(flat) > 2.0)
    while redraw.size:
        flat[redraw] = gen.standard_normal(size=redraw.size, dtype=flat.dtype)
        redraw = redraw[np.abs(flat[redraw]) > 2.0]
    return z


def _uniform(gen, shape, dtype, minval, maxval):
    u = gen.random(size=shape, dtype=_sample_dtype(dtype))
    return u * (maxval - minval) + minval


class RandomInitializer(Initializer):
    """Base of the random initializers: holds and checks the seed."""

    def __init__(self, seed=None):
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
        ):
            raise ValueError(
                f"{type(self).__name__}: `seed` argument should be an integer or None. "
                f"Received: seed={seed!r}"
            )
        self.seed = None if seed is None else int(seed)

    def _generator(self):
        return rng.numpy_generator(self.seed)

    def _check(self, shape, dtype):
        name = type(self).__name__
        return standardize_shape(shape, name), standardize_float_dtype(dtype, name)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Draws samples from a normal distribution.

    Args:
        mean: mean of the values.
        stddev: standard deviation of the values.
        seed: integer for reproducible values, or None.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = self._check(shape, dtype)
        z = _normal(self._generator(), shape, dtype)
        return (z * self.stddev + self.mean).astype(dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Draws samples from a normal distribution truncated at two standard deviations: values
    more than two standard deviations from the mean are discarded and re-drawn.

    Args:
        mean: mean of the values.
        stddev: standard deviation of the normal distribution before truncation.
        seed: integer for reproducible values, or None.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = self._check(shape, dtype)
        z = _truncated_normal(self._generator(), shape, dtype)
        return (z * self.stddev + self.mean).astype(dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Draws samples from a uniform distribution in [minval, maxval).

    Args:
        minval: lower bound (inclusive).
        maxval: upper bound (exclusive).
        seed: integer for reproducible values, or None.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = self._check(shape, dtype)
        u = _uniform(self._generator(), shape, dtype, self.minval, self.maxval)
        return u.astype(dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None):
    """The number of input and output units of a weight shape, as Keras computes them.

    A 2D shape is (fan_in, fan_out); a convolution kernel (..., input_depth, depth) multiplies
    both by the receptive field size (the product of the leading dimensions).

    Args:
        shape: integer shape tuple.
        input_axes: optional axes holding the input units.
        output_axes: optional axes holding the output units.

    Returns:
        `(fan_in, fan_out)` as ints.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = 1
        for axis in input_axes:
            fan_in *= shape[axis]
        fan_out = 1
        for axis in output_axes:
            fan_out *= shape[axis]
        return int(fan_in), int(fan_out)
    if len(shape) < 1:  # Just to avoid errors for constants.
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in = shape[0]
        fan_out = shape[1]
    else:
        # Convolution kernels (2D, 3D, or more): (..., input_depth, depth).
        receptive_field_size = 1
        for dim in shape[:-2]:
            receptive_field_size *= dim
        fan_in = shape[-2] * receptive_field_size
        fan_out = shape[-1] * receptive_field_size
    return int(fan_in), int(fan_out)


class VarianceScaling(RandomInitializer):
    """Initializer that adapts its scale to the shape of the weights.

    With `distribution="truncated_normal"` or `"untruncated_normal"`, values are drawn from a
    (truncated) normal distribution with mean 0 and standard deviation (after truncation)
    `sqrt(scale / n)`; with `"uniform"`, from `[-limit, limit]` with `limit = sqrt(3 * scale /
    n)`. `n` is the number of input units (`mode="fan_in"`), output units (`"fan_out"`) or
    their average (`"fan_avg"`).

    Args:
        scale: scaling factor (positive float).
        mode: one of "fan_in", "fan_out", "fan_avg".
        distribution: one of "truncated_normal" (alias "normal"), "untruncated_normal",
            "uniform".
        seed: integer for reproducible values, or None.
        input_axes: optional axes of the weight counted as input units.
        output_axes: optional axes of the weight counted as output units.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        if scale <= 0.0:
            raise ValueError(
                f"{type(self).__name__}: argument `scale` must be a positive float. "
                f"Received: scale={scale}"
            )
        allowed_modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in allowed_modes:
            raise ValueError(
                f"{type(self).__name__}: invalid `mode` argument: {mode!r}. "
                f"Please use one of {allowed_modes}"
            )
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        allowed_distributions = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in allowed_distributions:
            raise ValueError(
                f"{type(self).__name__}: invalid `distribution` argument: {distribution!r}. "
                f"Please use one of {allowed_distributions}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = self._check(shape, dtype)
        scale = self.scale
        fan_in, fan_out = compute_fans(
            shape, input_axes=self.input_axes, output_axes=self.output_axes
        )
        if self.mode == "fan_in":
            scale /= max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale /= max(1.0, fan_out)
        else:
            scale /= max(1.0, (fan_in + fan_out) / 2.0)
        gen = self._generator()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV_CORRECTION
            values = _truncated_normal(gen, shape, dtype) * stddev
        elif self.distribution == "untruncated_normal":
            values = _normal(gen, shape, dtype) * math.sqrt(scale)
        else:
            limit = math.sqrt(3.0 * scale)
            values = _uniform(gen, shape, dtype, -limit, limit)
        return values.astype(dtype, copy=False)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the subclass."""

    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            scale=self._scale,
            mode=self._mode,
            distribution=self._distribution,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """The Glorot (Xavier) uniform initializer: uniform in `[-limit, limit]` with
    `limit = sqrt(6 / (fan_in + fan_out))`. Reference: Glorot et al., 2010."""

    _scale, _mode, _distribution = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """The Glorot (Xavier) normal initializer: truncated normal with
    `stddev = sqrt(2 / (fan_in + fan_out))`. Reference: Glorot et al., 2010."""

    _scale, _mode, _distribution = 1.0, "fan_avg", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """The LeCun uniform initializer: uniform in `[-limit, limit]` with
    `limit = sqrt(3 / fan_in)`. Reference: Klambauer et al., 2017."""

    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """The LeCun normal initializer: truncated normal with `stddev = sqrt(1 / fan_in)`.
    Reference: Klambauer et al., 2017."""

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """The He uniform initializer: uniform in `[-limit, limit]` with
    `limit = sqrt(6 / fan_in)`. Reference: He et al., 2015."""

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    """The He normal initializer: truncated normal with `stddev = sqrt(2 / fan_in)`.
    Reference: He et al., 2015."""

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """Initializer that generates an orthogonal matrix.

    A 2D shape gets the Q factor of the QR decomposition of a matrix of normal values (with
    orthogonal rows if it has fewer rows than columns, orthogonal columns otherwise). A shape
    of more dimensions is treated as a `(shape[0] * ... * shape[-2], shape[-1])` matrix and
    reshaped. Reference: Saxe et al., 2014.

    Args:
        gain: multiplicative factor applied to the orthogonal matrix.
        seed: integer for reproducible values, or None.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = self._check(shape, dtype)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal: the tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        num_rows = 1
        for dim in shape[:-1]:
            num_rows *= dim
        num_cols = shape[-1]
        flat_shape = (max(num_cols, num_rows), min(num_cols, num_rows))
        # The QR decomposition is done in float64 whatever the output dtype, for accuracy.
        a = self._generator().standard_normal(size=flat_shape)
        q, r = np.linalg.qr(a)
        # Make Q uniformly distributed (fix the sign ambiguity of the decomposition).
        q *= np.sign(np.diag(r))
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}
