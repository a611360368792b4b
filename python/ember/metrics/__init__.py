"""ember.metrics: Keras 3 metrics. Compiled into the model's C++ step as batch means, then
accumulated here over the epoch (weighted by batch size, which equals Keras's totals)."""
from ember.metrics.metrics import (
    BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanMetricWrapper,
    MeanSquaredError, Metric, SparseCategoricalAccuracy, get, resolve_accuracy, serialize,
)

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "get", "serialize",
    "resolve_accuracy",
]
