"""ember.metrics: Keras 3 metrics. Compiled into the model's C++ step (batch means, or vectors of
sums such as confusion counts), then accumulated here over the epoch."""
from ember.metrics.metrics import (
    BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanMetricWrapper,
    MeanSquaredError, Metric, SparseCategoricalAccuracy, get, per_sample_values,
    resolve_accuracy, serialize,
)
from ember.metrics.state_metrics import (
    AUC, Accuracy, F1Score, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    Precision, Recall, RootMeanSquaredError, SparseTopKCategoricalAccuracy, StateMetric, Sum,
    TopKCategoricalAccuracy,
)

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "StateMetric", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "Precision", "Recall", "AUC", "F1Score",
    "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Sum", "get", "serialize",
    "resolve_accuracy",
]
