"""A progress bar with the output of `keras.utils.Progbar` (Keras 3).

On a terminal (or in a notebook) verbose=1 redraws one line in place with '\\r', at most every
`interval` seconds, in the same bytes Keras writes (ANSI bold/colour codes and the '━' bar):

    1875/1875 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.9123 - loss: 0.2345

When stdout is not a terminal (a file, a pipe, CI logs), redrawing would fill the log with
carriage returns, so only the final line is written, as plain text without escape codes.
verbose=2 writes one plain line when the bar finishes. `update` is called once per training
step, so it does no string formatting unless it prints.
"""

import math
import os
import sys
import time

import numpy as np

_BOLD = "\x1b[1m"
_GREEN = "\33[32m"
_WHITE = "\33[37m"
_RESET = "\x1b[0m"
_BAR_CHAR = "━"
# Without colours the part still to do must look different from the part done.
_PLAIN_TODO_CHAR = "─"


def _stdout_is_dynamic():
    """Whether stdout can redraw a line in place (Keras's test, minus its 'posix' clause, which
    is true on every Linux and macOS process, terminal or not)."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


def _write(message):
    stdout = sys.stdout
    try:
        stdout.write(message)
    except UnicodeEncodeError:
        # An ASCII-only stdout cannot print '━' or '─': fall back to Keras 2's '='.
        message = message.replace(_BAR_CHAR, "=").replace(_PLAIN_TODO_CHAR, ".")
        encoding = getattr(stdout, "encoding", None) or "utf-8"
        stdout.write(message.encode(encoding, errors="ignore").decode(encoding))
    stdout.flush()


def _format_value(avg):
    return f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}"


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, None if unknown.
        width: progress bar width on screen, in characters.
        verbose: 0 (silent), 1 (progress bar), 2 (one line at the end).
        interval: minimum time in seconds between two redraws of the bar.
        stateful_metrics: names of metrics shown as given (not averaged over steps). If neither
            this nor `stateless_metrics` is given, every metric is averaged by the bar.
        stateless_metrics: names of metrics averaged over steps; all others are shown as given.
            Give at most one of the two lists.
        unit_name: the name of one step in the display ("step", "sample", ...).
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar: give only one of `stateful_metrics` (metrics shown as given; the others "
                "are averaged) or `stateless_metrics` (metrics averaged; the others shown as "
                "given), not both"
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: expected `verbose` to be 0, 1 or 2, received {verbose!r}")
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0
        ):
            raise ValueError(
                f"Progbar: expected `target` to be None or an integer >= 0, received {target!r}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics = set(stateful_metrics)
            self.stateless_metrics = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None

        self._dynamic_display = _stdout_is_dynamic()
        self._seen_so_far = 0
        # name -> [sum of value * steps, steps]; insertion order is the display order.
        self._values = {}
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: index of the current step (1-based count of steps done).
            values: list of `(name, value_for_last_step)`. Stateful metrics are shown as given;
                the others are averaged over the steps seen.
            finalize: whether this is the last update; default `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 0:
            self._seen_so_far = current
            return

        if values:
            self._record_values(current, values, finalize)
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if not finalize:
                # Off a terminal only the final line is written; on one, redraws are throttled.
                if not self._dynamic_display or now - self._last_update < self.interval:
                    return
            self._print_bar(current, now, time_per_unit, finalize)
        elif finalize and self.target is not None and self.target > 0:
            self._print_summary_line(current, now, time_per_unit)
        self._last_update = now

    def add(self, n, values=None):
        """Advances the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _record_values(self, current, values, finalize):
        stored = self._values
        for k, v in values:
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if stateless and not finalize:
                # Weight by the steps since the last update, so that `add(n)` averages correctly.
                steps = max(current - self._seen_so_far, 1)
                entry = stored.get(k)
                if entry is None:
                    stored[k] = [v * steps, steps]
                else:
                    entry[0] += v * steps
                    entry[1] += steps
            else:
                # A stateful value, or the final (already averaged) value of a stateless one.
                stored[k] = [v, 1]

    def _estimate_step_duration(self, current, now):
        """Seconds per step; ignores the first step (often slow) once there are more."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit

    # -- formatting ----------------------------------------------------------------------------

    def _metrics_text(self):
        text = ""
        for k, (total, count) in self._values.items():
            if not isinstance(total, float):
                total = np.mean(total)
            text += f" - {k}:" + _format_value(total / max(1, count))
        return text

    def _print_bar(self, current, now, time_per_unit, finalize):
        ansi = self._dynamic_display
        special_char_len = 0  # characters of escape codes, which take no room on screen
        if self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            count = f"%{numdigits}d/%d" % (current, self.target)
            prog_width = int(self.width * (float(current) / self.target))
            if ansi:
                bar = f"{_BOLD}{count}{_RESET} "
                special_char_len += 8
                if prog_width > 0:
                    bar += f"{_GREEN}{_BAR_CHAR * prog_width}{_RESET}"
                    special_char_len += 9
                bar += f"{_WHITE}{_BAR_CHAR * (self.width - prog_width)}{_RESET}"
                special_char_len += 9
            else:
                bar = f"{count} {_BAR_CHAR * prog_width}"
                bar += _PLAIN_TODO_CHAR * (self.width - prog_width)
        else:
            bar = "%7d/Unknown" % current

        if self.target is not None and self.target > 0 and not finalize:
            eta = time_per_unit * (self.target - current)
            if eta > 3600:
                eta_format = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_format = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_format = "%ds" % eta
        else:
            eta_format = f"{now - self._start:.0f}s"  # time elapsed since the start
        if ansi:
            info = f" {_BOLD}{eta_format}{_RESET}"
            special_char_len += 8
        else:
            info = f" {eta_format}"
        info += self._format_time(time_per_unit, self.unit_name)
        info += self._metrics_text()

        total_width = len(bar) + len(info) - special_char_len
        if ansi:
            message = "\b" * self._prev_total_width + "\r" + bar + info
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
        else:
            message = bar + info
        if finalize:
            message += "\n"
        _write(message)
        self._prev_total_width = total_width

    def _print_summary_line(self, current, now, time_per_unit):
        numdigits = int(math.log10(self.target)) + 1
        count = f"%{numdigits}d/%d" % (current, self.target)
        info = f"{count} - {now - self._start:.0f}s"
        info += f" -{self._format_time(time_per_unit, self.unit_name)}"
        info += self._metrics_text()
        _write(info + "\n")

    @staticmethod
    def _format_time(time_per_unit, unit_name):
        """' 2s/step', ' 13ms/step' or ' 250us/step'."""
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"
