"""Command line: ``ppinpaint train|eval|predict|convert ...`` and the ``tools/*.py`` scripts."""
import argparse
import os
import sys
from typing import Callable, List, Optional

USER_ERRORS = (ValueError, FileNotFoundError, KeyError, OSError)


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="YAML config (may use _base_)")
    parser.add_argument("-o", "--opts", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. -o train.iters=200 model.generator.cnum=32")


def _run(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; user errors are one line on stderr and exit code 2, not a traceback."""
    from .engine.trainer import TrainingDiverged

    try:
        return fn(args)
    except TrainingDiverged as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        return 1
    except USER_ERRORS as e:
        if os.environ.get("PPINPAINT_DEBUG"):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _spawn_worker(config, output: Optional[str], resume: Optional[str]) -> None:
    from .engine.trainer import Trainer

    Trainer(config, output_dir=output, resume=resume).train()


def _train(args: argparse.Namespace) -> int:
    from .config import Config
    from .engine import distributed
    from .engine.trainer import Trainer

    cfg = Config(args.config, args.opts)
    nprocs = args.nprocs or int(cfg.section("train")["nprocs"])
    if nprocs > 1 and distributed.world_size() == 1:
        import paddle

        # gloo on CPU; NCCL when this Paddle build has CUDA and a GPU.
        backend = "nccl" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "gloo"
        paddle.distributed.spawn(_spawn_worker, args=(cfg, args.output, args.resume), nprocs=nprocs,
                                 backend=backend)
        return 0
    trainer = Trainer(cfg, output_dir=args.output, resume=args.resume)
    trainer.train()
    print(f"done: outputs in {trainer.output_dir} (VisualDL: visualdl --logdir {os.path.join(trainer.output_dir, 'vdl')})")
    return 0


def train_main(argv: Optional[List[str]] = None) -> int:
    """``tools/train.py``: train a model from a config."""
    p = argparse.ArgumentParser(prog="train", description="Train a model from a YAML config.")
    _config_args(p)
    p.add_argument("--resume", metavar="CKPT_DIR",
                   help="continue a run: a checkpoint folder, or a run folder (uses checkpoints/latest)")
    p.add_argument("--output", metavar="DIR", help="run folder (default: train.output_dir, or the resumed run's)")
    p.add_argument("--nprocs", type=int, default=0,
                   help="data-parallel processes to spawn on this machine (gloo on CPU, NCCL on GPU)")
    return _run(_train, p.parse_args(argv))


def _eval(args: argparse.Namespace) -> int:
    from .api import as_config, load_model
    from .builder import build
    from .config import ConfigError
    from .engine.evaluator import build_metrics, evaluate
    from .metrics.report import format_table, write_report
    from .registry import DATASETS

    cfg = as_config(args.config, args.opts)
    if not cfg.get("val_dataset"):
        raise ConfigError(f"{args.config}: evaluation needs a 'val_dataset' section (or -o val_dataset.…)")
    ec = cfg.section("eval")
    # Configured metrics are built first: one that lacks its network weights fails before the model loads.
    metrics = build_metrics(ec["metrics"], "", cfg.origin) if ec["metrics"] else None
    model = load_model(cfg, args.weights)
    metrics = metrics or build_metrics([], model.task)
    dataset = build(cfg["val_dataset"], DATASETS, where="val_dataset", origin=cfg.origin)
    out = args.output or os.path.join("output", "eval_" + os.path.splitext(os.path.basename(args.config))[0])
    results = evaluate(model, dataset, metrics,
                       batch_size=int(ec["batch_size"]), num_workers=int(ec["num_workers"]),
                       max_samples=ec["max_samples"], image_dir=os.path.join(out, "images"),
                       save_images=int(ec["save_images"]))
    write_report(results, out)
    print(format_table(results))
    print(f"metrics written to {os.path.join(out, 'metrics.json')}")
    return 0


def eval_main(argv: Optional[List[str]] = None) -> int:
    """``tools/eval.py``: evaluate weights on the config's ``val_dataset``."""
    p = argparse.ArgumentParser(prog="eval", description="Evaluate a model on the config's val_dataset.")
    _config_args(p)
    p.add_argument("--weights", required=True, help=".pdparams weights or a checkpoint folder")
    p.add_argument("--output", metavar="DIR", help="where metrics.json, metrics.csv and grids go")
    return _run(_eval, p.parse_args(argv))


def eval_folders_main(argv: Optional[List[str]] = None) -> int:
    """``tools/eval_folders.py``: metrics between result and ground-truth folders."""
    from .metrics.folders import main

    return main(argv)


def predict_main(argv: Optional[List[str]] = None) -> int:
    """``tools/predict.py``: run a model on images and masks."""
    from .predict import main

    return main(argv)


def convert_main(argv: Optional[List[str]] = None) -> int:
    """``tools/convert_weights.py``: PyTorch/TensorFlow checkpoints -> Paddle weights."""
    from .convert.run import main

    return main(argv)


def export_main(argv: Optional[List[str]] = None) -> int:
    """``tools/export.py``: static export for Paddle Inference (and ONNX)."""
    from .export import main

    return main(argv)


def infer_main(argv: Optional[List[str]] = None) -> int:
    """``deploy/infer.py``: run an exported model on images."""
    from .inference import main

    return main(argv)


COMMANDS = {"train": train_main, "eval": eval_main, "eval-folders": eval_folders_main, "predict": predict_main,
            "convert": convert_main, "export": export_main, "infer": infer_main}


def main(argv: Optional[List[str]] = None) -> int:
    """``ppinpaint <command> ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: ppinpaint {" + ",".join(COMMANDS) + "} ...\n\n"
              "  train         train a model from a config\n"
              "  eval          evaluate weights on the config's val_dataset\n"
              "  eval-folders  metrics between result and ground-truth folders (PSNR/SSIM, FID, LPIPS)\n"
              "  predict       inpaint / harmonize images with a trained model\n"
              "  convert       convert PyTorch or TensorFlow checkpoints to Paddle weights\n"
              "  export        export a model for Paddle Inference / ONNX\n"
              "  infer         run an exported model on images\n\n"
              "Run 'ppinpaint <command> --help' for a command's options.")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
