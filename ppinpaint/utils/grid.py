"""Result pictures: one hole rendering and titled columns, shared by training, evaluation and predict."""
from typing import Sequence

import cv2
import numpy as np

from .pixels import to_uint8

HEADER = 20            # title band height in pixels for tiles up to TITLE_WIDTH wide; wider tiles scale it
TITLE_WIDTH = 320
GAP = 2


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with its hole painted white, as the mask column draws it (1 = white = hole).

    Works on uint8 (white 255) and float [0,1] (white 1.0) arrays; ``mask`` broadcasts against ``image``.
    """
    white = 255 if image.dtype == np.uint8 else 1.0
    return np.where(mask >= 0.5, white, image).astype(image.dtype)


def header_height(width: int) -> int:
    """Height of the title band above tiles ``width`` pixels wide (readable when a full-size photo is shown)."""
    return max(HEADER, HEADER * width // TITLE_WIDTH)


def _title_band(title: str, width: int) -> np.ndarray:
    height = header_height(width)
    band = np.full((height, width, 3), 255, np.uint8)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45 * height / HEADER, max(1, height // HEADER)
    (tw, th), _ = cv2.getTextSize(title, font, scale, thickness)
    if tw > width - 2:  # narrow tiles: shrink the text rather than cut it
        scale *= (width - 2) / tw
        (tw, th), _ = cv2.getTextSize(title, font, scale, thickness)
    org = (max(0, (width - tw) // 2), (height + th) // 2)
    cv2.putText(band, title, org, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return band


def titled_grid(columns: Sequence[Sequence[np.ndarray]], titles: Sequence[str], gap: int = GAP) -> np.ndarray:
    """HxWx3 uint8 tiles, ``columns[c][r]``, laid out with a title above each column (white background).

    Every tile is resized (nearest) to the first tile's size, so one grid can mix resolutions.
    """
    if not columns or not columns[0]:
        raise ValueError("no tiles to draw")
    if len(titles) != len(columns):
        raise ValueError(f"{len(columns)} columns but {len(titles)} titles")
    h, w = columns[0][0].shape[:2]
    rows, top = min(len(c) for c in columns), header_height(w)
    out = np.full((top + rows * (h + gap), len(columns) * w + (len(columns) - 1) * gap, 3), 255, np.uint8)
    for c, (column, title) in enumerate(zip(columns, titles)):
        x = c * (w + gap)
        out[:top, x:x + w] = _title_band(title, w)
        for r in range(rows):
            tile = column[r]
            if tile.shape[:2] != (h, w):
                tile = cv2.resize(tile, (w, h), interpolation=cv2.INTER_NEAREST)
            y = top + gap + r * (h + gap)
            out[y:y + h, x:x + w] = tile
    return out


def mask_tile(mask: np.ndarray) -> np.ndarray:
    """HxW mask in [0,1] -> HxWx3 uint8 (white = hole / foreground)."""
    return np.repeat(to_uint8(mask)[:, :, None], 3, axis=2)
