"""Thin wrapper: `python tools/predict.py --help` (the command is ppinpaint/commands/predict.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.predict import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
