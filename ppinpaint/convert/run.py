"""``ppinpaint convert`` / ``tools/convert_weights.py``: checkpoints of the official code -> ``.pdparams``.

Each source is read without torch or tensorflow (:mod:`.torch_pickle`, :mod:`.tf_checkpoint`),
unwrapped to a flat state dict, handed to the converter registered in ``CONVERTERS``, and the
resulting ``{role: {paddle_key: ndarray}}`` is written atomically with ``paddle.save``.
"""
import argparse
import inspect
import os
import re
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import paddle
import yaml

from ..registry import CONVERTERS
from .common import ConversionError, State, unwrap_state
from .tf_checkpoint import TFCheckpointError, latest_checkpoint, read_tf_checkpoint
from .torch_pickle import CheckpointError, load_torch_file

USER_ERRORS = (CheckpointError, TFCheckpointError, ConversionError, OSError)

_TF_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")


def _tf_prefix(path: str) -> Optional[str]:
    """The checkpoint prefix when ``path`` names a TensorFlow checkpoint (prefix, .index, shard or folder)."""
    if path.endswith(".index"):
        return path[: -len(".index")]
    if _TF_DATA_SHARD.search(path):
        return _TF_DATA_SHARD.sub("", path)
    if os.path.isfile(path + ".index"):
        return path
    if os.path.isdir(path):
        return latest_checkpoint(path)
    return None


def load_source(path: str) -> State:
    """A flat ``{key: ndarray}`` from a torch file, a TensorFlow checkpoint or an ``.npz``."""
    prefix = _tf_prefix(path)
    if prefix is not None:
        return _as_state(read_tf_checkpoint(prefix), prefix)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source not found: {path}")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:  # no pickle: an .npz cannot run code
            return _as_state({k: z[k] for k in z.files}, path)
    return _as_state(load_torch_file(path), path)


def _as_state(obj: object, path: str) -> State:
    """Unwrap one state dict, or flatten a dict of them (``{'localD': sd, 'globalD': sd}``) to ``localD.key``."""
    try:
        return unwrap_state(obj)
    except ConversionError as e:
        if isinstance(obj, dict) and obj and all(isinstance(v, dict) for v in obj.values()):
            try:
                return {f"{role}.{k}": v for role, sd in obj.items() for k, v in unwrap_state(sd).items()}
            except ConversionError:
                pass
        raise ConversionError(f"{path}: {e}") from None


def _check_result(name: str, result: object) -> Dict[str, State]:
    if not isinstance(result, dict) or not result or not all(
            isinstance(state, dict) and all(isinstance(v, np.ndarray) for v in state.values())
            for state in result.values()):
        raise ConversionError(f"converter {name!r} did not return {{role: {{key: ndarray}}}}")
    return result


def _check_options(name: str, fn, options: Dict[str, object]) -> None:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p in list(params)[1:] if params[p].kind is not params[p].VAR_POSITIONAL]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConversionError(f"converter {name!r} has no option {', '.join(unknown)}; "
                              f"its options: {', '.join(accepted) or '(none)'}")


def save_atomic(obj: object, dst: str) -> None:
    """``paddle.save`` to a temporary file beside ``dst``, then rename: ``dst`` is never half written."""
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(dst) + ".", suffix=".tmp")
    os.close(fd)
    try:
        paddle.save(obj, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def convert_file(name: str, srcs: List[str], dst: str, **options) -> Dict[str, Dict[str, int]]:
    """Convert ``srcs`` with the converter ``name`` and write ``{role: state}`` to ``dst``.

    Returns, per role, the number of tensors and of parameters (elements) written.
    """
    try:
        fn = CONVERTERS.get(name)
    except KeyError as e:  # the registry's message lists the known names
        raise ConversionError(e.args[0]) from None
    _check_options(name, fn, options)
    if not srcs:
        raise ConversionError("no source file given")
    result = _check_result(name, fn([load_source(path) for path in srcs], **options))
    save_atomic(result, dst)
    return {role: {"tensors": len(state), "parameters": int(sum(v.size for v in state.values()))}
            for role, state in result.items()}


def _parse_options(items: List[str]) -> Dict[str, object]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConversionError(f"--option wants key=value, got {item!r}")
        options[key] = yaml.safe_load(value)  # numbers, booleans and lists as in config overrides
    return options


def describe_source(path: str) -> str:
    """One line per tensor of a source (key, shape, dtype), as a converter will see it."""
    state = load_source(path)
    width = max((len(k) for k in state), default=0)
    lines = [f"  {k:{width}s}  {'x'.join(map(str, v.shape)) or 'scalar':>16s}  {v.dtype}" for k, v in state.items()]
    total = sum(v.size for v in state.values())
    return "\n".join([f"{path}: {len(state)} tensors, {total:,} elements"] + lines)


def _list_converters() -> str:
    lines = []
    for name in CONVERTERS:
        doc = (inspect.getdoc(CONVERTERS.get(name)) or "").split("\n")[0]
        lines.append(f"  {name:24s} {doc}")
    return "registered converters:\n" + ("\n".join(lines) if lines else "  (none)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="convert_weights",
        description="Convert official PyTorch (.pt/.pth/.pth.tar) or TensorFlow checkpoints to Paddle "
                    ".pdparams ({role: state_dict}). Needs neither torch nor tensorflow; torch files are "
                    "read with a restricted unpickler that refuses anything but tensors and plain containers.",
        epilog="examples (names from --list):\n"
               "  convert_weights NAME --src latest_net_G.pth --dst weights/NAME.pdparams\n"
               "  convert_weights NAME --src release_places2_256/ --dst weights/NAME.pdparams   (TensorFlow folder)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="MODEL_NAME", help="registered converter (see --list)")
    p.add_argument("--src", action="append", default=[], metavar="FILE",
                   help="source checkpoint; repeat for methods with several files. A TensorFlow checkpoint is "
                        "given by its prefix, its .index file or its folder")
    p.add_argument("--dst", metavar="FILE.pdparams", help="where to write the Paddle weights")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="converter option, value parsed as YAML (repeatable)")
    p.add_argument("--list", action="store_true", help="list the registered converters and exit")
    p.add_argument("--inspect", action="store_true",
                   help="print each --src's keys, shapes and dtypes (as the converter receives them) and exit")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry: one clear message and exit code 2 on any user error."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        print(_list_converters())
        return 0
    if args.inspect and not args.src:
        parser.error("--inspect needs --src")
    if not args.inspect and (not args.name or not args.src or not args.dst):
        parser.error("MODEL_NAME, --src and --dst are required (or --list, or --inspect --src FILE)")
    try:
        if args.inspect:
            print("\n".join(describe_source(path) for path in args.src))
            return 0
        report = convert_file(args.name, args.src, args.dst, **_parse_options(args.option))
    except USER_ERRORS as e:
        if os.environ.get("PPINPAINT_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    for role, counts in report.items():
        print(f"{role}: {counts['tensors']} tensors, {counts['parameters']:,} parameters")
    print(f"wrote {args.dst}")
    return 0
