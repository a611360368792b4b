"""A large Dense layer's train step in GFLOP/s, against the sgemm rate of the BLAS ember links.

Layer: Dense 4096 -> 4096, batch 512, linear, mean squared error, plain SGD. A train step does
three GEMMs of 2*512*4096*4096 FLOP each: forward x @ W, the kernel gradient x^T @ dy and the
input gradient dy @ W^T. ember (rightly) skips the input gradient of a model's first layer, so
the big layer sits behind a small trainable Dense 64 -> 4096, as any hidden layer does; that
front layer's two GEMMs (forward and kernel gradient, 2*512*64*4096 FLOP each, 1% of the
total) are counted too. Everything else in the step (bias, loss, SGD update) is the overhead
the 85% target allows.

The sgemm rate is ember.ops.matmul on 4096x4096 @ 4096x4096 float32 arrays, eager: that is
the BLAS ember links (OpenBLAS from scipy-openblas32). numpy's matmul (numpy's own OpenBLAS,
at its default thread count) and torch.matmul (MKL) are shown for reference only.

Run from the repository root: python bench/bench_dense_gemm.py [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

TARGET = 0.85  # train step GFLOP/s / sgemm GFLOP/s
FRONT = 64


def gemm_flop(m, n, k):
    return 2.0 * m * n * k


def sizes(quick):
    """(matmul side, layer width, batch)."""
    return (2048, 2048, 256) if quick else (4096, 4096, 512)


def matmul_fns(ember, torch, side):
    """Square float32 matmuls through ember, numpy and torch (when installed)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((side, side), dtype=np.float32)
    b = rng.standard_normal((side, side), dtype=np.float32)
    fns = {"ember": lambda: ember.ops.matmul(a, b), "numpy": lambda: a @ b}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: torch.matmul(ta, tb)
    return fns


def layer_step(ember, width, batch):
    """The compiled train step of Dense(FRONT -> width) -> Dense(width -> width)."""
    from ember import layers

    model = ember.Sequential([
        ember.Input((FRONT,)),
        layers.Dense(width, name="front"),
        layers.Dense(width, name="big"),
    ])
    # A small learning rate keeps the weights (and so the arithmetic) well-scaled over many
    # steps on random data.
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1e-4), loss="mse")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, FRONT), dtype=np.float32)
    y = rng.standard_normal((batch, width), dtype=np.float32)
    model.train_on_batch(x, y)
    step = model._executable.step(True, [y])
    lr = model.optimizer.current_learning_rate()
    pieces = {
        "train step": lambda: step.program.train_step([x], [y], lr),
        "test step (forward + loss)": lambda: step.program.test_step([x], [y]),
        "optimizer update alone": lambda: model.optimizer._core.step(model._executable.arena, lr),
    }
    flop = 3 * gemm_flop(batch, width, width) + 2 * gemm_flop(batch, width, FRONT)
    return pieces, flop


def run(quick=False):
    import ember

    try:
        import torch
    except ImportError:
        torch = None
    common.set_threads(ember=ember, torch=torch)
    side, width, batch = sizes(quick)
    repeats = 2 if quick else 5
    pieces, flop = layer_step(ember, width, batch)
    # One interleaved timing for the matmuls and the step, so load comes and goes alike.
    t = common.time_interleaved({**matmul_fns(ember, torch, side), **pieces}, repeats, 1, 0.0)
    matmul_flop = gemm_flop(side, side, side)
    sgemm = matmul_flop / 1e9 / t["ember"].median
    rows = [common.Row(f"ember.ops.matmul {side}^3 (linked BLAS)", sgemm, "GFLOP/s",
                       spread=t["ember"].spread(), note=f"{1e3 * t['ember'].median:.0f} ms")]
    for name, label in (("numpy", "numpy matmul (own OpenBLAS)"), ("torch", "torch.matmul (MKL)")):
        if name in t:
            rows.append(common.Row(f"{label} {side}^3", matmul_flop / 1e9 / t[name].median,
                                   "GFLOP/s", spread=t[name].spread(),
                                   note=f"{1e3 * t[name].median:.0f} ms; reference only"))
    train = t["train step"]
    rows.append(common.Row(
        f"Dense {width}x{width} b{batch} train step", flop / 1e9 / train.median, "GFLOP/s",
        sgemm, "ember.ops.matmul", TARGET, higher_is_better=True, spread=train.spread(),
        note=f"{1e3 * train.median:.0f} ms/step, {flop / 1e9:.1f} GFLOP counted"))
    for name in ("test step (forward + loss)", "optimizer update alone"):
        rows.append(common.Row(f"  its {name}", 1e3 * t[name].median, "ms",
                               spread=t[name].spread()))
    return rows


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("Dense GEMM throughput " + ("(quick)" if args.quick else ""))
    rows = run(args.quick)
    common.print_table("large Dense layer vs sgemm (ratio = step rate / ember sgemm rate)", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
