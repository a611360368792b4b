"""The one way callbacks print their notices (Keras's `io_utils.print_msg`)."""

import sys


def print_msg(message):
    """Writes `message` and a line break to stdout and flushes, so the notice shows up in
    order with the progress bar, which also writes to stdout."""
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()
