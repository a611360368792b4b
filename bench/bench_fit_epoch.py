"""One `fit` epoch of an MNIST MLP: ember against Keras 3 on its torch backend.

60,000 samples of 784 features, batch 32, verbose=0, shuffled; model 784-128(relu)-10,
Adam, sparse categorical cross-entropy on the logits, accuracy metric, identical on both sides.
Data: random (uniform pixels in [0, 1), labels 0..9), or the real MNIST training set when the
environment variable EMBER_MNIST_DIR names a directory holding its IDX files.

Keras runs in a worker subprocess (KERAS_BACKEND=torch) so that its torch thread settings do
not touch ember's. The two processes take turns epoch by epoch (ember, Keras, ember, ...),
so background load on a shared machine hits both alike; the worker times its own fit calls.

Run from the repository root: python bench/bench_fit_epoch.py [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

SAMPLES, FEATURES, CLASSES, HIDDEN, BATCH = 60000, 784, 10, 128, 32
WARMUP_SAMPLES = 3200  # one short fit first: builds, compiles, fills caches
TARGET = 0.3


def load_data(samples):
    """(x float32 in [0, 1], y int32, description)."""
    mnist_dir = os.environ.get("EMBER_MNIST_DIR")
    if mnist_dir:
        from ember.datasets import mnist

        (x, y), _ = mnist.load_data(data_dir=mnist_dir)
        x = x.reshape(len(x), -1)[:samples].astype(np.float32) / 255.0
        return x, y[:samples].astype(np.int32), "MNIST"
    rng = np.random.default_rng(0)
    x = rng.random((samples, FEATURES), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=samples).astype(np.int32)
    return x, y, "random data"


def build(lib, layers, loss):
    """The same model and compile call for ember and Keras (they share the API)."""
    model = lib.Sequential([
        lib.Input((FEATURES,)),
        layers.Dense(HIDDEN, activation="relu"),
        layers.Dense(CLASSES),
    ])
    model.compile(optimizer="adam", loss=loss(from_logits=True), metrics=["accuracy"])
    return model


def timed_epoch(model, x, y):
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - t0


# ---- the Keras side, in its own process ---------------------------------------------------
def keras_worker(data_path, threads):
    """Line protocol on stdin/stdout: prints "ready", then one JSON line per "epoch" command."""
    import torch

    torch.set_num_threads(threads)
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"expected the torch Keras backend, found {keras.backend.backend()}")
    with np.load(data_path) as f:
        x, y = f["x"], f["y"]
    model = build(keras, keras.layers, keras.losses.SparseCategoricalCrossentropy)
    timed_epoch(model, x[:WARMUP_SAMPLES], y[:WARMUP_SAMPLES])
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        print(json.dumps({"seconds": timed_epoch(model, x, y)}), flush=True)


class KerasWorker:
    def __init__(self, data_path, threads):
        env = dict(os.environ, KERAS_BACKEND="torch")
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--keras-worker", data_path,
             str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self._expect("ready")

    def _expect(self, what):
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"the Keras worker exited before answering {what!r}:\n"
                               f"{self.log.read()[-3000:]}")
        return line.strip()

    def epoch(self):
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("epoch"))["seconds"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.log.close()


# ---- the ember side, in this process ------------------------------------------------------
def run(quick=False):
    import ember

    common.set_threads(ember=ember)
    samples = 6400 if quick else SAMPLES
    repeats = 1 if quick else 5
    x, y, source = load_data(samples)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, x=x, y=y)
        worker = KerasWorker(path, common.THREADS)
        try:
            model = build(ember, ember.layers, ember.losses.SparseCategoricalCrossentropy)
            timed_epoch(model, x[:WARMUP_SAMPLES], y[:WARMUP_SAMPLES])
            ember_t, keras_t = common.Timing(), common.Timing()
            for _ in range(repeats):
                ember_t.samples.append(timed_epoch(model, x, y))
                keras_t.samples.append(worker.epoch())
        finally:
            worker.close()
    steps = -(-samples // BATCH)
    note = (f"{samples} samples ({source}), {steps} steps: ember "
            f"{1e3 * ember_t.median / steps:.3f} ms/step, Keras "
            f"{1e3 * keras_t.median / steps:.3f} ms/step; epochs (s): ember "
            f"{_seconds(ember_t)}, Keras {_seconds(keras_t)}")
    return [common.Row(f"fit 1 epoch, b{BATCH}, {FEATURES}-{HIDDEN}-{CLASSES} adam", ember_t.median,
                       "s", keras_t.median, "Keras 3 (torch)", TARGET,
                       spread=ember_t.spread(), note=note)]


def _seconds(timing):
    return " ".join(f"{t:.2f}" for t in timing.samples)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("fit epoch: ember vs Keras 3 " + ("(quick)" if args.quick else ""))
    rows = run(args.quick)
    common.print_table("fit epoch seconds, median (ratio = ember / Keras)", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--keras-worker":
        keras_worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
