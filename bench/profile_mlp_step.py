"""Where the time of one MLP train step goes in ember (a diagnostic, not a comparison).

For the 784-128-10 Adam MLP at batch 32 and 128 it times, interleaved, with medians:
  - the compiled train step (forward, loss, backward, Adam: what fit pays per batch);
  - the test step (forward and loss only) and the predict step (forward only);
  - the fused Adam update alone (model.optimizer._core.step on the parameter arena);
  - eager ember.ops.matmul at the step's GEMM shapes (x @ W1, x^T @ dY1, and layer 2's).
Each under three thread settings (shown for the default --threads 2), because ember runs two thread pools (OpenMP for its own
kernels, OpenBLAS's pthreads for GEMMs) and on few cores their idle spinning can collide:
  "2/2": ember.config.set_num_threads(2) as the benchmarks use (OpenMP 2, OpenBLAS 2);
  "2/1": then OpenBLAS alone set back to 1 thread (through the library's own C entry point);
  "1/1": ember.config.set_num_threads(1).
The PyTorch eager step of bench_mlp.py is timed alongside for reference (where OpenMP runs
2 threads: torch shares ember's OpenMP runtime in one process).

`--busy N` starts N busy-looping processes for the whole run, to see how each framework's
step degrades when the cores are shared (as on a CI machine): with 2 threads on 2 cores, one
busy process means a thread team keeps losing a member to the scheduler.

Run from the repository root: python bench/profile_mlp_step.py [--quick] [--busy N]
"""
import contextlib
import ctypes
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import bench_mlp  # noqa: E402
import common  # noqa: E402


def openblas_set_threads():
    """The thread setter of the OpenBLAS that ember links (scipy-openblas32), or None."""
    try:
        import scipy_openblas32
    except ImportError:
        return None
    for path in glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas*.so")):
        lib = ctypes.CDLL(path)
        fn = getattr(lib, "scipy_openblas_set_num_threads", None)
        if fn is not None:
            return fn
    return None


@contextlib.contextmanager
def busy_processes(n):
    """n processes spinning on a core each, stopped on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def pieces(ember, torch, batch, hidden=128):
    x, y = bench_mlp.make_data(batch)
    model = bench_mlp.ember_model(ember, hidden, "adam")
    y32 = y.astype(np.int32)
    model.train_on_batch(x, y32)
    program = model._executable.step(True, [y32]).program
    predict = model._executable.predict_program()
    arena, opt = model._executable.arena, model.optimizer._core
    lr = model.optimizer.current_learning_rate()
    rng = np.random.default_rng(2)
    w1 = rng.standard_normal((bench_mlp.FEATURES, hidden), dtype=np.float32)
    w2 = rng.standard_normal((hidden, bench_mlp.CLASSES), dtype=np.float32)
    dy1 = rng.standard_normal((batch, hidden), dtype=np.float32)
    h = rng.standard_normal((batch, hidden), dtype=np.float32)
    xt = np.ascontiguousarray(x.T)
    matmul = ember.ops.matmul
    fns = {
        "train step": lambda: program.train_step([x], [y32], lr),
        "test step": lambda: program.test_step([x], [y32]),
        "predict step": lambda: predict.predict_step([x]),
        "Adam update alone": lambda: opt.step(arena, lr),
        f"matmul x@W1 ({batch}x784 @ 784x{hidden})": lambda: matmul(x, w1),
        f"matmul x^T@dY1 (784x{batch} @ {batch}x{hidden})": lambda: matmul(xt, dy1),
        f"matmul h@W2 ({batch}x{hidden} @ {hidden}x10)": lambda: matmul(h, w2),
    }
    if torch is not None:
        fns["torch eager train step (reference)"] = bench_mlp.torch_train_fn(
            torch, hidden, "adam", x, y)
    return fns


def run(quick=False, busy=0):
    import ember
    import torch

    common.set_threads(torch=torch)
    with busy_processes(busy):
        return _run(ember, torch, quick)


def _run(ember, torch, quick):
    blas_threads = openblas_set_threads()
    n = common.THREADS
    settings = [(f"{n}/{n}", n, None), (f"{n}/1", n, 1), ("1/1", 1, None)]
    if blas_threads is None:
        settings = [s for s in settings if s[2] is None]
    if n == 1:
        settings = settings[-1:]
    repeats = common.repeats_for(quick, 7)
    block = 0.05 if quick else 0.3
    rows = []
    for batch in (32, 128):
        for label, threads, blas in settings:
            ember.config.set_num_threads(threads)
            if blas is not None:
                blas_threads(blas)
            # ember and torch share one OpenMP runtime in this process, so the torch row is
            # only shown where the OpenMP thread count is the benchmarks' one.
            reference = torch if threads == common.THREADS else None
            t = common.time_interleaved(pieces(ember, reference, batch), repeats, 20, block)
            for name, timing in t.items():
                rows.append(common.Row(f"b{batch} threads {label}: {name}", 1e3 * timing.median,
                                       "ms", spread=timing.spread()))
    ember.config.set_num_threads(common.THREADS)
    return rows


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, extra=lambda p: p.add_argument(
        "--busy", type=int, default=0, help="busy-looping processes to run alongside"))
    common.print_header(f"MLP step profile (threads = OpenMP/OpenBLAS), {args.busy} busy "
                        "processes alongside " + ("(quick)" if args.quick else ""))
    rows = run(args.quick, args.busy)
    common.print_table("ember MLP step pieces, ms median", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
