"""Thin wrapper: `python tools/train.py --help` (the command is ppinpaint/commands/train.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
