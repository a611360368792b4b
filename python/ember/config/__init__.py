"""ember.config: process-wide settings."""
from ember.backend.core import core


def set_num_threads(n):
    """Threads for OpenMP kernels and BLAS together (no oversubscription); n <= 0: all cores."""
    core.set_num_threads(int(n))


def get_num_threads():
    return core.get_num_threads()


def floatx():
    return "float32"


def backend():
    return "ember"


def image_data_format():
    return "channels_last"


def enable_nan_check():
    """From now on every step checks each op's output and each gradient, and raises
    FloatingPointError naming the first op and layer that produced a NaN or an infinity (and the
    training step). It costs one pass over every tensor, so it is off by default."""
    core.set_nan_check(True)


def disable_nan_check():
    core.set_nan_check(False)


def is_nan_check_enabled():
    return bool(core.nan_check_enabled())
