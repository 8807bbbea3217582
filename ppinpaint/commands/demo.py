"""``ppinpaint demo`` / ``tools/demo.py``: serve the Gradio demo (Inpaint, Harmonize, Remove then insert)."""
import argparse
import sys
from typing import List, Optional

from .common import engine_arg, run_command, threads_arg


def _demo(args: argparse.Namespace) -> int:
    from ..demo.bank import ModelBank, quickstart_specs, read_model_list, spec_from_arg

    specs = [spec_from_arg(w) for w in args.weights]
    for path in args.models:
        specs += read_model_list(path)
    bank = ModelBank(specs or quickstart_specs(), args.engine, args.threads)
    try:
        from ..demo.app import launch
    except ImportError as e:  # Gradio is an optional extra: one line, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    engines = {name: getattr(model, "engine", "eager") for name, model in bank.models.items()}
    print("demo: " + "; ".join(f"{name} ({engine})" for name, engine in engines.items()))
    launch(bank, host=args.host, port=args.port, share=args.share, max_file_size=args.max_file_size)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """A browser app to brush a hole, inpaint, paste an object and harmonize it."""
    p = argparse.ArgumentParser(prog="demo", description="Serve the Gradio demo (Inpaint, Harmonize, Remove then "
                                "insert). Without --weights/--models: every method's quickstart config at random "
                                "initialisation, so the demo always starts offline.")
    p.add_argument("--weights", nargs="+", action="extend", default=[], metavar="RUN_OR_CONFIG=WEIGHTS",
                   help="a training run folder (its config.yml and latest checkpoint), or CONFIG=WEIGHTS with "
                        "converted .safetensors (or .pdparams) or a checkpoint folder; repeatable")
    p.add_argument("--models", nargs="+", action="extend", default=[], metavar="LIST.yml",
                   help="a YAML list of {config, weights, name} entries (paths relative to the list)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default %(default)s: this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--max-file-size", default="50mb", help="largest upload accepted (default %(default)s)")
    engine_arg(p)
    threads_arg(p)
    return run_command(_demo, p.parse_args(argv))
