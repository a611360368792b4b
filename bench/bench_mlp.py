"""MLP training steps and inference: ember against an idiomatic PyTorch eager loop.

Both run in this process on the same data with 2 threads each. ember is measured twice:
  - "C++ step": the compiled program's train_step, exactly the call `fit` makes per batch
    (forward, loss, backward and optimizer update in one C++ call);
  - "train_on_batch": the Keras per-call API, which adds Python argument handling.
PyTorch: nn.Sequential(Linear, ReLU, Linear), torch.optim.Adam / RMSprop as shipped with the
Keras defaults (lr 1e-3, eps 1e-7, RMSprop alpha 0.9), zero_grad(set_to_none=True), forward,
F.cross_entropy on the logits, backward, step. Inference runs under torch.inference_mode().

Run from the repository root: python bench/bench_mlp.py [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import common  # noqa: E402

FEATURES, CLASSES = 784, 10

# (hidden units, optimizer, batch, target ratio ember/torch for the C++ step)
TRAIN_CASES = [
    (128, "adam", 32, 0.4),
    (128, "adam", 128, 0.6),
    (512, "rmsprop", 128, 0.6),
]
PREDICT_CASES = [(128, 1024)]


def make_data(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, FEATURES), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=batch)
    return x, y


def ember_model(ember, hidden, optimizer):
    from ember import layers

    model = ember.Sequential([
        ember.Input((FEATURES,)),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(CLASSES),
    ])
    opt = ember.optimizers.Adam() if optimizer == "adam" else ember.optimizers.RMSprop()
    model.compile(optimizer=opt,
                  loss=ember.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def torch_model(torch, hidden, optimizer):
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, CLASSES),
    )
    # Keras defaults; torch's own defaults differ (eps 1e-8, RMSprop alpha 0.99).
    if optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    else:
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return net, opt


def ember_train_fns(ember, hidden, optimizer, x, y):
    model = ember_model(ember, hidden, optimizer)
    y32 = y.astype(np.int32)
    model.train_on_batch(x, y32)  # builds the model and compiles the step program
    step = model._executable.step(True, [y32])
    program = step.program

    def cpp_step():
        # As fit does per batch: the learning rate is read from the optimizer every step.
        program.train_step([x], [y32], model.optimizer.current_learning_rate())

    def train_on_batch():
        model.train_on_batch(x, y32)

    return cpp_step, train_on_batch


def torch_train_fn(torch, hidden, optimizer, x, y):
    import torch.nn.functional as F

    net, opt = torch_model(torch, hidden, optimizer)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()

    return step


def ember_predict_fns(ember, hidden, x):
    model = ember_model(ember, hidden, "adam")
    model.predict_on_batch(x)
    program = model._executable.predict_program()
    return (lambda: program.predict_step([x])), (lambda: model.predict_on_batch(x))


def torch_predict_fn(torch, hidden, x):
    net, _ = torch_model(torch, hidden, "adam")
    xt = torch.from_numpy(x)

    def predict():
        with torch.inference_mode():
            net(xt)

    return predict


def run(quick=False):
    import ember
    import torch

    common.set_threads(ember=ember, torch=torch)
    repeats = common.repeats_for(quick, 9)
    block = 0.05 if quick else 0.25
    warmup = 5 if quick else 50
    rows = []
    for hidden, optimizer, batch, target in TRAIN_CASES:
        x, y = make_data(batch)
        cpp_step, train_on_batch = ember_train_fns(ember, hidden, optimizer, x, y)
        t = common.time_interleaved(
            {"cpp": cpp_step, "tob": train_on_batch,
             "torch": torch_train_fn(torch, hidden, optimizer, x, y)},
            repeats, warmup, block)
        name = f"train {FEATURES}-{hidden}-{CLASSES} {optimizer} b{batch}"
        ref = 1e3 * t["torch"].median
        rows.append(common.Row(f"{name}: C++ step", 1e3 * t["cpp"].median, "ms", ref,
                               "torch eager", target, spread=t["cpp"].spread()))
        rows.append(common.Row(f"{name}: train_on_batch", 1e3 * t["tob"].median, "ms", ref,
                               "torch eager", spread=t["tob"].spread()))
    for hidden, batch in PREDICT_CASES:
        x, _ = make_data(batch)
        predict_step, predict_on_batch = ember_predict_fns(ember, hidden, x)
        t = common.time_interleaved(
            {"step": predict_step, "pob": predict_on_batch,
             "torch": torch_predict_fn(torch, hidden, x)},
            repeats, warmup, block)
        name = f"predict {FEATURES}-{hidden}-{CLASSES} b{batch}"
        ref = 1e3 * t["torch"].median
        rows.append(common.Row(f"{name}: predict_step", 1e3 * t["step"].median, "ms", ref,
                               "torch inference_mode", spread=t["step"].spread()))
        rows.append(common.Row(f"{name}: predict_on_batch", 1e3 * t["pob"].median, "ms", ref,
                               "torch inference_mode", spread=t["pob"].spread()))
    return rows


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv)
    common.print_header("MLP: ember vs PyTorch " + ("(quick)" if args.quick else ""))
    rows = run(args.quick)
    common.print_table("MLP ms per step, median (ratio = ember / torch)", rows)
    print(f"# after: {common.load_line()}")


if __name__ == "__main__":
    main()
