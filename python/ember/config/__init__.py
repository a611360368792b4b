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
