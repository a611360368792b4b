"""Discretization: buckets continuous values by ranges (Keras 3 semantics and quantile adapt)."""
import numpy as np

from ember import ops
from ember.layers.preprocessing.adapt_data import batches, is_batch_iterable
from ember.layers.preprocessing.encoding import (
    OUTPUT_MODES, check_choice, encode_symbolic, reject_sparse,
)
from ember.layers.preprocessing.numeric_layer import NumericPreprocessingLayer


class Discretization(NumericPreprocessingLayer):
    """Places each value in one of `len(bin_boundaries) + 1` contiguous bins: bin i holds
    `bin_boundaries[i-1] <= x < bin_boundaries[i]` (the outer bins reach -inf and +inf; NaN
    goes to the last bin, as numpy.digitize). Built from ember.ops, so it runs inside a model.

    `bin_boundaries` are given, or learned as approximate quantiles by `adapt(data)` when
    `num_bins` is set (Keras's summary algorithm, with error tolerance `epsilon`; the same data
    gives the same boundaries as Keras). `output_mode`: "int" (bin indices, int32 as in Keras),
    or "one_hot" / "multi_hot" / "count" (float, `len(bin_boundaries) + 1` wide).
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        who = f"Discretization '{self.name}'"
        reject_sparse(sparse, who)
        check_choice(output_mode, OUTPUT_MODES, "output_mode", who)
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 0):
            raise ValueError(f"{who}: `num_bins` must be greater than or equal to 0. "
                             f"Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"{who}: both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: `num_bins={num_bins}` and "
                             f"`bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{who}: you need to set either `num_bins` or `bin_boundaries`.")
        if bin_boundaries is not None:
            bin_boundaries = _checked_boundaries(bin_boundaries, who)
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = False
        self.summary = None if bin_boundaries else np.array([[], []], dtype="float32")

    @property
    def output_dtype(self):
        return self.dtype if self.output_mode != "int" else "int32"

    # ---- adapt ----------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learns `num_bins - 1` boundaries as approximate quantiles of `data`: an array, or a
        dataset / iterable of batches (at most `steps` of them)."""
        who = f"Discretization '{self.name}'"
        if self.num_bins is None:
            raise ValueError(f"{who}: cannot adapt a Discretization layer that has been "
                             "initialized with `bin_boundaries`, use `num_bins` instead.")
        self.reset_state()
        if is_batch_iterable(data, lists_are_data=False):
            for batch in batches(data, who, steps):
                self.update_state(batch)
        else:
            self.update_state(data)
        if self.summary.shape[1] == 0:
            raise ValueError(f"{who}: adapt() received no values; it needs data to compute "
                             "quantiles from")
        self.finalize_state()

    def update_state(self, data):
        try:
            data = np.array(data).astype("float32")
        except (TypeError, ValueError):
            raise TypeError(f"Discretization '{self.name}': adapt() expects numeric data, "
                            f"received {type(data).__name__}") from None
        summary = summarize(data, self.epsilon)
        self.summary = merge_summaries(summary, self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is None:
            return
        self.bin_boundaries = get_bin_boundaries(self.summary, self.num_bins).tolist()

    def reset_state(self):
        if self.num_bins is None:
            return
        self.summary = np.array([[], []], dtype="float32")

    # ---- call -----------------------------------------------------------------------------
    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Discretization '{self.name}': you need to either pass the `bin_boundaries` "
                "argument at construction time or call `adapt(dataset)` before you can start "
                "using the `Discretization` layer.")
        x = inputs if str(inputs.dtype) == self.dtype else ops.cast(inputs, self.dtype)
        bounds = np.asarray(self.bin_boundaries, dtype=self.dtype)
        # digitize: the number of boundaries <= x, and NaN (x != x) past the last boundary.
        below = ops.greater_equal(ops.expand_dims(x, -1), bounds)
        indices = ops.sum(below, axis=-1)
        indices = ops.add(indices, ops.multiply(ops.not_equal(x, x), float(len(bounds))))
        return encode_symbolic(indices, self.output_mode, len(bounds) + 1, self.output_dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = (len(self.bin_boundaries) + 1 if self.bin_boundaries is not None
                 else self.num_bins)
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def get_config(self):
        config = {
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "name": self.name,
            "dtype": self.dtype,
        }
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            # After adapt both are set, which __init__ refuses: set the boundaries afterwards.
            bin_boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = _checked_boundaries(bin_boundaries, f"Discretization "
                                                                       f"'{layer.name}'")
            return layer
        return cls(**config)


def _checked_boundaries(values, who):
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1:
        raise ValueError(f"{who}: `bin_boundaries` must be a list of numbers, received "
                         f"{values!r}")
    if np.any(np.diff(array) < 0) or np.any(np.isnan(array)):
        raise ValueError(f"{who}: `bin_boundaries` must be sorted in increasing order, "
                         f"received {list(values)}")
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)]


# ---- Keras's quantile summaries (keras/src/layers/preprocessing/discretization.py) ------------
def summarize(values, epsilon):
    """A sorted sample of `values` about 1 / epsilon long, each point weighing `step` values:
    row 0 the values, row 1 their weights."""
    values = np.sort(np.reshape(values, [-1]))
    elements = np.size(values)
    num_buckets = 1.0 / epsilon
    increment = elements / num_buckets
    step = max(increment, 1)
    start = step - 1
    boundaries = values[int(start)::int(step)]
    weights = np.ones_like(boundaries) * step
    return np.stack([boundaries, weights])


def merge_summaries(prev_summary, next_summary, epsilon):
    """Weighted merge of two summaries, compressed back to within `epsilon`."""
    merged = np.concatenate((prev_summary, next_summary), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


def get_bin_boundaries(summary, num_bins):
    return compress_summary(summary, 1.0 / num_bins)[0, :-1]


def compress_summary(summary, epsilon):
    """Interpolates the cumulative weights at multiples of `epsilon`: the new points and their
    weights. A summary already shorter than 1 / epsilon is returned as it is."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    summary = np.stack((new_bins, new_weights))
    return summary.astype("float32")
