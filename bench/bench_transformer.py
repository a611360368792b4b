"""A Transformer encoder block: train step against PyTorch (and Keras 3 on torch), and the memory
of one MultiHeadAttention layer's forward + backward as the sequence grows.

Train step (issue #5), input (32, 128, 128) float32, 10 classes, random data:
  MultiHeadAttention(num_heads=4, key_dim=32)(x, x) -> Add -> LayerNormalization ->
  Dense(512, relu) -> Dense(128) -> Add -> LayerNormalization -> GlobalAveragePooling1D ->
  Dense(10, softmax); compile("adam", "sparse_categorical_crossentropy").
ember and Keras run the same Keras-API code (keras_api_model). ember fuses the softmax into the
loss, so PyTorch runs the same layers on logits with F.cross_entropy, written as a PyTorch user
would: nn.MultiheadAttention(128, 4, batch_first=True) called with need_weights=False (its
scaled_dot_product_attention path), nn.LayerNorm(eps=1e-3, Keras's epsilon), nn.Linear,
mean over time, torch.optim.Adam(lr 1e-3, eps 1e-7), zero_grad(set_to_none=True), forward,
loss, backward, step. ember is timed as bench_cnn.py times it: "C++ step" is the call fit makes
per batch (program.train_step), "train_on_batch" the Keras per-call API. Keras 3 (torch
backend) runs model.train_on_batch in a worker subprocess (KERAS_BACKEND=torch, same thread
count) started with --keras-python (default: this Python); it is skipped where that Python has
no keras. All blocks are interleaved. As in bench_cnn.py, the table is measured twice, each in a
fresh subprocess: with glibc's default malloc and with malloc keeping freed memory.

Memory: one MultiHeadAttention(num_heads=4, key_dim=32) on (4, T, 128) inputs, forward and
backward (input and parameter gradients), T = 512 .. 4096, every (framework, T) in a fresh
subprocess (see memory_worker):
  ember: the plan's workspace (`core.Plan.workspace_bytes`: activations, kept-for-backward
    buffers, activation gradients and scratch, packed by liveness) of the layer compiled by
    ember.backend.function.Function with input and parameter gradients;
  torch: the peak of "Total Allocated" that PyTorch's CPU allocator reports to torch.profiler
    (profile_memory=True) during one forward + backward: bytes allocated in it and still live;
  both: the growth of peak RSS (VmHWM, reset through /proc/self/clear_refs) over two forward +
    backward passes at T, after one at T=16 has faulted the code in and allocated the
    persistent state (parameters, their gradients).

Profile (--sections profile, a diagnostic): each piece of the block alone, forward + backward
with input and parameter gradients, ember (a Function plan) against the same piece in PyTorch,
interleaved; plus the whole step, the forward + loss and the Adam update alone. Run in a
subprocess with malloc keeping freed memory.

On a machine shared with other work, wall-clock medians with 2 threads on 2 cores measure the
scheduler (a thread team waits for its descheduled member at every barrier). `--threads 1
--clock cpu` then times each step by the CPU time of the process that runs it, which stays the
compute alone (see CLOCK).

Run from the repository root:
  python bench/bench_transformer.py [--quick] [--sections speed,memory,profile]
      [--keras-python /path/to/python-with-keras] [--threads N] [--clock wall|cpu]
"""
import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402
from bench_cnn import MALLOC_MODES, _reset_peak, _status_kib  # noqa: E402
from bench_conv_gemm import blas_core  # noqa: E402

BATCH, TIME, DIM, HEADS, KEY_DIM, FF, CLASSES = 32, 128, 128, 4, 32, 512, 10
TARGET = 0.85  # ember C++ step / PyTorch step
MEMORY_BATCH, MEMORY_LENGTHS, WARM_LENGTH = 4, (512, 1024, 2048, 4096), 16
# --clock: "wall" (time.perf_counter, the default), or "cpu" (time.process_time of the process
# that runs the step). With --threads 1 the CPU time is the step's compute whatever else runs
# on the machine, which makes a busy shared machine usable; with more threads it also counts
# idle threads spinning, so it is only offered with --threads 1.
CLOCK = "wall"


def clock():
    return time.process_time() if CLOCK == "cpu" else time.perf_counter()


