"""ModelCheckpoint and BackupAndRestore against scripted scenarios; a fit killed mid-epoch (a
child process SIGKILLs itself) and resumed ends bit-identical to an uninterrupted one."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import callbacks, layers


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def model(seed=0):
    ember.utils.set_random_seed(seed)
    m = ember.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"),
                          layers.Dropout(0.3), layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    x, y = data()
    pattern = str(tmp_path / "m.{epoch:02d}-{val_loss:.3f}.ember")
    model(0).fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                 callbacks=[callbacks.ModelCheckpoint(pattern)])
    names = sorted(os.listdir(tmp_path))
    assert [n[:5] for n in names] == ["m.01-", "m.02-", "m.03-"]
    loaded = ember.models.load_model(tmp_path / names[-1])
    assert loaded.optimizer.iterations == 3 * 3  # 72 samples / 32 = 3 batches per epoch


def test_model_checkpoint_save_best_only_and_weights_only(tmp_path, capsys):
    x, y = data()
    path = tmp_path / "best.weights.h5"
    values = iter([0.5, 0.4, 0.45, 0.3])
    saved = []

    class Scripted(callbacks.Callback):  # sets the monitored value each epoch
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = next(values)

    class Spy(callbacks.ModelCheckpoint):
        def _save(self, epoch, batch, logs):
            before = os.path.exists(path) and os.path.getmtime(path)
            super()._save(epoch, batch, logs)
            saved.append(os.path.exists(path) and os.path.getmtime(path) != before)

    m = model(1)
    m.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted(), Spy(
        str(path), monitor="score", mode="min", save_best_only=True, save_weights_only=True,
        verbose=1)])
    assert saved[0] and saved[1] and saved[3]
    out = capsys.readouterr().out
    assert "score did not improve from 0.40000" in out
    assert "score improved from 0.40000 to 0.30000" in out
    other = model(2)
    other.load_weights(path)
    for a, b in zip(other.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_batch_frequency(tmp_path):
    x, y = data()
    model(0).fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.ember"), save_freq=4)])
    assert sorted(os.listdir(tmp_path)) == ["b1-4.ember", "b2-2.ember", "b2-6.ember"]


@pytest.mark.parametrize("kwargs, words", [
    ({"filepath": "m.h5"}, ["must end with"]),
    ({"filepath": "m.ember", "save_weights_only": True}, [".weights.ember"]),
    ({"filepath": "m.ember", "save_freq": "batch"}, ["save_freq"]),
])
def test_model_checkpoint_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as e:
        callbacks.ModelCheckpoint(**kwargs)
    for w in words:
        assert w in str(e.value)


SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import ember
    from ember import callbacks
    from test_checkpoint_callbacks import data, model

    backup_dir, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x, y = data()

    class Killer(callbacks.Callback):
        seen = 0
        def on_train_batch_end(self, batch, logs=None):
            Killer.seen += 1
            if Killer.seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    cbs = [callbacks.BackupAndRestore(backup_dir, save_freq={freq!r})]
    if kill_at > 0:
        cbs.append(Killer())
    m = model(0)
    history = m.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=cbs)
    np.savez(out, *m.get_weights(), loss=history.history["loss"][-1])
""")


def _run(script, backup_dir, out, kill_at):
    return subprocess.run([sys.executable, str(script), str(backup_dir), str(out), str(kill_at)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("freq, kill_at", [(1, 9), (3, 13), ("epoch", 14)])
def test_backup_and_restore_resumes_bit_identical_after_a_kill(tmp_path, freq, kill_at):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)),
                                    freq=freq))
    clean = _run(script, tmp_path / "clean_backup", tmp_path / "clean.npz", 0)
    assert clean.returncode == 0, clean.stderr
    killed = _run(script, tmp_path / "backup", tmp_path / "resumed.npz", kill_at)
    assert killed.returncode == -9, killed.stderr  # SIGKILL mid-epoch (6 batches an epoch)
    assert os.listdir(tmp_path / "backup") == ["latest.ember"]
    resumed = _run(script, tmp_path / "backup", tmp_path / "resumed.npz", 0)
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(tmp_path / "clean.npz"), np.load(tmp_path / "resumed.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert os.listdir(tmp_path / "backup") == []  # deleted once training completed
