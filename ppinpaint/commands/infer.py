"""``ppinpaint infer`` / ``deploy/infer.py``: an exported model on image files, as ``predict`` does."""
import argparse
from typing import List, Optional

from .common import io_args, run_command, strategy_options, threads_arg


def _infer(args: argparse.Namespace) -> int:
    from ..config import SCHEMA
    from ..inference import load_predictor
    from ..predict import predict_paths

    options = {"cpu_threads": args.threads}
    if args.backend == "paddle":
        options.update(device=args.device, use_mkldnn=False if args.no_mkldnn else None)
    predictor = load_predictor(args.model_dir, args.backend, **options)
    report = predict_paths(predictor, args.image, args.mask, args.output, concat=args.concat,
                           soft_mask=args.soft_mask, **strategy_options(args, SCHEMA["predict"]))
    print(report.summary())
    return report.exit_code


def main(argv: Optional[List[str]] = None) -> int:
    """Run an exported model on images with Paddle Inference, onnxruntime or OpenVINO."""
    p = argparse.ArgumentParser(prog="infer", description="Run an exported model (tools/export.py) on images "
                                "with Paddle Inference, onnxruntime or OpenVINO; inputs and outputs as "
                                "tools/predict.py.")
    p.add_argument("--model-dir", required=True, help="export folder (model.json/.pdmodel, model.pdiparams, deploy.yml)")
    io_args(p)
    p.add_argument("--backend", default="paddle", choices=["paddle", "onnx", "openvino"],
                   help="onnx and openvino run the folder's model.onnx (export --onnx); default: %(default)s")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None, help="default: gpu when available")
    p.add_argument("--no-mkldnn", action="store_true", help="CPU without oneDNN (default: on unless deploy.yml says onednn: false)")
    threads_arg(p)
    return run_command(_infer, p.parse_args(argv))