def worker_flags(quick):
    """The settings a worker subprocess of this benchmark inherits."""
    return ["--threads", str(common.THREADS), "--clock", CLOCK] + (["--quick"] if quick else [])


def make_data(batch=BATCH, steps=TIME, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, DIM), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=batch).astype(np.int32)
    return x, y


def keras_api_model(k):
    """The block in the Keras API; `k` is the ember or the keras module."""
    layers = k.layers
    inputs = k.Input(shape=(TIME, DIM))
    attended = layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM)(inputs, inputs)
    x = layers.LayerNormalization()(layers.Add()([inputs, attended]))
    ff = layers.Dense(DIM)(layers.Dense(FF, activation="relu")(x))
    x = layers.LayerNormalization()(layers.Add()([x, ff]))
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(CLASSES, activation="softmax")(x)
    model = k.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def torch_model(torch):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
            self.norm1 = nn.LayerNorm(DIM, eps=1e-3)
            self.ff1, self.ff2 = nn.Linear(DIM, FF), nn.Linear(FF, DIM)
            self.norm2 = nn.LayerNorm(DIM, eps=1e-3)
            self.head = nn.Linear(DIM, CLASSES)

        def forward(self, x):
            attended, _ = self.attention(x, x, x, need_weights=False)
            x = self.norm1(x + attended)
            x = self.norm2(x + self.ff2(torch.relu(self.ff1(x))))
            return self.head(x.mean(dim=1))

    net = Block()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return net, opt


def torch_train_fn(torch, x, y):
    import torch.nn.functional as F

    net, opt = torch_model(torch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(xt), yt).backward()
        opt.step()

    return step


def ember_train_fns(ember, x, y):
    model = keras_api_model(ember)
    model.train_on_batch(x, y)  # compiles the step program
    program = model._executable.step(True, [y]).program

    def cpp_step():
        program.train_step([x], [y], model.optimizer.current_learning_rate())

    return cpp_step, (lambda: model.train_on_batch(x, y))


# ---------------------------------------------------------------------------------------------
# Keras 3 (torch backend) in its own process: its torch thread settings and imports stay out of
# this one. Line protocol: prints "ready" after warming up, then for "run N" runs N
# train_on_batch calls and prints their seconds as JSON.


def keras_worker(threads, quick):
    import torch

    torch.set_num_threads(threads)
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"expected the torch Keras backend, found {keras.backend.backend()}")
    x, y = make_data()
    model = keras_api_model(keras)
    for _ in range(3 if quick else 10):
        model.train_on_batch(x, y)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "run":
            break
        t0 = clock()
        for _ in range(int(cmd[1])):
            model.train_on_batch(x, y)
        print(json.dumps({"seconds": clock() - t0}), flush=True)


