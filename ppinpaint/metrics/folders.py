"""Metrics between a folder of results and a folder of ground truths (``ppinpaint eval-folders``).

For results made elsewhere (another method's outputs, a paper's released images): files are paired
by stem (``x.png`` with ``x.jpg``; masks also as ``x_mask.png``), read with the image I/O rules
(RGBA, grayscale, 16-bit), and scored by the same metric classes as ``tools/eval.py``. The task's
pixel metrics need ``--mask``; FID and LPIPS need only their local weights. ``--save-fid-stats``
writes pytorch-fid-compatible reference statistics (``mu``, ``sigma``) of the ground-truth folder.
"""
import os
from typing import Dict, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..data.io import InputError, check_pair, read_image, read_mask
from ..predict import list_images, pair_by_stem, pair_files
from .harmonize import HarmonizationMetrics
from .inpaint import InpaintingMetrics
from .perceptual import FID, statistics

PIXEL_METRICS = {"inpainting": InpaintingMetrics, "harmonization": HarmonizationMetrics}


def _nchw(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None]


def evaluate_folders(pred: str, gt: str, metrics: Sequence, mask: Optional[str] = None,
                     progress: bool = True) -> Dict[str, float]:
    """Update every metric with each (result, ground truth[, mask]) and return all values."""
    pairs = pair_by_stem(list_images(pred), gt, "ground truth", "result")
    masks = dict(pair_files(gt, mask)) if mask else {}
    for m in metrics:
        m.reset()
    for pred_path, gt_path in tqdm(pairs, desc="eval", disable=not progress):
        out, tgt = read_image(pred_path), read_image(gt_path)
        if out.shape != tgt.shape:
            raise InputError(f"{pred_path} is {out.shape[1]}x{out.shape[0]} but {gt_path} is "
                             f"{tgt.shape[1]}x{tgt.shape[0]} (width x height); they must match")
        hole = np.zeros(out.shape[:2], np.float32)
        if mask:
            hole = read_mask(masks[gt_path])
            check_pair(tgt, hole, gt_path, masks[gt_path])
        for m in metrics:
            m.update(_nchw(out), _nchw(tgt), hole[None, None])
    results: Dict[str, float] = {}
    for m in metrics:
        results.update({k: float(v) for k, v in m.result().items()})
    results["num_samples"] = float(len(pairs))
    return results


def save_fid_stats(folder: str, weights, path: str, dims: int = 2048, progress: bool = True) -> int:
    """pytorch-fid ``--save-stats`` of every image in ``folder`` to ``path`` (.npz); returns the count."""
    fid = FID(weights=weights, dims=dims)
    files = list_images(folder)
    acts = [fid.activations(_nchw(read_image(p))) for p in tqdm(files, desc="fid stats", disable=not progress)]
    stats = statistics(np.concatenate(acts))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **stats)
    return len(files)
