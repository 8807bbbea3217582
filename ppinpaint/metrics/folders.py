"""``tools/eval_folders.py``: metrics between a folder of results and a folder of ground truths.

For results made elsewhere (another method's outputs, a paper's released images): files are paired
by stem (``x.png`` with ``x.jpg``; masks also as ``x_mask.png``), read with the image I/O rules
(RGBA, grayscale, 16-bit), and scored by the same metric classes as ``tools/eval.py``. The task's
pixel metrics need ``--mask``; FID and LPIPS need only their local weights. ``--save-fid-stats``
writes pytorch-fid-compatible reference statistics (``mu``, ``sigma``) of the ground-truth folder.
"""
import argparse
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..data.io import InputError, check_pair, read_image, read_mask
from ..predict import list_images, pair_by_stem, pair_files
from .harmonize import HarmonizationMetrics
from .inpaint import InpaintingMetrics
from .perceptual import FID, LPIPS, statistics
from .report import format_table, write_report

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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eval_folders",
        description="Metrics between result images and ground truths paired by file name (PSNR/SSIM/… with "
                    "--mask; FID and LPIPS with local network weights, never downloaded).",
        epilog="examples:\n"
               "  eval_folders --pred results/ --gt gt/ --mask masks/ --task inpainting\n"
               "  eval_folders --pred results/ --gt gt/ --fid-weights weights/fid_inception.pdparams "
               "--lpips-weights weights/lpips_alex.pdparams\n"
               "  eval_folders --gt real/ --fid-weights weights/fid_inception.pdparams --save-fid-stats real.npz",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pred", metavar="DIR", help="result images")
    p.add_argument("--gt", metavar="DIR", required=True, help="ground-truth images (same stems as --pred)")
    p.add_argument("--mask", metavar="DIR_OR_FILE", help="masks of the ground truths (1/white = hole or "
                   "foreground): enables the task's pixel metrics")
    p.add_argument("--task", choices=sorted(PIXEL_METRICS), default="inpainting",
                   help="which pixel metrics --mask enables (default: inpainting)")
    p.add_argument("--fid-weights", nargs="+", metavar="FILE",
                   help="converted fid_inception .pdparams, or pytorch-fid's pt_inception-*.pth")
    p.add_argument("--fid-dims", type=int, default=2048, choices=(64, 192, 768, 2048))
    p.add_argument("--fid-stats", metavar="NPZ", help="reference statistics to compare with instead of --gt")
    p.add_argument("--save-fid-stats", metavar="NPZ", help="write the FID statistics of --gt and exit")
    p.add_argument("--lpips-weights", nargs="+", metavar="FILE",
                   help="converted lpips .pdparams, or torchvision's backbone .pth and lpips' lin .pth")
    p.add_argument("--output", metavar="DIR", help="where metrics.json and metrics.csv go")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _run(args: argparse.Namespace) -> int:
    progress = not args.no_progress
    if args.save_fid_stats:
        if not args.fid_weights:
            raise InputError("--save-fid-stats needs --fid-weights")
        n = save_fid_stats(args.gt, args.fid_weights, args.save_fid_stats, args.fid_dims, progress)
        print(f"FID statistics of {n} images written to {args.save_fid_stats}")
        return 0
    if not args.pred:
        raise InputError("--pred is required (or --save-fid-stats)")
    metrics = [PIXEL_METRICS[args.task]()] if args.mask else []
    if args.fid_weights:
        metrics.append(FID(weights=args.fid_weights, dims=args.fid_dims, ref_stats=args.fid_stats))
    if args.lpips_weights:
        metrics.append(LPIPS(weights=args.lpips_weights))
    if not metrics:
        raise InputError("nothing to compute: give --mask, --fid-weights and/or --lpips-weights")
    results = evaluate_folders(args.pred, args.gt, metrics, mask=args.mask, progress=progress)
    print(format_table(results))
    if args.output:
        write_report(results, args.output)
        print(f"metrics written to {os.path.join(args.output, 'metrics.json')}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``tools/eval_folders.py`` / ``ppinpaint eval-folders``: user errors are one line and exit code 2."""
    from ..cli import _run as run_command

    return run_command(_run, _parser().parse_args(argv))
