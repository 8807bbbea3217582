"""ppinpaint: PaddlePaddle reproductions of mask-guided image editing papers."""
from typing import Any

from .utils import runtime as _runtime  # noqa: F401  (before Paddle: it sees the user's OMP_NUM_THREADS)

__version__ = "0.1.0"
__all__ = ["build_model", "load_model", "__version__"]


def __getattr__(name: str) -> Any:
    """``ppinpaint.load_model`` / ``build_model``, imported on first use: ``ppinpaint --help`` needs no Paddle."""
    if name in ("build_model", "load_model"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'ppinpaint' has no attribute {name!r}")