class KerasWorker:
    """The Keras worker process, or None from start() where that Python has no keras."""

    def __init__(self, python, quick):
        env = dict(os.environ, KERAS_BACKEND="torch")
        self.log = tempfile.TemporaryFile(mode="w+")
        cmd = [python, os.path.abspath(__file__), "--keras-worker"] + worker_flags(quick)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=env)
        self._read("ready")

    @staticmethod
    def start(python, quick):
        probe = subprocess.run([python, "-c", "import keras, torch"], capture_output=True,
                               env=dict(os.environ, KERAS_BACKEND="torch"), check=False)
        return KerasWorker(python, quick) if probe.returncode == 0 else None

    def _read(self, what):
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"the Keras worker exited before answering {what!r}:\n"
                               f"{self.log.read()[-3000:]}")
        return line.strip()

    def run(self, n):
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        return json.loads(self._read("run"))["seconds"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.log.close()


def _in_process(fn):
    def run(n):
        t0 = clock()
        for _ in range(n):
            fn()
        return clock() - t0
    return run


def time_runners(runners, repeats, warmup_calls, block_seconds):
    """common.time_interleaved for runners `run(n) -> seconds of n calls`, so that a worker
    process times its own blocks (no pipe round trip per call)."""
    numbers = {}
    for name, run in runners.items():
        run(warmup_calls)
        once = sorted(run(1) for _ in range(3))[1]
        numbers[name] = max(1, int(block_seconds / max(once, 1e-7)))
    timings = {name: common.Timing() for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            time.sleep(common.SETTLE_SECONDS)
            timings[name].samples.append(run(numbers[name]) / numbers[name])
    return timings


def run_speed(quick=False, keras_python=None):
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    x, y = make_data()
    cpp_step, train_on_batch = ember_train_fns(ember, x, y)
    runners = {"cpp": _in_process(cpp_step), "tob": _in_process(train_on_batch),
               "torch": _in_process(torch_train_fn(torch, x, y))}
    keras = KerasWorker.start(keras_python or sys.executable, quick)
    try:
        if keras is not None:
            runners["keras"] = keras.run
        t = time_runners(runners, common.repeats_for(quick, 7), 3 if quick else 10,
                         0.1 if quick else 0.4)
    finally:
        if keras is not None:
            keras.close()
    ms = {k: 1e3 * v.median for k, v in t.items()}
    fastest = {k: 1e3 * min(v.samples) for k, v in t.items()}
    keras_note = (f"Keras 3 (torch) train_on_batch {ms['keras']:.1f} ms" if keras is not None
                  else "Keras 3 (torch): not installed for --keras-python")
    # On a shared machine the fastest blocks are the least disturbed ones.
    keras_note += (f"; fastest blocks: ember {fastest['cpp']:.1f}, torch {fastest['torch']:.1f}"
                   + (f", Keras {fastest['keras']:.1f}" if keras is not None else "") + " ms")
    name = f"train MHA block adam b{BATCH} T{TIME} d{DIM}"
    rows = [common.Row(f"{name}: C++ step", ms["cpp"], "ms", ms["torch"], "torch eager", TARGET,
                       spread=t["cpp"].spread(), note=keras_note),
            common.Row(f"{name}: train_on_batch", ms["tob"], "ms", ms["torch"], "torch eager",
                       spread=t["tob"].spread(),
                       note=f"torch spread {100 * t['torch'].spread():.0f}%")]
    if keras is not None:
        rows.append(common.Row(f"{name}: train_on_batch", ms["tob"], "ms", ms["keras"],
                               "Keras 3 (torch) train_on_batch", spread=t["tob"].spread(),
                               note=f"Keras spread {100 * t['keras'].spread():.0f}%"))
    return rows


def speed_worker(quick, keras_python):
    print(json.dumps([dataclasses.asdict(r) for r in run_speed(quick, keras_python)]))


def run_speed_modes(quick=False, keras_python=None):
    """run_speed() once per glibc malloc setting (bench_cnn.MALLOC_MODES), each in a fresh
    subprocess (the Keras worker inherits the setting); rows tagged by mode."""
    rows = []
    for mode, env_vars in MALLOC_MODES.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(env_vars)
        cmd = [sys.executable, os.path.abspath(__file__), "--speed-worker"] + worker_flags(quick)
        if keras_python:
            cmd += ["--keras-python", keras_python]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"speed worker ({mode}) failed:\n{done.stderr[-3000:]}")
        for d in json.loads(done.stdout.strip().splitlines()[-1]):
            d["case"] = f"[{mode}] {d['case']}"
            rows.append(common.Row(**d))
    return rows


# ---------------------------------------------------------------------------------------------
# Memory of one MultiHeadAttention layer, forward + backward; one fresh process per
# (framework, T): python bench_transformer.py --memory-worker FRAMEWORK T


def _ember_attention(ember):
    """(run(x, g), workspace_bytes(x)): the layer compiled with input and parameter gradients."""
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor

    layer = ember.layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM)
    xs = input_tensor((None, None, DIM), "float32")  # one plan per concrete (B, T)
    fn = Function([xs], [layer(xs, xs)])
    arena = fn._arena()

    def run(x, g):
        fn._plan([x], True, arena).run([x], arena, [g], 0)

    return run, (lambda x: fn._plan([x], True, arena).workspace_bytes)


def _torch_attention(torch):
    layer = torch.nn.MultiheadAttention(DIM, HEADS, batch_first=True)

    def run(x, g):
        xt = torch.from_numpy(x).requires_grad_()
        for p in layer.parameters():
            p.grad = None
        out, _ = layer(xt, xt, xt, need_weights=False)
        out.backward(torch.from_numpy(g))

    return run


