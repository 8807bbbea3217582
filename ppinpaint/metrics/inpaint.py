"""Inpainting metrics per sample, then averaged: L1, MSE, PSNR, SSIM on the whole image and the hole.

Images are compared as float in [0, 1] (L1/MSE reported on that scale; PSNR with peak 1, which
equals PSNR on 0–255 with peak 255). SSIM follows Wang et al. 2004 as MMagic and PaddleGAN use it:
``skimage.metrics.structural_similarity`` on 0–255 with an 11x11 Gaussian window (σ 1.5),
population covariance, averaged over the three channels. ``ssim_hole`` averages the SSIM map
over hole pixels only.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
from skimage.metrics import structural_similarity

from ..registry import METRICS
from .means import mean_finite


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """10·log10(peak² / mse); +inf for identical images."""
    return float("inf") if mse <= 0 else float(10.0 * np.log10(peak * peak / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> Tuple[float, np.ndarray]:
    """SSIM of two HxWx3 images on 0–255 (Wang et al. settings) and its HxW map (channel mean).

    The scalar is skimage's (the map's mean without the window-radius border); the map serves
    region means such as the hole-only SSIM.
    """
    value, full = structural_similarity(a, b, data_range=255.0, channel_axis=2, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, full=True)
    return float(value), full.mean(axis=2)


@METRICS.register()
class InpaintingMetrics:
    """Whole-image and hole-only L1, MSE, PSNR and SSIM."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, float]] = []

    def reset(self) -> None:
        """Forget accumulated samples."""
        self.rows = []

    def update(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, subsets: Optional[list] = None) -> None:
        """Add a batch: NCHW float in [0,1] images, N1HW mask (1 = hole)."""
        for out, tgt, m in zip(output.astype(np.float64), target.astype(np.float64), mask.astype(np.float64)):
            err = out - tgt
            hole = np.broadcast_to(m > 0.5, err.shape)
            row = {"l1": float(np.abs(err).mean()), "mse": float((err ** 2).mean())}
            row["psnr"] = psnr_from_mse(row["mse"])
            a = (np.clip(out, 0, 1) * 255.0).transpose(1, 2, 0)
            b = (np.clip(tgt, 0, 1) * 255.0).transpose(1, 2, 0)
            row["ssim"], smap = ssim(a, b)
            if hole.any():
                row["l1_hole"] = float(np.abs(err[hole]).mean())
                row["mse_hole"] = float((err[hole] ** 2).mean())
                row["psnr_hole"] = psnr_from_mse(row["mse_hole"])
                row["ssim_hole"] = float(smap[m[0] > 0.5].mean())
            self.rows.append(row)

    def result(self) -> Dict[str, float]:
        """Means over samples (hole metrics over samples that have a hole; PSNR's inf skipped)."""
        keys = sorted({k for r in self.rows for k in r})
        return {k: mean_finite([r[k] for r in self.rows if k in r]) for k in keys}
