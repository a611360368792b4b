"""The base class of all callbacks, with every hook of Keras 3's `keras.callbacks.Callback`."""


def default(method):
    """Marks a hook as the base class's do-nothing default.

    `CallbackList` checks this mark to skip the per-batch loop when no callback overrides a
    batch hook: an override in a subclass (or a function assigned on an instance) lacks it.
    """
    method._is_default = True
    return method


def is_default(method):
    """Whether `method` is a hook that nobody has overridden."""
    return getattr(method, "_is_default", False)


class Callback:
    """Base class used to build new callbacks.

    Subclass it and override the hooks you need; `model.fit()`, `evaluate()` and `predict()`
    call them at the matching points of the loop.

    Attributes:
        params: dict of training parameters (verbose, epochs, steps, ...).
        model: the model being trained (set by `set_model`).

    The `logs` dict passed to the hooks holds the metric values of the current batch or epoch;
    validation values carry the prefix `val_`.
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    @default
    def on_batch_begin(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_begin`."""

    @default
    def on_batch_end(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_end`."""

    @default
    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (training only).

        Args:
            epoch: index of the epoch (0-based).
            logs: currently empty.
        """

    @default
    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch (training only).

        Args:
            epoch: index of the epoch (0-based).
            logs: metric results of the epoch, and of validation (prefixed `val_`) when run,
                e.g. `{'loss': 0.2, 'accuracy': 0.7, 'val_loss': 0.25}`.
        """

    @default
    def on_train_batch_begin(self, batch, logs=None):
        """Called at the beginning of a training batch in `fit`.

        Args:
            batch: index of the batch within the epoch.
            logs: currently empty.
        """
        # For backwards compatibility.
        self.on_batch_begin(batch, logs=logs)

    @default
    def on_train_batch_end(self, batch, logs=None):
        """Called at the end of a training batch in `fit`.

        Args:
            batch: index of the batch within the epoch.
            logs: metric results aggregated up to this batch.
        """
        # For backwards compatibility.
        self.on_batch_end(batch, logs=logs)

    @default
    def on_test_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch in `evaluate`, and of a validation batch in `fit`.

        Args:
            batch: index of the batch.
            logs: currently empty.
        """

    @default
    def on_test_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `evaluate`, and of a validation batch in `fit`.

        Args:
            batch: index of the batch.
            logs: metric results aggregated up to this batch.
        """

    @default
    def on_predict_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch in `predict`.

        Args:
            batch: index of the batch.
            logs: currently empty.
        """

    @default
    def on_predict_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `predict`.

        Args:
            batch: index of the batch.
            logs: `{'outputs': ...}`, the predictions of the batch.
        """

    @default
    def on_train_begin(self, logs=None):
        """Called at the beginning of training."""

    @default
    def on_train_end(self, logs=None):
        """Called at the end of training; `logs` holds the last epoch's results."""

    @default
    def on_test_begin(self, logs=None):
        """Called at the beginning of evaluation or validation."""

    @default
    def on_test_end(self, logs=None):
        """Called at the end of evaluation or validation; `logs` holds its results."""

    @default
    def on_predict_begin(self, logs=None):
        """Called at the beginning of prediction."""

    @default
    def on_predict_end(self, logs=None):
        """Called at the end of prediction."""
