"""``ppinpaint export`` / ``tools/export.py``: static export for Paddle Inference, optionally ONNX."""
import argparse
from typing import List, Optional

from ..utils.quiet import quiet_glog_warnings

quiet_glog_warnings()  # before ..export imports Paddle: tracing logs C++ warnings about Paddle's own ops
from ..export import ONNX_OPSET, export_model, export_onnx  # noqa: E402
from .common import WEIGHTS_HELP, config_parser, load_from_args, run_command, weights_arg  # noqa: E402


def _export(args: argparse.Namespace) -> int:
    _, model = load_from_args(args)
    files = export_model(model, args.output, batch=args.batch, size=args.size, config=args.config,
                         weights=args.weights)
    print(f"wrote {files['model']}, {files['params']} and {files['deploy']}")
    if args.onnx:
        print(f"wrote {export_onnx(args.output, args.opset)}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Export a model's inference graph."""
    p = config_parser(prog="export", from_run=True, description="Export a model's inference graph for Paddle "
                                "Inference (model.json + model.pdiparams + deploy.yml), optionally ONNX.")
    weights_arg(p, required=False, help=WEIGHTS_HELP + "; default: random init")
    p.add_argument("--output", required=True, help="export folder")
    p.add_argument("--batch", type=int, default=None, help="fix the batch size (default: dynamic)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="fix the input height and width (default: dynamic)")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx with paddle2onnx")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help="ONNX opset (default %(default)s)")
    return run_command(_export, p.parse_args(argv))
