"""Thin wrapper: `python tools/convert_weights.py --help` (the command is ppinpaint/commands/convert.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.convert import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
