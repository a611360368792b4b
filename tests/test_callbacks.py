"""Tests of ember.callbacks: Callback, CallbackList, History and ProgbarLogger."""

import io
import sys
import types

import numpy as np
import pytest

from ember.callbacks import Callback, CallbackList, History, ProgbarLogger
from ember.callbacks import callback_list as callback_list_module
from ember.utils import progbar as progbar_module

ALL_HOOKS = [
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
    "on_predict_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end",
]


class FakeModel:
    """What callbacks see of a model: `stop_training` and `history`."""

    def __init__(self):
        self.stop_training = False
        self.history = None


class Recorder(Callback):
    """Overrides every hook and records (hook, args, logs)."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _make_recording_hook(name):
    if "batch" in name or "epoch" in name:
        def hook(self, index, logs=None):
            self.calls.append((name, (index,), logs))
    else:
        def hook(self, logs=None):
            self.calls.append((name, (), logs))
    return hook


for _name in ALL_HOOKS:
    setattr(Recorder, _name, _make_recording_hook(_name))


def fake_fit(model, callbacks, epochs, steps, verbose=1, val_steps=0, logs_for=None):
    """The sequence of hook calls of Keras's fit loop, with made-up metric values."""
    logs_for = logs_for or (lambda epoch, step: {"loss": 1.0 / (step + 1), "accuracy": 0.5})
    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=epochs, steps=steps)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        logs = {}
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            logs = logs_for(epoch, step)
            cbs.on_train_batch_end(step, logs)
        epoch_logs = dict(logs)
        if val_steps:
            cbs.on_test_begin()
            for step in range(val_steps):
                cbs.on_test_batch_begin(step)
                cbs.on_test_batch_end(step, {"loss": 9.0})
            cbs.on_test_end({"loss": 9.0})
            epoch_logs["val_loss"] = 9.0
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return model.history


# -- Callback ----------------------------------------------------------------------------------


def test_callback_has_every_keras_hook_and_they_do_nothing():
    cb = Callback()
    assert cb.params is None and cb.model is None
    for name in ALL_HOOKS:
        hook = getattr(cb, name)
        args = (0,) if "batch" in name or "epoch" in name else ()
        assert hook(*args, logs={"loss": 1.0}) is None


def test_set_model_and_set_params():
    cb, model = Callback(), FakeModel()
    cb.set_model(model)
    cb.set_params({"epochs": 3})
    assert cb.model is model
    assert cb.params == {"epochs": 3}


def test_train_batch_hooks_forward_to_legacy_batch_hooks():
    class Legacy(Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            self.seen.append(("end", batch, logs))

    cb = Legacy()
    cb.on_train_batch_begin(3)
    cb.on_train_batch_end(3, logs={"loss": 0.5})
    assert cb.seen == [("begin", 3), ("end", 3, {"loss": 0.5})]


# -- CallbackList ------------------------------------------------------------------------------


def test_callback_list_calls_every_hook_of_every_callback_in_order():
    a, b = Recorder(), Recorder()
    cbs = CallbackList([a, [b]])  # nested lists are flattened
    assert cbs.callbacks == [a, b]
    for name in ALL_HOOKS:
        args = (7,) if "batch" in name or "epoch" in name else ()
        getattr(cbs, name)(*args, logs={"loss": np.float32(0.5)})
    for rec in (a, b):
        assert [c[0] for c in rec.calls] == ALL_HOOKS
        for name, args, logs in rec.calls:
            assert logs == {"loss": 0.5} and type(logs["loss"]) is float
            if "batch" in name or "epoch" in name:
                assert args == (7,)


def test_callback_list_adds_history_and_progbar_once():
    model = FakeModel()
    cbs = CallbackList(None, add_history=True, add_progbar=True, model=model, verbose=1,
                       epochs=1, steps=2)
    kinds = [type(cb) for cb in cbs.callbacks]
    assert kinds == [History, ProgbarLogger]
    assert model.history is cbs.callbacks[0]
    mine_h, mine_p = History(), ProgbarLogger()
    cbs = CallbackList([mine_p, mine_h], add_history=True, add_progbar=True, model=model,
                       verbose=1, epochs=1, steps=2)
    assert cbs.callbacks == [mine_p, mine_h]
    assert model.history is mine_h
    assert CallbackList([]).callbacks == []


def test_callback_list_passes_params_and_model():
    rec, model = Recorder(), FakeModel()
    CallbackList([rec], model=model, verbose=2, epochs=4, steps=10)
    assert rec.params == {"verbose": 2, "epochs": 4, "steps": 10}
    assert rec.model is model


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="CallbackList: expected instances of .*Callback.*int"):
        CallbackList([Recorder(), 3])
    with pytest.raises(TypeError, match="CallbackList"):
        CallbackList([]).append(lambda: None)


