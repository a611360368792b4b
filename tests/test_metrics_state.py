"""Precision, Recall, AUC, F1Score, Accuracy, TopK, RMSE, MAPE, MSLE, Sum: NumPy references,
accumulation over batches, inside fit/evaluate, configs, and Keras parity when installed."""
import os

import numpy as np
import pytest

import ember
from ember import layers, metrics

RNG = np.random.default_rng(0)
YT = RNG.integers(0, 2, (60, 1)).astype("float32")
YP = RNG.random((60, 1)).astype("float32")
ONEHOT = np.eye(4, dtype="float32")[RNG.integers(0, 4, 40)]
SCORES = RNG.random((40, 4)).astype("float32")


def updated(metric, y_true, y_pred, batches=3):
    for t, p in zip(np.array_split(y_true, batches), np.array_split(y_pred, batches)):
        metric.update_state(t, p)
    return metric.result()


def np_roc_auc(t, p, n=200):
    thresholds = np.r_[-1e-7, (np.arange(n - 2) + 1) / (n - 1), 1 + 1e-7]
    pos = p.reshape(-1, 1) > thresholds
    t = t.reshape(-1, 1)
    tp, fp = (pos * t).sum(0), (pos * (1 - t)).sum(0)
    fn, tn = ((1 - pos) * t).sum(0), ((1 - pos) * (1 - t)).sum(0)
    tpr, fpr = tp / (tp + fn), fp / (fp + tn)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


@pytest.mark.parametrize("metric, expected", [
    (metrics.Precision(), ((YP > .5) & (YT == 1)).sum() / (YP > .5).sum()),
    (metrics.Recall(), ((YP > .5) & (YT == 1)).sum() / (YT == 1).sum()),
    (metrics.Precision(thresholds=0.3), ((YP > .3) & (YT == 1)).sum() / (YP > .3).sum()),
    (metrics.AUC(), np_roc_auc(YT, YP)),
    (metrics.RootMeanSquaredError(), np.sqrt(np.mean((YT - YP) ** 2))),
    (metrics.MeanAbsolutePercentageError(), 100 * np.mean(np.abs(YT - YP) /
                                                          np.maximum(np.abs(YT), 1e-7))),
], ids=["precision", "recall", "precision_0.3", "auc_roc", "rmse", "mape"])
def test_binary_metrics_accumulate_over_batches(metric, expected):
    np.testing.assert_allclose(updated(metric, YT, YP), expected, rtol=1e-6)
    metric.reset_state()
    assert metric.result() == 0.0


def test_accuracy_counts_exact_matches():
    rounded = (YP > 0.5).astype("float32")
    np.testing.assert_allclose(updated(metrics.Accuracy(), YT, rounded), np.mean(YT == rounded))


def test_multi_class_metrics():
    hits = (SCORES > np.sum(ONEHOT * SCORES, -1, keepdims=True)).sum(-1) < 2
    np.testing.assert_allclose(updated(metrics.TopKCategoricalAccuracy(k=2), ONEHOT, SCORES),
                               hits.mean())
    labels = ONEHOT.argmax(-1)
    np.testing.assert_allclose(updated(metrics.SparseTopKCategoricalAccuracy(k=2), labels,
                                       SCORES), hits.mean())
    pred = SCORES == SCORES.max(-1, keepdims=True)
    tp, fp = (pred * ONEHOT).sum(0), (pred * (1 - ONEHOT)).sum(0)
    fn = ((1 - pred) * ONEHOT).sum(0)
    p, r = tp / np.maximum(tp + fp, 1), tp / np.maximum(tp + fn, 1)
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0)
    np.testing.assert_allclose(updated(metrics.F1Score(), ONEHOT, SCORES), f1, rtol=1e-6)
    np.testing.assert_allclose(updated(metrics.F1Score(average="macro"), ONEHOT, SCORES),
                               f1.mean(), rtol=1e-6)