def _torch_profiler_peak(torch, run, x, g):
    """The largest "Total Allocated" the CPU allocator reports during run(x, g): the peak of
    bytes allocated in it and still live."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True) as prof:
        run(x, g)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    return max((e["args"]["Total Allocated"] for e in events
                if e.get("name") == "[memory]" and "Total Allocated" in e.get("args", {})),
               default=0)


def memory_worker(framework, length):
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((MEMORY_BATCH, length, DIM), dtype=np.float32) for _ in range(2))
    warm_x, warm_g = x[:, :WARM_LENGTH].copy(), g[:, :WARM_LENGTH].copy()
    if framework == "ember":
        import ember

        common.set_threads(ember=ember)
        run, workspace = _ember_attention(ember)
    else:
        import torch

        common.set_threads(torch=torch)
        run = _torch_attention(torch)
    run(warm_x, warm_g)  # code paged in, parameters' gradients allocated
    out = {"rss_before_kib": _status_kib("VmRSS"), "peak_reset": _reset_peak()}
    for _ in range(2):
        run(x, g)
    out["peak_kib"] = _status_kib("VmHWM")
    out["own_bytes"] = workspace(x) if framework == "ember" else _torch_profiler_peak(
        torch, run, x, g)
    print(json.dumps(out))


def _memory_run(framework, length):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-worker", framework, str(length),
           "--threads", str(common.THREADS)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory worker {framework} T={length} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_memory(quick=False):
    lengths = MEMORY_LENGTHS[:3] if quick else MEMORY_LENGTHS
    mib = 1.0 / (1 << 20)
    res = {(fw, n): _memory_run(fw, n) for n in lengths for fw in ("ember", "torch")}
    if not all(r["peak_reset"] for r in res.values()):
        print("# /proc/self/clear_refs not writable: the RSS peaks include the process's start")

    def rss_growth(r):
        return (r["peak_kib"] - r["rss_before_kib"]) / 1024

    rows = []
    first = lengths[0]
    for n in lengths:
        e, t = res[("ember", n)], res[("torch", n)]
        scores = MEMORY_BATCH * HEADS * n * n * 4 * mib
        rows.append(common.Row(
            f"T={n}: ember plan workspace vs torch allocator peak", e["own_bytes"] * mib, "MiB",
            t["own_bytes"] * mib, "torch profiler",
            note=f"per T: ember {e['own_bytes'] / n / 1024:.1f} KiB, torch "
                 f"{t['own_bytes'] / n / 1024:.1f} KiB; the {MEMORY_BATCH * HEADS} TxT score "
                 f"matrices alone would be {scores:.0f} MiB"))
        rows.append(common.Row(f"T={n}: peak RSS growth, 2 x fwd+bwd", rss_growth(e), "MiB",
                               rss_growth(t), "torch"))
    last = lengths[-1]

    def growth(fw):
        return res[(fw, last)]["own_bytes"] / max(res[(fw, first)]["own_bytes"], 1)

    print(f"# T x{last // first} from {first} to {last}: ember's workspace x{growth('ember'):.2f},"
          f" torch's allocator peak x{growth('torch'):.2f} (linear: x{last // first}, quadratic: "
          f"x{(last // first) ** 2})")
    return rows


# ---------------------------------------------------------------------------------------------
# Profile: each piece of the block alone, forward + backward (input and parameter gradients), in
# ember (a Function plan, as bench_cnn.py's profile) and in PyTorch, interleaved; plus the whole
# step and the Adam update alone. Runs in a subprocess with malloc keeping freed memory, so
# PyTorch's numbers are its compute, not page faults.


def _ember_pieces(ember, rng):
    """name -> (run(), input shape): Function plans of the block's pieces with gradients."""
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor

    L = ember.layers
    x_shape, heads_shape = (BATCH, TIME, DIM), (BATCH, TIME, HEADS, KEY_DIM)

    def two_inputs(xs, ys):  # what an Add + LayerNormalization sees: the residual and the branch
        return L.LayerNormalization()(L.Add()([xs, ys]))

    specs = {
        "MultiHeadAttention (4 projections + attention)": (
            [x_shape], lambda xs: L.MultiHeadAttention(HEADS, KEY_DIM)(xs, xs)),
        "  attention core alone (dot_product_attention)": (
            [heads_shape] * 3, lambda q, k, v: ember.ops.dot_product_attention(q, k, v)),
        "  one projection Dense 128->128 (of 4)": ([x_shape], lambda xs: L.Dense(DIM)(xs)),
        "Add + LayerNormalization": ([x_shape, x_shape], two_inputs),
        f"FFN Dense {DIM}->{FF} relu -> Dense {FF}->{DIM}": (
            [x_shape], lambda xs: L.Dense(DIM)(L.Dense(FF, activation="relu")(xs))),
        "GlobalAveragePooling1D + Dense(10)": (
            [x_shape], lambda xs: L.Dense(CLASSES)(L.GlobalAveragePooling1D()(xs))),
    }
    pieces = {}
    for name, (shapes, build) in specs.items():
        syms = [input_tensor(sh, "float32") for sh in shapes]
        out = build(*syms)
        fn = Function(syms, [out])
        feeds = [rng.standard_normal(sh, dtype=np.float32) for sh in shapes]
        g = rng.standard_normal(out.shape, dtype=np.float32)
        arena = fn._arena()
        plan = fn._plan(feeds, True, arena)
        pieces[name] = (lambda p=plan, a=arena, f=feeds, gg=g: p.run(f, a, [gg], 0))
    return pieces


