"""Inpainting images from a folder or a list file, with mask files or generated masks."""
import os
from typing import Optional

import numpy as np

from ..registry import DATASETS
from .base import SeededDataset
from .io import list_images, read_image, read_mask
from .masks import hole_bbox
from .transforms import apply_box, crop_box, to_chw


@DATASETS.register()
class InpaintingDataset(SeededDataset):
    """Images + holes. Masks come from ``mask_dir`` (paired by sorted order, cycling) or the
    ``mask`` generator; with neither, an error — a dataset without holes is a config mistake."""

    def __init__(self, root: str, file_list: Optional[str] = None, mask=None, mask_dir: Optional[str] = None,
                 size: int = 256, resize: str = "random_crop", flip: bool = True) -> None:
        self.paths = list_images(root, recursive=True, file_list=file_list)
        self.mask_paths = list_images(mask_dir, recursive=True) if mask_dir else None
        if self.mask_paths is None and mask is None:
            raise ValueError("InpaintingDataset needs a 'mask' generator or a 'mask_dir'")
        self.mask, self.size, self.resize, self.flip = mask, int(size), resize, flip

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int, rng: np.random.Generator) -> dict:
        """The image at ``index`` cropped/resized, its hole, and the hole's region."""
        image = read_image(self.paths[index])
        box = crop_box(image.shape[0], image.shape[1], self.size, self.resize, rng)
        image = apply_box(image, box, self.size)
        if self.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        if self.mask_paths:
            mask = read_mask(self.mask_paths[index % len(self.mask_paths)])
            mask = apply_box(mask, (0, 0, 0), self.size, nearest=True)
            bbox = hole_bbox(mask)
        else:
            mask, bbox = self.mask(self.size, self.size, rng)
        chw = to_chw(np.ascontiguousarray(image))
        return {"image": chw, "mask": (mask >= 0.5).astype(np.float32)[None], "target": chw.copy(),
                "bbox": np.asarray(bbox, np.int64), "name": os.path.basename(self.paths[index])}
