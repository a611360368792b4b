"""A ResNet-style 3x3 convolution, forward + backward, in GFLOP/s against the sgemm rate.

Problem: x (32, 56, 56, 64) NHWC float32, kernel 3x3, 64 -> 64 channels, padding 'same',
stride 1, no bias, no activation. Forward + backward computes y, the input gradient dx and the
kernel gradient dW: three products of 2*N*H*W*Cout*9*Cin FLOP each (3 x 7.4 GFLOP).

What runs in ember: the bare `conv` op recorded on a symbolic input and compiled into a plan
through ember.backend.function.Function, run with an output gradient, which is what a
ResNet's inner conv layer does inside a train step. A model made of this one layer would not
do: ember rightly skips the input gradient of a model's first layer, so its train step would
measure 2 of the 3 products (plus bias and optimizer). That one-layer model's train step
(Conv2D(64, 3, padding='same') + bias, SGD, mean squared error) is shown for reference, with
its own FLOP count of 2 products.

The sgemm rate is ember.ops.matmul on 4096x4096 float32 arrays (the BLAS ember links), timed
interleaved with the convolutions. PyTorch's conv2d forward + backward (x.requires_grad, so dx
is computed too) is shown for reference in NCHW and channels_last.

Run from the repository root: python bench/bench_conv_gemm.py [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

TARGET = 0.60  # conv fwd+bwd GFLOP/s / sgemm GFLOP/s


def sizes(quick):
    """(N, H, W, Cin, Cout, matmul side)."""
    return (8, 56, 56, 64, 64, 2048) if quick else (32, 56, 56, 64, 64, 4096)


def conv_flop(n, h, w, cin, cout):
    """One product (forward, dx or dW) of a 3x3 'same' convolution."""
    return 2.0 * n * h * w * cout * 9 * cin


def ember_conv_fns(ember, x, kernel, g):
    """Forward and forward+backward plans of the bare conv op on a symbolic input."""
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    from ember.backend.variables import Variable

    xs = input_tensor(x.shape, "float32")
    kv = Variable(kernel, name="kernel", dtype="float32")
    out = ember.ops.apply_op("conv", [xs, kv], {"padding": "same"}, cast=False)
    fn = Function([xs], [out])
    arena = fn._arena()
    # with_grads=True: gradients of the input (dx) and of the kernel (dW, into the arena).
    fwd_bwd = fn._plan([x], True, arena)
    fwd = fn._plan([x], False, arena)
    return (lambda: fwd.run([x], arena, [], 0)), (lambda: fwd_bwd.run([x], arena, [g], 0))


def ember_layer_step(ember, x, cout):
    """The train step of a model made of one Conv2D layer (no dx: it is the first layer)."""
    from ember import layers

    model = ember.Sequential([ember.Input(x.shape[1:]),
                              layers.Conv2D(cout, 3, padding="same")])
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=1e-4), loss="mse")
    y = np.random.default_rng(3).standard_normal(x.shape[:3] + (cout,), dtype=np.float32)
    model.train_on_batch(x, y)
    program = model._executable.step(True, [y]).program
    lr = model.optimizer.current_learning_rate()
    return lambda: program.train_step([x], [y], lr)


def torch_conv_fns(torch, x, kernel, g, channels_last):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    xt.requires_grad_(True)
    wt = torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous(memory_format=fmt)
    wt.requires_grad_(True)
    gt = torch.from_numpy(g).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    conv = torch.nn.functional.conv2d

    def fwd_bwd():
        xt.grad = wt.grad = None
        conv(xt, wt, padding=1).backward(gt)

    return fwd_bwd


def blas_core():
    """The kernels the linked OpenBLAS chose for this CPU (e.g. 'Haswell': AVX2 only)."""
    try:
        import ctypes

        import scipy_openblas32
        corename = scipy_openblas32.dll.scipy_openblas_get_corename
        corename.restype = ctypes.c_char_p
        return corename().decode()
    except (ImportError, AttributeError, OSError):
        return "unknown"


def run(quick=False):
    import ember

    try:
        import torch
    except ImportError:
        torch = None
    common.set_threads(ember=ember, torch=torch)
    n, h, w, cin, cout, side = sizes(quick)
    repeats = 2 if quick else 5
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, cin), dtype=np.float32)
    kernel = (rng.standard_normal((3, 3, cin, cout)) * 0.05).astype(np.float32)
    g = rng.standard_normal((n, h, w, cout), dtype=np.float32)
    a = rng.standard_normal((side, side), dtype=np.float32)
    b = rng.standard_normal((side, side), dtype=np.float32)
    fwd, fwd_bwd = ember_conv_fns(ember, x, kernel, g)
    fns = {"sgemm": lambda: ember.ops.matmul(a, b), "ember fwd+bwd": fwd_bwd,
           "ember fwd": fwd, "ember layer step": ember_layer_step(ember, x, cout)}
    if torch is not None:
        fns["torch NCHW"] = torch_conv_fns(torch, x, kernel, g, False)
        fns["torch channels_last"] = torch_conv_fns(torch, x, kernel, g, True)
    # One interleaved timing, one call per block, so load comes and goes alike for all.
    t = common.time_interleaved(fns, repeats, 1, 0.0)
    sgemm = 2.0 * side ** 3 / 1e9 / t["sgemm"].median
    one = conv_flop(n, h, w, cin, cout)
    shape = f"x ({n},{h},{w},{cin}) 3x3 {cin}->{cout} same"

    def rate(name, flop):
        return flop / 1e9 / t[name].median

    def ms(name):
        return f"{1e3 * t[name].median:.0f} ms"

    rows = [
        common.Row(f"ember.ops.matmul {side}^3 (linked BLAS)", sgemm, "GFLOP/s",
                   spread=t["sgemm"].spread(),
                   note=f"{ms('sgemm')}; OpenBLAS kernels: {blas_core()}"),
        common.Row(f"conv {shape}: fwd+bwd (y, dx, dW), plan", rate("ember fwd+bwd", 3 * one),
                   "GFLOP/s", sgemm, "ember.ops.matmul", TARGET, higher_is_better=True,
                   spread=t["ember fwd+bwd"].spread(),
                   note=f"{ms('ember fwd+bwd')}, {3 * one / 1e9:.1f} GFLOP"),
        common.Row("  its forward alone, plan", rate("ember fwd", one), "GFLOP/s", sgemm,
                   "ember.ops.matmul", spread=t["ember fwd"].spread(), note=ms("ember fwd")),
        common.Row("  one-layer Conv2D model train step (y, dW; no dx)",
                   rate("ember layer step", 2 * one), "GFLOP/s", sgemm, "ember.ops.matmul",
                   spread=t["ember layer step"].spread(), note=ms("ember layer step")),
    ]
    for name in ("torch NCHW", "torch channels_last"):
        if name in t:
            rows.append(common.Row(
                f"  {name} conv2d fwd+bwd (y, dx, dW); reference", rate(name, 3 * one),
                "GFLOP/s", sgemm, "ember.ops.matmul", spread=t[name].spread(),
                note=f"{ms(name)}; ember/torch time "
                     f"{t['ember fwd+bwd'].median / t[name].median:.2f}x"))
    return rows


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("ResNet conv throughput " + ("(quick)" if args.quick else ""))
    rows = run(args.quick)
    common.print_table("3x3 conv fwd+bwd vs sgemm (ratio = conv rate / ember sgemm rate)", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
