"""Metrics whose state is a vector of sums (confusion counts, hits, squared errors): each batch
the compiled step computes the vector (one C++ output), the metric adds it to its state, and
`result` reads the state. Keras's names, arguments and results."""
import numpy as np

from ember import ops
from ember.losses import per_sample
from ember.metrics import metrics
from ember.metrics.metrics import Metric

EPSILON = 1e-7


def _flat(x):
    return ops.reshape(x, (-1,))


class StateMetric(Metric):
    """Base: `terms(y_true, y_pred)` -> list of symbolic tensors whose sums are the state."""

    compilable = True

    def reset_state(self):
        self._state = None

    def symbolic(self, y_true, y_pred):
        """One vector: every term summed over the batch and flattened, concatenated."""
        parts = [_flat(ops.sum(t, axis=0)) if len(t.shape) > 1 else
                 (ops.reshape(t, (1,)) if len(t.shape) == 0 else ops.reshape(t, (-1,)))
                 for t in self.terms(y_true, y_pred)]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0)

    def record(self, values, batch_size):
        values = np.asarray(values, dtype="float64")
        self._state = values.copy() if self._state is None else self._state + values

    def get_state(self):
        return None if self._state is None else self._state.tolist()

    def set_state(self, state):
        self._state = None if state is None else np.asarray(state, dtype="float64")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype not in (np.float32, np.float64):
            y_pred = y_pred.astype("float32")
        y_true = np.asarray(y_true, dtype=y_pred.dtype)
        if sample_weight is None:
            self.record(np.asarray(self.symbolic(y_true, y_pred)).reshape(-1), len(y_pred))
            return
        # Weighted: every count a sample contributes is scaled by its weight (Keras).
        w = np.asarray(sample_weight, dtype=y_pred.dtype).reshape(-1)
        if len(w) != len(y_pred):
            raise ValueError(f"{self.name}: expected one sample_weight per sample "
                             f"({len(y_pred)}), received {len(w)}")
        self.record(sum(float(wi) * np.asarray(self.symbolic(y_true[i:i + 1], y_pred[i:i + 1]))
                        .reshape(-1) for i, wi in enumerate(w)), len(y_pred))

    def _sums(self, count):
        """The state split into `count` equal parts (zeros before any update)."""
        if self._state is None:
            return [0.0] * count
        return np.split(self._state, count)


# ---------------------------------------------------------------- thresholded counts
def _thresholds(thresholds, default):
    if thresholds is None:
        return [default]
    values = [float(t) for t in np.atleast_1d(thresholds)]
    for t in values:
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"thresholds must be in [0, 1], received {t}")
    return values


def _predicted_positive(y_pred, thresholds):
    """(..., n_thresholds): 1 where y_pred > threshold (Keras's rule)."""
    return ops.greater(ops.expand_dims(y_pred, -1), np.asarray(thresholds, "float32"))


class _ConfusionMetric(StateMetric):
    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None:
            raise NotImplementedError(f"{type(self).__name__}: top_k is not supported yet")
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(thresholds, 0.5)
        self.class_id = class_id
        super().__init__(name=name, dtype=dtype)

    def _prepared(self, y_true, y_pred):
        if self.class_id is not None:
            y_true = ops.slice_axis(y_true, self.class_id, self.class_id + 1, axis=-1)
            y_pred = ops.slice_axis(y_pred, self.class_id, self.class_id + 1, axis=-1)
        y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
            else y_true
        positive = _predicted_positive(_flat(y_pred), self.thresholds)      # (n, T)
        truth = ops.expand_dims(_flat(y_true), -1)                          # (n, 1)
        return truth, positive

    def _value(self, result):
        """A list of thresholds gives one value per threshold, as Keras; else a float."""
        if isinstance(self.init_thresholds, (list, tuple, np.ndarray)):
            return np.asarray(result, dtype="float64")
        return float(np.asarray(result).reshape(-1)[0])

    def get_config(self):
        config = super().get_config()
        config.update({"thresholds": self.init_thresholds, "top_k": None,
                       "class_id": self.class_id})
        return config


