"""Losses. Each built-in loss is one fused C++ op returning the batch mean
(Keras's default reduction, 'sum_over_batch_size'); a user function may return per-sample
values, which are averaged."""
from ember import ops
from ember.saving import deserialize_object, serialize_object


class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)`."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "auto", None, "mean"):
            raise ValueError(
                f"{type(self).__name__}: reduction '{reduction}' is not supported; ember "
                "supports 'sum_over_batch_size'"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = "sum_over_batch_size"
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{self.name}: sample_weight is not supported yet")
        value = self.call(y_true, y_pred)
        shape = value.shape if hasattr(value, "shape") else ()
        return ops.mean(value) if len(shape) > 0 else value

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

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

    def get_config(self):
        config = super().get_config()
        config.update(self.attrs)
        return config


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

_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                    CategoricalCrossentropy, SparseCategoricalCrossentropy)}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


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
