"""Quickstart on a fresh machine: train a quickstart config, evaluate it, predict on a photo.

Everything comes from the photos scikit-image ships; nothing is downloaded.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    """Train -> evaluate -> predict, then print where every output is."""
    from ppinpaint.cli import _config_args, _run, eval_main, predict_main

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _config_args(p)
    p.add_argument("--output", help="run folder (default: output/quickstart/<config folder>)")
    args = p.parse_args(argv)
    return _run(lambda a: _quickstart(a, eval_main, predict_main), args)


def _quickstart(args, eval_main, predict_main) -> int:
    import numpy as np

    from ppinpaint.builder import build
    from ppinpaint.config import Config
    from ppinpaint.data.io import write_image
    from ppinpaint.engine.checkpoint import resolve_checkpoint
    from ppinpaint.engine.trainer import Trainer
    from ppinpaint.registry import DATASETS

    cfg = Config(args.config, args.opts)
    out = args.output or os.path.join("output", "quickstart", os.path.basename(os.path.dirname(os.path.abspath(args.config))))
    trainer = Trainer(cfg, output_dir=out)
    trainer.train()
    weights = resolve_checkpoint(out)
    common = ["-c", args.config] + (["-o", *args.opts] if args.opts else [])
    if eval_main(common + ["--weights", weights, "--output", os.path.join(out, "eval")]):
        return 1
    # One held-out sample written as ordinary files, then the file-based predict tool on it.
    sample = build(cfg.get("val_dataset") or cfg["train_dataset"], DATASETS, where="val_dataset", origin=cfg.origin)[0]
    image = np.floor(sample["image"].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    mask = (sample["mask"][0] * 255).astype(np.uint8)
    inputs = os.path.join(out, "predict_inputs")
    write_image(os.path.join(inputs, "sample.png"), image)
    write_image(os.path.join(inputs, "sample_mask.png"), np.repeat(mask[:, :, None], 3, axis=2))
    if predict_main(common + ["--weights", weights, "--image", os.path.join(inputs, "sample.png"), "--mask",
                              os.path.join(inputs, "sample_mask.png"), "--output", os.path.join(out, "predict"),
                              "--concat"]):
        return 1
    print("\nquickstart finished:")
    for what, path in (("checkpoints", os.path.join(out, "checkpoints")), ("training grids", os.path.join(out, "images")),
                       ("evaluation", os.path.join(out, "eval", "metrics.json")),
                       ("predictions", os.path.join(out, "predict")),
                       ("VisualDL", f"visualdl --logdir {os.path.join(out, 'vdl')}")):
        print(f"  {what:15s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
