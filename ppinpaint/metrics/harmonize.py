"""Harmonization metrics by the iHarmony4 protocol (DoveNet's evaluation, also RainNet's).

Outputs and targets are quantised to 0–255 uint8 at the evaluated size (256² in the protocol),
as the official code evaluates saved images. Per image: MSE over all pixels and channels;
fMSE = squared error summed over the foreground / (foreground pixels × 3) — DoveNet's
``mse(fake·m, real·m) · H·W / fg_area``; PSNR with peak 255; fPSNR = 10·log10(255² / fMSE);
SSIM as in ``inpaint.ssim``. Reported values are means over images (overall and per subset);
the overall figure is the mean over all images, not the mean of subset means.
"""
from typing import Dict, List, Optional

import numpy as np

from ..registry import METRICS
from .inpaint import psnr_from_mse, ssim
from .means import subset_means

KEYS = ("mse", "fmse", "psnr", "fpsnr", "ssim")


def _quantise(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5)


@METRICS.register()
class HarmonizationMetrics:
    """MSE, fMSE, PSNR, fPSNR, SSIM overall and per subset."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, float]] = []
        self.subsets: List[str] = []

    def reset(self) -> None:
        """Forget accumulated samples."""
        self.rows, self.subsets = [], []

    def update(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, subsets: Optional[list] = None) -> None:
        """Add a batch: NCHW float in [0,1], N1HW mask (1 = foreground), optional subset names."""
        for i, (out, tgt, m) in enumerate(zip(output, target, mask)):
            a, b = _quantise(out.astype(np.float64)), _quantise(tgt.astype(np.float64))
            sq = (a - b) ** 2
            fg = float((m[0] > 0.5).sum())
            mse = float(sq.mean())
            fmse = float((sq * (m > 0.5)).sum() / (fg * 3.0)) if fg else float("nan")
            self.rows.append({"mse": mse, "fmse": fmse, "psnr": psnr_from_mse(mse, 255.0),
                              "fpsnr": psnr_from_mse(fmse, 255.0) if fg else float("nan"),
                              "ssim": ssim(a.transpose(1, 2, 0), b.transpose(1, 2, 0))[0]})
            self.subsets.append(str(subsets[i]) if subsets is not None else "all")

    def result(self) -> Dict[str, float]:
        """Means over images, overall and as ``<subset>/<metric>``."""
        return subset_means(self.rows, self.subsets, KEYS)
