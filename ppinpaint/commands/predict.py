"""``ppinpaint predict`` / ``tools/predict.py``: a trained model on image and mask files."""
import argparse
from typing import List, Optional

from .common import (config_parser, engine_arg, io_args, model_from_args, resolve_inputs, run_command,
                     strategy_options, threads_arg, weights_arg)


def _predict(args: argparse.Namespace) -> int:
    from ..api import as_config
    from ..data.io import set_max_image_pixels
    from ..predict import predict_paths

    resolve_inputs(args)
    cfg = as_config(args.config, args.opts)
    section = cfg.section("predict")
    model = model_from_args(args, cfg)
    soft = args.soft_mask or bool(section["soft_mask"])
    set_max_image_pixels(section["max_image_pixels"])
    report = predict_paths(model, args.image, args.mask, args.output, concat=args.concat, soft_mask=soft,
                           **strategy_options(args, section))
    print(report.summary())
    return report.exit_code


def main(argv: Optional[List[str]] = None) -> int:
    """Inpaint or harmonize image files with a trained model."""
    p = config_parser(prog="predict", from_run=True, description="Inpaint or harmonize images with a trained model. "
                                "For harmonization --image is the composite and the mask marks the foreground.")
    weights_arg(p)
    io_args(p)
    engine_arg(p)
    threads_arg(p)
    return run_command(_predict, p.parse_args(argv))
