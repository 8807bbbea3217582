"""Thin wrapper: `python tools/eval_folders.py --help`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.cli import eval_folders_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(eval_folders_main())
