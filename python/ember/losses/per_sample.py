"""Per-sample losses from elementwise ops, as Keras's loss functions compute them (its formulas,
epsilon 1e-7 and clipping). The built-in losses run as one fused op when nothing weights the
samples; these forms serve sample weights, class weights and masks, which need each sample's
value, and the losses that have no fused op."""
import numpy as np

from ember import ops

EPSILON = 1e-7


def _labels_like(y_true, y_pred):
    """Sparse labels (batch, ...) or (batch, ..., 1) as one-hot rows matching y_pred."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return ops.equal(ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1),
                     np.arange(classes, dtype=y_pred.dtype))


def _log_probabilities(y_pred, from_logits):
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    p = ops.divide(y_pred, ops.sum(y_pred, axis=-1, keepdims=True))
    return ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        classes = y_pred.shape[-1]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / classes)
    return ops.negative(ops.sum(ops.multiply(y_true, _log_probabilities(y_pred, from_logits)),
                                axis=-1))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return categorical_crossentropy(_labels_like(y_true, y_pred), y_pred, from_logits)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:  # max(x, 0) - x t + log(1 + exp(-|x|))
        per = ops.add(ops.subtract(ops.relu(y_pred), ops.multiply(y_pred, y_true)),
                      ops.softplus(ops.negative(ops.abs(y_pred))))
    else:
        p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = ops.negative(ops.add(ops.multiply(y_true, ops.log(p)),
                                   ops.multiply(ops.subtract(1.0, y_true),
                                                ops.log(ops.subtract(1.0, p)))))
    return ops.mean(per, axis=-1)


def mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    diff = ops.abs(ops.divide(ops.subtract(y_true, y_pred),
                              ops.maximum(ops.abs(y_true), EPSILON)))
    return ops.multiply(ops.mean(diff, axis=-1), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    first = ops.log(ops.add(ops.maximum(y_pred, EPSILON), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, EPSILON), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond, written without a select:
    with q = min(|e|, delta), 0.5 q^2 + delta (|e| - q)."""
    abs_error = ops.abs(ops.subtract(y_pred, y_true))
    quadratic = ops.minimum(abs_error, delta)
    linear = ops.subtract(abs_error, quadratic)
    return ops.mean(ops.add(ops.multiply(ops.square(quadratic), 0.5),
                            ops.multiply(linear, delta)), axis=-1)


def log_cosh(y_true, y_pred):
    """log(cosh(x)) = x + softplus(-2x) - log 2, stable for large |x|."""
    x = ops.subtract(y_pred, y_true)
    per = ops.subtract(ops.add(x, ops.softplus(ops.multiply(x, -2.0))), float(np.log(2.0)))
    return ops.mean(per, axis=-1)


def kl_divergence(y_true, y_pred):
    t = ops.clip(y_true, EPSILON, 1.0)
    p = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(ops.multiply(t, ops.log(ops.divide(t, p))), axis=-1)


def poisson(y_true, y_pred):
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, ops.log(ops.add(y_pred, EPSILON)))),
                    axis=-1)


def _l2_normalize(x):
    inv = ops.minimum(ops.divide(1.0, ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))),
                      1.0 / EPSILON)
    return ops.multiply(x, inv)


def cosine_similarity(y_true, y_pred):
    return ops.negative(ops.sum(ops.multiply(_l2_normalize(y_true), _l2_normalize(y_pred)),
                                axis=-1))


def _hinge_labels(y_true):
    """Keras: labels that are all 0 or 1 become -1 or 1; others are used as given."""
    is_binary = ops.all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.add(y_true, ops.multiply(is_binary, ops.subtract(y_true, 1.0)))


def hinge(y_true, y_pred):
    margin = ops.subtract(1.0, ops.multiply(_hinge_labels(y_true), y_pred))
    return ops.mean(ops.relu(margin), axis=-1)


def squared_hinge(y_true, y_pred):
    margin = ops.subtract(1.0, ops.multiply(_hinge_labels(y_true), y_pred))
    return ops.mean(ops.square(ops.relu(margin)), axis=-1)


def categorical_hinge(y_true, y_pred):
    pos = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    neg = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.relu(ops.add(ops.subtract(neg, pos), 1.0))
