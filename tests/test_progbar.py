"""Tests of ember.utils.Progbar: Keras 3's output bytes, terminal vs. log output, cost."""

import importlib.util
import io
import json
import os
import pathlib
import subprocess
import sys
import types

import pytest

import ember
from ember.utils import progbar as progbar_module
from ember.utils.progbar import Progbar

B, G, W, R = "\x1b[1m", "\33[32m", "\33[37m", "\x1b[0m"  # bold, green, white, reset
BAR = "━"


class FakeClock:
    def __init__(self, start=100.0):
        self.now = start

    def time(self):
        return self.now


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(progbar_module, "time", types.SimpleNamespace(time=c.time))
    return c


def use_stdout(monkeypatch, out):
    # Inside the test body: pytest installs its own capture stream after fixtures run.
    monkeypatch.setattr(sys, "stdout", out)
    return out


def use_tty(monkeypatch):
    return use_stdout(monkeypatch, TTY())


def use_logfile(monkeypatch):
    return use_stdout(monkeypatch, io.StringIO())  # isatty() is False, as for a file or pipe


def run_three_steps(clock, **kwargs):
    """Steps at +0.5 s, +0.25 s, +0.25 s (exact binary fractions)."""
    pb = Progbar(3, stateful_metrics=["loss"], **kwargs)
    clock.now += 0.5
    pb.update(1, [("loss", 0.5)])
    clock.now += 0.25
    pb.update(2, [("loss", 0.25)])
    clock.now += 0.25
    pb.update(3, [("loss", 0.125)])
    return pb


