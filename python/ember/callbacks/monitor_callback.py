"""`MonitorCallback`: the shared base of the callbacks that watch one logged quantity
(EarlyStopping, ReduceLROnPlateau), as Keras's `keras.src.callbacks.MonitorCallback`."""

import warnings

import numpy as np

from ember.callbacks.callback import Callback

def metric_direction(metric):
    """'up', 'down' or None (unknown) for a metric object (Keras's `_direction`)."""
    return getattr(metric, "_direction", None)


def compiled_metrics(model):
    """The metric objects the model reports (Keras's `model.metrics`), flattening containers
    that hold a `metrics` list as Keras's CompileMetrics does."""
    found = []
    for m in getattr(model, "metrics", []):
        found.extend(m.metrics if isinstance(getattr(m, "metrics", None), list) else [m])
    return found


class MonitorCallback(Callback):
    """Base class of callbacks that compare a monitored quantity with its best value so far.

    Args:
        monitor: quantity to monitor, a key of the epoch logs. Defaults to "val_loss".
        mode: "min", "max" or "auto" (inferred from the monitored metric: losses go down,
            accuracies up). An unknown mode warns and falls back to "auto", as Keras.
        baseline: initial best value; None uses the first monitored value.
        min_delta: smallest change that counts as an improvement (its sign is ignored).
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ["auto", "min", "max"]:
            warnings.warn(
                f"{self.__class__.__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Picks np.less or np.greater; called at the first epoch end, once the model's
        metrics exist."""
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            metric_name = self.monitor.removeprefix("val_")
            if metric_name == "loss":
                self.monitor_op = np.less
            for m in compiled_metrics(self.model):
                if m.name == metric_name:
                    direction = metric_direction(m)
                    if direction == "up":
                        self.monitor_op = np.greater
                    elif direction is not None:
                        self.monitor_op = np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received monitor={self.monitor}, but "
                    "ember isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value."
                )
        # Stored signed, so that `value - min_delta` moves the value against improvement.
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
