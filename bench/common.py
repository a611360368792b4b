"""Shared benchmark helpers: thread setup, timing (warm-up, repeats, median) and tables.

Benchmarks are not tests: they print numbers and never assert on time. Every comparison runs
both frameworks in the same process with the same thread count, and interleaves their timed
blocks so that a burst of background load on a shared machine hits both sides alike.
"""
import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field

THREADS = 2


def parse_args(description, argv=None, extra=None):
    """--quick and --threads (kept here for set_threads()); `extra(parser)` adds more."""
    global THREADS
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run: few repetitions, smaller problems; rough numbers")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help=f"threads per framework (default {THREADS}, the issue's setting)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, received {args.threads}")
    THREADS = args.threads
    return args


def set_threads(ember=None, torch=None, n=None):
    """The same thread count for every framework loaded in this process."""
    n = THREADS if n is None else n
    if ember is not None:
        ember.config.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def machine_line():
    """CPU model, core count and load average, to read next to the numbers."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {THREADS} threads per framework, {load_line()}"


def load_line():
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass
class Timing:
    """Seconds per call, one sample per timed block."""
    samples: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.samples)

    def spread(self):
        """(max - min) / median: how noisy the repetitions were."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


def calibrate(fn, block_seconds, probes=5):
    """Calls per timed block so that one block lasts about `block_seconds` (at least 1)."""
    if block_seconds <= 0:
        return 1
    once = []
    for _ in range(probes):
        t0 = time.perf_counter()
        fn()
        once.append(time.perf_counter() - t0)
    return max(1, int(block_seconds / max(statistics.median(once), 1e-7)))


# Idle worker threads keep spinning for a while after their last task (OpenBLAS's pthreads for
# up to 2^28 TSC cycles, ~0.1 s; OpenMP's for GOMP_SPINCOUNT). A pause between timed blocks
# lets one framework's spinning threads go to sleep before the other framework is timed.
SETTLE_SECONDS = 0.2


def time_interleaved(fns, repeats, warmup_calls, block_seconds):
    """Times each callable of the dict `fns` (name -> fn()) over `repeats` blocks.

    Every callable is first warmed up; then the blocks alternate between the callables
    (a, b, c, a, b, c, ...), with a pause before each. Returns name -> Timing in seconds
    per call.
    """
    numbers = {}
    for name, fn in fns.items():
        for _ in range(warmup_calls):
            fn()
        numbers[name] = calibrate(fn, block_seconds)
    timings = {name: Timing() for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = numbers[name]
            time.sleep(SETTLE_SECONDS)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            timings[name].samples.append((time.perf_counter() - t0) / n)
    return timings


@dataclass
class Row:
    """One line of a results table.

    `value` and `reference` are in `unit`; `ratio` = value / reference. `target` is the ratio
    the issue asks for: at most `target` when lower is better (time), at least `target` when
    higher is better (throughput). `spread` is the noise of the ember measurement.
    """
    case: str
    value: float
    unit: str
    reference: float = None
    reference_name: str = ""
    target: float = None
    higher_is_better: bool = False
    spread: float = None
    note: str = ""

    @property
    def ratio(self):
        if self.reference in (None, 0):
            return None
        return self.value / self.reference

    def target_text(self):
        if self.target is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {self.target:.2f}x"

    def verdict(self):
        if self.target is None or self.ratio is None:
            return ""
        met = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "met" if met else "MISSED"


def _fmt(value, unit):
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit == "s":
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return f"{value:.1f}"


def print_table(title, rows, ember_label="ember"):
    """Prints rows as an aligned text table."""
    headers = ["case", ember_label, "reference", "ref value", "unit", "ratio", "target",
               "status", "spread", "note"]
    lines = []
    for r in rows:
        lines.append([
            r.case,
            _fmt(r.value, r.unit),
            r.reference_name,
            _fmt(r.reference, r.unit),
            r.unit,
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target_text(),
            r.verdict(),
            "" if r.spread is None else f"{100 * r.spread:.0f}%",
            r.note,
        ])
    # Drop columns that are empty in every row (e.g. no targets in a table).
    keep = [i for i in range(len(headers)) if i < 2 or any(line[i] for line in lines)]
    headers = [headers[i] for i in keep]
    lines = [[line[i] for i in keep] for line in lines]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    print(f"\n== {title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def print_header(title):
    print(f"# {title}")
    print(f"# {machine_line()}")


def repeats_for(quick, full):
    return 2 if quick else full
