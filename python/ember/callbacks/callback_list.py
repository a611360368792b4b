"""`CallbackList`: calls every hook of a list of callbacks, as Keras's `CallbackList`."""

import numbers

import numpy as np

from ember.callbacks.callback import Callback, is_default
from ember.callbacks.history import History
from ember.callbacks.progbar_logger import ProgbarLogger

# The hooks called once per batch, and the legacy alias each one forwards to by default
# (Callback.on_train_batch_begin calls on_batch_begin, so overriding either counts).
_BATCH_HOOKS = {
    "on_train_batch_begin": "on_batch_begin",
    "on_train_batch_end": "on_batch_end",
    "on_test_batch_begin": None,
    "on_test_batch_end": None,
    "on_predict_batch_begin": None,
    "on_predict_batch_end": None,
}


def _flatten(callbacks):
    flat = []
    for cb in callbacks:
        if isinstance(cb, (list, tuple)):
            flat.extend(_flatten(cb))
        else:
            flat.append(cb)
    return flat


def pythonify_logs(logs):
    """Flattens nested dicts and turns scalar values into Python floats, sorted by key.

    The sorting is Keras's: it is why the progress bar shows `accuracy` before `loss`.
    Values that are not scalars (e.g. predict outputs) are passed through unchanged.
    """
    result = {}
    if not logs:
        return result
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        elif isinstance(value, numbers.Real) or (
            isinstance(value, np.ndarray) and value.ndim == 0
        ):
            result[key] = float(value)
        else:
            result[key] = value
    return result


class CallbackList(Callback):
    """Container that calls a list of callbacks together.

    Args:
        callbacks: list of `Callback` instances (nested lists are flattened).
        add_history: add a `History` callback if the list has none.
        add_progbar: add a `ProgbarLogger` callback if the list has none.
        model: the model the callbacks are used with.
        **params: passed to every callback through `set_params` (e.g. verbose, epochs, steps).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = _flatten(callbacks) if callbacks else []
        for cb in self.callbacks:
            self._check_callback(cb)
        self._add_default_callbacks(add_history, add_progbar)
        self._find_batch_hooks()
        self.set_model(model)
        self.set_params(params)

    @staticmethod
    def _check_callback(cb):
        if not isinstance(cb, Callback):
            raise TypeError(
                "CallbackList: expected instances of ember.callbacks.Callback, received "
                f"{cb!r} of type {type(cb).__name__}"
            )

    def _add_default_callbacks(self, add_history, add_progbar):
        """Adds the `History` and `ProgbarLogger` that fit/evaluate/predict always have."""
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def _find_batch_hooks(self):
        """For each batch hook, the callbacks that override it (so a loop over no-op defaults
        is skipped entirely: batch hooks run on every step)."""
        self._batch_callbacks = {}
        for hook, alias in _BATCH_HOOKS.items():
            self._batch_callbacks[hook] = [
                cb for cb in self.callbacks
                if not is_default(getattr(cb, hook))
                or (alias is not None and not is_default(getattr(cb, alias)))
            ]
        self._legacy_batch_callbacks = [
            cb for cb in self.callbacks
            if not is_default(cb.on_batch_begin) or not is_default(cb.on_batch_end)
        ]

    def append(self, callback):
        """Adds a callback to the list."""
        self._check_callback(callback)
        self.callbacks.append(callback)
        if self.params:
            callback.set_params(self.params)
        if self._model is not None:
            callback.set_model(self._model)
        self._find_batch_hooks()

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    # -- begin / end of a run: all callbacks. The hook lists are refreshed here in case
    # `self.callbacks` was changed directly since the last run.

    def on_train_begin(self, logs=None):
        self._find_batch_hooks()
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_test_begin(self, logs=None):
        self._find_batch_hooks()
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_test_begin(logs)

    def on_test_end(self, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_test_end(logs)

    def on_predict_begin(self, logs=None):
        self._find_batch_hooks()
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_predict_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    # -- batch hooks: only the callbacks that override them.

    def _call_batch_hook(self, hook, batch, logs):
        callbacks = self._batch_callbacks[hook]
        if not callbacks:
            return
        logs = pythonify_logs(logs)
        for callback in callbacks:
            getattr(callback, hook)(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        if self._legacy_batch_callbacks:
            logs = pythonify_logs(logs)
            for callback in self._legacy_batch_callbacks:
                callback.on_batch_begin(batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        if self._legacy_batch_callbacks:
            logs = pythonify_logs(logs)
            for callback in self._legacy_batch_callbacks:
                callback.on_batch_end(batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch_hook("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch_hook("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch_hook("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch_hook("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch_hook("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch_hook("on_predict_batch_end", batch, logs)
