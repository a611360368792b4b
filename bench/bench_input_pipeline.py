"""`fit` fed by an ember.data pipeline against `fit` on in-memory arrays, for the seed CNN.

The arrays are MNIST-shaped uint8 images and int labels. "arrays": fit(x / 255, y) on float32
arrays prepared beforehand. "pipeline": fit on
Dataset.from_tensor_slices((x, y)).shuffle(n).batch(B).map(scale).prefetch(AUTOTUNE), where
`scale` converts each uint8 batch to float32 / 255 in Python while the previous step runs in C++
(the step releases the GIL). The issue asks the pipeline to keep the step time within 10% of the
arrays'. Both fits run the same number of steps, interleaved, several times; the table shows the
median time per step.

Run from the repository root: python bench/bench_input_pipeline.py [--quick]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402
from bench_cnn import ember_model  # noqa: E402

BATCH, SAMPLES = 128, 12800
TARGET = 1.10  # pipeline step time at most 10% above the arrays'


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int32)
    return x, y


def run(quick=False):
    import ember
    from ember.data import AUTOTUNE, Dataset

    common.set_threads(ember=ember)
    n = 2560 if quick else SAMPLES
    x, y = make_data(n)
    xf = x.astype(np.float32) / 255.0

    def scale(images, labels):
        return images.astype(np.float32) / 255.0, labels

    pipeline = Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0).batch(BATCH).map(
        scale).prefetch(AUTOTUNE)
    steps = -(-n // BATCH)
    model_arrays, model_pipeline = ember_model(ember), ember_model(ember)
    model_arrays.fit(xf[:BATCH], y[:BATCH], verbose=0)        # builds and compiles
    model_pipeline.fit(pipeline.take(1), verbose=0)
    times = {"arrays": [], "pipeline": []}
    for _ in range(2 if quick else 5):
        t0 = time.perf_counter()
        model_arrays.fit(xf, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
        times["arrays"].append((time.perf_counter() - t0) / steps)
        time.sleep(common.SETTLE_SECONDS)
        t0 = time.perf_counter()
        model_pipeline.fit(pipeline, epochs=1, verbose=0)
        times["pipeline"].append((time.perf_counter() - t0) / steps)
        time.sleep(common.SETTLE_SECONDS)
    arrays = 1e3 * float(np.median(times["arrays"]))
    piped = 1e3 * float(np.median(times["pipeline"]))
    spread = (max(times["pipeline"]) - min(times["pipeline"])) / min(times["pipeline"])
    return [common.Row(f"fit seed CNN b{BATCH}, {steps} steps: Dataset.map + prefetch", piped,
                       "ms/step", arrays, "fit on arrays", TARGET, spread=spread)]


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("input pipeline: fit on an ember.data.Dataset vs on arrays " +
                        ("(quick)" if args.quick else ""))
    common.print_table(f"ms per train step, median (ratio = pipeline / arrays); after: "
                       f"{common.load_line()}", run(args.quick))


if __name__ == "__main__":
    main()
