"""What every command shares: the config and weights arguments, the input/output arguments of
``predict``/``infer``, the list of user errors and the one wrapper that turns them into exit code 2."""
import argparse
import os
import sys
from typing import Callable, Dict, Optional, Tuple

# Every user error raised by the library (ConfigError, InputError, ConversionError, ExportError, …) is a
# ValueError or an OSError; KeyError is how the registries name an unknown ``type:``.
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, OSError)


def run_command(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; user errors are one line on stderr and exit code 2, not a traceback."""
    # Imported here: `ppinpaint --help` should not load Paddle.
    from ..engine.trainer import TrainingDiverged

    try:
        apply_threads(getattr(args, "threads", None))
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


def threads_arg(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: CPU math threads, eager and compiled (default: $PPINPAINT_THREADS, else the CPU affinity)."""
    def positive(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"--threads needs a positive integer, got {text!r}")
        return int(text)

    parser.add_argument("--threads", type=positive, default=None, metavar="N",
                        help="CPU threads for Paddle's math (default: $PPINPAINT_THREADS, else $OMP_NUM_THREADS, "
                             "else every core this process may use)")


def engine_arg(parser: argparse.ArgumentParser) -> None:
    """``--engine``: eager, or the inference graph compiled for Paddle Inference / onnxruntime / OpenVINO
    (``auto``: the fastest)."""
    # ppinpaint.compiled.ENGINES, spelled out: importing it would load Paddle for `--help`.
    parser.add_argument("--engine", choices=["eager", "paddle", "onnx", "openvino", "auto"], default=None,
                        help="eager Paddle, the exported graph in Paddle Inference, onnxruntime or OpenVINO (built on "
                             "first use, "
                             "cached, checked against eager), or auto: the fastest that passed (config "
                             "predict.engine, default auto)")


def model_from_args(args: argparse.Namespace, cfg) -> object:
    """The config's model with ``--weights``, run by ``--engine`` (else ``predict.engine``); prints which
    engine runs it and why. A warm cache loads the engine without building the eager model."""
    from ..api import load_model

    section = cfg.section("predict")
    engine = args.engine or str(section["engine"])
    model = load_model(cfg, args.weights, engine=engine, cache_dir=section["cache_dir"],
                       threads=getattr(args, "threads", None), log=print)
    if engine == "eager":
        print("engine: eager (asked for)")
    return model


def apply_threads(threads: Optional[int]) -> None:
    """Make ``--threads`` the process's thread count: in the environment (spawned workers, Paddle not yet
    loaded) and in Paddle when it is loaded already."""
    if not threads:
        return
    from ..utils import runtime

    os.environ[runtime.THREADS_ENV] = str(threads)
    if "paddle" in sys.modules:
        runtime.set_threads(threads)


def config_parser(prog: str, description: str, from_run: bool = False) -> argparse.ArgumentParser:
    """The parser of a command driven by a config: ``-c/--config`` and ``-o/--opts`` already added.

    ``from_run``: ``-c`` may be left out when ``--weights`` names a run folder (see :func:`resolve_inputs`).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-c", "--config", required=not from_run,
                        help="YAML config (may use _base_)" + ("; default: the config.yml of the run that "
                                                                "--weights names" if from_run else ""))
    parser.add_argument("-o", "--opts", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. -o train.iters=200 model.generator.cnum=32")
    return parser


WEIGHTS_HELP = (".safetensors (or .pdparams) weights, a checkpoint folder, or a training run: its folder or its "
                "checkpoints/ (best/ if it has one, else the latest checkpoint)")


def weights_arg(parser: argparse.ArgumentParser, required: bool = True, help: str = WEIGHTS_HELP) -> None:
    """``--weights``: the weights a command loads into the config's model."""
    parser.add_argument("--weights", required=required, help=help)


def resolve_inputs(args: argparse.Namespace) -> None:
    """Turn ``--weights`` into the weights to read, and a missing ``-c`` into the run's config.yml; say which."""
    from ..config import ConfigError
    from ..engine.checkpoint import resolve_weights

    if args.weights:
        args.weights, run_config, note = resolve_weights(args.weights)
        print(f"weights: {note}")
        if args.config is None and run_config:
            args.config = run_config
            print(f"config: {run_config} (the run's own)")
    if args.config is None:
        raise ConfigError("give -c CONFIG: --weights " + (f"{args.weights} is not inside a run folder with a config.yml"
                                                          if args.weights else "was not given either"))


def protocol_args(parser: argparse.ArgumentParser) -> None:
    """``--protocol``, ``--bins`` and ``--no-baseline``: how the task's pixel metrics are computed."""
    from ..metrics.protocols import PROTOCOLS

    parser.add_argument("--protocol", choices=sorted(PROTOCOLS),
                        help="evaluation protocol (docs/metrics.md; default: eval.protocol, else the task's "
                             "published default: iharmony4 for harmonization, pixel for inpainting)")
    parser.add_argument("--bins", nargs="+", type=float, metavar="EDGE",
                        help="mask-ratio bin edges in [0, 1] (default: 0 .05 .15 1 foreground, "
                             "0 .1 .2 .3 .4 .5 .6 hole)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not score the baseline (composite / cv2 Telea) beside the results")


def protocol_section(args: argparse.Namespace, section: Dict[str, object]) -> Dict[str, object]:
    """The ``eval`` section with ``--protocol``/``--bins``/``--no-baseline`` applied."""
    section = dict(section)
    if args.protocol:
        section["protocol"] = args.protocol
    if args.bins:
        section["bins"] = args.bins
    if args.no_baseline:
        section["baseline"] = False
    return section


def load_from_args(args: argparse.Namespace) -> Tuple[object, object]:
    """The config of ``-c``/``-o`` and its model in eval mode with ``--weights`` loaded."""
    from ..api import as_config, load_model

    resolve_inputs(args)
    cfg = as_config(args.config, args.opts)
    return cfg, load_model(cfg, args.weights)


def io_args(p: argparse.ArgumentParser) -> None:
    """Inputs, outputs and large-image options shared by ``predict`` and ``infer`` (exported models)."""
    from ..highres import STRATEGIES

    p.add_argument("--image", required=True, help="an image or a folder of images")
    p.add_argument("--mask", required=True, help="a mask (one for all images) or a folder paired by file stem")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--concat", action="store_true", help="also write input | mask | output side by side")
    p.add_argument("--soft-mask", action="store_true", help="keep fractional mask values (default: binarize at 0.5)")
    p.add_argument("--strategy", choices=STRATEGIES, default=None,
                   help="large images: full size, crops around each hole, or a downscaled copy; auto picks "
                        "full when the image fits --max-size^2 pixels, else crop (inpainting) / resize "
                        "(harmonization) (config predict.strategy, default auto)")
    # --resize-limit / --crop-margin are the names IOPaint users know; both spellings set one option.
    p.add_argument("--max-size", "--resize-limit", dest="max_size", type=int, default=None,
                   help="pixel budget side and resize target (config predict.max_size, default 1024)")
    p.add_argument("--margin", "--crop-margin", dest="margin", type=int, default=None,
                   help="context pixels around each hole for crop (config predict.margin, default 64)")


def strategy_options(args: argparse.Namespace, section: Dict[str, object]) -> Dict[str, object]:
    """strategy / max_size / margin from the command line, else from a ``predict`` config section."""
    from ..config import INTEGER_KEYS, check_integer

    options = {key: getattr(args, key) if getattr(args, key) is not None else section[key]
               for key in ("strategy", "max_size", "margin")}
    for key in ("max_size", "margin"):
        options[key] = check_integer(options[key], f"--{key.replace('_', '-')}", INTEGER_KEYS[f"predict.{key}"],
                                     "the command line or the predict section")
    return options
