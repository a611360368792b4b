"""Scaled dot-product attention, forward + backward, against torch's scaled_dot_product_attention;
and the memory of one attention op's plan as the sequence grows.

Speed problem: q, k, v (B=32, T=128, H=4, D=32) float32 in Keras's (B, T, H, D) layout, scale
1/sqrt(D), without and with a causal mask. ember runs the bare `dot_product_attention` op
compiled into a plan through ember.backend.function.Function with an output gradient (dq, dk,
dv), the way MultiHeadAttention's attention core runs inside a train step. torch runs
F.scaled_dot_product_attention on (B, H, T, D) tensors with requires_grad, then backward. Both
run with the same thread count, interleaved.

Memory: the plan's workspace (every buffer it owns: inputs' gradients, the output, aux and
scratch, reused by liveness) for one attention op forward + backward at B=4, H=4, D=32 as T
grows from 512 to 4096, next to the bytes of one T x T float32 score matrix per (b, h), which
a materialising implementation would hold. FlashAttention-style kernels keep it linear in T.

Run from the repository root: python bench/bench_attention.py [--quick] [--sections speed,memory]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402


def ember_fns(q, k, v, g, causal):
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    from ember.ops.attention import dot_product_attention

    syms = [input_tensor(x.shape, "float32") for x in (q, k, v)]
    fn = Function(syms, [dot_product_attention(*syms, is_causal=causal)])
    fwd_bwd = fn._plan([q, k, v], True, None)
    fwd = fn._plan([q, k, v], False, None)
    return (lambda: fwd.run([q, k, v], None, [], 0)), (lambda: fwd_bwd.run([q, k, v], None, [g], 0))


def torch_fns(torch, q, k, v, g, causal):
    F = torch.nn.functional
    tq, tk, tv = (torch.from_numpy(x).transpose(1, 2).contiguous().requires_grad_() for x in (q, k, v))
    tg = torch.from_numpy(g).transpose(1, 2).contiguous()

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)

    def fwd_bwd():
        for t in (tq, tk, tv):
            t.grad = None
        F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal).backward(tg)

    return fwd, fwd_bwd


def speed(ember, torch, quick):
    B, T, H, D = (8, 128, 4, 32) if quick else (32, 128, 4, 32)
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((B, T, H, D)).astype("float32") for _ in range(4))
    rows = []
    for causal in (False, True):
        fns = {}
        fns["ember fwd"], fns["ember fwd+bwd"] = ember_fns(q, k, v, g, causal)
        if torch is not None:
            fns["torch fwd"], fns["torch fwd+bwd"] = torch_fns(torch, q, k, v, g, causal)
        t = common.time_interleaved(fns, common.repeats_for(quick, 7), 3, 0.2)
        tag = f"B={B} T={T} H={H} D={D}{' causal' if causal else ''}"
        for part in ("fwd+bwd", "fwd"):
            ref = t.get(f"torch {part}")
            rows.append(common.Row(f"{tag}: {part}", 1e3 * t[f"ember {part}"].median, "ms",
                                   None if ref is None else 1e3 * ref.median,
                                   "torch sdpa" if ref is not None else "",
                                   spread=t[f"ember {part}"].spread()))
    common.print_table("attention speed (ember plan vs torch.nn.functional.sdpa)", rows)


def workspace_bytes(B, T, H, D):
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    from ember.ops.attention import dot_product_attention

    syms = [input_tensor((B, T, H, D), "float32") for _ in range(3)]
    fn = Function(syms, [dot_product_attention(*syms, is_causal=True)])
    return fn._plan([np.zeros((B, T, H, D), "float32")] * 3, True, None).workspace_bytes


def memory(quick):
    B, H, D = 4, 4, 32
    lengths = (512, 1024, 2048) if quick else (512, 1024, 2048, 4096)
    print("\n== attention plan workspace, forward + backward (B=4, H=4, D=32, float32)")
    print(f"{'T':>6}  {'workspace MiB':>13}  {'per T (KiB)':>11}  {'one TxT scores for all (b,h) MiB':>32}")
    for T in lengths:
        ws = workspace_bytes(B, T, H, D)
        scores = B * H * T * T * 4
        print(f"{T:>6}  {ws / 2**20:>13.2f}  {ws / T / 1024:>11.2f}  {scores / 2**20:>32.1f}")


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, extra=lambda p: p.add_argument(
        "--sections", default="speed,memory", help="comma-separated: speed, memory"))
    import ember
    try:
        import torch
    except ImportError:
        torch = None
    common.set_threads(ember=ember, torch=torch)
    common.print_header("attention")
    sections = args.sections.split(",")
    if "speed" in sections:
        speed(ember, torch, args.quick)
    if "memory" in sections:
        memory(args.quick)


if __name__ == "__main__":
    main()