def _torch_pieces(torch, rng):
    nn, F = torch.nn, torch.nn.functional

    def tensor(shape, grad=True):
        t = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        return t.requires_grad_() if grad else t

    x_shape = (BATCH, TIME, DIM)
    mha = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
    norm = nn.LayerNorm(DIM, eps=1e-3)
    proj = nn.Linear(DIM, DIM)
    ffn = nn.Sequential(nn.Linear(DIM, FF), nn.ReLU(), nn.Linear(FF, DIM))
    head = nn.Linear(DIM, CLASSES)
    q, k, v = (tensor((BATCH, HEADS, TIME, KEY_DIM)) for _ in range(3))
    x, r = tensor(x_shape), tensor(x_shape)
    g = tensor(x_shape, grad=False)

    def backward(out, grad, leaves):
        for t in leaves:
            t.grad = None
        out.backward(grad)

    g_heads, g_head = tensor(q.shape, grad=False), tensor((BATCH, CLASSES), grad=False)
    return {
        "MultiHeadAttention (4 projections + attention)": lambda: backward(
            mha(x, x, x, need_weights=False)[0], g, [x]),
        "  attention core alone (dot_product_attention)": lambda: backward(
            F.scaled_dot_product_attention(q, k, v), g_heads, [q, k, v]),
        "  one projection Dense 128->128 (of 4)": lambda: backward(proj(x), g, [x]),
        "Add + LayerNormalization": lambda: backward(norm(x + r), g, [x, r]),
        f"FFN Dense {DIM}->{FF} relu -> Dense {FF}->{DIM}": lambda: backward(ffn(x), g, [x]),
        "GlobalAveragePooling1D + Dense(10)": lambda: backward(head(x.mean(dim=1)), g_head, [x]),
    }


def run_profile(quick=False):
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    rng = np.random.default_rng(3)
    x, y = make_data()
    model = keras_api_model(ember)
    model.train_on_batch(x, y)
    program = model._executable.step(True, [y]).program
    lr = model.optimizer.current_learning_rate()
    net, opt = torch_model(torch)
    F = torch.nn.functional
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    F.cross_entropy(net(xt), yt).backward()  # gradients present for the Adam-alone timing
    fns = {"whole C++ train step": (
               lambda: program.train_step([x], [y], lr), torch_train_fn(torch, x, y)),
           "forward + loss (test_step / no_grad)": (
               lambda: program.test_step([x], [y]),
               lambda: _no_grad(torch, lambda: F.cross_entropy(net(xt), yt))),
           "Adam update alone": (lambda: model.optimizer._core.step(model._executable.arena, lr),
                                 opt.step)}
    ember_pieces, torch_pieces = _ember_pieces(ember, rng), _torch_pieces(torch, rng)
    for name in ember_pieces:
        fns[f"{name}: fwd+bwd"] = (ember_pieces[name], torch_pieces[name])
    flat = {}
    for name, (e, t) in fns.items():
        flat[("ember", name)], flat[("torch", name)] = _in_process(e), _in_process(t)
    t = time_runners(flat, common.repeats_for(quick, 7), 3, 0.05 if quick else 0.2)
    return [common.Row(name, 1e3 * t[("ember", name)].median, "ms",
                       1e3 * t[("torch", name)].median, "torch",
                       spread=t[("ember", name)].spread()) for name in fns]


