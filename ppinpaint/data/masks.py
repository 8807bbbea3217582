"""Mask generators (1 = hole), seeded by the caller's rng: ``gen(h, w, rng) -> (mask, bbox)``.

``bbox`` is ``(top, left, height, width)`` of the region the generator drew in — for the
random box, the box *before* DeepFill's random shrink, which is where the local critic looks.
"""
import glob
import math
import os
import warnings
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..registry import MASKS

MaskSample = Tuple[np.ndarray, Tuple[int, int, int, int]]


def hole_bbox(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """Bounding box (top, left, h, w) of the hole; the whole image when there is none."""
    rows, cols = np.nonzero(mask > 0.5)
    if rows.size == 0:
        return 0, 0, mask.shape[0], mask.shape[1]
    return int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@MASKS.register()
class RandomBoxMask:
    """DeepFill v1's random rectangle: a ``shape`` box placed inside ``margin``, shrunk per side.

    Follows the official TF v1 ``random_bbox`` / ``bbox2mask`` (and daa233's port): the box's
    top-left is uniform in ``[margin, size - margin - shape)`` (both draw with an exclusive upper
    end, so the box never touches the bottom/right margin), then each side pair is shrunk by a
    random ``[0, max_delta // 2]`` so holes vary in size while the critic's patch stays fixed.
    """

    def __init__(self, shape: Sequence[int] = (128, 128), max_delta: Sequence[int] = (32, 32),
                 margin: Sequence[int] = (0, 0)) -> None:
        self.shape, self.max_delta, self.margin = tuple(shape), tuple(max_delta), tuple(margin)

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> MaskSample:
        bh, bw = min(self.shape[0], height), min(self.shape[1], width)
        mv, mh = self.margin
        top = int(rng.integers(mv, max(height - mv - bh, mv + 1)))
        left = int(rng.integers(mh, max(width - mh - bw, mh + 1)))
        dh = int(rng.integers(0, self.max_delta[0] // 2 + 1))
        dw = int(rng.integers(0, self.max_delta[1] // 2 + 1))
        mask = np.zeros((height, width), np.float32)
        mask[top + dh:top + bh - dh, left + dw:left + bw - dw] = 1.0
        return mask, (top, left, bh, bw)


@MASKS.register()
class CenterMask:
    """A centred square hole. Without ``size``, CSA's official rule: ``[H/4 + overlap, 3H/4 - overlap)``
    (``[68, 188)`` at 256 with overlap 4); with ``size``, a centred ``size`` square."""

    def __init__(self, size: Optional[int] = None, overlap: int = 4) -> None:
        self.size, self.overlap = size, overlap

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> MaskSample:
        if self.size is None:
            t, b = height // 4 + self.overlap, height // 2 + height // 4 - self.overlap
            l, r = width // 4 + self.overlap, width // 2 + width // 4 - self.overlap
        else:
            t, l = (height - self.size) // 2, (width - self.size) // 2
            b, r = t + self.size, l + self.size
        mask = np.zeros((height, width), np.float32)
        mask[t:b, l:r] = 1.0
        return mask, (t, l, b - t, r - l)


@MASKS.register()
class FreeFormMask:
    """DeepFill v2's free-form brush strokes (official ``brush_stroke_mask`` defaults)."""

    def __init__(self, min_vertex: int = 4, max_vertex: int = 12, mean_angle: float = 2 * math.pi / 5,
                 angle_range: float = 2 * math.pi / 15, min_width: int = 12, max_width: int = 40,
                 max_strokes: int = 4) -> None:
        self.min_vertex, self.max_vertex = min_vertex, max_vertex
        self.mean_angle, self.angle_range = mean_angle, angle_range
        self.min_width, self.max_width, self.max_strokes = min_width, max_width, max_strokes

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> MaskSample:
        mask = np.zeros((height, width), np.uint8)
        radius = math.sqrt(height * height + width * width) / 8
        for _ in range(int(rng.integers(1, self.max_strokes + 1))):
            n = int(rng.integers(self.min_vertex, self.max_vertex + 1))
            lo, hi = self.mean_angle - rng.uniform(0, self.angle_range), self.mean_angle + rng.uniform(0, self.angle_range)
            angles = [2 * math.pi - rng.uniform(lo, hi) if i % 2 == 0 else rng.uniform(lo, hi) for i in range(n)]
            brush = int(rng.uniform(self.min_width, self.max_width))
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))]
            for angle in angles:
                length = np.clip(rng.normal(radius, radius / 2), 0, 2 * radius)
                x = int(np.clip(points[-1][0] + length * math.cos(angle), 0, width - 1))
                y = int(np.clip(points[-1][1] + length * math.sin(angle), 0, height - 1))
                points.append((x, y))
            for a, b in zip(points[:-1], points[1:]):
                cv2.line(mask, a, b, 1, brush)
            for p in points:
                cv2.circle(mask, p, brush // 2, 1, -1)
        if rng.random() > 0.5:
            mask = mask[:, ::-1]
        if rng.random() > 0.5:
            mask = mask[::-1, :]
        mask = np.ascontiguousarray(mask, dtype=np.float32)
        return mask, hole_bbox(mask)


@MASKS.register()
class IrregularFileMask:
    """Masks from image files (the PConv irregular mask set), resized with nearest and thresholded.

    ``hole_value``: which colour is the hole in the files — the NVIDIA PConv set marks holes
    black (``"black"``); many re-distributions invert it to white. ``invert="auto"`` samples the
    set and flips it when more than half of the pixels would be holes (almost surely inverted).
    """

    def __init__(self, root: str, hole_value: str = "white", invert="auto", sample: int = 32) -> None:
        from .io import IMAGE_EXTENSIONS, read_mask

        self.files: List[str] = sorted(f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not self.files:
            raise FileNotFoundError(f"no mask images found under {root}")
        if hole_value not in ("white", "black"):
            raise ValueError(f"hole_value must be 'white' or 'black', got {hole_value!r}")
        self.read_mask = read_mask
        flip = hole_value == "black"
        if invert == "auto":
            step = max(1, len(self.files) // sample)
            ratio = float(np.mean([self._load(f, flip).mean() for f in self.files[::step][:sample]]))
            if ratio > 0.5:
                warnings.warn(f"masks under {root} cover {ratio:.0%} of the image on average with "
                              f"hole_value={hole_value!r}: they look inverted, flipping them")
                flip = not flip
        elif invert:
            flip = not flip
        self.flip = flip

    def _load(self, path: str, flip: bool) -> np.ndarray:
        mask = self.read_mask(path)
        return 1.0 - mask if flip else mask

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> MaskSample:
        mask = self._load(self.files[int(rng.integers(0, len(self.files)))], self.flip)
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        mask = (mask > 0.5).astype(np.float32)
        return mask, hole_bbox(mask)
