"""``ppinpaint convert`` / ``tools/convert_weights.py``: checkpoints of the official code -> ``.safetensors``."""
import argparse
import inspect
from typing import Dict, List, Optional

from .common import run_command


def _parse_options(items: List[str]) -> Dict[str, object]:
    from ..config import load_yaml
    from ..convert.common import ConversionError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConversionError(f"--option wants key=value, got {item!r}")
        options[key] = load_yaml(value)  # numbers, booleans and lists as in config overrides
    return options


def _list_converters() -> str:
    from ..registry import CONVERTERS

    lines = []
    for name in CONVERTERS:
        doc = (inspect.getdoc(CONVERTERS.get(name)) or "").split("\n")[0]
        lines.append(f"  {name:24s} {doc}")
    return "registered converters:\n" + ("\n".join(lines) if lines else "  (none)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="convert_weights",
        description="Convert official PyTorch (.pt/.pth/.pth.tar) or TensorFlow checkpoints to Paddle "
                    "safetensors weights ({role: state_dict} as role.key tensors). Needs neither torch nor tensorflow; torch files are "
                    "read with a restricted unpickler that refuses anything but tensors and plain containers.",
        epilog="examples (names from --list):\n"
               "  convert_weights NAME --src latest_net_G.pth --dst weights/NAME.safetensors\n"
               "  convert_weights NAME --src release_places2_256/ --dst weights/NAME.safetensors   (TensorFlow folder)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="MODEL_NAME", help="registered converter (see --list)")
    p.add_argument("--src", action="append", default=[], metavar="FILE",
                   help="source checkpoint; repeat for methods with several files. A TensorFlow checkpoint is "
                        "given by its prefix, its .index file or its folder")
    p.add_argument("--dst", metavar="FILE.safetensors", help="where to write the Paddle weights (safetensors)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="converter option, value parsed as YAML (repeatable)")
    p.add_argument("--list", action="store_true", help="list the registered converters and exit")
    p.add_argument("--inspect", action="store_true",
                   help="print each --src's keys, shapes and dtypes (as the converter receives them) and exit")
    return p


def _convert(args: argparse.Namespace) -> int:
    from ..convert.run import convert_file, describe_source

    if args.inspect:
        print("\n".join(describe_source(path) for path in args.src))
        return 0
    report = convert_file(args.name, args.src, args.dst, **_parse_options(args.option))
    for role, counts in report.items():
        print(f"{role}: {counts['tensors']} tensors, {counts['parameters']:,} parameters")
    print(f"wrote {args.dst}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Convert official checkpoints to Paddle weights (or list converters, or inspect a source)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        print(_list_converters())
        return 0
    if args.inspect and not args.src:
        parser.error("--inspect needs --src")
    if not args.inspect and (not args.name or not args.src or not args.dst):
        parser.error("MODEL_NAME, --src and --dst are required (or --list, or --inspect --src FILE)")
    return run_command(_convert, args)