def test_list_of_thresholds_gives_one_value_each_and_sum():
    got = updated(metrics.Recall(thresholds=[0.2, 0.8]), YT, YP)
    want = [((YP > t) & (YT == 1)).sum() / (YT == 1).sum() for t in (0.2, 0.8)]
    np.testing.assert_allclose(got, want)
    total = metrics.Sum()
    total.update_state([1.0, 2.0])
    total.update_state([3.0], sample_weight=[2.0])
    assert total.result() == 9.0


def test_metrics_compile_into_fit_and_evaluate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype("float32")
    ember.utils.set_random_seed(0)
    model = ember.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=ember.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["precision", metrics.Recall(), metrics.AUC(), "auc"])
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["auc"][-1] > 0.95 > history.history["auc"][0] - 0.5
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(logs["auc"], np_roc_auc(y, p), rtol=1e-6)
    np.testing.assert_allclose(logs["precision"], ((p[:, 0] > .5) & (y == 1)).sum()
                               / (p[:, 0] > .5).sum(), rtol=1e-6)


def test_configs_round_trip():
    for m in (metrics.AUC(curve="PR", num_thresholds=50), metrics.F1Score(average="micro"),
              metrics.Precision(thresholds=[0.1, 0.2], class_id=1),
              metrics.TopKCategoricalAccuracy(k=3)):
        clone = metrics.get(metrics.serialize(m))
        assert type(clone) is type(m) and clone.get_config() == m.get_config()


@pytest.mark.parametrize("call", [
    lambda: metrics.AUC(curve="XY"), lambda: metrics.AUC(num_thresholds=1),
    lambda: metrics.F1Score(average="mean"), lambda: metrics.Precision(thresholds=1.5),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name, kwargs, data", [
    ("Precision", {}, (YT, YP)), ("Recall", {"thresholds": [0.3, 0.6]}, (YT, YP)),
    ("AUC", {}, (YT, YP)), ("AUC", {"curve": "PR"}, (YT, YP)),
    ("AUC", {"summation_method": "minoring"}, (YT, YP)),
    ("F1Score", {"average": "weighted"}, (ONEHOT, SCORES)),
    ("TopKCategoricalAccuracy", {"k": 2}, (ONEHOT, SCORES)),
    ("RootMeanSquaredError", {}, (YT, YP)),
])
def test_matches_keras(keras, name, kwargs, data):
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for t, p in zip(np.array_split(data[0], 3), np.array_split(data[1], 3)):
        ours.update_state(t, p)
        theirs.update_state(t, p)
    np.testing.assert_allclose(ours.result(), keras.ops.convert_to_numpy(theirs.result()),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, kwargs, data", [
    ("Precision", {}, (YT, YP)), ("AUC", {}, (YT, YP)), ("RootMeanSquaredError", {}, (YT, YP)),
    ("BinaryAccuracy", {}, (YT, YP)), ("CategoricalAccuracy", {}, (ONEHOT, SCORES)),
    ("TopKCategoricalAccuracy", {"k": 2}, (ONEHOT, SCORES)), ("MeanSquaredError", {}, (YT, YP)),
])
def test_sample_weight_matches_keras(keras, name, kwargs, data):
    w = np.random.default_rng(3).random(len(data[0])).astype("float32")
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for t, p, ww in zip(np.array_split(data[0], 3), np.array_split(data[1], 3),
                        np.array_split(w, 3)):
        ours.update_state(t, p, sample_weight=ww)
        theirs.update_state(t, p, sample_weight=ww)
    np.testing.assert_allclose(ours.result(), keras.ops.convert_to_numpy(theirs.result()),
                               rtol=1e-5, atol=1e-7)


def test_weighted_precision_against_numpy():
    w = np.linspace(0.1, 2.0, len(YT))
    m = metrics.Precision()
    m.update_state(YT, YP, sample_weight=w)
    positive = (YP[:, 0] > 0.5)
    tp = np.sum(w * positive * (YT[:, 0] == 1))
    np.testing.assert_allclose(m.result(), tp / np.sum(w * positive), rtol=1e-6)
