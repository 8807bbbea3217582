"""Thin wrapper: `python tools/demo.py --help`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.cli import demo_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(demo_main())