def _no_grad(torch, fn):
    with torch.no_grad():
        fn()


def profile_worker(quick):
    print(json.dumps([dataclasses.asdict(r) for r in run_profile(quick)]))


def run_profile_subprocess(quick=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(MALLOC_MODES["malloc keeps freed memory"])
    cmd = [sys.executable, os.path.abspath(__file__), "--profile-worker"] + worker_flags(quick)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"profile worker failed:\n{done.stderr[-3000:]}")
    return [common.Row(**d) for d in json.loads(done.stdout.strip().splitlines()[-1])]


def run(quick=False):
    """Speed rows (both malloc modes; Keras where this Python has it), then memory rows (for
    run_all.py)."""
    return run_speed_modes(quick) + run_memory(quick)


def main(argv=None):
    def extra(parser):
        parser.add_argument("--sections", default="speed,memory",
                            help="comma-separated, of speed, memory and profile (each piece "
                                 "of the block alone, ember and torch); default speed,memory")
        parser.add_argument("--keras-python", default=None,
                            help="the Python that runs Keras 3 on torch (default: this one)")
        parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                            help="wall time (default), or the process CPU time: with "
                                 "--threads 1 only, for a machine busy with other work")
        parser.add_argument("--speed-worker", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--keras-worker", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--profile-worker", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--memory-worker", nargs=2, metavar=("FRAMEWORK", "T"),
                            help=argparse.SUPPRESS)

    global CLOCK
    args = common.parse_args(__doc__.splitlines()[0], argv, extra)
    if args.clock == "cpu" and common.THREADS != 1:
        raise SystemExit("--clock cpu needs --threads 1: with more threads the CPU time also "
                         f"counts idle threads spinning (received --threads {common.THREADS})")
    CLOCK = args.clock
    if args.keras_worker:
        keras_worker(common.THREADS, args.quick)
        return
    if args.speed_worker:
        speed_worker(args.quick, args.keras_python)
        return
    if args.profile_worker:
        profile_worker(args.quick)
        return
    if args.memory_worker:
        framework, length = args.memory_worker
        if framework not in ("ember", "torch"):
            raise SystemExit(f"--memory-worker: expected ember or torch, received {framework}")
        memory_worker(framework, int(length))
        return
    sections = set(args.sections.split(","))
    unknown = sections - {"speed", "memory", "profile"}
    if unknown:
        raise SystemExit(f"--sections: expected speed, memory or profile, received {unknown}")
    common.print_header("Transformer block: ember vs PyTorch " + ("(quick) " if args.quick else "")
                        + ("[process CPU time per step]" if CLOCK == "cpu" else ""))
    import ember  # noqa: F401 - loads the OpenBLAS ember links, to name its kernels

    # Most of the step is GEMMs: OpenBLAS's kernel choice (OPENBLAS_CORETYPE forces one) decides
    # ember's speed; PyTorch uses its own (MKL / oneDNN) kernels.
    print(f"# ember's OpenBLAS kernels: {blas_core()} (OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    if "speed" in sections:
        rows = run_speed_modes(args.quick, args.keras_python)
        common.print_table("Transformer block ms per train step, median (ratio = ember / torch);"
                           f" [glibc's malloc setting in that run]; after: {common.load_line()}",
                           rows)
    if "memory" in sections:
        rows = run_memory(args.quick)
        common.print_table(f"one MultiHeadAttention({HEADS} heads, key_dim {KEY_DIM}, d {DIM}) "
                           f"forward + backward, batch {MEMORY_BATCH}, float32 (ratio = ember / "
                           "torch)", rows)
    if "profile" in sections:
        rows = run_profile_subprocess(args.quick)
        common.print_table("each piece of the block alone, ms median (ratio = ember / torch); "
                           "malloc keeps freed memory", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
