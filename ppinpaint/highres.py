"""Large images: run at full size, per hole on crops with context, or on a downscaled copy.

A 2048x1536 photo at full size costs the networks tens of GiB (contextual attention's score
matrix alone grows with the fourth power of the side), so prediction picks a strategy, as
IOPaint users know it:

- ``full``: the whole image at once;
- ``crop``: one crop per connected hole region, grown by ``margin`` pixels of context on every
  side, then to the network's minimum size and size multiple (real context instead of padding:
  the network would run at that size anyway), overlapping crops merged; a crop still longer than
  ``max_size`` is itself processed with ``resize``;
- ``resize``: the image (or crop) scaled so its longest side is ``max_size``, run, and the
  result scaled back; for harmonization the foreground's *change* is scaled back and added to
  the full-resolution composite, which keeps its detail;
- ``auto`` (default): ``full`` when the image, padded to the network's minimum and multiple,
  fits in ``max_size`` x ``max_size`` pixels; else
  ``crop`` for inpainting (holes are local) and ``resize`` for harmonization (the network needs
  the whole background's statistics).

Known pixels are always the input's, exactly: only hole (foreground) pixels are written back.
"""
from typing import Callable, List, Tuple

import cv2
import numpy as np

from .utils.pixels import paste_back, round_half_up

STRATEGIES = ("auto", "full", "crop", "resize")
Box = Tuple[int, int, int, int]          # top, left, bottom, right (exclusive)
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _grow(lo: int, hi: int, size: int, limit: int) -> Tuple[int, int]:
    """Widen [lo, hi) symmetrically to ``size`` (at most ``limit``), shifted to stay inside [0, limit)."""
    size = min(max(size, hi - lo), limit)
    lo = max(0, min(lo - (size - (hi - lo)) // 2, limit - size))
    return lo, lo + size


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fit(box: Box, shape: Tuple[int, int], min_size: int, multiple: int) -> Box:
    """``box`` grown to at least ``min_size`` and to a multiple of ``multiple`` per side, inside ``shape``."""
    sides = []
    for lo, hi, limit in ((box[0], box[2], shape[0]), (box[1], box[3], shape[1])):
        size = max(hi - lo, min_size)
        sides.append(_grow(lo, hi, -(-size // multiple) * multiple, limit))
    return int(sides[0][0]), int(sides[1][0]), int(sides[0][1]), int(sides[1][1])


def plan_crops(mask: np.ndarray, margin: int, min_size: int = 0, multiple: int = 1) -> List[Box]:
    """Crop boxes covering every hole: each connected region's bbox + ``margin``, at least
    ``min_size`` and a multiple of ``multiple`` on each side where the image allows, inside the
    image; overlapping boxes merged (and refitted) until none overlap."""
    h, w = mask.shape
    multiple = max(1, int(multiple))
    count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    boxes = [_fit((max(0, y - margin), max(0, x - margin), min(h, y + bh + margin), min(w, x + bw + margin)),
                  (h, w), min_size, multiple)
             for x, y, bw, bh, _ in stats[1:count]]
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]):
                    a, b = boxes[i], boxes.pop(j)
                    boxes[i] = _fit((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])),
                                    (h, w), min_size, multiple)
                    merged = True
                    break
            if merged:
                break
    return sorted(boxes)


def choose(strategy: str, shape: Tuple[int, int], max_size: int, task: str, multiple: int = 1,
           min_size: int = 0) -> str:
    """The concrete strategy ``auto`` stands for at this image size (others are returned as given)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown prediction strategy {strategy!r}; choose one of {STRATEGIES}")
    if strategy != "auto":
        return strategy
    # The budget applies to what the network sees: the image padded to its minimum and multiple.
    multiple = max(1, int(multiple))
    padded = [-(-max(side, min_size) // multiple) * multiple for side in shape]
    if padded[0] * padded[1] <= max_size * max_size:
        return "full"
    return "resize" if task == "harmonization" else "crop"


def paste_known(image: np.ndarray, result: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 ``result`` in the hole, the uint8 ``image`` elsewhere (blended and rounded where a soft mask
    is fractional; a {0,1} mask copies either exactly)."""
    return round_half_up(paste_back(result, image, mask[:, :, None].astype(np.float32))).astype(np.uint8)


def run_resized(run: Runner, image: np.ndarray, mask: np.ndarray, max_size: int, task: str,
                soft: bool) -> np.ndarray:
    """``run`` on a copy whose longest side is ``max_size``; the result scaled back and pasted."""
    h, w = mask.shape
    scale = max_size / max(h, w)
    if scale >= 1.0:
        return run(image, mask)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # Area averaging, then any coverage counts: a thin hole must not vanish when shrunk.
    small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    small_mask = small_mask if soft else (small_mask > 0).astype(np.float32)
    small = run(small_image, small_mask).astype(np.float32)
    if task == "harmonization":
        change = cv2.resize(small - small_image.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        result = np.clip(image.astype(np.float32) + change, 0, 255)
    else:
        result = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return paste_known(image, np.clip(round_half_up(result), 0, 255), mask)


def run_strategy(run: Runner, image: np.ndarray, mask: np.ndarray, strategy: str, max_size: int, margin: int,
                 task: str, min_size: int = 0, soft: bool = False, multiple: int = 1) -> np.ndarray:
    """Apply ``strategy`` around ``run`` (one network pass with the input rules already applied)."""
    strategy = choose(strategy, mask.shape, max_size, task, multiple, min_size)
    if strategy == "full":
        return run(image, mask)
    if strategy == "resize":
        return run_resized(run, image, mask, max_size, task, soft)
    out = image.copy()
    for top, left, bottom, right in plan_crops(mask, margin, min_size, multiple):
        crop_image, crop_mask = image[top:bottom, left:right], mask[top:bottom, left:right]
        out[top:bottom, left:right] = (run(crop_image, crop_mask) if max(crop_mask.shape) <= max_size
                                       else run_resized(run, crop_image, crop_mask, max_size, task, soft))
    return out
