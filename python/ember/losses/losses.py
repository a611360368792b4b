"""Losses. The cross-entropies and squared/absolute errors are one fused C++ op returning the
batch mean (Keras's default reduction, 'sum_over_batch_size'); the others, and every loss under
sample weights or a mask, compute per-sample values (per_sample.py) that are then reduced as
Keras does. A user function may return per-sample values, which are averaged."""
from ember import ops
from ember.losses import per_sample
from ember.saving import deserialize_object, serialize_object


class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)`."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        reductions = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight",
                      "auto", None)
        if reduction not in reductions:
            raise ValueError(
                f"{type(self).__name__}: invalid reduction {reduction!r}; expected one of "
                f"{[r for r in reductions if r is not None]} or None"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = "sum_over_batch_size" if reduction == "auto" else reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        default = self.reduction in ("sum_over_batch_size", "mean")
        if sample_weight is None and mask is None and default:
            value = self.call(y_true, y_pred)
            shape = value.shape if hasattr(value, "shape") else ()
            return ops.mean(value) if len(shape) > 0 else value
        values = self.per_sample(y_true, y_pred)
        if default:
            return weighted_mean(values, sample_weight, mask, self.name)
        return reduce_values(values, sample_weight, mask, self.reduction, self.name)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def per_sample(self, y_true, y_pred):
        """The loss of each sample (Keras's loss function values), before the reduction."""
        return self.call(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A loss backed by one op (`op`, `attrs`): the form the trainer can fuse with softmax."""

    op = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None, **attrs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.attrs = attrs

    def call(self, y_true, y_pred):
        return ops.apply_op(self.op, [y_true, y_pred], self.attrs, cast=False)

    def per_sample(self, y_true, y_pred):
        return getattr(per_sample, self.op)(y_true, y_pred, **self.attrs)

    def get_config(self):
        config = super().get_config()
        config.update(self.attrs)
        return config


def _weighted(values, sample_weight, mask, who):
    """values * sample_weight * mask with Keras's rank alignment; returns (values, weights)."""
    rank = len(values.shape)
    weights = None
    if sample_weight is not None:
        if len(sample_weight.shape) > rank:
            raise ValueError(f"{who}: sample_weight of shape {tuple(sample_weight.shape)} has more "
                             f"dimensions than the per-sample losses {tuple(values.shape)}")
        weights = ops.cast(sample_weight, values.dtype)
        while len(weights.shape) < rank:
            weights = ops.expand_dims(weights, -1)
    if mask is not None:
        m = ops.cast(mask, values.dtype)
        while len(m.shape) < rank:
            m = ops.expand_dims(m, -1)
        weights = m if weights is None else ops.multiply(weights, m)
    if weights is not None:
        weights = ops.add(ops.multiply(values, 0.0), weights)  # broadcast to the values
        values = ops.multiply(values, weights)
    return values, weights


def reduce_values(values, sample_weight, mask, reduction, who):
    """Keras's 'sum', 'none' and 'mean_with_sample_weight' reductions of per-sample losses."""
    values, weights = _weighted(values, sample_weight, mask, who)
    if reduction in ("none", None):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if weights is None:  # mean_with_sample_weight without weights: the plain mean
        return ops.mean(values)
    return ops.divide(total, ops.maximum(ops.sum(weights), 1e-12))


def weighted_mean(values, sample_weight, mask, who):
    """Keras's 'sum_over_batch_size' of per-sample `values` under sample weights and a mask:
    mean(values * w), and with a mask sum(values * w * mask) / sum(mask) (masked entries count
    for nothing, not even in the denominator)."""
    rank = len(values.shape)
    if sample_weight is not None:
        w_rank = len(sample_weight.shape)
        if w_rank > rank:
            raise ValueError(f"{who}: sample_weight of shape {tuple(sample_weight.shape)} has more "
                             f"dimensions than the per-sample losses {tuple(values.shape)}")
        for _ in range(rank - w_rank):  # (batch,) weights over (batch, steps) losses
            sample_weight = ops.expand_dims(sample_weight, -1)
        values = ops.multiply(values, ops.cast(sample_weight, values.dtype))
    if mask is None:
        return ops.mean(values)
    mask = ops.cast(mask, values.dtype)
    while len(mask.shape) < rank:
        mask = ops.expand_dims(mask, -1)
    while len(mask.shape) > rank:  # a step mask over per-sample losses that lost that axis
        mask = ops.max(mask, axis=-1)
    total = ops.sum(ops.multiply(values, mask))
    valid = ops.sum(ops.add(ops.multiply(values, 0.0), mask))  # the mask broadcast to values
    return ops.divide(total, ops.maximum(valid, 1e-12))


class _PerSampleLoss(Loss):
    """A loss computed from elementwise ops (no fused op), with keyword arguments `fn_kwargs`."""

    fn = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None, **fn_kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn_kwargs = fn_kwargs

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self.fn_kwargs)
        return config


class Huber(_PerSampleLoss):
    fn = staticmethod(per_sample.huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype, delta=float(delta))


class LogCosh(_PerSampleLoss):
    fn = staticmethod(per_sample.log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_PerSampleLoss):
    fn = staticmethod(per_sample.kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Poisson(_PerSampleLoss):
    fn = staticmethod(per_sample.poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(_PerSampleLoss):
    fn = staticmethod(per_sample.cosine_similarity)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        _check_axis(self, axis)
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Hinge(_PerSampleLoss):
    fn = staticmethod(per_sample.hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_PerSampleLoss):
    fn = staticmethod(per_sample.squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_PerSampleLoss):
    fn = staticmethod(per_sample.categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(_PerSampleLoss):
    fn = staticmethod(per_sample.mean_squared_logarithmic_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_PerSampleLoss):
    fn = staticmethod(per_sample.mean_absolute_percentage_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanSquaredError(LossFunctionWrapper):
    op = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    op = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    op = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        _check_axis(self, axis)
        super().__init__(name=name, reduction=reduction, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class CategoricalCrossentropy(LossFunctionWrapper):
    op = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        _check_axis(self, axis)
        super().__init__(name=name, reduction=reduction, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    op = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None:
            raise NotImplementedError(f"{name}: ignore_class is not supported yet")
        super().__init__(name=name, reduction=reduction, dtype=dtype, from_logits=bool(from_logits))


def _check_axis(loss, axis):
    if axis != -1:
        raise NotImplementedError(f"{type(loss).__name__}: only axis=-1 is supported")


def _snake(name):
    import re
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


# Function forms, returning the batch mean (Keras's return per-sample values).
def mean_squared_error(y_true, y_pred):
    return MeanSquaredError()(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError()(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return BinaryCrossentropy(from_logits, label_smoothing, axis)(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return CategoricalCrossentropy(from_logits, label_smoothing, axis)(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    _check_axis(SparseCategoricalCrossentropy, axis)
    return SparseCategoricalCrossentropy(from_logits, ignore_class)(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

# The losses without a fused op: their function forms return per-sample values, as Keras's do.
huber = per_sample.huber
log_cosh = logcosh = per_sample.log_cosh
kl_divergence = kld = KLD = per_sample.kl_divergence
poisson = per_sample.poisson
cosine_similarity = per_sample.cosine_similarity
hinge = per_sample.hinge
squared_hinge = per_sample.squared_hinge
categorical_hinge = per_sample.categorical_hinge
mean_squared_logarithmic_error = msle = MSLE = per_sample.mean_squared_logarithmic_error
mean_absolute_percentage_error = mape = MAPE = per_sample.mean_absolute_percentage_error

_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "poisson": Poisson, "cosine_similarity": CosineSimilarity, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
}
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, Huber, LogCosh, KLDivergence, Poisson, CosineSimilarity,
    Hinge, SquaredHinge, CategoricalHinge, MeanSquaredLogarithmicError,
    MeanAbsolutePercentageError)}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              huber: Huber, log_cosh: LogCosh, kl_divergence: KLDivergence, poisson: Poisson,
              cosine_similarity: CosineSimilarity, hinge: Hinge, squared_hinge: SquaredHinge,
              categorical_hinge: CategoricalHinge,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
              mean_absolute_percentage_error: MeanAbsolutePercentageError}


def get(identifier):
    """A Loss object from a name, a class, a config dict, a Loss or a function."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(
            f"unknown loss '{identifier}'; valid names: {sorted(_BY_NAME)}"
        )
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return _UserLoss(identifier)
    raise ValueError(f"could not interpret loss {identifier!r}")


class _UserLoss(Loss):
    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def serialize(loss):
    return serialize_object(loss, "ember.losses", _CLASSES)


def deserialize(config, custom_objects=None):
    return deserialize_object(config, _CLASSES, "loss", custom_objects)
