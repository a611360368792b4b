"""The training API: compile, fit (and its arguments), History, callbacks, evaluate, predict,
the *_on_batch methods, reproducibility, learning-rate schedules, and end-to-end accuracy on
generated data."""
import math
import re

import numpy as np
import pytest

import ember
from ember import layers


def _regression_data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype("float32")
    y = (x @ np.arange(1, d + 1, dtype="float32")[:, None] + 0.5).astype("float32")
    return x, y


def _classification_data(n=40, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype("float32")
    return x, rng.integers(0, classes, n)


def _regressor(d=3, units=8):
    return ember.Sequential([ember.Input((d,)), layers.Dense(units, activation="relu"),
                             layers.Dense(1)])


def _classifier(d=4, classes=3):
    return ember.Sequential([ember.Input((d,)), layers.Dense(8, activation="relu"),
                             layers.Dense(classes, activation="softmax")])


# ---- compile ----------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer, loss, metrics", [
    ("adam", "sparse_categorical_crossentropy", ["accuracy"]),
    (ember.optimizers.Adam(), ember.losses.SparseCategoricalCrossentropy(),
     [ember.metrics.SparseCategoricalAccuracy()]),
    (ember.optimizers.SGD, ember.losses.sparse_categorical_crossentropy,
     ["sparse_categorical_accuracy"]),
])
def test_compile_with_names_objects_and_functions(optimizer, loss, metrics):
    model = _classifier()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    assert model.compiled and isinstance(model.optimizer, ember.optimizers.Optimizer)
    x, y = _classification_data()
    history = model.fit(x, y, epochs=2, verbose=0)
    metric_name = metrics[0] if isinstance(metrics[0], str) else metrics[0].name
    assert set(history.history) == {"loss", metric_name}
    assert all(np.isfinite(v) for v in history.history["loss"])


def test_compile_default_optimizer_is_rmsprop():
    model = _regressor()
    model.compile(loss="mse")
    assert isinstance(model.optimizer, ember.optimizers.RMSprop)
    assert model.optimizer.learning_rate == pytest.approx(1e-3)


def test_custom_loss_function():
    def mean_abs(y_true, y_pred):  # per-sample values, averaged over the batch
        return ember.ops.mean(ember.ops.abs(y_true - y_pred), axis=-1)

    model = _regressor()
    model.compile(ember.optimizers.SGD(0.0), loss=mean_abs)
    x, y = _regression_data()
    want = np.mean(np.abs(y - model.predict(x, verbose=0)))
    assert model.evaluate(x, y, batch_size=len(x), verbose=0) == pytest.approx(want, rel=1e-5)


def test_recompiling_changes_the_loss():
    model = _regressor()
    x, y = _regression_data()
    model.compile("sgd", "mse")
    mse = model.evaluate(x, y, verbose=0, batch_size=len(x))
    model.compile("sgd", "mae")
    mae = model.evaluate(x, y, verbose=0, batch_size=len(x))
    pred = model.predict(x, verbose=0)
    assert mse == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)


# ---- fit and History --------------------------------------------------------------------------
class BatchCounter(ember.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []  # (epoch, batch index)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((self.epoch, batch))


def test_fit_returns_history_with_keys_lengths_and_params():
    model = _classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _classification_data(n=40)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert isinstance(history, ember.callbacks.History) and model.history is history
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert all(isinstance(v, float) for v in history.history["loss"])
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"])
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}


def test_fit_loss_is_the_sample_weighted_mean_of_batch_losses():
    """Epoch loss = the mean over samples, also with a short last batch (Keras's tracker)."""
    model = _regressor()
    model.compile(ember.optimizers.SGD(0.0), "mse")  # lr 0: every batch sees the same weights
    x, y = _regression_data(n=10)
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    want = np.mean((model.predict(x, verbose=0) - y) ** 2)
    assert history.history["loss"][0] == pytest.approx(want, rel=1e-5)


