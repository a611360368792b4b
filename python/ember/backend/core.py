"""Loads the C++ extension."""
# scipy-openblas32 loads its library globally on import, which is how the extension finds BLAS
# in editable and installed builds alike.
import scipy_openblas32  # noqa: F401

from ember import _core as core  # noqa: E402

__all__ = ["core"]
