"""Geometric policies shared by the datasets: how an image of any size becomes ``size`` x ``size``."""
from typing import Tuple

import cv2
import numpy as np

POLICIES = ("random_crop", "crop", "center_crop", "resize")


def _resize(image: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    if image.shape[:2] == (size, size):
        return image
    shrink = image.shape[0] > size and image.shape[1] > size
    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return cv2.resize(image, (size, size), interpolation=interp)


def crop_box(height: int, width: int, size: int, policy: str, rng: np.random.Generator) -> Tuple[int, int, int]:
    """(top, left, side) of the square taken from an image before resizing to ``size``.

    ``random_crop``: a random square between ``size`` (or the short side, if smaller) and the
    short side, at a random place — scale augmentation that keeps the aspect ratio;
    ``crop``: a ``size`` square at the image's own scale, at a random place (a smaller image:
    its short side, upscaled), as DeepFill's official loaders (neuralgym ``np_random_crop``,
    daa233 ``RandomCrop``) take it;
    ``center_crop``: the largest centred square; ``resize``: the whole image (side 0 = no crop).
    """
    if policy not in POLICIES:
        raise ValueError(f"resize policy must be one of {POLICIES}, got {policy!r}")
    short = min(height, width)
    if policy == "resize":
        return 0, 0, 0
    if policy == "center_crop":
        return (height - short) // 2, (width - short) // 2, short
    side = min(size, short) if policy == "crop" else int(rng.integers(min(size, short), short + 1))
    return int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)), side


def apply_box(image: np.ndarray, box: Tuple[int, int, int], size: int, nearest: bool = False) -> np.ndarray:
    """Crop ``box`` from ``image`` and resize to ``size`` x ``size``."""
    top, left, side = box
    if side:
        image = image[top:top + side, left:left + side]
    return _resize(image, size, nearest)


def to_chw(image_u8: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 3xHxW float32 in [0, 1]."""
    return np.ascontiguousarray(image_u8.transpose(2, 0, 1), dtype=np.float32) / 255.0
