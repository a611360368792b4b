"""The seed CNN: train steps, inference and a train step's peak memory, ember against PyTorch.

Model (Keras API): Conv2D(32, 3x3, relu, input 28x28x1) -> MaxPooling2D(2x2) -> Flatten ->
Dense(128, relu) -> Dense(10, softmax); Adam (Keras defaults), sparse categorical
cross-entropy. ember fuses the softmax into the loss, so PyTorch runs the same network on
logits with F.cross_entropy, as a PyTorch user writes it: nn.Sequential(Conv2d(1, 32, 3), ReLU,
MaxPool2d(2), Flatten, Linear(5408, 128), ReLU, Linear(128, 10)), torch.optim.Adam (lr 1e-3,
eps 1e-7), zero_grad(set_to_none=True), forward, loss, backward, step. PyTorch is timed both in
its default NCHW layout and with channels_last (model and input); the faster of the two is the
reference, the other is shown in the note.

ember is measured as in bench_mlp.py: "C++ step" is the call fit makes per batch,
`model._executable.step(True, [y]).program.train_step([x], [y], lr)`, and "train_on_batch" the
Keras per-call API. Inference: `predict_program().predict_step([x])` and `predict_on_batch`
against the PyTorch forward plus softmax under torch.inference_mode().

The speed table is measured twice, each time in a fresh subprocess: with glibc's default
malloc, which makes PyTorch page-fault its freed activations back in every step, and with
malloc told to keep freed memory (see MALLOC_MODES), which leaves PyTorch's compute alone.

Memory (batch 128): each framework in its own fresh subprocess, see memory_worker().

Run from the repository root: python bench/bench_cnn.py [--quick] [--sections speed,memory,profile]
"""
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

IMAGE, CLASSES, FILTERS, HIDDEN = 28, 10, 32, 128
TRAIN_CASES = [(32, 0.7), (128, 0.7)]  # (batch, target ratio ember C++ step / torch)
PREDICT_CASE = (256, 0.8)
MEMORY_BATCH, MEMORY_STEPS = 128, 20


def make_data(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, IMAGE, IMAGE, 1), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=batch).astype(np.int32)
    return x, y


