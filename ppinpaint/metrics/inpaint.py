"""Inpainting pixel metrics: the ``pixel`` protocol by default (L1, MSE, PSNR, SSIM on the whole
image and the hole), or ``deepfill_v1``; by hole-area ratio, with OpenCV Telea as the baseline.

The formulas live in :mod:`ppinpaint.metrics.protocols`.
"""
from ..registry import METRICS
from .task import TaskMetrics


@METRICS.register()
class InpaintingMetrics(TaskMetrics):
    """Inpainting protocol metrics (``protocol: pixel | deepfill_v1``), binned, with the Telea baseline."""

    task = "inpainting"
