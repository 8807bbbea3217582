"""Datasets made from the real photos scikit-image ships inside its package (nothing downloaded)."""
import os
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np

from ..registry import DATASETS
from .base import SeededDataset
from .io import read_image
from .masks import RandomBoxMask
from .synth import make_composite, object_mask
from .transforms import apply_box, crop_box, to_chw

# Colour photos bundled in scikit-image's wheel (skimage/data/); others need a download.
BUNDLED_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg")


@lru_cache(maxsize=None)
def bundled_photos(names: Tuple[str, ...] = BUNDLED_PHOTOS) -> Tuple[np.ndarray, ...]:
    """The named photos from scikit-image's data folder as HxWx3 uint8 RGB."""
    import skimage

    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise FileNotFoundError(f"scikit-image in {folder} does not bundle {missing}; "
                                f"choose among {list(BUNDLED_PHOTOS)}")
    return tuple(read_image(os.path.join(folder, n)) for n in names)


class _PhotoDataset(SeededDataset):
    def __init__(self, size: int, length: int, images: Optional[Sequence[str]]) -> None:
        self.size, self.length = int(size), int(length)
        self.names = tuple(images) if images else BUNDLED_PHOTOS
        self.photos = bundled_photos(self.names)

    def __len__(self) -> int:
        return self.length

    def _name(self, index: int) -> str:
        """``chelsea_3``: the photo's stem and the sample index."""
        return f"{os.path.splitext(self.names[index % len(self.names)])[0]}_{index}"

    def _crop(self, index: int, rng: np.random.Generator) -> np.ndarray:
        photo = self.photos[index % len(self.photos)]
        real = apply_box(photo, crop_box(photo.shape[0], photo.shape[1], self.size, "random_crop", rng), self.size)
        return real[:, ::-1] if rng.random() < 0.5 else real


@DATASETS.register()
class QuickstartInpainting(_PhotoDataset):
    """Random crops/flips of the bundled photos with generated holes (default: DeepFill's box)."""

    def __init__(self, size: int = 256, length: int = 64, mask=None, images: Optional[Sequence[str]] = None) -> None:
        super().__init__(size, length, images)
        self.mask = mask or RandomBoxMask(shape=(self.size // 2, self.size // 2), max_delta=(self.size // 8,) * 2)

    def load(self, index: int, rng: np.random.Generator) -> dict:
        """A clean crop, its hole and the region the hole was drawn in."""
        image = to_chw(np.ascontiguousarray(self._crop(index, rng)))
        mask, bbox = self.mask(self.size, self.size, rng)
        return {"image": image, "mask": mask[None].astype(np.float32), "target": image.copy(),
                "bbox": np.asarray(bbox, np.int64), "name": self._name(index)}


@DATASETS.register()
class QuickstartHarmonization(_PhotoDataset):
    """Synthetic composites of the bundled photos: a perturbed object-shaped foreground."""

    def __init__(self, size: int = 256, length: int = 64, images: Optional[Sequence[str]] = None) -> None:
        super().__init__(size, length, images)

    def load(self, index: int, rng: np.random.Generator) -> dict:
        """Composite, foreground mask and real image."""
        real = np.ascontiguousarray(self._crop(index, rng))
        mask = object_mask(self.size, self.size, rng)
        reference = self.photos[int(rng.integers(0, len(self.photos)))]
        comp = make_composite(real, mask, rng, reference)
        return {"image": to_chw(comp), "mask": mask[None], "target": to_chw(real),
                "name": self._name(index), "subset": "quickstart"}