def ember_model(ember):
    from ember import layers

    model = ember.Sequential([
        layers.Conv2D(FILTERS, (3, 3), activation="relu", input_shape=(IMAGE, IMAGE, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(HIDDEN, activation="relu"),
        layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def torch_model(torch, channels_last):
    nn = torch.nn
    pooled = (IMAGE - 2) // 2
    net = nn.Sequential(
        nn.Conv2d(1, FILTERS, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(FILTERS * pooled * pooled, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES),
    )
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    # Keras's Adam epsilon; torch's default is 1e-8 (the cost is the same).
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return net, opt


def torch_input(torch, x, channels_last):
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC -> NCHW view
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return xt.contiguous(memory_format=fmt)


def ember_train_fns(ember, x, y):
    model = ember_model(ember)
    model.train_on_batch(x, y)  # builds the model and compiles the step program
    program = model._executable.step(True, [y]).program

    def cpp_step():
        # As fit does per batch: the learning rate is read from the optimizer every step.
        program.train_step([x], [y], model.optimizer.current_learning_rate())

    return model, cpp_step, (lambda: model.train_on_batch(x, y))


def torch_train_fn(torch, x, y, channels_last):
    import torch.nn.functional as F

    net, opt = torch_model(torch, channels_last)
    xt, yt = torch_input(torch, x, channels_last), torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()

    return step


def torch_predict_fn(torch, x, channels_last):
    net, _ = torch_model(torch, channels_last)
    xt = torch_input(torch, x, channels_last)

    def predict():
        with torch.inference_mode():
            torch.softmax(net(xt), dim=1)

    return predict


def _torch_reference(t):
    """The faster PyTorch layout: (median seconds, its name, note on the other layout)."""
    nchw, cl = t["torch nchw"].median, t["torch cl"].median
    best, other = ("channels_last", "NCHW") if cl < nchw else ("NCHW", "channels_last")
    slower = max(nchw, cl)
    return min(nchw, cl), f"torch {best}", f"torch {other} {1e3 * slower:.3f} ms"


def run_speed(quick=False):
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    repeats = common.repeats_for(quick, 9)
    block = 0.05 if quick else 0.25
    warmup = 3 if quick else 20
    rows = []
    for batch, target in TRAIN_CASES:
        x, y = make_data(batch)
        _, cpp_step, train_on_batch = ember_train_fns(ember, x, y)
        t = common.time_interleaved(
            {"cpp": cpp_step, "tob": train_on_batch,
             "torch nchw": torch_train_fn(torch, x, y, False),
             "torch cl": torch_train_fn(torch, x, y, True)},
            repeats, warmup, block)
        ref, ref_name, note = _torch_reference(t)
        name = f"train seed CNN adam b{batch}"
        rows.append(common.Row(f"{name}: C++ step", 1e3 * t["cpp"].median, "ms", 1e3 * ref,
                               ref_name, target, spread=t["cpp"].spread(), note=note))
        rows.append(common.Row(f"{name}: train_on_batch", 1e3 * t["tob"].median, "ms",
                               1e3 * ref, ref_name, spread=t["tob"].spread()))
    batch, target = PREDICT_CASE
    x, _ = make_data(batch)
    model = ember_model(ember)
    model.predict_on_batch(x)
    program = model._executable.predict_program()
    t = common.time_interleaved(
        {"step": lambda: program.predict_step([x]), "pob": lambda: model.predict_on_batch(x),
         "torch nchw": torch_predict_fn(torch, x, False),
         "torch cl": torch_predict_fn(torch, x, True)},
        repeats, warmup, block)
    ref, ref_name, note = _torch_reference(t)
    ref_name += " inference_mode"
    name = f"predict seed CNN b{batch}"
    rows.append(common.Row(f"{name}: predict_step", 1e3 * t["step"].median, "ms", 1e3 * ref,
                           ref_name, target, spread=t["step"].spread(), note=note))
    rows.append(common.Row(f"{name}: predict_on_batch", 1e3 * t["pob"].median, "ms",
                           1e3 * ref, ref_name, target, spread=t["pob"].spread()))
    return rows


# ---------------------------------------------------------------------------------------------
# Memory. Each framework runs in a fresh subprocess (python bench_cnn.py --memory-worker NAME)
# so that neither sees the other's allocations, and prints one JSON line.


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak():
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where that is not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _ember_planned(ember, model, y):
    """ember's own numbers for the train step: the plan's workspace and the arena and slots.

    Program keeps its plans private, so the train plan is rebuilt here from the same graph and
    the same PlanSpec Program::plan_for(kTrain) uses (the graph is captured while the step
    program is compiled)."""
    from ember.backend.core import core
    from ember.models import executable

    captured = {}
    original = core.Program

    def capturing(graph, arena, inputs, targets, outputs, loss, metrics):
        captured.update(graph=graph, inputs=inputs, targets=targets, loss=loss,
                        metrics=metrics)
        return original(graph, arena, inputs, targets, outputs, loss, metrics)

    model._executable._steps.clear()
    executable.core.Program = capturing
    try:
        model._executable.step(True, [y])
    finally:
        executable.core.Program = original
    arena = model._executable.arena
    x_shape = [MEMORY_BATCH, IMAGE, IMAGE, 1]
    plan = core.Plan(captured["graph"], captured["inputs"] + captured["targets"],
                     [captured["loss"]] + captured["metrics"], [captured["loss"]], [], True,
                     True, [x_shape, list(y.shape)], arena)
    itemsize = np.dtype(model._executable.dtype).itemsize
    slots = sum(np.asarray(s).nbytes for s in model.optimizer._core.slots())
    return {"workspace": plan.workspace_bytes, "naive": plan.naive_bytes,
            "params": arena.total * itemsize, "grads": arena.total * itemsize,
            "optimizer_state": slots}


def _torch_planned(torch, net, opt, xt, yt):
    """PyTorch's counterparts, measured on one more step: the bytes autograd saves for
    backward (distinct storages, parameters excluded), the gradients, the optimizer state and
    the peak of live bytes the CPU allocator reports to torch.profiler during the step."""
    import torch.nn.functional as F

    param_ptrs = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in param_ptrs:
            saved[s.data_ptr()] = s.nbytes()
        return t

    opt.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(net(xt), yt)
    loss.backward()
    grads = sum(p.grad.nbytes for p in net.parameters())
    opt.step()
    state = sum(v.nbytes for s in opt.state.values() for v in s.values()
                if torch.is_tensor(v))
    params = sum(p.nbytes for p in net.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(xt), yt).backward()
        opt.step()

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    # "Total Allocated": bytes allocated since profiling began and still live, after each
    # allocation or free; its maximum is the step's peak above what was live before it.
    peak = max((e["args"]["Total Allocated"] for e in events
                if e.get("name") == "[memory]" and "Total Allocated" in e.get("args", {})),
               default=None)
    return {"saved_activations": sum(saved.values()), "grads": grads,
            "optimizer_state": state, "params": params, "profiler_step_peak": peak}


def memory_worker(framework):
    """Peak RSS of a train step at batch 128, in this (fresh) process; prints JSON."""
    x, y = make_data(MEMORY_BATCH)
    if framework == "ember":
        import ember

        common.set_threads(ember=ember)
        model = ember_model(ember)  # built: the first layer has an input_shape
        program = None

        def first():
            nonlocal program
            model.train_on_batch(x, y)
            program = model._executable.step(True, [y]).program

        def step():
            program.train_step([x], [y], model.optimizer.current_learning_rate())
    else:
        import torch
        import torch.nn.functional as F

        common.set_threads(torch=torch)
        channels_last = framework == "torch-cl"
        net, opt = torch_model(torch, channels_last)
        xt, yt = torch_input(torch, x, channels_last), torch.from_numpy(y.astype(np.int64))

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(xt), yt).backward()
            opt.step()

        first = step
    out = {"framework": framework, "rss_before_kib": _status_kib("VmRSS"),
           "file_before_kib": _status_kib("RssFile")}
    out["peak_reset"] = _reset_peak()
    first()
    out["peak_after_first_kib"] = _status_kib("VmHWM")
    out["rss_after_first_kib"] = _status_kib("VmRSS")
    _reset_peak()
    for _ in range(MEMORY_STEPS):
        step()
    out["peak_steps_kib"] = _status_kib("VmHWM")
    out["rss_after_kib"] = _status_kib("VmRSS")
    out["file_after_kib"] = _status_kib("RssFile")  # code pages of the libraries, faulted in
    if framework == "ember":
        out["planned"] = _ember_planned(ember, model, y)
    else:
        out["planned"] = _torch_planned(torch, net, opt, xt, yt)
    print(json.dumps(out))


def _run_worker(framework):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-worker", framework,
           "--threads", str(common.THREADS)]
    # glibc's default malloc settings (see MALLOC_MODES), as a user's process has them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory worker {framework} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_memory():
    """Rows in MiB. (a) peak RSS delta, (b) the frameworks' own accounting of a step."""
    mib = 1.0 / (1 << 20)
    res = {fw: _run_worker(fw) for fw in ("ember", "torch-nchw", "torch-cl")}
    if not all(r["peak_reset"] for r in res.values()):
        print("# /proc/self/clear_refs not writable: peaks below include everything before")

    def peak_delta(r):
        return (max(r["peak_after_first_kib"], r["peak_steps_kib"]) - r["rss_before_kib"]) / 1024

    def steady_delta(r):
        return (r["peak_steps_kib"] - r["rss_after_first_kib"]) / 1024

    ref_fw = min(("torch-nchw", "torch-cl"), key=lambda fw: peak_delta(res[fw]))
    ref, other = res[ref_fw], res["torch-cl" if ref_fw == "torch-nchw" else "torch-nchw"]
    ref_name, e = ref_fw.replace("-", " "), res["ember"]

    def file_growth(r):
        return (r["file_after_kib"] - r["file_before_kib"]) / 1024

    note = (f"file-backed (code) pages: ember +{file_growth(e):.1f}, {ref_fw} "
            f"+{file_growth(ref):.1f}; {other['framework']} {peak_delta(other):.1f}")
    b = f"b{MEMORY_BATCH}"
    rows = [
        common.Row(f"(a) peak RSS - RSS before 1st step, 1+{MEMORY_STEPS} steps {b}",
                   peak_delta(e), "MiB", peak_delta(ref), ref_name, 1.0, note=note),
        common.Row(f"    peak RSS - RSS after 1st step, next {MEMORY_STEPS} steps",
                   steady_delta(e), "MiB", steady_delta(ref), ref_name,
                   note=f"{other['framework']} {steady_delta(other):.1f}"),
    ]
    def step_peak(r):
        return (r["planned"]["profiler_step_peak"] or 0) * mib

    # (b)'s reference: the torch layout with the smaller profiler peak.
    ref_b = min(("torch-nchw", "torch-cl"), key=lambda fw: step_peak(res[fw]))
    other_b = "torch-cl" if ref_b == "torch-nchw" else "torch-nchw"
    pe, pt = e["planned"], ref["planned"]
    rows.append(common.Row(
        "(b) step working memory: ember plan workspace + param grads vs torch profiler peak",
        (pe["workspace"] + pe["grads"]) * mib, "MiB", step_peak(res[ref_b]),
        ref_b.replace("-", " "), 1.0, note=f"{other_b} {step_peak(res[other_b]):.2f}"))
    rows.append(common.Row("    ember plan workspace (activations, aux, scratch, act. grads)",
                           pe["workspace"] * mib, "MiB",
                           note=f"{pe['naive'] * mib:.2f} MiB with one buffer per value"))
    rows.append(common.Row("    torch tensors saved for backward (params excluded)",
                           pt["saved_activations"] * mib, "MiB",
                           note=f"{other['framework']} "
                                f"{other['planned']['saved_activations'] * mib:.2f}"))
    rows.append(common.Row("    param gradients", pe["grads"] * mib, "MiB", pt["grads"] * mib,
                           ref_name))
    rows.append(common.Row("    params + optimizer state (persistent)",
                           (pe["params"] + pe["optimizer_state"]) * mib, "MiB",
                           (pt["params"] + pt["optimizer_state"]) * mib, ref_name))
    return rows


# ---------------------------------------------------------------------------------------------
# Profile: where ember's step time goes, one piece of the network at a time.


def _piece_plans(ember, batch):
    """Function plans, forward and forward+backward, for each layer of the network alone."""
    from ember.backend.function import Function
    from ember.backend.symbolic import input_tensor
    from ember.backend.variables import Variable

    rng = np.random.default_rng(2)
    f32 = np.float32
    pooled = (IMAGE - 2) // 2
    # The model's first-layer initialisation (glorot_uniform) and input (uniform [0, 1), as
    # make_data): the signs of the conv outputs, which the relu backward branches on, are then
    # as random as in the benchmarked step.
    limit = np.sqrt(6.0 / (9 + 9 * FILTERS))
    kern = Variable(rng.uniform(-limit, limit, (3, 3, 1, FILTERS)).astype(f32), name="k",
                    dtype="float32")
    bias = Variable(np.zeros(FILTERS, f32), name="b", dtype="float32")
    w1 = Variable((rng.standard_normal((FILTERS * pooled * pooled, HIDDEN)) * 0.02).astype(f32),
                  name="w1", dtype="float32")
    b1 = Variable(np.zeros(HIDDEN, f32), name="b1", dtype="float32")
    w2 = Variable((rng.standard_normal((HIDDEN, CLASSES)) * 0.1).astype(f32), name="w2",
                  dtype="float32")
    b2 = Variable(np.zeros(CLASSES, f32), name="b2", dtype="float32")
    op = ember.ops.apply_op
    pieces = {}

    def add(name, shape, build, needs_dx, image=False):
        xs = input_tensor(shape, "float32")
        out = build(xs)
        fn = Function([xs], [out])
        x = (rng.random(shape) if image else rng.standard_normal(shape)).astype(f32)
        g = rng.standard_normal(out.shape).astype(f32)
        arena = fn._arena()
        pieces[name] = (fn, x, g, arena, needs_dx)

    add("conv 3x3 1->32 +bias+relu (first layer)", (batch, IMAGE, IMAGE, 1),
        lambda xs: op("conv", [xs, kern, bias], {"activation": "relu"}, cast=False), False, True)
    # The same without bias and activation: what the fused epilogue's backward costs.
    add("  the same conv, no bias, linear", (batch, IMAGE, IMAGE, 1),
        lambda xs: op("conv", [xs, kern], {}, cast=False), False, True)
    add("max_pool 2x2", (batch, IMAGE - 2, IMAGE - 2, FILTERS),
        lambda xs: op("max_pool", [xs], {"pool_size": [2, 2], "strides": [2, 2],
                                         "padding": "valid"}, cast=False), True)
    add("flatten (reshape)", (batch, pooled, pooled, FILTERS),
        lambda xs: op("reshape", [xs], {"shape": [-1], "keep_leading": 1}, cast=False), True)
    add(f"dense {FILTERS * pooled * pooled}->{HIDDEN} +relu", (batch, FILTERS * pooled * pooled),
        lambda xs: ember.ops.dense(xs, w1, b1, activation="relu"), True)
    add(f"dense {HIDDEN}->{CLASSES}", (batch, HIDDEN),
        lambda xs: ember.ops.dense(xs, w2, b2), True)
    return pieces


def run_profile(quick=False):
    """Each piece alone: forward, and forward + backward (input gradient only where a model
    computes it: the first conv layer gets none)."""
    import ember
    from ember.backend.core import core

    common.set_threads(ember=ember)
    repeats = common.repeats_for(quick, 7)
    block = 0.05 if quick else 0.2
    rows = []
    for batch, _ in TRAIN_CASES:
        x, y = make_data(batch)
        model, cpp_step, _ = ember_train_fns(ember, x, y)
        program = model._executable.step(True, [y]).program
        lr = model.optimizer.current_learning_rate()
        fns = {f"b{batch} whole C++ train step": cpp_step,
               f"b{batch} test_step (forward + loss)": lambda p=program, x=x, y=y:
                   p.test_step([x], [y]),
               f"b{batch} Adam update alone": lambda m=model: m.optimizer._core.step(
                   m._executable.arena, lr)}
        for name, (fn, x, g, arena, needs_dx) in _piece_plans(ember, batch).items():
            feeds = [x]
            fwd = fn._plan(feeds, False, arena)
            seeds = fn._output_ids
            wrt = fn._input_ids if needs_dx else []
            # Parameter gradients always, the input's only where the model needs it.
            bwd = core.Plan(fn._graph, fn._input_ids, fn._output_ids, seeds, wrt, True, True,
                            [list(x.shape)], arena)
            fns[f"b{batch} {name}: forward"] = (
                lambda p=fwd, a=arena, f=feeds: p.run(f, a, [], 0))
            fns[f"b{batch} {name}: fwd+bwd"] = (
                lambda p=bwd, a=arena, f=feeds, gg=g: p.run(f, a, [gg], 0))
        t = common.time_interleaved(fns, repeats, 3, block)
        rows += [common.Row(k, 1e3 * v.median, "ms", spread=v.spread()) for k, v in t.items()]
    return rows


# ---------------------------------------------------------------------------------------------
# Speed under two settings of glibc's malloc, each in its own subprocess. By default glibc gives
# large freed blocks back to the OS (munmap, heap trimming), so PyTorch, which allocates every
# activation and gradient afresh each step, page-faults them in again each step (~10,000
# faults per b128 step, ~40 MiB); ember allocates nothing per step. MALLOC_TRIM_THRESHOLD_ and
# MALLOC_MMAP_THRESHOLD_ (32 MiB, glibc's upper limit) keep the freed memory in the process,
# which removes those faults: PyTorch's time then is its compute alone.
MALLOC_MODES = {
    "glibc default": {},
    "malloc keeps freed memory": {"MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                                  "MALLOC_MMAP_THRESHOLD_": str(32 << 20)},
}


def speed_worker(mode, quick):
    """Prints the speed rows of this process (started with `mode`'s environment) as JSON."""
    print(json.dumps([dataclasses.asdict(r) for r in run_speed(quick)]))


def run_speed_modes(quick=False):
    """run_speed() once per malloc mode, each in a fresh subprocess; rows tagged by mode."""
    rows = []
    for mode, env_vars in MALLOC_MODES.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(env_vars)
        cmd = [sys.executable, os.path.abspath(__file__), "--speed-worker", mode,
               "--threads", str(common.THREADS)] + (["--quick"] if quick else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"speed worker ({mode}) failed:\n{done.stderr[-3000:]}")
        for d in json.loads(done.stdout.strip().splitlines()[-1]):
            d["case"] = f"[{mode}] {d['case']}"
            rows.append(common.Row(**d))
    return rows


def run(quick=False):
    """Speed rows (both malloc modes), then memory rows (for run_all.py)."""
    return run_speed_modes(quick) + run_memory()


def main(argv=None):
    def extra(parser):
        parser.add_argument("--memory-worker", choices=("ember", "torch-nchw", "torch-cl"),
                            help="internal: one framework's memory measurement, as JSON")
        parser.add_argument("--speed-worker", choices=tuple(MALLOC_MODES),
                            help="internal: the speed rows of this process, as JSON")
        parser.add_argument("--sections", default="speed,memory",
                            help="comma-separated, of speed, memory, profile (each layer of "
                                 "the network alone in ember); default speed,memory")

    args = common.parse_args(__doc__.splitlines()[0], argv, extra)
    if args.memory_worker:
        memory_worker(args.memory_worker)
        return
    if args.speed_worker:
        speed_worker(args.speed_worker, args.quick)
        return
    sections = set(args.sections.split(","))
    unknown = sections - {"speed", "memory", "profile"}
    if unknown:
        raise SystemExit(f"--sections: expected speed, memory or profile, received {unknown}")
    common.print_header("seed CNN: ember vs PyTorch " + ("(quick)" if args.quick else ""))
    if "speed" in sections:
        rows = run_speed_modes(args.quick)
        common.print_table("seed CNN ms per step, median (ratio = ember / torch); "
                           f"[glibc's malloc setting in that run]; after: {common.load_line()}",
                           rows)
    if "memory" in sections:
        rows = run_memory()
        common.print_table(f"seed CNN train step memory, batch {MEMORY_BATCH} "
                           "(ratio = ember / torch)", rows)
    if "profile" in sections:
        rows = run_profile(args.quick)
        common.print_table("ember: each layer of the seed CNN alone (Function plans)", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
