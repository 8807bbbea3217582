"""``ppinpaint make-synthetic`` / ``tools/make_synthetic.py``: write synthetic harmonization triplets
(composite/mask/real) in the iHarmony4 layout.

Sources: a folder of your photos (``--images DIR``), or the photos scikit-image bundles.
The result is read by ``HarmonizationDataset(root=OUT, split=train|test)``.
"""
import argparse
import os
from typing import List, Optional

from .common import run_command

DESCRIPTION = "Write synthetic harmonization triplets (composite/mask/real) in the iHarmony4 layout."


def _write(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..data.io import list_images, read_image
    from ..data.quickstart import bundled_photos
    from ..data.synth import write_synthetic_set

    photos = ([read_image(p) for p in tqdm(list_images(args.images, recursive=True), desc="read")] if args.images
              else list(bundled_photos()))
    names = write_synthetic_set(photos, args.output, name=args.name, count=args.count, size=args.size,
                                test_fraction=args.test_fraction, seed=args.seed)
    print(f"wrote {len(names)} composites to {os.path.join(args.output, args.name)}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parse arguments and write the set."""
    p = argparse.ArgumentParser(prog="make_synthetic", description=DESCRIPTION)
    p.add_argument("--output", required=True, help="dataset root to write")
    p.add_argument("--images", help="folder of source photos (default: scikit-image's bundled photos)")
    p.add_argument("--name", default="HSynthetic", help="subset name (folder and list prefix)")
    p.add_argument("--count", type=int, default=200, help="number of composites")
    p.add_argument("--size", type=int, default=256, help="side of the square crops")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    return run_command(_write, p.parse_args(argv))
