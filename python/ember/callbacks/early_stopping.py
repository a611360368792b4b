"""`EarlyStopping`: stops `fit` when a monitored quantity has stopped improving (Keras 3)."""

import warnings

from ember.callbacks.messages import print_msg
from ember.callbacks.monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored metric has stopped improving.

    At the end of every epoch the monitored value is compared with the best so far; after
    `patience` epochs without an improvement larger than `min_delta`, `model.stop_training` is
    set and `fit` ends after that epoch.

    Args:
        monitor: quantity to monitor. Defaults to "val_loss".
        min_delta: smallest absolute change that counts as an improvement. Defaults to 0.
        patience: epochs without improvement after which training stops. Defaults to 0.
        verbose: 0 (silent) or 1 (prints when the callback acts). Defaults to 0.
        mode: "min", "max" or "auto" (direction inferred from the monitored metric).
        baseline: value the monitored quantity must beat; while it is not beaten the patience
            counter keeps running even if the value improves on earlier epochs.
        restore_best_weights: at the end of training, set the weights of the best epoch (the
            first monitored epoch counts as best until another one improves on it).
        start_from_epoch: epochs of warm-up before monitoring starts. Defaults to 0.

    Example:

        callback = ember.callbacks.EarlyStopping(monitor="loss", patience=3)
        model.fit(x, y, epochs=10, callbacks=[callback])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # Allow instances to be re-used across `model.fit()` calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until an epoch improves, the first monitored epoch's weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Only restart the wait if the value beats both the baseline and the best so far.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        monitor_value = logs.get(self.monitor)
        if monitor_value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return monitor_value
