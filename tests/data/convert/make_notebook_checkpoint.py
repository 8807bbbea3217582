"""Writes daa233_gen_cnum8.pt for aistudio/convert_pytorch.ipynb (run once; needs torch).

The file is what daa233's DeepFill v1 training saves as ``gen_*.pt`` (``torch.save`` of the
generator's state dict, zip format), holding the recipe weights (seed 0, width 8) with which
``tests/data/deepfill_v1/case_*.npz`` were produced by the official code, so the notebook can
compare the converted model's output with the official output.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/: parity and recipe helpers

import parity  # noqa: E402
import recipe  # noqa: E402


def main() -> None:
    """Save the generator part of the recipe weights as a torch checkpoint."""
    state = recipe.net_state(parity.official_state("deepfill_v1"), "netG")
    path = os.path.join(HERE, "daa233_gen_cnum8.pt")
    torch.save({k: torch.from_numpy(v.copy()) for k, v in state.items()}, path)
    print(f"wrote {path}: {len(state)} tensors")


if __name__ == "__main__":
    main()
