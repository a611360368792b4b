"""Keras's built-in callbacks in ember: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
CSVLogger, TerminateOnNaN and LambdaCallback.

Each callback is tested twice: its logic on a scripted sequence of epoch logs with a fake model
(compared with Keras's own callback on the same script when Keras is installed: the callbacks'
logic does not depend on the model), and inside real ember fits on small generated data.
"""

import math
import os
import warnings

import numpy as np
import pytest

import ember
from ember import callbacks, layers

# Keras on torch converts its variables with a numpy call that numpy 2 deprecates; not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# ---- scripted runs on a fake model ------------------------------------------------------------

class FakeModel:
    """What these callbacks use of a model. Its one weight is set to the epoch index at the
    start of each epoch, so restored weights tell which epoch they come from."""

    def __init__(self, optimizer=None):
        self.stop_training = False
        self.optimizer = optimizer
        self.weights_ = [np.array([-1.0])]

    def get_weights(self):
        return [w.copy() for w in self.weights_]

    def set_weights(self, weights):
        self.weights_ = [np.array(w, copy=True) for w in weights]


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


def drive(callback, model, script):
    """Runs Keras's fit-loop hook order over `script` (one logs dict per epoch).

    Returns a record of the run: the logs each epoch ended with (after the callback wrote into
    them), the learning rate of each epoch (read after on_epoch_begin) and the final weight.
    """
    callback.set_model(model)
    callback.set_params({"epochs": len(script), "steps": 1, "verbose": 0})
    model.stop_training = False
    callback.on_train_begin({})
    seen, lrs, logs = [], [], {}
    for epoch, epoch_logs in enumerate(script):
        callback.on_epoch_begin(epoch, {})
        if model.optimizer is not None:
            lrs.append(float(np.asarray(model.optimizer.learning_rate)))
        model.weights_ = [np.array([float(epoch)])]  # "training" this epoch
        logs = dict(epoch_logs)
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback.on_train_end(logs)
    return {"logs": seen, "epochs": len(seen), "lrs": lrs, "weight": model.weights_[0].item()}


def run_scripted(capsys, callback, script, optimizer=None):
    """`drive` plus what was printed and the warnings raised."""
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = drive(callback, FakeModel(optimizer), script)
    result["stdout"] = capsys.readouterr().out
    # (Keras on torch also emits numpy DeprecationWarnings, which are not the callback's.)
    result["warnings"] = [str(w.message) for w in caught if w.category is UserWarning]
    return result


def losses(*values, key="loss"):
    return [{key: v} for v in values]


