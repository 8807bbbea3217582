"""Run logging: VisualDL scalars and image grids, PNG grids, and a plain-text log (rank 0 only)."""
import logging
import math
import os
from typing import Dict, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
import paddle

from ..utils.grid import show_hole, titled_grid
from ..utils.pixels import to_uint8

ArrayLike = Union[paddle.Tensor, np.ndarray]
GRID_ORDER = ("input", "mask", "output", "target")


def _to_nhwc_uint8(x: ArrayLike) -> np.ndarray:
    arr = x.numpy() if isinstance(x, paddle.Tensor) else np.asarray(x)
    arr = arr.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    arr = np.transpose(arr[:, :3], (0, 2, 3, 1))
    return to_uint8(arr)


def make_grid(visuals: Mapping[str, ArrayLike], order: Sequence[str] = GRID_ORDER, max_rows: int = 4,
              hole: bool = False) -> np.ndarray:
    """One RGB uint8 image: titled columns ``order`` (input | mask | output | target), a row per sample.

    ``hole``: paint the input's hole white (inpainting), the one rendering every picture uses.
    """
    names = [k for k in order if k in visuals]
    if not names:
        raise ValueError(f"no visuals to draw; expected some of {list(order)}")
    columns = {k: _to_nhwc_uint8(visuals[k]) for k in names}
    if hole and "input" in columns and "mask" in columns:
        columns["input"] = show_hole(columns["input"], columns["mask"][..., :1] >= 128)
    n = min(min(c.shape[0] for c in columns.values()), max_rows)
    return titled_grid([list(columns[k][:n]) for k in names], names)


def format_number(value: float) -> str:
    """A loss or metric for people: four significant digits, fixed-point unless tiny or huge."""
    size = abs(value)
    if not math.isfinite(value) or size == 0:
        return f"{value:g}"
    if 1e-3 <= size < 1e5:
        return f"{value:.{max(0, 3 - math.floor(math.log10(size)))}f}"
    return f"{value:.3e}"


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = int(max(0.0, seconds) + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def save_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG (creating the folder)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def text_logger(path: Optional[str], name: str = "ppinpaint") -> logging.Logger:
    """A logger to the console and, when ``path`` is given, to a text file."""
    logger = logging.getLogger(f"{name}.{path}")
    if logger.handlers:
        return logger
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    logger.addHandler(console)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


class RunLogger:
    """Everything a run records, at the true global step (a resumed run extends the same curves)."""

    def __init__(self, output_dir: str, enabled: bool = True) -> None:
        self.output_dir = output_dir
        self.enabled = enabled
        self.text = text_logger(os.path.join(output_dir, "train.log") if enabled else None)
        self.vdl = None
        if enabled:
            from visualdl import LogWriter

            self.vdl = LogWriter(logdir=os.path.join(output_dir, "vdl"))

    def scalars(self, values: Dict[str, float], step: int, prefix: str = "train") -> None:
        """Log scalars under ``prefix/name``."""
        if self.vdl is None:
            return
        for name, value in values.items():
            self.vdl.add_scalar(tag=f"{prefix}/{name}", value=float(value), step=step)

    def images(self, visuals: Mapping[str, ArrayLike], step: int, tag: str = "train",
               hole: bool = False) -> Optional[str]:
        """Log a result grid to VisualDL and save it as ``images/<tag>_iter_<step>.png``."""
        if not self.enabled or not visuals:
            return None
        grid = make_grid(visuals, hole=hole)
        path = os.path.join(self.output_dir, "images", f"{tag}_iter_{step:07d}.png")
        save_png(path, grid)
        self.image(f"{tag}/grid", grid, step)
        return path

    def image(self, tag: str, rgb: np.ndarray, step: int) -> None:
        """Log one RGB uint8 picture to VisualDL under ``tag``."""
        if self.vdl is not None:
            self.vdl.add_image(tag=tag, img=rgb, step=step)

    def info(self, message: str) -> None:
        """A line in the text log (and the console)."""
        if self.enabled:
            self.text.info(message)

    def close(self) -> None:
        """Flush and close the VisualDL writer."""
        if self.vdl is not None:
            self.vdl.close()
            self.vdl = None
