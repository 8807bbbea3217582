"""The one rounding to 8-bit levels and the one paste-back of known pixels, used wherever images are
quantised or composited (input rules, prediction, metrics, grids; every model's inference)."""
import numpy as np


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Nearest integer with halves rounded up: ``floor(x + 0.5)`` (``np.round`` rounds halves to even)."""
    return np.floor(x + 0.5)


def quantize(x01: np.ndarray) -> np.ndarray:
    """[0,1] floats -> the nearest of the 256 levels 0..255, still floats."""
    return round_half_up(np.clip(x01, 0.0, 1.0) * 255.0)


def to_uint8(x01: np.ndarray) -> np.ndarray:
    """[0,1] floats -> uint8 levels (:func:`quantize`)."""
    return quantize(x01).astype(np.uint8)


def paste_back(result, known, mask):
    """``result`` where ``mask`` is 1, ``known`` where it is 0, blended in between; numpy or paddle alike."""
    return result * mask + known * (1.0 - mask)
