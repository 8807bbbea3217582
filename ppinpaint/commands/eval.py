"""``ppinpaint eval`` / ``tools/eval.py``: evaluate weights on the config's ``val_dataset``."""
import argparse
import os
from typing import List, Optional

from .common import (config_parser, engine_arg, protocol_args, protocol_section,
                     model_from_args, resolve_inputs, run_command, threads_arg, weights_arg)


def _eval(args: argparse.Namespace) -> int:
    from ..api import as_config
    from ..builder import build_dataset
    from ..engine.evaluator import evaluate, log_scalars, metrics_from_config
    from ..metrics.report import format_table, write_report

    # With -c, the configured metrics are checked before the weights are looked for (a metric without its
    # network weights is the first thing to report); without -c the config comes from the run folder.
    config_from_run = args.config is None
    if config_from_run:
        resolve_inputs(args)
    cfg = as_config(args.config, args.opts)
    dataset = build_dataset(cfg, "val_dataset", "evaluation")
    ec = protocol_section(args, cfg.section("eval"))
    if args.full_resolution is not None:
        ec["full_resolution"] = args.full_resolution
    # Configured metrics are built first: one that lacks its network weights fails before the model loads.
    metrics = metrics_from_config(ec, "", cfg.origin) if ec["metrics"] else None
    if not config_from_run:
        resolve_inputs(args)
    model = model_from_args(args, cfg)
    metrics = metrics or metrics_from_config(ec, model.task, cfg.origin)
    out = args.output or os.path.join("output", "eval_" + os.path.splitext(os.path.basename(args.config))[0])
    grids: list = []
    results = evaluate(model, dataset, metrics,
                       batch_size=int(ec["batch_size"]), num_workers=int(ec["num_workers"]),
                       max_samples=ec["max_samples"], image_dir=os.path.join(out, "images"),
                       save_images=int(ec["save_images"]), full_resolution=int(ec["full_resolution"] or 0),
                       highres=cfg.section("predict"), on_grid=lambda name, grid: grids.append((name, grid)))
    write_report(results, out, metrics)
    log_scalars(results, os.path.join(out, "vdl"), grids=grids)
    print(format_table(results, metrics))
    print(f"metrics written to {os.path.join(out, 'metrics.json')}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Evaluate weights on the config's ``val_dataset``."""
    p = config_parser(prog="eval", description="Evaluate a model on the config's val_dataset.", from_run=True)
    weights_arg(p)
    p.add_argument("--output", metavar="DIR", help="where metrics.json, metrics.csv and grids go")
    protocol_args(p)
    p.add_argument("--full-resolution", type=int, metavar="MAX_SIDE",
                   help="harmonization: also evaluate each image at its own size, long side capped at "
                        "MAX_SIDE (e.g. 1024), through the model's high-resolution strategy (eval.full_resolution)")
    engine_arg(p)
    threads_arg(p)
    return run_command(_eval, p.parse_args(argv))
