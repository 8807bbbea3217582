"""Thin wrapper: `python tools/make_synthetic.py --help` (the command is ppinpaint/commands/make_synthetic.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.make_synthetic import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
