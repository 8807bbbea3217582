"""Install ppinpaint's requirements while keeping any Paddle that is already installed.

pip cannot express "paddlepaddle unless paddlepaddle-gpu": both wheels provide the same
``paddle`` package, so listing the CPU wheel as a requirement would overwrite AIStudio's GPU
build. This script installs requirements.txt, then the CPU wheel only where no Paddle
distribution is present.
"""
import argparse
import importlib.metadata
import os
import subprocess
import sys
from typing import List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PADDLE_DISTRIBUTIONS = ("paddlepaddle-gpu", "paddlepaddle", "paddlepaddle-xpu", "paddlepaddle-rocm")
CPU_WHEEL = "paddlepaddle==3.3.1"


def installed_paddle() -> Optional[str]:
    """``name==version`` of the installed Paddle distribution, or None."""
    for name in PADDLE_DISTRIBUTIONS:
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def pip(*args: str) -> None:
    """Run pip in this interpreter; stop on failure."""
    # Quiet: a fresh install is ~180 lines of pip output; pip still prints its errors.
    print("pip install " + " ".join(args), flush=True)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args])


def main(argv: Optional[List[str]] = None) -> int:
    """Install requirements (and dev requirements with --dev), then Paddle if missing."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dev", action="store_true", help="also install requirements-dev.txt (tests, export tools)")
    p.add_argument("--editable", action="store_true", help="also `pip install -e .` (no dependencies)")
    args = p.parse_args(argv)
    pip("-r", os.path.join(ROOT, "requirements.txt"))
    if args.dev:
        pip("-r", os.path.join(ROOT, "requirements-dev.txt"))
    present = installed_paddle()
    if present:
        print(f"keeping the installed {present}")
    else:
        print(f"no Paddle found: installing the CPU wheel {CPU_WHEEL}")
        pip(CPU_WHEEL)
    if args.editable:
        pip("--no-deps", "-e", ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
