"""RAIN vs InstanceNorm (the paper's Table 4 ablation) on synthetic composites, same budget.

Both generators are built from their configs (configs/rainnet/quickstart.yml and
quickstart_in.yml: identical except ``norm``), start from the same seed and train with the full
RainNet GAN step (``model.train_step``: critic with gradient penalty, then generator) on
identical batches; each epoch ends with fMSE / PSNR of ``model.infer`` on held-out composites.
Writes VisualDL scalars, a plot PNG and a JSON summary under --out, and prints the table.

    PYTHONPATH=. python tools/experiments/rain_vs_in.py --epochs 5 --steps 8
"""
import argparse
import json
import os
import time
from typing import Dict, List

import numpy as np
import paddle

import ppinpaint
from ppinpaint.engine.optim import Adam
from s2am_vs_unet import evaluate, make_items, stack  # shared synthetic data and metrics (same folder)

CONFIGS = {"rain": "configs/rainnet/quickstart.yml", "instance": "configs/rainnet/quickstart_in.yml"}


def run(name: str, args, train_items, val_items, writer) -> List[Dict[str, float]]:
    """Train one variant for the budget; one evaluation row per epoch (epoch 0 = untrained)."""
    paddle.seed(args.seed)
    model = ppinpaint.build_model(CONFIGS[name], opts=[f"model.generator.ngf={args.ngf}",
                                                       f"model.discriminator.ndf={args.ngf}"])
    model.attach({role: Adam(model.parameters([role]), learning_rate=args.lr, beta1=0.5)
                  for role in ("generator", "discriminator")})
    rows = [{"epoch": 0, "seconds": 0.0, **evaluate(model.eval(), val_items)}]
    start, step = time.time(), 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_items))
        for i in range(args.steps):
            pick = order[(i * args.batch) % len(order):][:args.batch]
            losses = model.train_step(stack([train_items[j] for j in pick]), step)
            for key in ("G_L1", "G_GAN", "D"):
                writer.add_scalar(f"{name}/train_{key}", float(losses[key]), step)
            step += 1
        row = {"epoch": epoch, "seconds": time.time() - start, **evaluate(model.eval(), val_items)}
        for key in ("fmse", "psnr"):
            writer.add_scalar(f"{name}/val_{key}", row[key], epoch)
        print(f"{name:8s} epoch {epoch}: fMSE {row['fmse']:8.2f}  PSNR {row['psnr']:6.2f} dB  "
              f"({row['seconds']:.0f} s)", flush=True)
        rows.append(row)
    return rows


def plot(results: Dict[str, List[Dict[str, float]]], reference: Dict[str, float], path: str) -> None:
    """fMSE and PSNR per epoch for each variant, the untouched composite as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, label in zip(axes, ("fmse", "psnr"), ("foreground MSE (0-255)", "PSNR (dB)")):
        for name, rows in results.items():
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o", label=name)
        ax.axhline(reference[key], linestyle="--", color="grey", label="composite")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--ngf", type=int, default=16, help="generator and critic width")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--train-items", type=int, default=32)
    parser.add_argument("--val-items", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="output/experiments/rain_vs_in")
    args = parser.parse_args()
    from visualdl import LogWriter

    os.makedirs(args.out, exist_ok=True)
    train_items = make_items(args.train_items, args.size, args.seed)
    val_items = make_items(args.val_items, args.size, args.seed + 1)
    reference = evaluate(None, val_items)
    print(f"composite (no harmonization): fMSE {reference['fmse']:.2f}  PSNR {reference['psnr']:.2f} dB")
    results = {}
    with LogWriter(logdir=os.path.join(args.out, "vdl")) as writer:
        for name in CONFIGS:
            results[name] = run(name, args, train_items, val_items, writer)
    plot(results, reference, os.path.join(args.out, "curves.png"))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"args": vars(args), "composite": reference, "results": results}, f, indent=1)
    print(f"\nfinal (same budget; the composite itself scores fMSE {reference['fmse']:.2f}, "
          f"PSNR {reference['psnr']:.2f} dB):")
    for name, rows in results.items():
        first, last = rows[0], rows[-1]
        print(f"  {name:8s} fMSE {first['fmse']:.2f} -> {last['fmse']:.2f}   PSNR {first['psnr']:.2f} -> "
              f"{last['psnr']:.2f} dB   train {last['seconds']:.0f} s")


if __name__ == "__main__":
    main()
