"""The quickstart the README runs: offline, on the built-in digits, it must train."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_trains_on_builtin_digits():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert 'Model: "sequential' in result.stdout
    assert "Epoch 20/20" in result.stdout
    assert "\r" not in result.stdout  # not a terminal: one line per epoch, no carriage returns
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1))
    assert accuracy >= 0.9, result.stdout
