"""The iHarmony4 layout (HCOCO, HAdobe5k, HFlickr, Hday2night) and sets written in it."""
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..registry import DATASETS
from .base import SeededDataset
from .io import InputError, check_pair, read_image, read_mask
from .transforms import apply_box, to_chw

SUBSETS = ("HCOCO", "HAdobe5k", "HFlickr", "Hday2night")


def triplet_paths(subset_dir: str, composite_name: str) -> Tuple[str, str, str]:
    """composite -> (composite, mask, real) paths, as the dataset's own loader derives them.

    ``<real>_<mask id>_<composite id>.jpg`` -> mask ``<real>_<mask id>.png`` -> real ``<real>.jpg``,
    splitting from the right so Hday2night's ``d90000001-10_1_2.jpg`` keeps its '-' part.
    """
    stem, ext = os.path.splitext(os.path.basename(composite_name))
    parts = stem.rsplit("_", 2)
    if len(parts) != 3:
        raise InputError(f"{composite_name}: not an iHarmony4 composite name (<real>_<mask>_<n>{ext})")
    real_stem, mask_id = parts[0], parts[1]
    comp = os.path.join(subset_dir, "composite_images", os.path.basename(composite_name))
    mask = os.path.join(subset_dir, "masks", f"{real_stem}_{mask_id}.png")
    real = next((os.path.join(subset_dir, "real_images", real_stem + e) for e in (".jpg", ".png", ext)
                 if os.path.isfile(os.path.join(subset_dir, "real_images", real_stem + e))),
                os.path.join(subset_dir, "real_images", real_stem + ".jpg"))
    return comp, mask, real


def read_list(root: str, subsets: Optional[Sequence[str]], split: str) -> List[Tuple[str, str]]:
    """(subset, composite name) pairs from ``IHD_<split>.txt`` or ``<S>/<S>_<split>.txt``."""
    items: List[Tuple[str, str]] = []
    combined = os.path.join(root, f"IHD_{split}.txt")
    if not subsets and os.path.isfile(combined):
        with open(combined, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    subset = line.replace("\\", "/").split("/")[0]
                    items.append((subset, os.path.basename(line)))
        return items
    for subset in subsets or SUBSETS:
        path = os.path.join(root, subset, f"{subset}_{split}.txt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"iHarmony4 list not found: {path}")
        with open(path, encoding="utf-8") as f:
            items += [(subset, os.path.basename(line.strip())) for line in f if line.strip()]
    return items


@DATASETS.register()
class HarmonizationDataset(SeededDataset):
    """Composite, foreground mask and real image, resized to ``size`` (the protocol's 256²)."""

    def __init__(self, root: str, subsets: Optional[Sequence[str]] = None, split: str = "train",
                 size: int = 256, flip: bool = False) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root, self.size, self.flip = root, int(size), flip
        self.items = read_list(root, subsets, split)
        if not self.items:
            raise FileNotFoundError(f"no {split} composites listed under {root}")

    def __len__(self) -> int:
        return len(self.items)

    def _triplet(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        subset, name = self.items[index]
        comp_p, mask_p, real_p = triplet_paths(os.path.join(self.root, subset), name)
        comp, real, mask = read_image(comp_p), read_image(real_p), read_mask(mask_p)
        check_pair(comp, mask, comp_p, mask_p)
        check_pair(comp, real, comp_p, real_p)
        return comp, real, mask

    def original(self, index: int, max_side: int) -> dict:
        """The triplet at ``index`` at its own size, the long side capped at ``max_side`` (area
        resampling, as the high-resolution evaluations resize HAdobe5k); uint8 images, 0/1 mask."""
        comp, real, mask = self._triplet(index)
        h, w = mask.shape
        scale = max_side / max(h, w)
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            comp, real = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (comp, real))
            mask = (cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5).astype(np.float32)
        comp = np.where(mask[:, :, None] > 0.5, comp, real)
        subset, name = self.items[index]
        return {"image": comp, "mask": mask.astype(np.float32), "target": real, "name": name, "subset": subset}

    def load(self, index: int, rng: np.random.Generator) -> dict:
        """The triplet at ``index``, resized; the background is re-composited from the real image."""
        subset, name = self.items[index]
        comp, real, mask = self._triplet(index)
        comp, real = apply_box(comp, (0, 0, 0), self.size), apply_box(real, (0, 0, 0), self.size)
        mask = apply_box(mask, (0, 0, 0), self.size, nearest=True)
        if self.flip and rng.random() < 0.5:
            comp, real, mask = comp[:, ::-1], real[:, ::-1], mask[:, ::-1]
        # As the official loaders do: the background is the real image exactly (JPEG noise aside).
        comp = np.where(mask[:, :, None] > 0.5, comp, real)
        return {"image": to_chw(np.ascontiguousarray(comp)), "mask": np.ascontiguousarray(mask)[None].astype(np.float32),
                "target": to_chw(np.ascontiguousarray(real)), "name": name, "subset": subset}
