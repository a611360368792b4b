"""The callback that prints the progress bar and metrics of fit/evaluate/predict."""

import sys

from ember.callbacks.callback import Callback
from ember.utils.progbar import Progbar


class ProgbarLogger(Callback):
    """Prints metrics to stdout, as Keras's `ProgbarLogger`.

    It reads `verbose` ("auto" means 1), `epochs` and `steps` from the params. verbose=1 shows
    a progress bar per epoch; verbose=2 prints one line per epoch. "Epoch i/n" is printed
    before each epoch when there is more than one. Inside `fit`, validation is silent.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(
                f"ProgbarLogger: expected `verbose` to be 'auto', 0, 1 or 2, received {verbose!r}"
            )
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        # When this logger is called inside `fit`, validation is silent.
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        # Don't pass prediction results.
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            # The model passes running averages already: show every value as given.
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
            )

    def _update_progbar(self, batch, logs=None):
        self._maybe_init_progbar()
        self.seen = batch + 1  # One-indexed.
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()) if logs else None, finalize=False)

    def _finalize_progbar(self, logs):
        self._maybe_init_progbar()
        if self.target is None:
            # The number of steps was unknown until now (e.g. a generator without length).
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)
