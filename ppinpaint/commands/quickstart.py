"""``ppinpaint quickstart`` / ``tools/quickstart.py``: train a quickstart config, evaluate it, predict on a photo.

Everything comes from the photos scikit-image ships; nothing is downloaded.
"""
import argparse
import os
from typing import List, Optional

from . import eval as eval_command
from . import predict as predict_command
from .common import config_parser, run_command, threads_arg

DESCRIPTION = "Quickstart on a fresh machine: train a quickstart config, evaluate it, predict on a photo."


def _quickstart(args: argparse.Namespace) -> int:
    import numpy as np

    from ..builder import build_dataset
    from ..config import Config
    from ..data.io import write_image
    from ..engine.trainer import Trainer
    from ..utils.pixels import to_uint8

    cfg = Config(args.config, args.opts)
    out = args.output or os.path.join("output", "quickstart", os.path.basename(os.path.dirname(os.path.abspath(args.config))))
    trainer = Trainer(cfg, output_dir=out, overwrite=True)  # the demo owns its folder: a rerun starts over
    trainer.train()
    weights = out  # the run folder: eval and predict take its best checkpoint, else the latest, and say which
    common = ["-c", args.config] + (["-o", *args.opts] if args.opts else [])
    if eval_command.main(common + ["--weights", weights, "--output", os.path.join(out, "eval")]):
        return 1
    # One held-out sample written as ordinary files, then the file-based predict tool on it.
    sample = build_dataset(cfg, "val_dataset" if cfg.get("val_dataset") else "train_dataset", "prediction")[0]
    image = to_uint8(sample["image"].transpose(1, 2, 0))
    mask = (sample["mask"][0] * 255).astype(np.uint8)
    inputs = os.path.join(out, "predict_inputs")
    write_image(os.path.join(inputs, "sample.png"), image)
    write_image(os.path.join(inputs, "sample_mask.png"), np.repeat(mask[:, :, None], 3, axis=2))
    if predict_command.main(common + ["--weights", weights, "--image", os.path.join(inputs, "sample.png"), "--mask",
                                      os.path.join(inputs, "sample_mask.png"), "--output", os.path.join(out, "predict"),
                                      "--concat"]):
        return 1
    print("\nquickstart finished:")
    for what, path in (("checkpoints", os.path.join(out, "checkpoints")), ("training log", os.path.join(out, "train.log")),
                       ("training grids", os.path.join(out, "images")),
                       ("evaluation", os.path.join(out, "eval", "metrics.json")),
                       ("eval grids", os.path.join(out, "eval", "images")),
                       ("predictions", os.path.join(out, "predict")), ("VisualDL", os.path.join(out, "vdl"))):
        if os.path.exists(path):  # a short run may write no training grid, say
            print(f"  {what:15s} {path}")
    print(f"  view the curves and pictures: visualdl --logdir {os.path.join(out, 'vdl')}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Train -> evaluate -> predict, then print where every output is."""
    p = config_parser(prog="quickstart", description=DESCRIPTION)
    p.add_argument("--output", help="run folder (default: output/quickstart/<config folder>)")
    threads_arg(p)
    return run_command(_quickstart, p.parse_args(argv))
