"""RAIN vs InstanceNorm (the paper's Table 4 ablation) on synthetic composites, same budget.

Both variants come from their configs (configs/rainnet/quickstart.yml, quickstart_in.yml:
identical except ``model.generator.norm``; model, optimizers, QuickstartHarmonization data),
start from the same seed, are trained by the full RainNet GAN step (``model.train_step``:
critic with gradient penalty, then generator) on identical batches, and are evaluated after
every epoch by the project's evaluator and HarmonizationMetrics (fMSE, PSNR). Writes VisualDL
scalars, a plot PNG and a JSON summary under --out and prints the table.

    PYTHONPATH=. python tools/experiments/rain_vs_in.py --epochs 5 --steps 8
"""
import os
import sys
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s2am_vs_unet import compare_main, train_variant  # noqa: E402  (shared helpers)

CONFIGS = {"rain": "configs/rainnet/quickstart.yml", "instance": "configs/rainnet/quickstart_in.yml"}


def run(name: str, args, writer) -> List[Dict[str, float]]:
    """RAIN or IN at width ``--ngf`` (generator and critic)."""
    widths = [f"model.generator.ngf={args.ngf}", f"model.discriminator.ndf={args.ngf}"]
    return train_variant(name, CONFIGS[name], widths, ["G_L1", "G_GAN", "D"], args, writer)


if __name__ == "__main__":
    compare_main(__doc__, CONFIGS, run, epochs=5, steps=8, batch=2, train_items=32, val_items=8,
                 out="output/experiments/rain_vs_in")
