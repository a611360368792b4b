"""The `History` callback: the object `model.fit()` returns."""

from ember.callbacks.callback import Callback


class History(Callback):
    """Records the epoch results of training.

    `model.fit()` adds one automatically and returns it. After training:

        history.history  # {'loss': [0.9, 0.5, ...], 'val_loss': [...], ...}
        history.epoch    # [0, 1, ...]
        history.params   # {'verbose': 1, 'epochs': 10, 'steps': 1}
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        # Point the model at this object after every epoch, so `model.history` is current
        # even if training stops early.
        if self.model is not None:
            self.model.history = self
