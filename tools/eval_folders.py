"""Thin wrapper: `python tools/eval_folders.py --help` (the command is ppinpaint/commands/eval_folders.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.eval_folders import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