def test_pythonify_logs_sorts_flattens_and_converts():
    out = callback_list_module.pythonify_logs(
        {"z": np.float64(1.5), "a": np.array(2.0), "m": {"inner": np.int32(3)},
         "outputs": np.ones((2, 2))}
    )
    assert list(out) == ["a", "inner", "outputs", "z"]
    assert out["a"] == 2.0 and type(out["a"]) is float
    assert out["inner"] == 3.0 and type(out["inner"]) is float
    assert out["outputs"].shape == (2, 2)
    assert callback_list_module.pythonify_logs(None) == {}


def test_batch_hooks_are_skipped_when_nobody_overrides_them(monkeypatch):
    calls = []
    real = callback_list_module.pythonify_logs
    monkeypatch.setattr(callback_list_module, "pythonify_logs",
                        lambda logs: calls.append(1) or real(logs))

    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    cbs = CallbackList([EpochOnly(), History()], model=FakeModel())
    for step in range(100):
        for hook in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                     "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
                     "on_batch_begin", "on_batch_end"):
            getattr(cbs, hook)(step, {"loss": 1.0})
    assert calls == []
    cbs.on_epoch_end(0, {"loss": 1.0})
    assert calls == [1]


def test_batch_hooks_reach_only_the_callbacks_that_override_them():
    class TrainEnd(Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append((batch, logs))

    class LegacyEnd(Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_batch_end(self, batch, logs=None):
            self.batches.append(batch)

    train_end, legacy, silent = TrainEnd(), LegacyEnd(), Callback()
    cbs = CallbackList([train_end, legacy, silent])
    cbs.on_train_batch_end(0, {"loss": np.float32(2.0)})
    cbs.on_test_batch_end(0, {"loss": 3.0})
    assert train_end.batches == [(0, {"loss": 2.0})]
    assert legacy.batches == [0]  # reached through Callback.on_train_batch_end
    assert cbs._batch_callbacks["on_train_batch_end"] == [train_end, legacy]
    assert cbs._batch_callbacks["on_test_batch_end"] == []


def test_hooks_assigned_on_an_instance_count_as_overrides():
    seen = []
    cb = Callback()
    cb.on_predict_batch_end = lambda batch, logs=None: seen.append(batch)
    cbs = CallbackList([cb])
    cbs.on_predict_batch_end(4, {"outputs": np.zeros(2)})
    assert seen == [4]


def test_append_and_direct_edits_are_picked_up():
    model = FakeModel()
    cbs = CallbackList([], model=model, verbose=1, epochs=1, steps=1)
    rec = Recorder()
    cbs.append(rec)
    assert rec.model is model and rec.params["epochs"] == 1
    cbs.on_train_batch_end(0, {})
    late = Recorder()
    cbs.callbacks.append(late)
    cbs.on_train_begin()  # refreshes the batch-hook lists
    cbs.on_train_batch_end(1, {})
    assert [c[1] for c in rec.calls if c[0] == "on_train_batch_end"] == [(0,), (1,)]
    assert [c[1] for c in late.calls if c[0] == "on_train_batch_end"] == [(1,)]


# -- History -----------------------------------------------------------------------------------


def test_history_records_epochs_and_sets_model_history():
    model = FakeModel()
    history = fake_fit(model, [], epochs=3, steps=2, verbose=0, val_steps=1)
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    assert history.history == {"accuracy": [0.5] * 3, "loss": [0.5] * 3, "val_loss": [9.0] * 3}
    assert history.model is model
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 2}


def test_history_without_model_and_logs():
    h = History()
    h.on_train_begin()
    h.on_epoch_end(0)
    h.on_epoch_end(1, {"loss": 2.0})
    assert h.epoch == [0, 1]
    assert h.history == {"loss": [2.0]}


def test_callbacks_can_stop_training():
    class StopAfterTwo(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = FakeModel()
    history = fake_fit(model, [StopAfterTwo()], epochs=10, steps=1, verbose=0)
    assert history.epoch == [0, 1]
    assert model.stop_training is True


# -- ProgbarLogger -----------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    state = types.SimpleNamespace(now=50.0)
    monkeypatch.setattr(progbar_module, "time", types.SimpleNamespace(time=lambda: state.now))
    return state


def _capture(monkeypatch):
    out = io.StringIO()  # not a terminal: only the final line of each bar is printed
    monkeypatch.setattr(sys, "stdout", out)
    return out


def _ticking_logs(clock):
    def logs_for(epoch, step):
        clock.now += 0.25
        return {"loss": 1.0 / (step + 1), "accuracy": 0.5}
    return logs_for


def test_progbar_logger_verbose_1(clock, monkeypatch):
    out = _capture(monkeypatch)
    fake_fit(FakeModel(), [], epochs=2, steps=4, verbose=1, val_steps=2,
             logs_for=_ticking_logs(clock))
    line = f"4/4 {'━' * 20} 1s 250ms/step - accuracy: 0.5000 - loss: 0.2500 - val_loss: 9.0000\n"
    assert out.getvalue() == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line


def test_progbar_logger_verbose_2(clock, monkeypatch):
    out = _capture(monkeypatch)
    fake_fit(FakeModel(), [], epochs=2, steps=4, verbose=2, logs_for=_ticking_logs(clock))
    line = "4/4 - 1s - 250ms/step - accuracy: 0.5000 - loss: 0.2500\n"
    assert out.getvalue() == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line


def test_progbar_logger_single_epoch_prints_no_epoch_line(clock, monkeypatch):
    out = _capture(monkeypatch)
    fake_fit(FakeModel(), [], epochs=1, steps=4, verbose="auto", logs_for=_ticking_logs(clock))
    assert out.getvalue() == f"4/4 {'━' * 20} 1s 250ms/step - accuracy: 0.5000 - loss: 0.2500\n"


def test_progbar_logger_verbose_0_is_not_added(monkeypatch):
    out = _capture(monkeypatch)
    fake_fit(FakeModel(), [], epochs=2, steps=3, verbose=0)
    assert out.getvalue() == ""


def test_progbar_logger_terminal_redraws(clock, monkeypatch):
    class TTY(io.StringIO):
        def isatty(self):
            return True

    out = TTY()
    monkeypatch.setattr(sys, "stdout", out)
    fake_fit(FakeModel(), [], epochs=1, steps=4, verbose=1, logs_for=_ticking_logs(clock))
    text = out.getvalue()
    # A redraw per step (0.25 s apart, above the 0.05 s interval) and the final one, as Keras.
    assert text.count("\r") == 5 and text.endswith("loss: 0.2500\n")
    assert "\x1b[1m1/4\x1b[0m" in text


def test_progbar_logger_evaluate_and_predict(clock, monkeypatch):
    out = _capture(monkeypatch)
    cbs = CallbackList([], add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=2)
    cbs.on_test_begin()
    for step in range(2):
        clock.now += 0.5
        cbs.on_test_batch_end(step, {"loss": 0.75})
    cbs.on_test_end({"loss": 0.75})
    cbs.on_predict_begin()
    for step in range(2):
        clock.now += 0.5
        cbs.on_predict_batch_end(step, {"outputs": np.zeros((3, 2))})
    cbs.on_predict_end()
    bar = "━" * 20
    assert out.getvalue() == (f"2/2 {bar} 1s 500ms/step - loss: 0.7500\n"
                              f"2/2 {bar} 1s 500ms/step\n")


def test_progbar_logger_unknown_steps_takes_the_count_seen(clock, monkeypatch):
    out = _capture(monkeypatch)
    fake_fit_steps = 3
    cbs = CallbackList([], add_progbar=True, model=FakeModel(), verbose=2, epochs=1, steps=None)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for step in range(fake_fit_steps):
        clock.now += 1.0
        cbs.on_train_batch_end(step, {"loss": 0.5})
    cbs.on_epoch_end(0, {"loss": 0.5})
    cbs.on_train_end()
    assert out.getvalue() == "3/3 - 3s - 1s/step - loss: 0.5000\n"


def test_progbar_logger_rejects_bad_verbose():
    with pytest.raises(ValueError, match="ProgbarLogger.*verbose.*5"):
        CallbackList([], add_progbar=True, verbose=5, epochs=1, steps=1)
