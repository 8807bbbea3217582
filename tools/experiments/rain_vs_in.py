"""RAIN vs InstanceNorm (the paper's Table 4 ablation) on synthetic composites, same budget.

Both variants come from their configs (configs/rainnet/quickstart.yml, quickstart_in.yml:
identical except ``model.generator.norm``; model, optimizers, QuickstartHarmonization data),
start from the same seed, are trained by the full RainNet GAN step (``model.train_step``:
critic with gradient penalty, then generator) on identical batches, and are evaluated after
every epoch by the project's evaluator and HarmonizationMetrics (fMSE, PSNR). Writes VisualDL
scalars, a plot PNG and a JSON summary under --out and prints the table.

    PYTHONPATH=. python tools/experiments/rain_vs_in.py --epochs 5 --steps 8
"""
import argparse
import os
import sys
import time
from typing import Dict, List

import numpy as np
import paddle

import ppinpaint
from ppinpaint.builder import build
from ppinpaint.config import Config
from ppinpaint.engine.evaluator import build_metrics, evaluate
from ppinpaint.engine.optim import build_optimizers
from ppinpaint.registry import DATASETS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harmonization_report import write_report  # noqa: E402
from s2am_vs_unet import KEYS, batch_of, composite_scores  # noqa: E402  (shared data helpers)

CONFIGS = {"rain": "configs/rainnet/quickstart.yml", "instance": "configs/rainnet/quickstart_in.yml"}


def run(name: str, args, writer) -> List[Dict[str, float]]:
    """Train one variant for the budget; one evaluation row per epoch (epoch 0 = untrained)."""
    paddle.seed(args.seed)
    cfg = Config(CONFIGS[name], [f"model.generator.ngf={args.ngf}", f"model.discriminator.ndf={args.ngf}",
                                 f"train_dataset.length={args.train_items}", f"val_dataset.length={args.val_items}"])
    model = ppinpaint.build_model(cfg)
    model.attach(build_optimizers(cfg["optimizers"], model.nets, cfg.origin)[0])
    train_set = build(cfg["train_dataset"], DATASETS, where="train_dataset", origin=cfg.origin)
    val_set = build(cfg["val_dataset"], DATASETS, where="val_dataset", origin=cfg.origin)
    metrics = build_metrics([], model.task)
    rows = [{"epoch": 0, "seconds": 0.0, **{k: v for k, v in evaluate(model, val_set, metrics, progress=False).items()
                                            if k in KEYS}}]
    start, step = time.time(), 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_set))
        for i in range(args.steps):
            pick = np.take(order, range(i * args.batch, (i + 1) * args.batch), mode="wrap")
            losses = model.train_step(batch_of(train_set, pick, args.seed + epoch), step)
            for key in ("G_L1", "G_GAN", "D"):
                writer.add_scalar(f"{name}/train_{key}", float(losses[key]), step)
            step += 1
        values = evaluate(model, val_set, metrics, progress=False)
        row = {"epoch": epoch, "seconds": time.time() - start, **{k: values[k] for k in KEYS}}
        for key in KEYS:
            writer.add_scalar(f"{name}/val_{key}", row[key], epoch)
        print(f"{name:8s} epoch {epoch}: fMSE {row['fmse']:8.2f}  PSNR {row['psnr']:6.2f} dB  "
              f"({row['seconds']:.0f} s)", flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--ngf", type=int, default=16, help="generator and critic width")
    parser.add_argument("--train-items", type=int, default=32)
    parser.add_argument("--val-items", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="output/experiments/rain_vs_in")
    args = parser.parse_args()
    from visualdl import LogWriter

    os.makedirs(args.out, exist_ok=True)
    ppinpaint.build_model(CONFIGS["rain"])   # registers every component before the datasets are built
    cfg = Config(CONFIGS["rain"], [f"val_dataset.length={args.val_items}"])
    reference = composite_scores(build(cfg["val_dataset"], DATASETS, where="val_dataset", origin=cfg.origin))
    print(f"composite (no harmonization): fMSE {reference['fmse']:.2f}  PSNR {reference['psnr']:.2f} dB")
    results = {}
    with LogWriter(logdir=os.path.join(args.out, "vdl")) as writer:
        for name in CONFIGS:
            results[name] = run(name, args, writer)
    write_report(args.out, vars(args), reference, results)


if __name__ == "__main__":
    main()
