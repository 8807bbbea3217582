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

from ..data.io import InputError, check_pair, list_images, pair_by_stem, pair_files, read_image, read_mask
from .harmonize import HarmonizationMetrics
from .inpaint import InpaintingMetrics
from .perceptual import FID, statistics
from .task import update_all

PIXEL_METRICS = {"inpainting": InpaintingMetrics, "harmonization": HarmonizationMetrics}


def _nchw(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None]


def _u8_nchw(rgb: np.ndarray) -> np.ndarray:
    # Files stay 8-bit up to the metrics: the task metrics read their levels exactly.
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


def _check_size(a: np.ndarray, b: np.ndarray, a_path: str, b_path: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"{a_path} is {a.shape[1]}x{a.shape[0]} but {b_path} is "
                         f"{b.shape[1]}x{b.shape[0]} (width x height); they must match")


def _results(metrics: Sequence, n: int) -> Dict[str, float]:
    results: Dict[str, float] = {}
    for m in metrics:
        results.update({k: float(v) for k, v in m.result().items()})
    results["num_samples"] = float(n)
    return results


def evaluate_folders(pred: str, gt: str, metrics: Sequence, mask: Optional[str] = None,
                     inputs: Optional[str] = None, progress: bool = True) -> Dict[str, float]:
    """Update every metric with each (result, ground truth[, mask][, input]) and return all values.

    ``inputs`` (the composites / masked images the results were made from, same stems as the
    ground truths) feeds the baseline and the ``s2am`` protocol's compositing.
    """
    pairs = pair_by_stem(list_images(pred), gt, "ground truth", "result")
    masks = dict(pair_files(gt, mask)) if mask else {}
    sources = dict(pair_by_stem([g for _, g in pairs], inputs, "input", "ground truth")) if inputs else {}
    for m in metrics:
        m.reset()
    for pred_path, gt_path in tqdm(pairs, desc="eval", disable=not progress):
        out, tgt = read_image(pred_path), read_image(gt_path)
        _check_size(out, tgt, pred_path, gt_path)
        hole = np.zeros(out.shape[:2], np.float32)
        if mask:
            hole = read_mask(masks[gt_path])
            check_pair(tgt, hole, gt_path, masks[gt_path])
        image = None
        if inputs:
            image = read_image(sources[gt_path])
            _check_size(image, tgt, sources[gt_path], gt_path)
            image = _u8_nchw(image)
        update_all(metrics, _u8_nchw(out), _u8_nchw(tgt), hole[None, None], image=image,
                   names=[os.path.basename(gt_path)])
    return _results(metrics, len(pairs))


def evaluate_iharmony4(pred: str, root: str, metrics: Sequence, subsets: Optional[Sequence[str]] = None,
                       size: int = 256, progress: bool = True) -> Dict[str, float]:
    """Results named by composite (``<real>_<mask>_<n>.*``) against an iHarmony4 test split under
    ``root``: ground truth, mask and composite as ``HarmonizationDataset`` reads them, at ``size``
    (the protocol's 256²) or, with ``size`` 0, at each image's own size; per subset."""
    from ..data.harmonize import HarmonizationDataset

    try:
        dataset = HarmonizationDataset(root, subsets=subsets, split="test", size=size or 256)
    except FileNotFoundError as e:
        raise InputError(f"--iharmony4 {root}: {e}") from None
    results = {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(pred)}
    missing = [name for _, name in dataset.items if os.path.splitext(name)[0] not in results]
    if missing:
        raise InputError(f"no result in {pred} for {len(missing)} test composite(s): {missing[:5]}")
    for m in metrics:
        m.reset()
    for i in tqdm(range(len(dataset)), desc="eval", disable=not progress):
        item = dataset.original(i, 1 << 30) if not size else dataset[i]
        subset, name = dataset.items[i]
        path = results[os.path.splitext(name)[0]]
        out = read_image(path)
        if size:
            image, target, hole = item["image"][None], item["target"][None], item["mask"][None]
        else:
            image, target, hole = _u8_nchw(item["image"]), _u8_nchw(item["target"]), item["mask"][None, None]
        if out.shape[:2] != target.shape[2:]:
            raise InputError(f"{path} is {out.shape[1]}x{out.shape[0]}; the protocol compares at "
                             f"{target.shape[3]}x{target.shape[2]} (--size {size})")
        update_all(metrics, _u8_nchw(out), target, hole, subsets=[subset], image=image, names=[name])
    return _results(metrics, len(dataset))


def save_fid_stats(folder: str, weights, path: str, dims: int = 2048, progress: bool = True) -> int:
    """pytorch-fid ``--save-stats`` of every image in ``folder`` to ``path`` (.npz); returns the count."""
    fid = FID(weights=weights, dims=dims)
    files = list_images(folder)
    acts = [fid.activations(_nchw(read_image(p))) for p in tqdm(files, desc="fid stats", disable=not progress)]
    stats = statistics(np.concatenate(acts))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **stats)
    return len(files)
