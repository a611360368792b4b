"""Loads the C++ extension with the thread policy decided before OpenMP starts."""
import os

# libgomp's idle threads spin after each parallel region and steal the cores OpenBLAS needs for
# the next product; a short spin keeps small consecutive regions fast without the slowdown.
# Users who set these themselves keep their choice.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# scipy-openblas32 loads its library globally on import, which is how the extension finds BLAS
# in editable and installed builds alike.
import scipy_openblas32  # noqa: F401,E402

from ember import _core as core  # noqa: E402

__all__ = ["core"]
