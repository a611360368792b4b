"""`BackupAndRestore`: resumes an interrupted `fit` exactly where it stopped (Keras 3's API)."""

import json
import os

from ember.callbacks.callback import Callback


class BackupAndRestore(Callback):
    """Backs up the training state, and restores it when `fit` starts again after an
    interruption (a killed process, a preempted machine).

    The backup (one file, written atomically: an interruption mid-save leaves the previous
    backup intact) holds the weights, the optimizer's state, the dropout stream, the epoch and
    batch reached, the data order of that epoch and its running means; a resumed run therefore
    ends bit-identical to one that was never interrupted. The backup is deleted when `fit`
    completes (unless `delete_checkpoint=False`).

    Args:
        backup_dir: directory for the backup file.
        save_freq: "epoch" (after every epoch), or an integer number of batches between
            backups (mid-epoch resumption), or False (only on interruption by an exception).
        double_checkpoint: keep the previous backup too, used when the latest is unreadable.
        delete_checkpoint: delete the backup when training completes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: empty `backup_dir` argument passed")
        if save_freq not in ("epoch", False) and not (isinstance(save_freq, int) and
                                                       save_freq > 0):
            raise ValueError(f"BackupAndRestore: invalid save_freq {save_freq!r}: expected "
                             "'epoch', False or a positive integer")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, "latest.ember")
        self._previous = os.path.join(self.backup_dir, "previous.ember")
        self._batches = 0

    def on_train_begin(self, logs=None):
        from ember.saving import FileFormatError
        from ember.saving.model_io import restore_training_state
        self._batches = 0
        candidates = [self._path] + ([self._previous] if self.double_checkpoint else [])
        for path in candidates:
            if not os.path.exists(path):
                continue
            try:
                metadata = restore_training_state(self.model, path)
            except (FileFormatError, ValueError):
                if path == candidates[-1]:
                    raise
                continue
            state = json.loads(metadata["fit_state"])
            state["generator"] = _generator_state_from_json(state["generator"])
            self.model._fit_resume = state
            return

    def on_train_batch_end(self, batch, logs=None):
        if isinstance(self.save_freq, int) and self.save_freq is not False:
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._backup()

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            # A finished epoch resumes at the start of the next one.
            self._backup({"epoch": epoch + 1, "batch": 0, "generator": None})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            for path in (self._path, self._previous):
                if os.path.exists(path):
                    os.remove(path)

    def _backup(self, position=None):
        model = self.model
        state = dict(model._fit_position) if position is None else position
        if state["generator"] is None:  # next epoch: the generator as it is now
            state["generator"] = model._fit_generator.bit_generator.state
        step = next(s for s in model._executable._steps.values() if s.training)
        state["trackers"] = model._tracker_states(step)
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._previous)
        model.save(self._path, overwrite=True, include_optimizer=True,
                   _extra_metadata={"fit_state": json.dumps(state, default=_to_json)})


def _to_json(value):
    """NumPy values in a generator's state (Philox keeps uint64 arrays) as tagged lists."""
    import numpy as np
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(f"BackupAndRestore: cannot store a {type(value).__name__} in a backup")


def _generator_state_from_json(value):
    import numpy as np
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.array(value["__ndarray__"], dtype=value["dtype"])
        return {k: _generator_state_from_json(v) for k, v in value.items()}
    return value
