"""ppinpaint: PaddlePaddle reproductions of mask-guided image editing papers."""
__version__ = "0.1.0"

from .api import build_model, load_model  # noqa: E402,F401
