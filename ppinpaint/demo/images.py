"""What the demo's widgets hand over, turned into the toolkit's image and mask: the brush layers of an
editor, an uploaded mask, a foreground placed and scaled on a background."""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..data.io import InputError, check_pair, to_mask, to_rgb_uint8


def brush_mask(layers: Sequence[np.ndarray], shape: Tuple[int, int]) -> np.ndarray:
    """HxW float32 hole mask: every pixel any brush layer touched (alpha > 0; the eraser clears alpha)."""
    mask = np.zeros(shape, np.float32)
    for layer in layers or ():
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.shape[:2] != tuple(shape):
            raise InputError(f"a brush layer is {layer.shape[1]}x{layer.shape[0]} but the photo is "
                             f"{shape[1]}x{shape[0]}; clear the brush and draw again")
        # Any coverage counts, as in IOPaint: the brush's soft edge is part of what the user painted.
        painted = layer[:, :, 3] > 0 if layer.ndim == 3 and layer.shape[2] == 4 else to_mask(layer) > 0
        mask = np.maximum(mask, painted.astype(np.float32))
    return mask


def editor_inputs(editor: Optional[Dict[str, object]], uploaded_mask: Optional[np.ndarray]
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(HxWx3 uint8 photo, HxW mask) from an image editor value and an optional uploaded mask (united)."""
    background = (editor or {}).get("background")
    if background is None:
        raise InputError("upload a photo first")
    background = np.asarray(background)
    if background.ndim == 3 and background.shape[2] == 4 and (background[:, :, 3] == 255).all():
        background = background[:, :, :3]   # the editor hands RGBA; opaque alpha carries nothing to warn about
    image = to_rgb_uint8(background, "photo")
    mask = brush_mask((editor or {}).get("layers") or [], image.shape[:2])
    if uploaded_mask is not None:
        extra = to_mask(uploaded_mask, what="uploaded mask")
        check_pair(image, extra, "the photo", "the uploaded mask")
        mask = np.maximum(mask, extra)
    if not mask.any():
        raise InputError("the mask is empty: brush over what to remove, or upload a mask (white = hole)")
    return image, mask


def foreground_mask(foreground: np.ndarray, alpha: Optional[np.ndarray], mask: Optional[np.ndarray]) -> np.ndarray:
    """HxW {0,1} mask of a foreground: the uploaded mask, else its alpha channel, else the whole image."""
    if mask is not None:
        m = to_mask(mask, what="foreground mask")
        check_pair(foreground, m, "the foreground", "its mask")
        return m
    if alpha is not None:
        return to_mask(alpha, what="foreground alpha")
    return np.ones(foreground.shape[:2], np.float32)


def place(background: np.ndarray, foreground: Optional[Tuple[np.ndarray, Optional[np.ndarray]]],
          mask: Optional[np.ndarray], x: float, y: float, scale: float) -> Tuple[np.ndarray, np.ndarray]:
    """(composite, mask): the foreground ((RGB, alpha or None)) scaled so its longest side is ``scale`` x
    the background's shorter side, centred at (``x``, ``y``) (fractions of the width and height), pasted hard.

    A hard paste keeps every background pixel exact outside the mask, as the harmonization datasets'
    composites are made; the mask is what the models are told is foreground.
    """
    if background is None or foreground is None:
        raise InputError("upload a background and a foreground first")
    bg = to_rgb_uint8(background, "background")
    fg = to_rgb_uint8(foreground[0], "foreground")
    fg_mask = foreground_mask(fg, foreground[1], mask)
    ys, xs = np.nonzero(fg_mask)
    if not len(ys):
        raise InputError("the foreground's mask (or alpha) is empty: nothing to paste")
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fg, fg_mask = fg[top:bottom, left:right], fg_mask[top:bottom, left:right]
    h, w = bg.shape[:2]
    factor = float(scale) * min(h, w) / max(fg.shape[:2])
    size = (max(1, int(round(fg.shape[1] * factor))), max(1, int(round(fg.shape[0] * factor))))
    fg = cv2.resize(fg, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    fg_mask = (cv2.resize(fg_mask, size, interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.float32)
    # Centre of the foreground at (x, y); the parts falling outside the background are cut off.
    oy, ox = int(round(float(y) * h - size[1] / 2)), int(round(float(x) * w - size[0] / 2))
    y0, x0, y1, x1 = max(oy, 0), max(ox, 0), min(oy + size[1], h), min(ox + size[0], w)
    composite, mask_out = bg.copy(), np.zeros((h, w), np.float32)
    if y1 <= y0 or x1 <= x0:
        raise InputError("the foreground is placed entirely outside the background")
    region = fg_mask[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    mask_out[y0:y1, x0:x1] = region
    composite[y0:y1, x0:x1] = np.where(region[:, :, None] >= 0.5, fg[y0 - oy:y1 - oy, x0 - ox:x1 - ox],
                                       bg[y0:y1, x0:x1])
    return composite, mask_out
