"""`LambdaCallback`: a callback made of plain functions passed as hook arguments (Keras 3)."""

from ember.callbacks.callback import Callback

# Every hook of the base class; any of them can be given as a keyword argument.
_HOOKS = sorted(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """Callback for creating simple, custom callbacks on-the-fly.

    The functions are called with the hooks' arguments: `on_epoch_begin`/`on_epoch_end` get
    `(epoch, logs)`, `on_train_begin`/`on_train_end` get `(logs)`, the batch hooks get
    `(batch, logs=logs)` (logs as a keyword argument), and so on for every hook of `Callback`.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions called at those points.
        **kwargs: any other hook of `Callback`, e.g. `on_test_end=fn`.

    Example:

        json_log = open("loss_log.json", mode="wt", buffering=1)
        cb = LambdaCallback(
            on_epoch_end=lambda epoch, logs: json_log.write(
                json.dumps({"epoch": epoch, "loss": logs["loss"]}) + "\\n"),
            on_train_end=lambda logs: json_log.close())
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        unknown = sorted(k for k in kwargs if k not in _HOOKS)
        if unknown:
            # Keras would store these silently and never call them; a misspelt hook is a bug.
            raise TypeError(
                f"LambdaCallback: unexpected keyword argument(s) {unknown}; the hooks are "
                f"{_HOOKS}"
            )
        hooks = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(
                    f"LambdaCallback: expected `{name}` to be a function, received {fn!r} of "
                    f"type {type(fn).__name__}"
                )
            # An instance attribute shadows the base hook; CallbackList sees it as an override.
            setattr(self, name, fn)
