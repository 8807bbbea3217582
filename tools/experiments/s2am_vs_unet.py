"""Plain U-Net vs S2AD on synthetic composites, same budget: fMSE / PSNR per epoch.

Both methods are built from their configs (configs/s2am/quickstart_unet.yml, quickstart.yml)
and trained by ``model.train_step`` on identical batches; each epoch ends with an evaluation
through ``model.infer`` (the composited output). Writes VisualDL scalars, a plot PNG and a
JSON summary under --out, and prints the table.

    PYTHONPATH=. python tools/experiments/s2am_vs_unet.py --epochs 6 --steps 16
"""
import argparse
import json
import os
import time
from typing import Dict, List

import cv2
import numpy as np
import paddle

import ppinpaint
from ppinpaint.engine.optim import Adam
from ppinpaint.registry import DATASETS

CONFIGS = {"unet": "configs/s2am/quickstart_unet.yml", "s2ad": "configs/s2am/quickstart.yml"}


def synthetic_item(rng: np.random.Generator, size: int) -> Dict[str, np.ndarray]:
    """A smooth random scene; a random ellipse re-coloured by a per-channel gain/offset is the foreground."""
    coarse = rng.random((3, 6, 6)).astype(np.float32)
    target = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse])
    target = np.clip(target, 0.0, 1.0)
    mask = np.zeros((size, size), np.float32)
    centre = tuple(int(v) for v in rng.integers(size // 4, 3 * size // 4, 2))
    axes = tuple(int(v) for v in rng.integers(size // 8, size // 3, 2))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    gain = rng.uniform(0.6, 1.4, (3, 1, 1)).astype(np.float32)
    offset = rng.uniform(-0.15, 0.15, (3, 1, 1)).astype(np.float32)
    image = np.where(mask > 0, np.clip(target * gain + offset, 0.0, 1.0), target).astype(np.float32)
    return {"image": image, "mask": mask[None], "target": target}


def make_items(n: int, size: int, seed: int) -> List[Dict[str, np.ndarray]]:
    """The registered quickstart dataset when present, else the generator above."""
    if "QuickstartHarmonization" in DATASETS:
        dataset = DATASETS.get("QuickstartHarmonization")(size=size, length=n)
        return [dataset[(i, seed)] for i in range(n)]
    return [synthetic_item(np.random.default_rng([seed, i]), size) for i in range(n)]


def stack(items: List[Dict[str, np.ndarray]]) -> Dict[str, paddle.Tensor]:
    """Items -> a batch dict of tensors."""
    return {k: paddle.to_tensor(np.stack([it[k] for it in items])) for k in ("image", "mask", "target")}


def evaluate(model, items: List[Dict[str, np.ndarray]]) -> Dict[str, float]:
    """fMSE (foreground MSE, 0-255 scale, as iHarmony4 papers report) and PSNR (dB, full image).

    ``model`` None scores the composite itself (the do-nothing reference).
    """
    fmse, psnr = [], []
    for item in items:
        if model is None:
            out = item["image"] * 255.0
        else:
            batch = stack([item])
            out = model.infer(batch["image"], batch["mask"]).numpy()[0] * 255.0
        target, mask = item["target"] * 255.0, item["mask"]
        err = (out - target) ** 2
        fmse.append(float((err * mask).sum() / max(3.0 * mask.sum(), 1.0)))
        psnr.append(float(10 * np.log10(255.0 ** 2 / max(err.mean(), 1e-10))))
    return {"fmse": float(np.mean(fmse)), "psnr": float(np.mean(psnr))}


def run(name: str, args, train_items, val_items, writer) -> List[Dict[str, float]]:
    """Train one method for the budget; one evaluation row per epoch (epoch 0 = untrained)."""
    paddle.seed(args.seed)
    model = ppinpaint.build_model(CONFIGS[name], opts=[f"model.generator.ngf={args.ngf}"])
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=args.lr)})
    rows = [{"epoch": 0, "seconds": 0.0, **evaluate(model.eval(), val_items)}]
    start, step = time.time(), 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_items))
        for i in range(args.steps):
            pick = order[(i * args.batch) % len(order):][:args.batch]
            losses = model.train_step(stack([train_items[j] for j in pick]), step)
            writer.add_scalar(f"{name}/train_mse", float(losses["mse"]), step)
            step += 1
        row = {"epoch": epoch, "seconds": time.time() - start, **evaluate(model.eval(), val_items)}
        for key in ("fmse", "psnr"):
            writer.add_scalar(f"{name}/val_{key}", row[key], epoch)
        print(f"{name:5s} epoch {epoch}: fMSE {row['fmse']:8.2f}  PSNR {row['psnr']:6.2f} dB  ({row['seconds']:.0f} s)",
              flush=True)
        rows.append(row)
    return rows


def plot(results: Dict[str, List[Dict[str, float]]], path: str) -> None:
    """fMSE and PSNR per epoch for each method, side by side, as a PNG (matplotlib-free)."""
    panels = []
    colours = {"unet": (200, 80, 40), "s2ad": (40, 120, 220)}
    for key in ("fmse", "psnr"):
        canvas = np.full((260, 360, 3), 255, np.uint8)
        values = [r[key] for rows in results.values() for r in rows]
        lo, hi = min(values), max(values)
        for name, rows in results.items():
            pts = [(30 + int(300 * r["epoch"] / max(1, rows[-1]["epoch"])),
                    230 - int(200 * (r[key] - lo) / max(hi - lo, 1e-9))) for r in rows]
            cv2.polylines(canvas, [np.int32(pts)], False, colours.get(name, (0, 0, 0)), 2)
            cv2.putText(canvas, name, (pts[-1][0] - 40, pts[-1][1] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        colours.get(name, (0, 0, 0)), 1)
        cv2.putText(canvas, f"{key} vs epoch  [{lo:.2f}, {hi:.2f}]", (10, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1)
        panels.append(canvas)
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=16, help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-items", type=int, default=64)
    parser.add_argument("--val-items", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="output/experiments/s2am_vs_unet")
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
    plot(results, os.path.join(args.out, "curves.png"))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"args": vars(args), "composite": reference, "results": results}, f, indent=1)
    print(f"\nfinal (same budget; the composite itself scores fMSE {reference['fmse']:.2f}, "
          f"PSNR {reference['psnr']:.2f} dB):")
    for name, rows in results.items():
        first, last = rows[0], rows[-1]
        print(f"  {name:5s} fMSE {first['fmse']:.2f} -> {last['fmse']:.2f}   PSNR {first['psnr']:.2f} -> "
              f"{last['psnr']:.2f} dB   train {last['seconds']:.0f} s")


if __name__ == "__main__":
    main()
