"""Synthetic harmonization data: real photos whose foreground appearance is perturbed.

This is how HCOCO and S²AM's S-COCO were made: keep the background, change the foreground's
colour statistics, and ask the network to undo it. Perturbations (one or more per sample):
colour transfer from another image's statistics (Reinhard et al., in Lab), random per-channel
tone curves (gamma), exposure, and white balance.
"""
import os
from typing import List, Optional, Sequence

import cv2
import numpy as np

from ..utils.pixels import to_uint8


def object_mask(height: int, width: int, rng: np.random.Generator, min_area: float = 0.05,
                max_area: float = 0.35) -> np.ndarray:
    """An object-like blob (a smoothed random polygon), HxW float32 with 1 = foreground."""
    for _ in range(20):
        cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
        radius = np.sqrt(rng.uniform(min_area, max_area) * height * width / np.pi)
        n = int(rng.integers(6, 14))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.6, 1.3, n)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).astype(np.int32)
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [pts], 255)
        k = max(3, (min(height, width) // 16) | 1)
        canvas = cv2.GaussianBlur(canvas, (k, k), 0)
        mask = (canvas >= 128).astype(np.float32)
        if min_area * 0.5 <= mask.mean() <= max_area * 1.5:
            return mask
    return mask


def _color_transfer(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    src = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src.reshape(-1, 3).mean(0), src.reshape(-1, 3).std(0) + 1e-6
    r_mean, r_std = ref.reshape(-1, 3).mean(0), ref.reshape(-1, 3).std(0) + 1e-6
    out = (src - s_mean) / s_std * r_std + r_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def perturb(image: np.ndarray, rng: np.random.Generator, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """A colour-perturbed copy of an HxWx3 uint8 image (the whole image; the caller masks it)."""
    out = image.astype(np.float32) / 255.0
    if reference is not None and rng.random() < 0.5:
        out = _color_transfer(image, reference).astype(np.float32) / 255.0
    if rng.random() < 0.7:  # per-channel tone curves
        out = out ** rng.uniform(0.6, 1.6, size=3).astype(np.float32)
    if rng.random() < 0.5:  # exposure
        out = out * np.float32(2.0 ** rng.uniform(-0.8, 0.8))
    if rng.random() < 0.7:  # white balance
        out = out * rng.uniform(0.75, 1.25, size=3).astype(np.float32)
    out = to_uint8(out)
    if np.abs(out.astype(np.int16) - image).mean() < 4:  # guarantee a visible disharmony
        out = np.clip(image.astype(np.int16) + rng.choice([-40, 40], size=3), 0, 255).astype(np.uint8)
    return out


def make_composite(real: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                   reference: Optional[np.ndarray] = None) -> np.ndarray:
    """Composite = perturbed foreground over the untouched background (exactly, outside the mask)."""
    fg = perturb(real, rng, reference)
    m = mask[:, :, None] > 0.5
    return np.where(m, fg, real)


def write_synthetic_set(images: Sequence[np.ndarray], out_dir: str, name: str = "Synthetic", count: int = 100,
                        size: int = 256, test_fraction: float = 0.2, seed: int = 0) -> List[str]:
    """Write composite/mask/real triplets in the iHarmony4 layout; returns the composite names.

    ``out_dir/<name>/{composite_images,masks,real_images}`` with ``<real>_<k>_1.jpg``,
    ``<real>_<k>.png`` and ``<real>.jpg``, plus ``<name>_train.txt`` / ``<name>_test.txt``
    and ``IHD_train.txt`` / ``IHD_test.txt`` at ``out_dir``, so ``HarmonizationDataset`` reads it.
    """
    from .io import write_image
    from .transforms import apply_box, crop_box

    rng = np.random.default_rng(seed)
    sub = os.path.join(out_dir, name)
    for folder in ("composite_images", "masks", "real_images"):
        os.makedirs(os.path.join(sub, folder), exist_ok=True)
    names = []
    for i in range(count):
        src = images[i % len(images)]
        real = apply_box(src, crop_box(src.shape[0], src.shape[1], size, "random_crop", rng), size)
        reference = images[int(rng.integers(0, len(images)))]
        mask = object_mask(size, size, rng)
        comp = make_composite(real, mask, rng, reference)
        stem = f"s{i:05d}"
        # PNG keeps the background bit-exact; real iHarmony4 ships JPEG, the loader reads both.
        write_image(os.path.join(sub, "real_images", stem + ".png"), real)
        write_image(os.path.join(sub, "masks", stem + "_1.png"), np.repeat((mask * 255).astype(np.uint8)[:, :, None], 3, 2))
        write_image(os.path.join(sub, "composite_images", stem + "_1_1.png"), comp)
        names.append(stem + "_1_1.png")
    n_test = int(round(count * test_fraction))
    splits = {"test": names[:n_test], "train": names[n_test:]}
    for split, items in splits.items():
        with open(os.path.join(sub, f"{name}_{split}.txt"), "w") as f:
            f.writelines(n + "\n" for n in items)
        # The combined list may hold other subsets: keep them, replace this subset's lines.
        combined = os.path.join(out_dir, f"IHD_{split}.txt")
        kept = []
        if os.path.isfile(combined):
            with open(combined) as f:
                kept = [line for line in f if line.strip() and not line.startswith(name + "/")]
        with open(combined, "w") as f:
            f.writelines(kept + [f"{name}/composite_images/{n}\n" for n in items])
    return names
