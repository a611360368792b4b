"""The seed text classifier: train steps of Embedding -> LSTM (or GRU) -> Dense, ember against
PyTorch, and how a train step's memory grows with the sequence length.

Model (Keras API): Embedding(20000, 128) -> LSTM(128) (or GRU(128)) -> Dense(1, sigmoid);
Adam (Keras defaults), binary cross-entropy; token sequences of 200, batch 32. PyTorch runs the
same network as a PyTorch user writes it: nn.Embedding, nn.LSTM / nn.GRU (batch_first, one
layer), nn.Linear on the last step's output, BCEWithLogitsLoss, torch.optim.Adam (lr 1e-3,
eps 1e-7), zero_grad(set_to_none=True), forward, loss, backward, step. ember fuses the sigmoid
into the loss in the same way.

ember is measured as in bench_cnn.py: "C++ step" is the call fit makes per batch and
"train_on_batch" the Keras per-call API. Both frameworks run with the same thread count, their
timed blocks interleaved.

Memory: ember's train plan workspace (every activation, gradient, aux and scratch buffer of the
step, packed by liveness) and PyTorch's bytes saved for backward (autograd's saved tensors,
distinct storages, parameters excluded), at T = 100, 200, 400, 800. Both should grow linearly.

Run from the repository root: python bench/bench_rnn.py [--quick] [--sections speed,memory]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

VOCAB, EMBED, UNITS, STEPS, BATCH = 20000, 128, 128, 200, 32
TARGET = 0.8  # the ratio: ember's train step at most 0.8x PyTorch's
MEMORY_STEPS = (100, 200, 400, 800)


def make_data(steps=STEPS, batch=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(batch, steps)).astype(np.int32)
    y = rng.integers(0, 2, size=(batch, 1)).astype(np.float32)
    return x, y


def ember_model(ember, cell):
    from ember import layers

    rnn = layers.LSTM(UNITS) if cell == "lstm" else layers.GRU(UNITS)
    model = ember.Sequential([layers.Embedding(VOCAB, EMBED), rnn,
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def ember_train_fns(ember, cell, x, y):
    model = ember_model(ember, cell)
    model.train_on_batch(x, y)  # builds the model and compiles the step program
    program = model._executable.step(True, [y]).program
    xf = x.astype(np.float32)  # the model's input is float32 (Keras's default), as fit feeds it

    def cpp_step():
        program.train_step([xf], [y], model.optimizer.current_learning_rate())

    return model, cpp_step, (lambda: model.train_on_batch(x, y))


def torch_net(torch, cell):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(EMBED, UNITS, batch_first=True)
            self.out = nn.Linear(UNITS, 1)

        def forward(self, ids):
            seq, _ = self.rnn(self.embed(ids))
            return self.out(seq[:, -1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return net, opt


def torch_train_fn(torch, cell, x, y):
    net, opt = torch_net(torch, cell)
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        opt.step()

    return step


def run_speed(quick=False):
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    repeats = common.repeats_for(quick, 7)
    block = 0.1 if quick else 0.5
    warmup = 2 if quick else 5
    rows = []
    x, y = make_data()
    for cell in ("lstm", "gru"):
        _, cpp_step, train_on_batch = ember_train_fns(ember, cell, x, y)
        t = common.time_interleaved(
            {"cpp": cpp_step, "tob": train_on_batch, "torch": torch_train_fn(torch, cell, x, y)},
            repeats, warmup, block)
        ref = 1e3 * t["torch"].median
        name = f"train Embedding-{cell.upper()}(128)-Dense T{STEPS} b{BATCH} adam"
        rows.append(common.Row(f"{name}: C++ step", 1e3 * t["cpp"].median, "ms", ref, "torch",
                               TARGET, spread=t["cpp"].spread()))
        rows.append(common.Row(f"{name}: train_on_batch", 1e3 * t["tob"].median, "ms", ref,
                               "torch", spread=t["tob"].spread()))
    return rows


def ember_workspace(ember, cell, steps):
    """Bytes of the train plan's workspace for sequences of `steps` (Program keeps its plans
    private, so the plan is rebuilt from the graph the step program is compiled from)."""
    from ember.backend.core import core
    from ember.models import executable

    x, y = make_data(steps, seed=1)
    model = ember_model(ember, cell)
    model.predict_on_batch(x[:1])  # builds the model
    captured = {}
    original = core.Program

    def capturing(graph, arena, inputs, targets, outputs, loss, metrics):
        captured.update(graph=graph, inputs=inputs, targets=targets, loss=loss, metrics=metrics)
        return original(graph, arena, inputs, targets, outputs, loss, metrics)

    executable.core.Program = capturing
    try:
        model._executable_for().step(True, [y])
    finally:
        executable.core.Program = original
    plan = core.Plan(captured["graph"], captured["inputs"] + captured["targets"],
                     [captured["loss"]], [captured["loss"]], [], True, True,
                     [list(x.shape), list(y.shape)], model._executable.arena)
    del x
    return plan.workspace_bytes


def torch_saved_bytes(torch, cell, steps):
    """Bytes autograd keeps for backward in one train step (distinct storages, no params)."""
    net, _ = torch_net(torch, cell)
    x, y = make_data(steps, seed=1)
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            saved[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.BCEWithLogitsLoss()(net(xt), yt)
    loss.backward()
    return sum(saved.values())


def run_memory():
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    rows = []
    for cell in ("lstm", "gru"):
        first = None
        for steps in MEMORY_STEPS:
            mine = ember_workspace(ember, cell, steps) / 2 ** 20
            theirs = torch_saved_bytes(torch, cell, steps) / 2 ** 20
            first = first or (mine, steps)
            growth = (mine / first[0]) / (steps / first[1])
            rows.append(common.Row(
                f"{cell.upper()} train step memory T{steps} b{BATCH}", mine, "MiB", theirs,
                "torch saved for backward",
                note=f"ember per step vs T{first[1]}: {growth:.2f} of linear"))
    return rows


def run(quick=False):
    """Speed rows, then memory rows (for run_all.py)."""
    return run_speed(quick) + run_memory()


def main(argv=None):
    def extra(parser):
        parser.add_argument("--sections", default="speed,memory",
                            help="comma-separated, of speed and memory (default both)")

    args = common.parse_args(__doc__.splitlines()[0], argv, extra)
    sections = set(args.sections.split(","))
    unknown = sections - {"speed", "memory"}
    if unknown:
        raise SystemExit(f"--sections: expected speed or memory, received {unknown}")
    common.print_header("seed text classifier: ember vs PyTorch " +
                        ("(quick)" if args.quick else ""))
    if "speed" in sections:
        common.print_table("Embedding-RNN-Dense ms per train step, median (ratio = ember / "
                           f"torch); after: {common.load_line()}", run_speed(args.quick))
    if "memory" in sections:
        common.print_table("train step memory as the sequence grows (ratio = ember workspace / "
                           "torch saved tensors)", run_memory())


if __name__ == "__main__":
    main()
