"""`LearningRateScheduler`: sets the learning rate at the start of each epoch (Keras 3)."""

import numpy as np

from ember.callbacks.callback import Callback
from ember.callbacks.messages import print_msg
from ember.callbacks.reduce_lr_on_plateau import read_learning_rate


class LearningRateScheduler(Callback):
    """Learning rate scheduler.

    At the beginning of every epoch, calls `schedule(epoch, lr)` with the epoch index (from 0)
    and the current learning rate, and gives the optimizer the float it returns. Each epoch's
    logs get the learning rate under the key "learning_rate".

    Args:
        schedule: function (epoch, lr) -> new learning rate (float). A function of the epoch
            alone is accepted too (Keras's old API).
        verbose: 0 (quiet) or 1 (prints each update).

    Example:

        def scheduler(epoch, lr):
            return lr if epoch < 10 else lr * math.exp(-0.1)

        model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:  # new API
            learning_rate = read_learning_rate(optimizer)
            learning_rate = self.schedule(epoch, learning_rate)
        except TypeError:  # Keras's old API: schedule(epoch)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                learning_rate = self._update_optimizer_lr(opt, epoch)
                if self.verbose > 0:
                    print_msg(
                        f"\nEpoch {epoch + 1}: LearningRateScheduler setting {opt.name} "
                        f"learning rate to {learning_rate}."
                    )
        else:
            learning_rate = self._update_optimizer_lr(optimizer, epoch)
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                    f"{learning_rate}."
                )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        optimizer = self.model.optimizer
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                logs[f"learning_rate_{opt.name}"] = read_learning_rate(opt)
        else:
            logs["learning_rate"] = read_learning_rate(optimizer)
