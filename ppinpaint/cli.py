"""``ppinpaint <command> ...``: dispatch to :mod:`ppinpaint.commands` (each command lives in its own module)."""
import importlib
import sys
from typing import List, Optional

# command -> (module in ppinpaint.commands, one-line help), in the order the usage lists them.
COMMANDS = {
    "train": ("train", "train a model from a config"),
    "eval": ("eval", "evaluate weights on the config's val_dataset"),
    "eval-folders": ("eval_folders", "metrics between result and ground-truth folders (PSNR/SSIM, FID, LPIPS)"),
    "predict": ("predict", "inpaint / harmonize images with a trained model"),
    "convert": ("convert", "convert PyTorch or TensorFlow checkpoints to Paddle weights"),
    "export": ("export", "export a model for Paddle Inference / ONNX"),
    "infer": ("infer", "run an exported model on images"),
    "quickstart": ("quickstart", "train, evaluate and predict on scikit-image's photos"),
    "make-synthetic": ("make_synthetic", "write synthetic harmonization triplets (iHarmony4 layout)"),
    "demo": ("demo", "browser app: brush a hole, inpaint, paste and harmonize (needs ppinpaint[demo])"),
}


def usage() -> str:
    """The top-level help: every command with its one line."""
    width = max(map(len, COMMANDS)) + 2
    lines = [f"  {name:{width}s}{text}" for name, (_, text) in COMMANDS.items()]
    return ("usage: ppinpaint [--version] {" + ",".join(COMMANDS) + "} ...\n\n" + "\n".join(lines)
            + "\n\nRun 'ppinpaint <command> --help' for a command's options.")


def main(argv: Optional[List[str]] = None) -> int:
    """``ppinpaint <command> ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        import platform

        from . import __version__

        print(f"ppinpaint {__version__} (Python {platform.python_version()})")
        return 0
    if argv[0] not in COMMANDS:
        print(usage(), file=sys.stderr)
        print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"ppinpaint.commands.{COMMANDS[argv[0]][0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