def test_terminal_output_is_keras_bytes(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    run_three_steps(clock)
    step1 = (f"\r{B}1/3{R} {G}{BAR * 6}{R}{W}{BAR * 14}{R} {B}1s{R} 500ms/step"
             " - loss: 0.5000")
    step2 = ("\b" * 53 + f"\r{B}2/3{R} {G}{BAR * 13}{R}{W}{BAR * 7}{R} {B}0s{R} 250ms/step"
             " - loss: 0.2500")
    step3 = ("\b" * 53 + f"\r{B}3/3{R} {G}{BAR * 20}{R}{W}{R} {B}1s{R} 250ms/step"
             " - loss: 0.1250\n")
    assert tty.getvalue() == step1 + step2 + step3


def test_log_output_is_only_the_final_plain_line(clock, monkeypatch):
    logfile = use_logfile(monkeypatch)
    run_three_steps(clock)
    assert logfile.getvalue() == f"3/3 {BAR * 20} 1s 250ms/step - loss: 0.1250\n"


def test_log_output_of_an_unfinished_bar_marks_the_rest(clock, monkeypatch):
    logfile = use_logfile(monkeypatch)
    pb = Progbar(4)
    clock.now += 1
    pb.update(1, finalize=True)
    assert logfile.getvalue() == f"1/4 {BAR * 5}{'─' * 15} 1s 1s/step\n"


def test_verbose_2_prints_one_line(clock, monkeypatch):
    logfile = use_logfile(monkeypatch)
    run_three_steps(clock, verbose=2)
    assert logfile.getvalue() == "3/3 - 1s - 250ms/step - loss: 0.1250\n"


def test_verbose_2_on_a_terminal_prints_one_line(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    run_three_steps(clock, verbose=2)
    assert tty.getvalue() == "3/3 - 1s - 250ms/step - loss: 0.1250\n"


def test_verbose_0_prints_nothing(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    pb = run_three_steps(clock, verbose=0)
    assert tty.getvalue() == ""
    pb.add(2)
    assert pb._seen_so_far == 5


def test_redraws_are_throttled_by_interval(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    pb = Progbar(10, interval=1.0)
    for i in range(1, 10):
        clock.now += 0.3
        pb.update(i)
    # Redrawn at 0.3 s (first) then whenever >= 1 s passed since the last redraw.
    redraws = tty.getvalue().split("\r")[1:]
    counts = [line.split("/")[0].split("m")[-1].strip() for line in redraws]
    assert counts == ["1", "5", "9"]


def test_update_formats_nothing_when_it_prints_nothing(clock, monkeypatch):
    # Off a terminal, and on one within `interval`, update() must not build the line.
    def fail(*args):
        raise AssertionError("formatted a line that is not printed")

    monkeypatch.setattr(Progbar, "_print_bar", fail)
    monkeypatch.setattr(Progbar, "_metrics_text", fail)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    pb = Progbar(1000, stateful_metrics=["loss"])
    for i in range(1, 999):
        clock.now += 0.001
        pb.update(i, [("loss", 1.0)])
    monkeypatch.setattr(sys, "stdout", TTY())
    pb = Progbar(1000, interval=100.0)
    clock.now += 200.0
    monkeypatch.setattr(pb, "_print_bar", lambda *a: None)
    pb.update(1)  # the first redraw
    monkeypatch.setattr(pb, "_print_bar", fail)
    for i in range(2, 999):
        clock.now += 0.001
        pb.update(i, [("loss", 1.0)])


def test_stateless_values_are_averaged_over_steps(clock, monkeypatch):
    logfile = use_logfile(monkeypatch)
    pb = Progbar(4)
    clock.now += 1
    pb.add(1, [("loss", 1.0)])
    pb.add(2, [("loss", 4.0)])  # counts for 2 steps: (1 + 8) / 3
    clock.now += 1
    pb.update(3, [("loss", 4.0)], finalize=True)
    # On the final update a stateless value is taken as the final average, as Keras does.
    assert logfile.getvalue().endswith(" - loss: 4.0000\n")
    assert pb._values["loss"] == [4.0, 1]
    pb2 = Progbar(10)
    pb2.add(1, [("loss", 1.0)])
    pb2.add(2, [("loss", 4.0)])
    total, count = pb2._values["loss"]
    assert total / count == 3.0


def test_stateless_metrics_argument(clock, monkeypatch):
    use_logfile(monkeypatch)
    pb = Progbar(2, stateless_metrics=["avg"])
    pb.update(1, [("avg", 2.0), ("raw", 5.0)])
    pb.update(2, [("avg", 4.0), ("raw", 7.0)], finalize=False)
    assert pb._values == {"avg": [6.0, 2], "raw": [7.0, 1]}


def test_small_and_negative_values_use_keras_formats(clock, monkeypatch):
    logfile = use_logfile(monkeypatch)
    pb = Progbar(1, stateful_metrics=["a", "b", "c"])
    clock.now += 2
    pb.update(1, [("a", 1e-4), ("b", -0.5), ("c", 0.0)])
    assert logfile.getvalue().endswith(" - a: 1.0000e-04 - b: -0.5000 - c: 0.0000e+00\n")


def test_unknown_target(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    pb = Progbar(None)
    clock.now += 0.5
    pb.update(3, [("loss", 0.25)])
    assert tty.getvalue() == f"\r      3/Unknown {B}0s{R} 167ms/step - loss: 0.2500"


def test_eta_formats(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    pb = Progbar(100000)
    clock.now += 2.0
    pb.update(1)
    assert f" {B}55:33:18{R} 2s/step" in tty.getvalue()
    pb = Progbar(100)
    clock.now += 2.0
    pb.update(1)
    assert f" {B}3:18{R} 2s/step" in tty.getvalue()


def test_ascii_stdout_falls_back_to_equals_signs(clock, monkeypatch):
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    pb = Progbar(2)
    clock.now += 1
    pb.update(2)
    out.flush()
    assert raw.getvalue().decode("ascii") == f"2/2 {'=' * 20} 1s 500ms/step\n"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": 3, "stateful_metrics": ["a"], "stateless_metrics": ["b"]}, "only one"),
        ({"target": 3, "verbose": 3}, "verbose"),
        ({"target": -1}, "target"),
        ({"target": 2.5}, "target"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Progbar(**kwargs)


# -- parity with Keras itself, when it is installed with a backend ------------------------------

_DRIVER = r'''
import io, json, sys, time

class TTY(io.StringIO):
    def isatty(self): return True

def drive(Progbar):
    clock = [1000.0]
    time.time = lambda: clock[0]
    out = sys.stdout = TTY()
    pb = Progbar(10, stateful_metrics=["accuracy", "loss"])
    for i in range(1, 11):
        clock[0] += 0.1 if i > 1 else 1.3
        pb.update(i, [("accuracy", 0.5 + i / 100), ("loss", 2.0 / i)])
    pb = Progbar(5)
    for i in range(5):
        clock[0] += 0.0004
        pb.add(1, [("loss", 1e-4 * (i + 1)), ("neg", -0.5)])
    pb = Progbar(100000, width=30)
    for dt, step in [(2.0, 1), (2.0, 2), (100.0, 50), (1.0, 99990), (1.0, 100000)]:
        clock[0] += dt
        pb.update(step, [("x", 1.0)] if step == 50 else None)
    pb = Progbar(None)
    for i in range(1, 4):
        clock[0] += 0.2
        pb.update(i, [("loss", 0.25)])
    pb.target = 3
    pb.update(3, [("loss", 0.2)], finalize=True)
    pb = Progbar(1875, verbose=2, stateful_metrics=["loss", "accuracy"])
    for i in range(1, 1876):
        clock[0] += 0.001
        pb.update(i, [("accuracy", 0.9123), ("loss", 0.2345)])
    pb = Progbar(4, interval=10)
    for i in range(1, 5):
        clock[0] += 1
        pb.update(i, [("a", float(i))])
    pb = Progbar(3, stateful_metrics=["m"])
    for step, m in [(1, 123456.0), (2, 1.0), (3, 1.0)]:
        clock[0] += 1
        pb.update(step, [("m", m)])
    return out.getvalue()

if sys.argv[1] == "keras":
    from keras.src.utils.progbar import Progbar
else:
    from ember.utils.progbar import Progbar
text = drive(Progbar)
with open(sys.argv[2], "w") as f:  # not stdout: imports may print there
    json.dump(text, f)
'''


def _keras_backend_available():
    if importlib.util.find_spec("keras") is None:
        return None
    for backend, module in (("torch", "torch"), ("jax", "jax"), ("tensorflow", "tensorflow")):
        if importlib.util.find_spec(module) is not None:
            return backend
    return None


@pytest.mark.skipif(_keras_backend_available() is None,
                    reason="Keras with a backend (torch, jax or tensorflow) is not installed")
def test_terminal_output_matches_keras_progbar(tmp_path):
    # Run in subprocesses: importing Keras here would fix its backend for the whole session.
    env = {**os.environ, "KERAS_BACKEND": _keras_backend_available(),
           "PYTHONPATH": str(pathlib.Path(ember.__file__).parents[1])}
    outputs = []
    for which in ("keras", "ember"):
        out = tmp_path / f"{which}.json"
        subprocess.run([sys.executable, "-c", _DRIVER, which, str(out)], env=env, check=True,
                       capture_output=True, timeout=300)
        outputs.append(json.loads(out.read_text()))
    assert "\r" in outputs[0] and outputs[0] == outputs[1]
