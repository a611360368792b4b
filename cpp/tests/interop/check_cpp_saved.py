"""The Python half of the C++ -> Python interop test: loads every model the C++ side saved
(interop_check.cpp: Python models trained further in C++, and models built in C++) with
ember.models.load_model, and checks that Python's predictions equal the ones C++ computed, that
the compile settings came along (evaluate runs and reports the same metrics) and that training
goes on from the saved optimizer state.

    python check_cpp_saved.py DIR

Exits 77 (skipped) when ember cannot be imported or the C++ side saved nothing.
"""
import glob
import os
import sys

try:
    import numpy as np
    import ember
    from ember.saving import file_format
except ImportError as e:
    print(f"skipping: cannot import ember ({e})")
    sys.exit(77)


def check(model_path, pred_path):
    _, ref = file_format.read_file(pred_path)
    xs = [ref[f"x{i}"] for i in range(len(ref)) if f"x{i}" in ref]
    preds = [ref[f"pred{i}"] for i in range(len(ref)) if f"pred{i}" in ref]
    model = ember.models.load_model(model_path)
    x = xs if len(xs) > 1 else xs[0]
    out = model.predict(x, verbose=0)
    out = out if isinstance(out, list) else [out]
    failures = 0
    for k, (a, b) in enumerate(zip(out, preds)):
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
            worst = np.max(np.abs(a - b)) if a.shape == b.shape else "shape"
            print(f"FAILED: {model_path} predict[{k}] differs from C++ (max |diff| {worst})")
            failures += 1
    trained_path = pred_path.replace("_pred.", "_trained.").replace(".pred.", ".trained.")
    if model.compiled and os.path.exists(trained_path):
        # Training on from the C++ file must give the weights C++ got training on from it.
        md, t = file_format.read_file(trained_path)
        txs = [t[f"x{i}"] for i in range(len(t)) if f"x{i}" in t]
        tys = [t[f"y{i}"] for i in range(len(t)) if f"y{i}" in t]
        fresh = ember.models.load_model(model_path)
        fresh.fit(txs if len(txs) > 1 else txs[0], tys if len(tys) > 1 else tys[0], epochs=1,
                  batch_size=int(md["batch_size"]), shuffle=False, verbose=0)
        for v in fresh.weights:
            want = t[f"trained/{v.path}"]
            if not np.allclose(v.numpy(), want, rtol=1e-4, atol=1e-6):
                print(f"FAILED: {model_path}: after one epoch in Python, {v.path} differs from "
                      f"C++ (max |diff| {np.max(np.abs(v.numpy() - want))})")
                failures += 1
    if model.compiled:
        iterations = int(model.optimizer.iterations)
        y = model.predict(x, verbose=0)  # labels shaped like the outputs, for a training step
        y = y if not isinstance(y, list) else y[0]
        if model._compiled_losses[0].name.startswith("sparse"):
            y = np.argmax(y, axis=-1).astype("int32")
        logs = model.train_on_batch(x, y, return_dict=True)
        if not all(np.isfinite(v) for v in logs.values()):
            print(f"FAILED: {model_path}: training after loading gave {logs}")
            failures += 1
        if int(model.optimizer.iterations) != iterations + 1:
            print(f"FAILED: {model_path}: optimizer iterations {iterations} -> "
                  f"{int(model.optimizer.iterations)}")
            failures += 1
    print(f"{os.path.basename(model_path)}: {'ok' if not failures else 'FAILED'}")
    return failures


def main():
    directory = sys.argv[1]
    pairs = [(p, p.replace(".cpp.ember", ".cpp_pred.safetensors"))
             for p in sorted(glob.glob(os.path.join(directory, "*.cpp.ember")))]
    pairs += [(p, p.replace(".ember", ".pred.safetensors"))
              for p in sorted(glob.glob(os.path.join(directory, "cppbuilt_*.ember")))]
    if not pairs:
        print(f"skipping: no C++-saved models in {directory}")
        sys.exit(77)
    failures = sum(check(m, p) for m, p in pairs)
    print(f"{len(pairs)} models, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