class Precision(_ConfusionMetric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def terms(self, y_true, y_pred):
        truth, positive = self._prepared(y_true, y_pred)
        return [ops.multiply(positive, truth),                     # true positives
                ops.multiply(positive, ops.subtract(1.0, truth))]  # false positives

    def result(self):
        tp, fp = self._sums(2)
        return self._value(np.where(np.add(tp, fp) > 0, np.divide(
            tp, np.maximum(np.add(tp, fp), 1e-300)), 0.0))


class Recall(_ConfusionMetric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def terms(self, y_true, y_pred):
        truth, positive = self._prepared(y_true, y_pred)
        return [ops.multiply(positive, truth),                     # true positives
                ops.multiply(ops.subtract(1.0, positive), truth)]  # false negatives

    def result(self):
        tp, fn = self._sums(2)
        return self._value(np.where(np.add(tp, fn) > 0, np.divide(
            tp, np.maximum(np.add(tp, fn), 1e-300)), 0.0))


class AUC(StateMetric):
    """Area under the ROC or PR curve from confusion counts at `num_thresholds` thresholds,
    with Keras's threshold placement and summation ('interpolation', 'minoring',
    'majoring')."""

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if multi_label or label_weights is not None:
            raise NotImplementedError("AUC: multi_label and label_weights are not supported yet")
        curve = curve.upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', received {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: invalid summation_method {summation_method!r}")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, received {num_thresholds}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = num_thresholds
        self._thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self._explicit = thresholds
        self.curve, self.summation_method = curve, summation_method
        self.from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    def terms(self, y_true, y_pred):
        if self.from_logits:
            y_pred = ops.sigmoid(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
            else y_true
        positive = _predicted_positive(_flat(y_pred), self._thresholds)
        truth = ops.expand_dims(_flat(y_true), -1)
        negative_truth = ops.subtract(1.0, truth)
        negative = ops.subtract(1.0, positive)
        return [ops.multiply(positive, truth), ops.multiply(positive, negative_truth),
                ops.multiply(negative, negative_truth), ops.multiply(negative, truth)]

    def result(self):
        if self._state is None:
            return 0.0
        tp, fp, tn, fn = np.split(self._state, 4)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(_interpolated_pr_auc(tp, fp, fn))
        if self.curve == "ROC":
            x = _safe_div(fp, fp + tn)        # false positive rate
            y = _safe_div(tp, tp + fn)        # recall
        else:
            x = _safe_div(tp, tp + fn)        # recall
            y = _safe_div(tp, tp + fp)        # precision
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        config = super().get_config()
        config.update({"num_thresholds": self.num_thresholds, "curve": self.curve,
                       "summation_method": self.summation_method, "multi_label": False,
                       "thresholds": self._explicit, "from_logits": self.from_logits})
        return config


def _safe_div(a, b):
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def _interpolated_pr_auc(tp, fp, fn):
    """Keras's interpolation of the PR curve (Davis & Goadrich, 2006)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    prec_slope = _safe_div(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - prec_slope * p[1:]
    safe_p_ratio = np.where((p[:-1] > 0) & (p[1:] > 0),
                            _safe_div(p[:-1], np.maximum(p[1:], 0)), np.ones_like(p[1:]))
    pr_auc_increment = _safe_div(prec_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                 np.maximum(tp[1:] + fn[1:], 0))
    return np.sum(pr_auc_increment)


class F1Score(StateMetric):
    """F-1 over one-hot (or multi-label) targets: per class from TP, FP, FN; `average` None
    (per class), 'micro', 'macro' or 'weighted'; `threshold` None takes each row's argmax."""

    _direction = "up"
    beta = 1.0

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"F1Score: invalid average {average!r}: expected None, 'micro', "
                             "'macro' or 'weighted'")
        if threshold is not None and not 0.0 < threshold <= 1.0:
            raise ValueError(f"F1Score: threshold must be in (0, 1], received {threshold}")
        self.average, self.threshold = average, threshold
        super().__init__(name=name, dtype=dtype)

    def terms(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
            else y_true
        if self.threshold is None:  # the row's maximum (ties: every maximum) counts
            predicted = ops.greater_equal(y_pred, ops.max(y_pred, axis=-1, keepdims=True))
        else:
            predicted = ops.greater(y_pred, self.threshold)
        return [ops.multiply(predicted, y_true),                       # TP per class
                ops.multiply(predicted, ops.subtract(1.0, y_true)),    # FP
                ops.multiply(ops.subtract(1.0, predicted), y_true),    # FN
                y_true]                                                # support

    def result(self):
        if self._state is None:
            return 0.0
        tp, fp, fn, support = np.split(self._state, 4)
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        b2 = self.beta ** 2
        precision = _safe_div(tp, tp + fp)
        recall = _safe_div(tp, tp + fn)
        f = _safe_div((1 + b2) * precision * recall, b2 * precision + recall)
        if self.average == "macro":
            return float(np.mean(f))
        if self.average == "weighted":
            return float(np.sum(f * support) / max(support.sum(), 1e-300))
        return float(f) if np.ndim(f) == 0 else f

    def get_config(self):
        config = super().get_config()
        config.update({"average": self.average, "threshold": self.threshold})
        return config


# ---------------------------------------------------------------- means of per-sample values
class _MeanOf(StateMetric):
    """Mean of per-sample values over every sample seen: state (sum, count)."""

    def per_sample(self, y_true, y_pred):
        raise NotImplementedError

    def terms(self, y_true, y_pred):
        values = _flat(self.per_sample(y_true, y_pred))
        return [ops.sum(values), ops.sum(ops.add(ops.multiply(values, 0.0), 1.0))]

    def result(self):
        if self._state is None or self._state[1] == 0:
            return 0.0
        return float(self._state[0] / self._state[1])


class Accuracy(_MeanOf):
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
            else y_true
        return ops.equal(y_true, y_pred)


class _TopK(_MeanOf):
    _direction = "up"
    sparse = False

    def __init__(self, k=5, name=None, dtype=None):
        self.k = int(k)
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        if self.sparse:
            y_true = per_sample._labels_like(y_true, y_pred)
        else:
            y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
                else y_true
        true_score = ops.sum(ops.multiply(y_true, y_pred), axis=-1, keepdims=True)
        above = ops.sum(ops.greater(y_pred, true_score), axis=-1)  # classes scoring higher
        return ops.less(above, float(self.k))

    def get_config(self):
        config = super().get_config()
        config["k"] = self.k
        return config


class TopKCategoricalAccuracy(_TopK):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(k=k, name=name, dtype=dtype)


class SparseTopKCategoricalAccuracy(_TopK):
    sparse = True

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        if from_sorted_ids:
            raise NotImplementedError("SparseTopKCategoricalAccuracy: from_sorted_ids is not "
                                      "supported yet")
        super().__init__(k=k, name=name, dtype=dtype)


class RootMeanSquaredError(_MeanOf):
    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype) if str(y_true.dtype) != str(y_pred.dtype) \
            else y_true
        return ops.square(ops.subtract(y_true, y_pred))

    def result(self):
        return float(np.sqrt(super().result()))


class MeanAbsolutePercentageError(_MeanOf):
    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        return per_sample.mean_absolute_percentage_error(y_true, y_pred)


class MeanSquaredLogarithmicError(_MeanOf):
    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        return per_sample.mean_squared_logarithmic_error(y_true, y_pred)


class Sum(Metric):
    """Sum of the values given to update_state (a standalone metric, as Keras's)."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype="float64")
        if sample_weight is not None:
            values = values * np.broadcast_to(np.asarray(sample_weight, "float64"), values.shape)
        self._total += float(values.sum())

    def result(self):
        return self._total


metrics.register(
    [Precision, Recall, AUC, F1Score, Accuracy, TopKCategoricalAccuracy,
     SparseTopKCategoricalAccuracy, RootMeanSquaredError, MeanAbsolutePercentageError,
     MeanSquaredLogarithmicError, Sum],
    {"precision": Precision, "recall": Recall, "auc": AUC, "f1_score": F1Score,
     "top_k_categorical_accuracy": TopKCategoricalAccuracy,
     "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
     "root_mean_squared_error": RootMeanSquaredError,
     "mean_absolute_percentage_error": MeanAbsolutePercentageError,
     "mape": MeanAbsolutePercentageError,
     "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
     "msle": MeanSquaredLogarithmicError})
