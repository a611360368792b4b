"""Runs every benchmark and prints one summary table of all measurements with their targets.

Run from the repository root: python bench/run_all.py [--quick] [--threads N]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_cnn  # noqa: E402
import bench_conv_gemm  # noqa: E402
import bench_dense_gemm  # noqa: E402
import bench_fit_epoch  # noqa: E402
import bench_input_pipeline  # noqa: E402
import bench_mlp  # noqa: E402
import bench_rnn  # noqa: E402
import bench_transformer  # noqa: E402
import common  # noqa: E402

BENCHMARKS = [
    ("MLP train/predict vs PyTorch (ms)", bench_mlp),
    ("fit epoch vs Keras 3 (s)", bench_fit_epoch),
    ("large Dense vs sgemm (GFLOP/s)", bench_dense_gemm),
    ("seed CNN train/predict/memory vs PyTorch (ms, MiB)", bench_cnn),
    ("ResNet 3x3 conv vs sgemm (GFLOP/s)", bench_conv_gemm),
    ("seed text classifier LSTM/GRU vs PyTorch (ms, MiB)", bench_rnn),
    ("Transformer block train step and attention memory vs PyTorch (ms, MiB)",
     bench_transformer),
    ("fit on an input pipeline vs on arrays (ms/step)", bench_input_pipeline),
]


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("ember benchmarks " + ("(quick)" if args.quick else ""))
    rows = []
    for title, module in BENCHMARKS:
        t0 = time.perf_counter()
        part = module.run(args.quick)
        common.print_table(f"{title}; {time.perf_counter() - t0:.0f} s; {common.load_line()}",
                           part)
        rows.extend(part)
    targeted = [r for r in rows if r.target is not None]
    common.print_table("summary: the targets", targeted)
    missed = sum(r.verdict() == "MISSED" for r in targeted)
    print(f"# {len(targeted) - missed} of {len(targeted)} targets met; after: {common.load_line()}")


if __name__ == "__main__":
    main()
