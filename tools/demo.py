"""Thin wrapper: `python tools/demo.py --help` (the command is ppinpaint/commands/demo.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