def test_epochs_and_initial_epoch():
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data()
    counter = BatchCounter()
    history = model.fit(x, y, epochs=5, initial_epoch=3, batch_size=20, verbose=0,
                        callbacks=[counter])
    assert history.epoch == [3, 4] and len(history.history["loss"]) == 2
    assert counter.batches == [(3, 0), (3, 1), (4, 0), (4, 1)]
    assert model.optimizer.iterations == 4


def test_batch_size_sets_the_number_of_batches():
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=10)
    counter = BatchCounter()
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[counter])
    assert len(counter.batches) == 3 and history.params["steps"] == 3  # 4 + 4 + 2
    assert model.optimizer.iterations == 3
    counter = BatchCounter()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[counter])  # default batch_size 32
    assert len(counter.batches) == 1


def test_steps_per_epoch_limits_the_batches():
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=40)
    counter = BatchCounter()
    history = model.fit(x, y, batch_size=4, steps_per_epoch=3, epochs=2, verbose=0,
                        callbacks=[counter])
    assert counter.batches == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert history.params["steps"] == 3


def test_validation_split_uses_the_last_samples():
    model = _regressor()
    model.compile(ember.optimizers.SGD(0.01), "mse", metrics=["mae"])
    x, y = _regression_data(n=40)
    history = model.fit(x, y, validation_split=0.25, batch_size=10, epochs=1, verbose=0,
                        shuffle=False)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert history.params["steps"] == 3  # 30 training samples
    # Validation runs after the epoch's updates, on x[30:].
    pred = model.predict(x[30:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(np.mean((pred - y[30:]) ** 2),
                                                           rel=1e-5)
    assert history.history["val_mae"][0] == pytest.approx(np.mean(np.abs(pred - y[30:])),
                                                          rel=1e-5)


def test_validation_data():
    model = _classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _classification_data(n=30)
    vx, vy = _classification_data(n=12, seed=5)
    history = model.fit(x, y, validation_data=(vx, vy), epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())
    val = model.evaluate(vx, vy, verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val["accuracy"])


def test_fit_without_shuffle_equals_train_on_batch_in_order():
    x, y = _regression_data(n=10)
    ember.utils.set_random_seed(1)
    a = _regressor()
    b = _regressor()
    b.set_weights(a.get_weights())
    a.compile(ember.optimizers.SGD(0.05), "mse")
    b.compile(ember.optimizers.SGD(0.05), "mse")
    a.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, 10, 4):
            b.train_on_batch(x[start:start + 4], y[start:start + 4])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_shuffle_changes_the_batch_order():
    x, y = _regression_data(n=32)
    ember.utils.set_random_seed(2)
    a = _regressor()
    b = _regressor()
    b.set_weights(a.get_weights())
    a.compile(ember.optimizers.SGD(0.05), "mse")
    b.compile(ember.optimizers.SGD(0.05), "mse")
    a.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    b.fit(x, y, batch_size=4, epochs=1, shuffle=True, verbose=0)
    assert not np.allclose(a.get_weights()[0], b.get_weights()[0])


# ---- verbosity --------------------------------------------------------------------------------
def _fit_output(capsys, verbose, epochs=3):
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=20)
    capsys.readouterr()
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=verbose)
    return capsys.readouterr().out


def test_verbose_0_prints_nothing(capsys):
    assert _fit_output(capsys, 0) == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    out = _fit_output(capsys, 2)
    lines = out.splitlines()
    assert [l for l in lines if l.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    epoch_lines = [l for l in lines if not l.startswith("Epoch")]
    assert len(epoch_lines) == 3
    for line in epoch_lines:
        assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - loss: \S+", line), line
    assert "\r" not in out and "\x1b" not in out


def test_verbose_1_on_a_non_terminal_prints_no_carriage_returns(capsys):
    out = _fit_output(capsys, 1)
    assert "\r" not in out and "\b" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) == 6  # "Epoch i/3" and one final bar line per epoch
    assert all(re.match(r"3/3 \S+ \d+s \d+(us|ms|s)/step - loss: ", l) for l in lines[1::2])


