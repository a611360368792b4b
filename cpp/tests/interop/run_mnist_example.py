"""Runs the mnist_classify example on the model the interop fixture trained in Python and checks
that the accuracy it prints equals Python's model.evaluate on the MNIST test set.

    python run_mnist_example.py MNIST_CLASSIFY DIR MNIST_DIR

Exits 77 (skipped) when the fixture wrote no MNIST model (no Python ember, or no MNIST data).
"""
import json
import os
import re
import subprocess
import sys


def main():
    exe, directory, mnist_dir = sys.argv[1:4]
    model = os.path.join(directory, "mnist_model.ember")
    expected_path = os.path.join(directory, "mnist_expected.json")
    if not (os.path.exists(model) and os.path.exists(expected_path)):
        print("skipping: the Python fixture wrote no MNIST model")
        sys.exit(77)
    with open(expected_path) as f:
        expected = json.load(f)["accuracy"]
    run = subprocess.run([exe, model, mnist_dir], capture_output=True, text=True)
    print(run.stdout, end="")
    print(run.stderr, end="", file=sys.stderr)
    if run.returncode != 0:
        sys.exit(f"mnist_classify exited with {run.returncode}")
    found = re.search(r"^test accuracy: (\d\.\d{4})$", run.stdout, re.M)
    if not found:
        sys.exit("mnist_classify printed no 'test accuracy: 0.xxxx' line")
    if found.group(1) != f"{expected:.4f}":
        sys.exit(f"C++ accuracy {found.group(1)} != Python's evaluate {expected:.4f} "
                 f"({expected!r})")
    print(f"equals Python's evaluate: {expected:.4f}")


if __name__ == "__main__":
    main()
