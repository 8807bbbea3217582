"""``ppinpaint eval-folders`` / ``tools/eval_folders.py``: metrics between result and ground-truth folders."""
import argparse
import os
from typing import List, Optional

from .common import protocol_args, run_command


def _parser() -> argparse.ArgumentParser:
    from ..metrics.folders import PIXEL_METRICS

    p = argparse.ArgumentParser(
        prog="eval_folders",
        description="Metrics between result images and ground truths paired by file name (PSNR/SSIM/… with "
                    "--mask; FID and LPIPS with local network weights, never downloaded).",
        epilog="examples:\n"
               "  eval_folders --pred results/ --iharmony4 data/iHarmony4 --protocol iharmony4   "
               "# the leaderboard's evaluation\n"
               "  eval_folders --pred results/ --gt gt/ --mask masks/ --task inpainting\n"
               "  eval_folders --pred results/ --gt gt/ --fid-weights weights/fid_inception.safetensors "
               "--lpips-weights weights/lpips_alex.safetensors\n"
               "  eval_folders --gt real/ --fid-weights weights/fid_inception.safetensors --save-fid-stats real.npz",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pred", metavar="DIR", help="result images")
    p.add_argument("--gt", metavar="DIR", help="ground-truth images (same stems as --pred)")
    p.add_argument("--iharmony4", metavar="ROOT", help="instead of --gt/--mask: the iHarmony4 test split under ROOT "
                   "(IHD_test.txt); results are named by composite (a0001_1_1.png)")
    p.add_argument("--subsets", nargs="+", metavar="NAME", help="with --iharmony4: only these subsets")
    p.add_argument("--size", type=int, default=256,
                   help="with --iharmony4: the evaluated size (default 256, the protocol's); 0 = each image's own")
    p.add_argument("--inputs", metavar="DIR", help="the composites / masked images the results were made from "
                   "(same stems as --gt): the baseline and the s2am protocol use them")
    p.add_argument("--mask", metavar="DIR_OR_FILE", help="masks of the ground truths (1/white = hole or "
                   "foreground): enables the task's pixel metrics")
    p.add_argument("--task", choices=sorted(PIXEL_METRICS),
                   help="which pixel metrics --mask enables (default: the --protocol's task, else inpainting)")
    protocol_args(p)
    p.add_argument("--fid-weights", nargs="+", metavar="FILE",
                   help="converted fid_inception .safetensors, or pytorch-fid's pt_inception-*.pth")
    p.add_argument("--fid-dims", type=int, default=2048, choices=(64, 192, 768, 2048))
    p.add_argument("--fid-stats", metavar="NPZ", help="reference statistics to compare with instead of --gt")
    p.add_argument("--save-fid-stats", metavar="NPZ", help="write the FID statistics of --gt and exit")
    p.add_argument("--lpips-weights", nargs="+", metavar="FILE",
                   help="converted lpips .safetensors, or torchvision's backbone .pth and lpips' lin .pth")
    p.add_argument("--output", metavar="DIR",
                   help="where metrics.json, metrics.csv, per_image.csv and VisualDL scalars (vdl/) go")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _eval_folders(args: argparse.Namespace) -> int:
    from ..data.io import InputError
    from ..engine.evaluator import log_scalars
    from ..metrics.folders import PIXEL_METRICS, evaluate_folders, evaluate_iharmony4, save_fid_stats
    from ..metrics.perceptual import FID, LPIPS
    from ..metrics.protocols import PROTOCOLS
    from ..metrics.report import format_table, write_report

    progress = not args.no_progress
    if args.save_fid_stats:
        if not args.fid_weights:
            raise InputError("--save-fid-stats needs --fid-weights")
        if not args.gt:
            raise InputError("--save-fid-stats needs --gt (the folder whose statistics are saved)")
        n = save_fid_stats(args.gt, args.fid_weights, args.save_fid_stats, args.fid_dims, progress)
        print(f"FID statistics of {n} images written to {args.save_fid_stats}")
        return 0
    if not args.pred:
        raise InputError("--pred is required (or --save-fid-stats)")
    if not args.gt and not args.iharmony4:
        raise InputError("give --gt (ground-truth folder) or --iharmony4 (dataset root)")
    task = "harmonization" if args.iharmony4 else (
        args.task or (PROTOCOLS[args.protocol].task if args.protocol else "inpainting"))
    pixel = args.mask or args.iharmony4
    metrics = ([PIXEL_METRICS[task](protocol=args.protocol, bins=args.bins, baseline=not args.no_baseline)]
               if pixel else [])
    if args.fid_weights:
        metrics.append(FID(weights=args.fid_weights, dims=args.fid_dims, ref_stats=args.fid_stats))
    if args.lpips_weights:
        metrics.append(LPIPS(weights=args.lpips_weights))
    if not metrics:
        raise InputError("nothing to compute: give --mask, --fid-weights and/or --lpips-weights")
    if args.iharmony4:
        results = evaluate_iharmony4(args.pred, args.iharmony4, metrics, args.subsets, args.size, progress)
    else:
        results = evaluate_folders(args.pred, args.gt, metrics, mask=args.mask, inputs=args.inputs,
                                   progress=progress)
    print(format_table(results, metrics))
    if args.output:
        write_report(results, args.output, metrics)
        log_scalars(results, os.path.join(args.output, "vdl"))
        print(f"metrics written to {os.path.join(args.output, 'metrics.json')}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Metrics between a folder of results and a folder of ground truths."""
    return run_command(_eval_folders, _parser().parse_args(argv))
