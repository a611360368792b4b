"""`ReduceLROnPlateau`: lowers the learning rate when a monitored quantity stops improving."""

import warnings

import numpy as np

from ember.callbacks.messages import print_msg
from ember.callbacks.monitor_callback import MonitorCallback


def read_learning_rate(optimizer):
    """The optimizer's learning rate as Keras reads it: Keras keeps it in a float32 variable,
    so the values compared, logged and scaled are float32-rounded (0.001 reads back as
    0.0010000000474974513)."""
    return float(np.float32(optimizer.learning_rate))


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a metric has stopped improving.

    After `patience` epochs without improvement the learning rate becomes
    `max(lr * factor, min_lr)`; then `cooldown` epochs pass before the counting resumes.
    Each epoch's logs get the current learning rate under the key "learning_rate".

    Args:
        monitor: quantity to monitor. Defaults to "val_loss".
        factor: multiplier of the learning rate, below 1. Defaults to 0.1.
        patience: epochs without improvement before reducing. Defaults to 10.
        verbose: 0 (quiet) or 1 (prints each reduction). Defaults to 0.
        mode: "min", "max" or "auto" (direction inferred from the monitored metric).
        min_delta: smallest change that counts as an improvement. Defaults to 1e-4.
        cooldown: epochs to wait after a reduction before counting again. Defaults to 0.
        min_lr: lower bound of the learning rate. Defaults to 0.

    Example:

        reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
        model.fit(x_train, y_train, callbacks=[reduce_lr])
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        """Resets the wait and cooldown counters and the best value."""
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        old_lr = read_learning_rate(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                name_str = f" {name}" if name else ""
                print_msg(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{name_str} learning rate "
                    f"to {new_lr}."
                )
            return True
        return False

    def _optimizers(self):
        """(optimizer, name) pairs: each inner optimizer of a multi-optimizer, else the one."""
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            return [(opt, opt.name) for opt in optimizer.optimizers]
        return [(optimizer, "")]

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        # Written into the shared logs dict, so History and CSVLogger (later in the list) see it.
        for opt, name in self._optimizers():
            key = f"learning_rate_{name}" if name else "learning_rate"
            logs[key] = read_learning_rate(opt)
        current = logs.get(self.monitor)

        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics "
                f"are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0

        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for opt, name in self._optimizers():
                    if self._reduce_optimizer_lr(opt, epoch, name):
                        reduced = True
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0
