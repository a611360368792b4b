"""Metric objects: stateful accumulators with Keras's update_state / result / reset_state."""
import numpy as np

from ember import ops
from ember.saving import deserialize_object, serialize_object


class Metric:
    _direction = None  # "up" or "down" where a metric knows which way is better
    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype or "float32"
        self.reset_state()

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def accumulate(self, value, weight):
        """Adds a batch mean `value` computed over `weight` samples."""
        self._total += float(value) * weight
        self._count += weight

    def record(self, values, batch_size):
        """Adds what the compiled step computed for one batch (here: its mean)."""
        self.accumulate(values[0], batch_size)

    def result(self):
        return self._total / self._count if self._count else 0.0

    def get_state(self):
        """The accumulated state as JSON-able values (checkpoints of an interrupted fit)."""
        return [self._total, self._count]

    def set_state(self, state):
        self._total, self._count = float(state[0]), float(state[1])

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """Weighted mean of the values given to update_state."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype="float64")
        if sample_weight is None:
            self.accumulate(values.mean() if values.size else 0.0, values.size)
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype="float64"), values.shape)
            self._total += float((values * w).sum())
            self._count += float(w.sum())


class MeanMetricWrapper(Metric):
    """A metric computed per batch by one C++ op (`op`, `attrs`) and averaged over samples."""

    op = None

    def __init__(self, name=None, dtype=None, **attrs):
        super().__init__(name=name, dtype=dtype)
        self.attrs = attrs

    def symbolic(self, y_true, y_pred):
        return ops.apply_op(self.op, [y_true, y_pred], self.attrs, cast=False)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype not in (np.float32, np.float64):
            y_pred = y_pred.astype("float32")
        y_true = np.asarray(y_true)
        if sample_weight is not None:  # a weighted mean of the per-sample values
            values = np.asarray(self.per_sample(y_true, y_pred), dtype="float64")
            w = np.asarray(sample_weight, dtype="float64")
            w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
            w = np.broadcast_to(w, values.shape)
            self._total += float((values * w).sum())
            self._count += float(w.sum())
            return
        value = ops.apply_op(self.op, [y_true, y_pred], self.attrs, cast=False)
        self.accumulate(float(value), y_pred.shape[0] if y_pred.ndim else 1)

    def per_sample(self, y_true, y_pred):
        """Each sample's value (NumPy), as Keras's metric functions return them."""
        from ember.metrics import per_sample_values
        return per_sample_values(self.op, y_true, y_pred, **self.attrs)

    def get_config(self):
        config = super().get_config()
        config.update(self.attrs)
        return config


class BinaryAccuracy(MeanMetricWrapper):
    _direction = "up"  # whether larger is better (EarlyStopping mode "auto")
    op = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=float(threshold))


class CategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # whether larger is better (EarlyStopping mode "auto")
    op = "categorical_accuracy"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # whether larger is better (EarlyStopping mode "auto")
    op = "sparse_categorical_accuracy"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"  # whether larger is better (EarlyStopping mode "auto")
    op = "mean_squared_error"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"  # whether larger is better (EarlyStopping mode "auto")
    op = "mean_absolute_error"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_CLASSES = {c.__name__: c for c in (BinaryAccuracy, CategoricalAccuracy,
                                    SparseCategoricalAccuracy, MeanSquaredError,
                                    MeanAbsoluteError, Mean)}


def register(classes, names):
    """Adds metric classes (and their string names) defined in other modules of the package."""
    _CLASSES.update({c.__name__: c for c in classes})
    _BY_NAME.update(names)


def per_sample_values(op, y_true, y_pred, threshold=0.5):
    """The per-sample values of the compiled metric ops, in NumPy (weighted update_state)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype="float64")
    if op == "binary_accuracy":
        return np.mean(y_true == (y_pred > threshold), axis=-1)
    if op == "categorical_accuracy":
        return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype("float64")
    if op == "sparse_categorical_accuracy":
        labels = y_true.reshape(y_pred.shape[:-1]) if y_true.size == np.prod(y_pred.shape[:-1]) \
            else y_true
        return (labels == np.argmax(y_pred, -1)).astype("float64")
    if op == "mean_squared_error":
        return np.mean((y_true - y_pred) ** 2, axis=-1)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def resolve_accuracy(loss_op, y_true_shape, y_pred_shape, name):
    """Keras's rule for the name 'accuracy': binary for binary cross-entropy or one output
    unit, sparse when the labels have one dimension fewer (or a trailing 1), else categorical."""
    if loss_op == "binary_crossentropy" or (y_pred_shape and y_pred_shape[-1] == 1):
        return BinaryAccuracy(name=name)
    if loss_op == "sparse_categorical_crossentropy" or len(y_true_shape) < len(y_pred_shape) or (
            y_true_shape and y_true_shape[-1] == 1):
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def get(identifier):
    """A metric object from a name, class, instance or config dict ('accuracy' is resolved by
    the trainer, which knows the loss)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize_object(identifier, _CLASSES, "metric")
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(
            f"unknown metric '{identifier}'; valid names: "
            f"{sorted(list(_BY_NAME) + ['accuracy', 'acc'])}"
        )
    raise ValueError(f"could not interpret metric {identifier!r}")


def serialize(metric):
    return serialize_object(metric, "ember.metrics", _CLASSES)
