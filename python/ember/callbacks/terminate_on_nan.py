"""`TerminateOnNaN`: stops `fit` at the first batch whose loss is NaN or infinite (Keras 3)."""

import numpy as np

from ember.callbacks.callback import Callback
from ember.callbacks.messages import print_msg


class TerminateOnNaN(Callback):
    """Callback that terminates training when a NaN or Inf loss is encountered.

    By default it sets `model.stop_training = True`: the epoch ends there and every callback's
    `on_train_end` still runs.

    Args:
        raise_error: True raises a RuntimeError at once instead, so no `on_train_end` runs
            (useful to keep the state of other callbacks as it was). Defaults to False.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        # Reached through on_train_batch_end, whose default forwards here (as in Keras).
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