def test_verbose_auto_is_1_and_evaluate_predict_print_one_line(capsys):
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=20)
    capsys.readouterr()
    model.fit(x, y, batch_size=8, epochs=1)
    assert capsys.readouterr().out.startswith("3/3 ")
    model.evaluate(x, y, batch_size=8)
    assert re.fullmatch(r"3/3 \S+ \d+s \d+(us|ms|s)/step - loss: \S+\n",
                        capsys.readouterr().out)
    model.predict(x, batch_size=8)
    assert re.fullmatch(r"3/3 \S+ \d+s \d+(us|ms|s)/step\n", capsys.readouterr().out)


@pytest.mark.parametrize("verbose", [1, 2])
def test_validation_inside_fit_prints_nothing_extra(capsys, verbose):
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=20)
    capsys.readouterr()
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, verbose=verbose)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and "val_loss: " in lines[1] and "val_loss: " in lines[3]


# ---- callbacks --------------------------------------------------------------------------------
class Recorder(ember.callbacks.Callback):
    """Records every hook Keras calls, with the sorted keys of its logs."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _recording_hook(name):
    if "batch" in name or "epoch" in name:
        def hook(self, index, logs=None):
            self.calls.append((name, index, sorted(logs or {})))
    else:
        def hook(self, logs=None):
            self.calls.append((name, None, sorted(logs or {})))
    return hook


for _hook in ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end"]:
    setattr(Recorder, _hook, _recording_hook(_hook))


def test_callback_receives_every_fit_hook_in_keras_order():
    """The sequence Keras 3.15 produces for this fit (recorded from Keras itself)."""
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _classification_data(n=8)
    recorder = Recorder()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x[:3], y[:3]), verbose=0,
              callbacks=[recorder])
    train_logs = ["accuracy", "loss"]
    epoch_logs = ["accuracy", "loss", "val_accuracy", "val_loss"]
    want = [("on_train_begin", None, [])]
    for epoch in range(2):
        want.append(("on_epoch_begin", epoch, []))
        for batch in range(2):
            want += [("on_train_batch_begin", batch, []),
                     ("on_train_batch_end", batch, train_logs)]
        want += [("on_test_begin", None, []), ("on_test_batch_begin", 0, []),
                 ("on_test_batch_end", 0, train_logs), ("on_test_end", None, train_logs),
                 ("on_epoch_end", epoch, epoch_logs)]
    want.append(("on_train_end", None, epoch_logs))
    assert recorder.calls == want


def test_callback_hooks_of_evaluate_and_predict():
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _classification_data(n=8)
    recorder = Recorder()
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[recorder])
    logs = ["accuracy", "loss"]
    assert recorder.calls == [
        ("on_test_begin", None, []), ("on_test_batch_begin", 0, []),
        ("on_test_batch_end", 0, logs), ("on_test_batch_begin", 1, []),
        ("on_test_batch_end", 1, logs), ("on_test_end", None, logs)]
    recorder.calls = []
    model.predict(x, batch_size=4, verbose=0, callbacks=[recorder])
    assert recorder.calls == [
        ("on_predict_begin", None, []), ("on_predict_batch_begin", 0, []),
        ("on_predict_batch_end", 0, ["outputs"]), ("on_predict_batch_begin", 1, []),
        ("on_predict_batch_end", 1, ["outputs"]), ("on_predict_end", None, [])]


def test_callback_sees_the_model_and_params_and_can_stop_training():
    class StopAfterOneEpoch(ember.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seen = (self.model, dict(self.params))

        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=16)
    cb = StopAfterOneEpoch()
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0, callbacks=[cb])
    assert cb.seen[0] is model and cb.seen[1]["epochs"] == 10 and cb.seen[1]["steps"] == 2
    assert history.epoch == [0]


# ---- evaluate / predict -----------------------------------------------------------------------
def test_evaluate_scalar_list_and_dict():
    x, y = _classification_data(n=20)
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    probs = model.predict(x, verbose=0)
    want_loss = -np.mean(np.log(probs[np.arange(20), y]))
    want_acc = np.mean(probs.argmax(-1) == y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x, y, batch_size=6, verbose=0)  # short last batch of 2
    assert isinstance(result, list) and len(result) == 2
    assert result[0] == pytest.approx(want_loss, rel=1e-5)
    assert result[1] == pytest.approx(want_acc)
    as_dict = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert as_dict == {"loss": pytest.approx(want_loss, rel=1e-5),
                       "accuracy": pytest.approx(want_acc)}


def test_evaluate_steps_limits_the_batches():
    x, y = _regression_data(n=20)
    model = _regressor()
    model.compile("sgd", "mse")
    first = model.evaluate(x, y, batch_size=5, steps=1, verbose=0)
    assert first == pytest.approx(np.mean((model.predict(x[:5], verbose=0) - y[:5]) ** 2),
                                  rel=1e-5)


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 10), (10, 32), (1, 4), (33, 32)])
def test_predict_concatenates_batches_with_a_short_last_one(n, batch_size):
    x, _ = _regression_data(n=n)
    model = _regressor()
    whole = model(x)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    assert out.shape == (n, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, whole, rtol=1e-6, atol=1e-7)


def test_predict_steps_and_input_conversion():
    x, _ = _regression_data(n=10)
    model = _regressor()
    assert model.predict(x, batch_size=4, steps=2, verbose=0).shape == (8, 1)
    # float64 and integer arrays and nested lists are converted to the model's float32.
    np.testing.assert_allclose(model.predict(x.astype("float64"), verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model.predict(x.tolist(), verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)
    ints = np.arange(6, dtype="int64").reshape(2, 3)
    np.testing.assert_allclose(model.predict(ints, verbose=0),
                               model.predict(ints.astype("float32"), verbose=0), rtol=1e-6)


def test_predict_is_not_affected_by_dropout_but_fit_is():
    model = ember.Sequential([ember.Input((20,)), layers.Dropout(0.5)])
    x = np.ones((4, 20), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    model.compile("sgd", "mse")
    # With dropout on in training, the mse against x is 0.5 * 1 + 0.5 * (2 - 1)^2 on average.
    loss = model.train_on_batch(np.ones((500, 20), "float32"), np.ones((500, 20), "float32"))
    assert loss == pytest.approx(1.0, abs=0.1)
    assert model.test_on_batch(x, x) == 0.0


# ---- *_on_batch -------------------------------------------------------------------------------
def test_train_test_predict_on_batch():
    x, y = _classification_data(n=12)
    model = _classifier()
    model.compile(ember.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    probs = model.predict_on_batch(x)
    assert isinstance(probs, np.ndarray) and probs.shape == (12, 3)
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), rtol=1e-6)
    want_loss = -np.mean(np.log(probs[np.arange(12), y]))
    loss, acc = model.test_on_batch(x, y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert acc == pytest.approx(np.mean(probs.argmax(-1) == y))
    assert model.test_on_batch(x, y, return_dict=True) == {
        "loss": pytest.approx(loss), "accuracy": pytest.approx(acc)}
    before = model.get_weights()
    # train_on_batch reports the loss before its update, then updates once.
    train_loss, _ = model.train_on_batch(x, y)
    assert train_loss == pytest.approx(want_loss, rel=1e-5)
    assert model.optimizer.iterations == 1
    assert not np.array_equal(before[0], model.get_weights()[0])
    assert model.test_on_batch(x, y)[0] < loss


def test_on_batch_without_metrics_returns_a_float():
    model = _regressor()
    model.compile("sgd", "mse")
    x, y = _regression_data(n=8)
    assert isinstance(model.train_on_batch(x, y), float)
    assert isinstance(model.test_on_batch(x, y), float)
    assert model.train_on_batch(x, y, return_dict=True).keys() == {"loss"}


# ---- reproducibility and schedules ------------------------------------------------------------
def _seeded_run(seed):
    ember.utils.set_random_seed(seed)
    x, y = _classification_data(n=48, seed=7)
    model = ember.Sequential([ember.Input((4,)), layers.Dense(16, activation="relu"),
                              layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    return model.get_weights(), history.history


def test_same_seed_gives_bit_identical_weights_and_losses():
    w1, h1 = _seeded_run(123)
    w2, h2 = _seeded_run(123)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
    w3, h3 = _seeded_run(124)
    assert not np.array_equal(w1[0], w3[0]) and h1["loss"] != h3["loss"]


def _mae_steps(learning_rate, steps):
    """w starts at 0 and the MAE gradient is -1 while w < 100: each step adds lr(step)."""
    model = ember.Sequential([ember.Input((1,)),
                              layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(ember.optimizers.SGD(learning_rate), "mae")
    x, y = np.ones((1, 1), "float32"), np.full((1, 1), 100.0, "float32")
    for _ in range(steps):
        model.train_on_batch(x, y)
    return float(model.get_weights()[0][0, 0]), model.optimizer


def test_learning_rate_schedule_changes_the_update():
    constant, _ = _mae_steps(0.1, 4)
    assert constant == pytest.approx(0.4, rel=1e-6)
    piecewise = ember.optimizers.schedules.PiecewiseConstantDecay(boundaries=[1],
                                                                  values=[0.1, 0.01])
    w, optimizer = _mae_steps(piecewise, 4)
    assert w == pytest.approx(0.1 + 0.1 + 0.01 + 0.01, rel=1e-6)  # steps 0, 1 | 2, 3
    assert optimizer.iterations == 4
    assert optimizer.learning_rate == pytest.approx(0.01)
    decay = ember.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    w, _ = _mae_steps(decay, 3)
    assert w == pytest.approx(0.1 + 0.05 + 0.025, rel=1e-6)


def test_learning_rate_schedule_in_fit():
    decay = ember.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.1,
                                                        staircase=True)
    model = _regressor()
    model.compile(ember.optimizers.SGD(decay), "mse")
    x, y = _regression_data(n=16)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert model.optimizer.iterations == 4
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.1 ** 2)


def test_learning_rate_set_by_a_callback_takes_effect_at_once():
    class FreezeAfterFirstEpoch(ember.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.kernels = []

        def on_epoch_end(self, epoch, logs=None):
            self.kernels.append(self.model.get_weights()[0])
            self.model.optimizer.learning_rate = 0.0

    model = _regressor()
    model.compile(ember.optimizers.SGD(0.1), "mse")
    start = model.get_weights()[0]
    x, y = _regression_data(n=16)
    cb = FreezeAfterFirstEpoch()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    assert not np.array_equal(start, cb.kernels[0])
    np.testing.assert_array_equal(cb.kernels[0], cb.kernels[1])
    np.testing.assert_array_equal(cb.kernels[1], cb.kernels[2])


# ---- end-to-end accuracy on generated data ----------------------------------------------------
def test_two_gaussian_blobs_reach_95_percent():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 2, n)
    centers = np.array([[-1.5, -1.5], [1.5, 1.5]], "float32")
    x = (centers[labels] + rng.standard_normal((n, 2))).astype("float32")
    ember.utils.set_random_seed(0)
    model = ember.Sequential([ember.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(ember.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:300], labels[:300, None].astype("float32"), epochs=10, batch_size=32,
              verbose=0)
    loss, acc = model.evaluate(x[300:], labels[300:, None].astype("float32"), verbose=0)
    # The Bayes rate of this problem is about 98.3%.
    assert acc > 0.95, f"accuracy {acc}"


def test_xor_like_quadrants_need_the_hidden_layer_and_reach_95_percent():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (600, 2)).astype("float32")
    x = x[np.abs(x).min(axis=1) > 0.1]  # a margin around the axes
    y = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype("int64")
    ember.utils.set_random_seed(0)
    model = ember.Sequential([ember.Input((2,)), layers.Dense(32, activation="relu"),
                              layers.Dense(2, activation="softmax")])
    model.compile(ember.optimizers.Adam(0.02), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=40, batch_size=32, validation_split=0.2, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.95, history.history["val_accuracy"][-1]


def test_regression_reaches_a_small_error():
    x, y = _regression_data(n=200, seed=3)
    ember.utils.set_random_seed(0)
    model = ember.Sequential([ember.Input((3,)), layers.Dense(1)])
    model.compile(ember.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 1e-3
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], [1, 2, 3], atol=0.02)
    assert math.isclose(bias[0], 0.5, abs_tol=0.02)