@pytest.fixture(scope="module")
def keras():
    """Keras 3 with the torch backend, for parity; the tests that use it skip without it."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def assert_same_run(ours, theirs):
    for key in ("epochs", "stdout", "warnings", "weight", "logs"):
        assert ours[key] == theirs[key], key
    # Keras stores the rate in float32; ember keeps the float it was given.
    np.testing.assert_array_equal(np.float32(ours["lrs"]), np.float32(theirs["lrs"]))


# ---- EarlyStopping ----------------------------------------------------------------------------

# (kwargs, script, epochs run, final weight = the epoch whose weights the model ends with)
EARLY_STOPPING_CASES = [
    # patience counts epochs without improvement; the stop comes at epoch 4 (index 3).
    (dict(monitor="loss", patience=2), losses(1.0, 0.5, 0.6, 0.7, 0.4), 4, 3),
    # patience=0: the first epoch that does not improve stops training.
    (dict(monitor="loss"), losses(1.0, 0.9, 0.95, 0.1), 3, 2),
    # 0.85 -> 0.8 improves by less than min_delta: not an improvement.
    (dict(monitor="loss", patience=1, min_delta=0.1), losses(1.0, 0.85, 0.8, 0.5), 3, 2),
    # The best value is kept even without restore: restore_best_weights restores epoch 2's.
    (dict(monitor="loss", patience=2, restore_best_weights=True, verbose=1),
     losses(1.0, 0.5, 0.6, 0.7, 0.1), 4, 1),
    # Never beating the baseline: an improvement does not reset the wait, so training stops
    # `patience` epochs after the first; the best of those epochs is restored.
    (dict(monitor="loss", patience=3, baseline=0.1, restore_best_weights=True, verbose=1),
     losses(1.0, 0.9, 1.2, 1.3, 1.4), 3, 1),
    # ... but an epoch that improves is never the one that stops training.
    (dict(monitor="loss", patience=2, baseline=0.1), losses(1.0, 0.9, 0.8, 0.7, 0.6), 5, 4),
    # The baseline is beaten at epoch 3, which resets the wait.
    (dict(monitor="loss", patience=2, baseline=0.5), losses(1.0, 0.9, 0.4, 0.45, 0.44, 0.43), 5, 4),
    # mode="max": a larger value is better.
    (dict(monitor="accuracy", mode="max", patience=1, verbose=1),
     losses(0.5, 0.6, 0.55, 0.58, key="accuracy"), 3, 2),
    # mode="min" on a name that would be inferred as "max" if mode were auto.
    (dict(monitor="val_accuracy", mode="min", patience=0),
     losses(0.5, 0.6, key="val_accuracy"), 2, 1),
    # Warm-up: epochs before start_from_epoch are not monitored (epoch 0's 0.1 is ignored).
    (dict(monitor="loss", patience=1, start_from_epoch=2, restore_best_weights=True, verbose=1),
     losses(0.1, 5.0, 1.0, 1.1, 1.2, 0.2), 4, 2),
    # restore_best_weights with no improvement after the first epoch restores the first.
    (dict(monitor="loss", patience=1, restore_best_weights=True, verbose=1),
     losses(1.0, 1.0, 1.0), 2, 0),
    # val_loss is absent: a warning per epoch, never a stop.
    (dict(patience=0), losses(1.0, 2.0, 3.0), 3, 2),
    # An unknown mode warns and falls back to auto ("loss" -> min).
    (dict(monitor="loss", mode="smallest", patience=0), losses(1.0, 2.0), 2, 1),
]


@pytest.mark.parametrize("kwargs,script,epochs,weight", EARLY_STOPPING_CASES)
def test_early_stopping_scripted(capsys, kwargs, script, epochs, weight):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown-mode warning of the constructor
        cb = callbacks.EarlyStopping(**kwargs)
    run = run_scripted(capsys, cb, script)
    assert run["epochs"] == epochs
    assert run["weight"] == weight
    stopped = epochs < len(script)
    lines = run["stdout"].splitlines()
    if kwargs.get("verbose"):
        assert (f"Epoch {epochs}: early stopping" in lines) == stopped
        if kwargs.get("restore_best_weights"):
            assert lines[-1] == ("Restoring model weights from the end of the best epoch: "
                                 f"{weight + 1}.")
    else:
        assert run["stdout"] == ""
    if "val_loss" == cb.monitor:
        assert run["warnings"] == [
            "Early stopping conditioned on metric `val_loss` which is not available. "
            "Available metrics are: loss"] * 3


@pytest.mark.parametrize("kwargs,script,epochs,weight", EARLY_STOPPING_CASES)
def test_early_stopping_matches_keras(capsys, keras, kwargs, script, epochs, weight):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = run_scripted(capsys, callbacks.EarlyStopping(**kwargs), script)
        theirs = run_scripted(capsys, keras.callbacks.EarlyStopping(**kwargs), script)
    assert_same_run(ours, theirs)


def test_early_stopping_constructor_warns_on_unknown_mode():
    with pytest.warns(UserWarning, match="EarlyStopping mode 'smallest' is unknown, fallback "
                                         "to auto mode."):
        cb = callbacks.EarlyStopping(mode="smallest")
    assert cb.mode == "auto"


def test_early_stopping_is_reusable_across_fits(capsys):
    cb = callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    first = run_scripted(capsys, cb, losses(1.0, 2.0, 3.0))
    second = run_scripted(capsys, cb, losses(5.0, 4.0, 3.0, 2.0))
    assert (first["epochs"], first["weight"]) == (2, 0)
    assert (second["epochs"], second["weight"]) == (4, 3)  # the old best (1.0) was forgotten
    assert cb.stopped_epoch == 0 and cb.best == 2.0 and cb.best_epoch == 3


class MetricStub:
    def __init__(self, name, direction=None):
        self.name = name
        if direction:
            self._direction = direction


@pytest.mark.parametrize("monitor,metrics,expected", [
    ("loss", [], np.less),
    ("val_loss", [], np.less),
    ("val_auc", [MetricStub("auc", "up")], np.greater),  # a metric's own _direction
    ("kl", [MetricStub("kl", "down")], np.less),
    ("accuracy", [ember.metrics.BinaryAccuracy(name="accuracy")], np.greater),
    ("val_acc", [ember.metrics.SparseCategoricalAccuracy(name="acc")], np.greater),
    ("val_mse", [ember.metrics.MeanSquaredError(name="mse")], np.less),
    ("mean_absolute_error", [ember.metrics.MeanAbsoluteError()], np.less),
])
def test_auto_mode_is_inferred_from_the_monitored_metric(monitor, metrics, expected):
    for cls in (callbacks.EarlyStopping, callbacks.ReduceLROnPlateau):
        model = FakeModel(FakeOptimizer(0.1))
        model.metrics = metrics
        cb = cls(monitor=monitor, min_delta=0.5)
        cb.set_model(model)
        cb._set_monitor_op()
        assert cb.monitor_op is expected
        # min_delta is stored with the sign that works against improvement.
        assert cb.min_delta == (-0.5 if expected is np.less else 0.5)


@pytest.mark.parametrize("monitor", ["val_auc", "out_loss", "unknown"])
def test_auto_mode_fails_for_a_metric_of_unknown_direction(monitor):
    model = FakeModel()
    model.metrics = [MetricStub("auc"), ember.metrics.Mean(name="out_loss")]
    cb = callbacks.EarlyStopping(monitor=monitor)
    cb.set_model(model)
    with pytest.raises(ValueError, match=f"received monitor={monitor}, but ember isn't able to "
                                         "automatically determine"):
        cb.on_epoch_end(0, {monitor: 1.0})


# ---- ReduceLROnPlateau ------------------------------------------------------------------------

# (kwargs, script, learning rate of each epoch (as read at its start))
REDUCE_LR_CASES = [
    # Plateau from epoch 2: after `patience`=2 epochs without improvement, lr *= 0.5.
    (dict(monitor="loss", patience=2, factor=0.5, verbose=1),
     losses(1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5), [1, 1, 1, 1, .5, .5, .25]),
    # Improvements below min_delta (1e-4 by default) count as none.
    (dict(monitor="loss", patience=1, factor=0.1),
     losses(1.0, 0.99995, 0.5, 0.49999), [1, 1, .1, .1]),
    # cooldown=2: the two epochs ending after a reduction count down the cooldown instead.
    (dict(monitor="loss", patience=1, factor=0.5, cooldown=2, verbose=1),
     losses(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0), [1, 1, .5, .5, .25, .25, .125, .125]),
    # min_lr bounds the reductions, and once reached no more messages are printed.
    (dict(monitor="loss", patience=1, factor=0.1, min_lr=0.05, verbose=1),
     losses(1.0, 1.0, 1.0, 1.0, 1.0), [1, 1, .1, .05, .05]),
    # mode="max".
    (dict(monitor="val_accuracy", mode="max", patience=1, factor=0.5),
     losses(0.5, 0.6, 0.55, 0.7, 0.65, key="val_accuracy"), [1, 1, 1, .5, .5]),
    # An absent monitor warns every epoch and never reduces, but still logs the rate.
    (dict(patience=0), losses(1.0, 1.0, 1.0), [1, 1, 1]),
]


@pytest.mark.parametrize("kwargs,script,lrs", REDUCE_LR_CASES)
def test_reduce_lr_on_plateau_scripted(capsys, kwargs, script, lrs):
    run = run_scripted(capsys, callbacks.ReduceLROnPlateau(**kwargs),
                       script + [{}], optimizer=ember.optimizers.SGD(1.0))
    assert run["lrs"][:-1] == pytest.approx(lrs, rel=1e-6)
    # The logs get the epoch's rate, before any reduction (Keras keeps it in float32).
    for logs, lr in zip(run["logs"][:-1], run["lrs"]):  # (an empty dict is replaced)
        assert logs["learning_rate"] == float(np.float32(lr))
    reductions = [i for i in range(1, len(run["lrs"])) if run["lrs"][i] < run["lrs"][i - 1]]
    if kwargs.get("verbose"):
        expected = "".join(f"\nEpoch {i}: ReduceLROnPlateau reducing learning rate to "
                           f"{run['lrs'][i]}.\n" for i in reductions)
        assert run["stdout"] == expected
    if "val_loss" == kwargs.get("monitor", "val_loss"):
        assert run["warnings"][0] == (
            "Learning rate reduction is conditioned on metric `val_loss` which is not "
            "available. Available metrics are: loss,learning_rate.")


@pytest.mark.parametrize("kwargs,script,lrs", REDUCE_LR_CASES)
def test_reduce_lr_on_plateau_matches_keras(capsys, keras, kwargs, script, lrs):
    ours = run_scripted(capsys, callbacks.ReduceLROnPlateau(**kwargs), script,
                        optimizer=ember.optimizers.SGD(0.001))
    theirs = run_scripted(capsys, keras.callbacks.ReduceLROnPlateau(**kwargs), script,
                          optimizer=keras.optimizers.SGD(0.001))
    assert_same_run(ours, theirs)


def test_reduce_lr_on_plateau_rejects_a_factor_of_one_or_more():
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau does not support a factor >= 1.0. "
                                         r"Received factor=1.5"):
        callbacks.ReduceLROnPlateau(factor=1.5)


# ---- LearningRateScheduler --------------------------------------------------------------------

def test_learning_rate_scheduler_scripted(capsys):
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr if epoch < 2 else lr * math.exp(-0.1)

    run = run_scripted(capsys, callbacks.LearningRateScheduler(schedule, verbose=1),
                       losses(1, 1, 1, 1), optimizer=ember.optimizers.SGD(0.01))
    lr32 = float(np.float32(0.01))
    assert seen[0] == (0, lr32)  # the rate as Keras reads it back from float32
    assert run["lrs"] == pytest.approx([0.01, 0.01, 0.01 * math.exp(-0.1),
                                        0.01 * math.exp(-0.2)], rel=1e-6)
    assert run["logs"][3]["learning_rate"] == float(np.float32(run["lrs"][3]))
    assert run["stdout"].startswith(
        f"\nEpoch 1: LearningRateScheduler setting learning rate to {lr32}.\n")
    assert run["stdout"].count("LearningRateScheduler setting learning rate") == 4


def test_learning_rate_scheduler_matches_keras(capsys, keras):
    def schedule(epoch, lr):
        return lr if epoch < 10 else lr * math.exp(-0.1)

    def old_api(epoch):  # Keras still accepts a schedule of the epoch alone
        return 0.1 / (epoch + 1)

    script = losses(*[1.0] * 15)
    for fn in (schedule, old_api):
        ours = run_scripted(capsys, callbacks.LearningRateScheduler(fn, verbose=1), script,
                            optimizer=ember.optimizers.SGD(0.01))
        theirs = run_scripted(capsys, keras.callbacks.LearningRateScheduler(fn, verbose=1),
                              script, optimizer=keras.optimizers.SGD(0.01))
        assert_same_run(ours, theirs)
        if fn is schedule:  # Keras's docstring example: 0.00607 after 15 epochs
            assert round(ours["logs"][-1]["learning_rate"], 5) == 0.00607


def test_learning_rate_scheduler_rejects_a_non_float_schedule():
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: 1)
    cb.set_model(FakeModel(ember.optimizers.SGD(0.1)))
    with pytest.raises(ValueError, match="The output of the `schedule` function should be a "
                                         "float. Got: 1"):
        cb.on_epoch_begin(0)
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1)
    cb.set_model(FakeModel(object()))
    with pytest.raises(ValueError, match='Optimizer must have a "learning_rate" attribute.'):
        cb.on_epoch_begin(0)


# ---- CSVLogger (scripted) ---------------------------------------------------------------------

CSV_SCRIPT = [{"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125},
              {"loss": 0.25, "accuracy": np.float32(0.5), "val_loss": 0.5,
               "val_accuracy": np.array(0.25), "vector": np.array([1, 2])}]


def run_csv(logger_cls, path, script, **kwargs):
    model = FakeModel()
    cb = logger_cls(path, **kwargs)
    drive(cb, model, script)
    with open(path, newline="") as f:
        return f.read()


def test_csv_logger_scripted(tmp_path):
    path = tmp_path / "log.csv"  # a PathLike works as well as a str
    text = run_csv(callbacks.CSVLogger, path, CSV_SCRIPT)
    assert text == ("epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                    "0,0.25,0.5,0.125,0.75\r\n"
                    "1,0.5,0.25,0.25,0.5\r\n")  # keys fixed by the first epoch
    # Without validation keys in the first epoch, val_ columns are added (NA while absent).
    text = run_csv(callbacks.CSVLogger, path, [{"loss": 1.0}, {"loss": 0.5, "val_loss": 2.0}],
                   separator=";")
    assert text == "epoch;loss;val_loss\r\n0;1.0;NA\r\n1;0.5;2.0\r\n"
    # append=True adds rows to a non-empty file without a second header.
    text = run_csv(callbacks.CSVLogger, path, [{"loss": 0.25}], separator=";", append=True)
    assert text.endswith("1;0.5;2.0\r\n0;0.25;NA\r\n") and text.count("epoch") == 1
    # append=True on an empty or missing file writes the header.
    text = run_csv(callbacks.CSVLogger, tmp_path / "new.csv", [{"loss": 0.25}], append=True)
    assert text == "epoch,loss,val_loss\r\n0,0.25,NA\r\n"
    # Arrays are written as a quoted list.
    text = run_csv(callbacks.CSVLogger, path, [{"v": np.array([1, 2])}])
    assert text == 'epoch,v,val_v\r\n0,"""[1, 2]""",NA\r\n'


def test_csv_logger_matches_keras(tmp_path, keras):
    cases = [(CSV_SCRIPT, {}), ([{"loss": 1.0}, {"loss": 0.5, "val_loss": 2.0}],
                                {"separator": "\t"})]
    for script, kwargs in cases:
        ours = run_csv(callbacks.CSVLogger, tmp_path / "ours.csv", script, **kwargs)
        theirs = run_csv(keras.callbacks.CSVLogger, tmp_path / "theirs.csv", script, **kwargs)
        assert ours == theirs
        ours = run_csv(callbacks.CSVLogger, tmp_path / "ours.csv", script, append=True, **kwargs)
        theirs = run_csv(keras.callbacks.CSVLogger, tmp_path / "theirs.csv", script, append=True,
                         **kwargs)
        assert ours == theirs


# ---- TerminateOnNaN (scripted) ----------------------------------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan_scripted(capsys, bad):
    model = FakeModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    cb.on_train_batch_end(1, {})  # no loss: nothing to check
    assert not model.stop_training and capsys.readouterr().out == ""
    cb.on_train_batch_end(2, {"loss": bad})
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"
    strict = callbacks.TerminateOnNaN(raise_error=True)
    strict.set_model(FakeModel())
    with pytest.raises(RuntimeError, match=f"NaN or Inf loss encountered at batch 3. Loss value: "
                                           f"{bad}. Terminating training immediately."):
        strict.on_train_batch_end(3, {"loss": bad})


# ---- LambdaCallback (scripted) ----------------------------------------------------------------

def test_lambda_callback_checks_its_arguments():
    with pytest.raises(TypeError, match=r"LambdaCallback: unexpected keyword argument\(s\) "
                                        r"\['on_epoch_ends'\]"):
        callbacks.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="LambdaCallback: expected `on_test_end` to be a "
                                        "function, received 3 of type int"):
        callbacks.LambdaCallback(on_test_end=3)


# ---- real ember fits --------------------------------------------------------------------------

def linear_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    coef = np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    return x, x @ coef


def linear_model(lr, metrics=None, zeros=False):
    init = "zeros" if zeros else "glorot_uniform"
    model = ember.Sequential([ember.Input((4,)), layers.Dense(1, kernel_initializer=init)])
    model.compile(optimizer=ember.optimizers.SGD(lr), loss="mse", metrics=metrics)
    return model


def weights_recorder():
    """A LambdaCallback keeping the weights at the end of each epoch, and the list."""
    recorded = []
    cb = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: recorded.append(cb.model.get_weights()))
    return cb, recorded


def test_early_stopping_in_fit_restores_the_best_epoch(capsys):
    # Training moves the kernel from 0 towards `coef`; the validation targets use coef / 2, so
    # the validation loss falls and then rises again: a clear best epoch in the middle.
    x, y = linear_data()
    x_val, y_val = linear_data(32, seed=1)
    y_val = y_val / 2
    model = linear_model(0.05, metrics=["mae"], zeros=True)
    recorder, recorded = weights_recorder()
    stop = callbacks.EarlyStopping(patience=3, restore_best_weights=True, verbose=1)
    history = model.fit(x, y, batch_size=64, epochs=100, shuffle=False, verbose=0,
                        validation_data=(x_val, y_val), callbacks=[recorder, stop])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert 0 < best < len(val) - 1 and len(val) == best + 4  # stopped 3 epochs after the best
    assert stop.monitor_op is np.less  # "val_loss" -> min
    for w, expected in zip(model.get_weights(), recorded[best]):
        np.testing.assert_array_equal(w, expected)
    assert not np.array_equal(recorded[-1][0], recorded[best][0])
    assert capsys.readouterr().out == (
        f"Epoch {best + 4}: early stopping\n"
        f"Restoring model weights from the end of the best epoch: {best + 1}.\n")
    np.testing.assert_allclose(model.evaluate(x_val, y_val, verbose=0)[0], val[best], rtol=1e-5)


def test_early_stopping_infers_the_direction_of_compiled_metrics():
    x, y = linear_data()
    labels = (y > 0).astype("float32")
    model = ember.Sequential([ember.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mse"])
    for monitor, op in (("val_accuracy", np.greater), ("mse", np.less), ("loss", np.less)):
        cb = callbacks.EarlyStopping(monitor=monitor, patience=5)
        model.fit(x, labels, epochs=1, verbose=0, validation_split=0.25, callbacks=[cb])
        assert cb.monitor_op is op, monitor
    with pytest.raises(ValueError, match="received monitor=val_auc, but ember isn't able"):
        model.fit(x, labels, epochs=1, verbose=0, validation_split=0.25,
                  callbacks=[callbacks.EarlyStopping(monitor="val_auc")])


def plateau_fit(verbose=0):
    """A linear model on noisy targets: the validation loss stops improving once the fit is
    as good as the noise allows, and ReduceLROnPlateau then halves the learning rate."""
    x, y = linear_data(128)
    y = y + np.random.default_rng(3).normal(scale=0.5, size=y.shape).astype("float32")
    model = linear_model(0.1)
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=1e-3, verbose=verbose)
    history = model.fit(x, y, batch_size=32, epochs=25, shuffle=False, verbose=0,
                        validation_split=0.25, callbacks=[reduce])
    return model, history


def test_reduce_lr_on_plateau_in_fit(capsys):
    model, history = plateau_fit(verbose=1)
    lrs = history.history["learning_rate"]  # History comes after the callback, so it sees it
    assert lrs[0] == float(np.float32(0.1)) and lrs[-1] < 0.1 / 4
    assert model.optimizer.learning_rate <= lrs[-1]
    printed = capsys.readouterr().out
    assert printed.count("ReduceLROnPlateau reducing learning rate") == sum(
        b < a for a, b in zip(lrs, lrs[1:])) + (model.optimizer.learning_rate < lrs[-1])


def test_reduce_lr_on_plateau_in_fit_matches_keras(keras):
    # Keras's callback fed the same validation losses gives the same learning rates.
    _, history = plateau_fit()
    theirs = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=1e-3)
    run = drive(theirs, FakeModel(keras.optimizers.SGD(0.1)),
                [{"val_loss": v} for v in history.history["val_loss"]])
    assert [logs["learning_rate"] for logs in run["logs"]] == history.history["learning_rate"]


def test_learning_rate_scheduler_sets_the_rate_of_the_cpp_step():
    # One batch per epoch and plain SGD: the kernel moves by exactly lr * gradient, so the
    # ratio of the step to the gradient (computed here in numpy) is the rate the step used.
    x, y = linear_data(32)
    model = linear_model(0.1)
    w0 = model.get_weights()
    recorder, recorded = weights_recorder()
    scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    model.fit(x, y, batch_size=32, epochs=4, shuffle=False, verbose=0,
              callbacks=[scheduler, recorder])
    before = w0
    for epoch, after in enumerate(recorded):
        kernel, bias = (w.astype("float64") for w in before)
        residual = x.astype("float64") @ kernel + bias - y
        grad_kernel = 2.0 / len(x) * x.T.astype("float64") @ residual
        step = kernel - after[0]
        used = (step.ravel() @ grad_kernel.ravel()) / (grad_kernel.ravel() @ grad_kernel.ravel())
        assert used == pytest.approx(0.1 * 0.5 ** epoch, rel=1e-4)
        np.testing.assert_allclose(step, used * grad_kernel, rtol=1e-3, atol=1e-6)
        before = after


def test_terminate_on_nan_in_fit(capsys):
    x, y = linear_data()
    batch_losses = []
    spy = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    ended = []
    end_spy = callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(logs))
    model = linear_model(1e3)  # diverges: the loss overflows to inf/NaN within a few batches
    history = model.fit(x, y, batch_size=8, epochs=20, shuffle=False, verbose=0,
                        callbacks=[spy, callbacks.TerminateOnNaN(), end_spy])
    first_bad = next(i for i, v in enumerate(batch_losses) if not np.isfinite(v))
    assert len(batch_losses) == first_bad + 1  # no batch after the bad one
    epochs_run = first_bad // 8 + 1
    assert len(history.history["loss"]) == epochs_run < 20
    assert capsys.readouterr().out == (
        f"Batch {first_bad % 8}: Invalid loss, terminating training\n")
    assert len(ended) == 1  # training ended normally: every on_train_end ran
    # Without the callback the same fit runs every epoch.
    model = linear_model(1e3)
    history = model.fit(x, y, batch_size=8, epochs=epochs_run + 2, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == epochs_run + 2
    # raise_error=True: a RuntimeError, and no on_train_end.
    ended.clear()
    model = linear_model(1e3)
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        model.fit(x, y, batch_size=8, epochs=20, shuffle=False, verbose=0,
                  callbacks=[callbacks.TerminateOnNaN(raise_error=True), end_spy])
    assert ended == []


def test_csv_logger_in_fit(tmp_path):
    x, y = linear_data()
    model = linear_model(0.05, metrics=["mae"])
    path = str(tmp_path / "training.log")
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                        callbacks=[callbacks.CSVLogger(path)])
    keys = ["loss", "mae", "val_loss", "val_mae"]

    def rows(history, first_epoch=0):
        return [",".join([str(first_epoch + e)] + [str(history.history[k][e]) for k in keys])
                for e in range(len(history.epoch))]

    with open(path, newline="") as f:
        assert f.read() == "\r\n".join(["epoch,loss,mae,val_loss,val_mae"] + rows(history)) + "\r\n"
    # Continuing training appends the new epochs.
    more = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, validation_split=0.25,
                     callbacks=[callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        assert f.read().split("\r\n") == (
            ["epoch,loss,mae,val_loss,val_mae"] + rows(history) + rows(more, 3) + [""])
    # append=False starts the file again; without validation the val_ columns say NA.
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        lines = f.read().split("\r\n")
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae" and lines[1].endswith(",NA,NA")
    assert len(lines) == 3


def test_lambda_callback_in_fit():
    x, y = linear_data()
    calls = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: calls.append(f"train_end {sorted(logs)}"),
        on_test_begin=lambda logs: calls.append("test_begin"),
        on_test_batch_end=lambda batch, logs: calls.append(f"test_batch_end {batch}"),
        on_test_end=lambda logs: calls.append(f"test_end {sorted(logs)}"),
    )
    model = linear_model(0.01)
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x[:16], y[:16]),
              callbacks=[cb])
    epoch = ["batch_begin 0", "batch_end 0 ['loss']", "batch_begin 1", "batch_end 1 ['loss']",
             "test_begin", "test_batch_end 0", "test_end ['loss']"]
    assert calls == (["train_begin", "epoch_begin 0"] + epoch
                     + ["epoch_end 0 ['loss', 'val_loss']", "epoch_begin 1"] + epoch
                     + ["epoch_end 1 ['loss', 'val_loss']", "train_end ['loss', 'val_loss']"])
