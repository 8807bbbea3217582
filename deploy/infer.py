"""Thin wrapper: `python deploy/infer.py --help` (an exported model with Paddle Inference, onnxruntime or
OpenVINO; the command is ppinpaint/commands/infer.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppinpaint.commands.infer import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
