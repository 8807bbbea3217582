"""Thin wrapper: `python tools/export.py --help` (the command is ppinpaint/commands/export.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.export import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
