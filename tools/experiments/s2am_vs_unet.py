"""Plain U-Net vs S2AD on synthetic composites, same budget: fMSE / PSNR per epoch.

Both methods come from their configs (configs/s2am/quickstart_unet.yml, quickstart.yml: model,
optimizer, QuickstartHarmonization data), are trained by ``model.train_step`` on identical
batches, and are evaluated after every epoch by the project's evaluator and
HarmonizationMetrics. Writes VisualDL scalars, a plot PNG and a JSON summary under --out and
prints the table; the composite itself (no harmonization) is scored as the reference.

    PYTHONPATH=. python tools/experiments/s2am_vs_unet.py --epochs 10 --steps 30
"""
import argparse
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import paddle

import ppinpaint
from ppinpaint.builder import build_dataset
from ppinpaint.config import Config
from ppinpaint.engine.evaluator import build_metrics, evaluate
from ppinpaint.engine.optim import build_optimizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harmonization_report import write_report  # noqa: E402

CONFIGS = {"unet": "configs/s2am/quickstart_unet.yml", "s2ad": "configs/s2am/quickstart.yml"}
KEYS = ("fmse", "psnr")


def batch_of(dataset, indices, seed: int) -> Dict[str, paddle.Tensor]:
    """Items ``(index, seed)`` stacked into a batch dict of tensors."""
    items = [dataset[(int(i), seed)] for i in indices]
    return {k: paddle.to_tensor(np.stack([it[k] for it in items])) for k in ("image", "mask", "target")}


def composite_scores(dataset) -> Dict[str, float]:
    """The metrics of the unharmonized composite: the do-nothing reference."""
    metric = build_metrics([], "harmonization")[0]
    for i in range(len(dataset)):
        item = dataset[i]
        metric.update(item["image"][None], item["target"][None], item["mask"][None])
    return {k: metric.result()[k] for k in KEYS}


def train_variant(name: str, config: str, overrides: List[str], log_keys: List[str], args,
                  writer, keys: Sequence[str] = KEYS, curve: Optional[list] = None) -> List[Dict[str, float]]:
    """Train one config for the budget by ``model.train_step``; one evaluation row per epoch (0 = untrained).

    ``keys``: the metrics kept per row; ``curve`` (a list) receives ``log_keys`` of every step.
    """
    paddle.seed(args.seed)
    cfg = Config(config, overrides + [f"train_dataset.length={args.train_items}", f"val_dataset.length={args.val_items}"])
    model = ppinpaint.build_model(cfg)
    model.attach(build_optimizers(cfg["optimizers"], model.nets, cfg.origin)[0])
    train_set = build_dataset(cfg, "train_dataset", "training")
    val_set = build_dataset(cfg, "val_dataset", "evaluation")
    metrics = build_metrics([], model.task)

    def score() -> Dict[str, float]:
        values = evaluate(model, val_set, metrics, progress=False)
        return {k: values[k] for k in keys}

    rows = [{"epoch": 0, "seconds": 0.0, **score()}]
    start, step = time.time(), 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_set))
        for i in range(args.steps):
            pick = np.take(order, range(i * args.batch, (i + 1) * args.batch), mode="wrap")
            losses = model.train_step(batch_of(train_set, pick, args.seed + epoch), step)
            for key in log_keys:
                writer.add_scalar(f"{name}/train_{key}", float(losses[key]), step)
            if curve is not None:
                curve.append({"step": step, **{key: float(losses[key]) for key in log_keys}})
            step += 1
        row = {"epoch": epoch, "seconds": time.time() - start, **score()}
        for key in keys:
            writer.add_scalar(f"{name}/val_{key}", row[key], epoch)
        print(f"{name:8s} epoch {epoch}: " + "  ".join(f"{k} {row[k]:.4g}" for k in keys) + f"  ({row['seconds']:.0f} s)",
              flush=True)
        rows.append(row)
    return rows


def run(name: str, args, writer) -> List[Dict[str, float]]:
    """S2AD, S2ASC or the plain U-Net at width ``--ngf``."""
    return train_variant(name, CONFIGS[name], [f"model.generator.ngf={args.ngf}"], ["mse"], args, writer)


def compare_main(doc: str, configs: Dict[str, dict], run, **defaults) -> None:
    """Command line shared by the harmonization comparisons: train each config by ``run``, report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--steps", type=int, default=defaults["steps"], help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=defaults["batch"])
    parser.add_argument("--ngf", type=int, default=16, help="network width")
    parser.add_argument("--train-items", type=int, default=defaults["train_items"])
    parser.add_argument("--val-items", type=int, default=defaults["val_items"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=defaults["out"])
    args = parser.parse_args()
    from visualdl import LogWriter

    os.makedirs(args.out, exist_ok=True)
    first = next(iter(configs.values()))
    cfg = Config(first, [f"val_dataset.length={args.val_items}"])
    reference = composite_scores(build_dataset(cfg, "val_dataset", "evaluation"))
    print(f"composite (no harmonization): fMSE {reference['fmse']:.2f}  PSNR {reference['psnr']:.2f} dB")
    results = {}
    with LogWriter(logdir=os.path.join(args.out, "vdl")) as writer:
        for name in configs:
            results[name] = run(name, args, writer)
    write_report(args.out, vars(args), reference, results)


if __name__ == "__main__":
    compare_main(__doc__, CONFIGS, run, epochs=10, steps=30, batch=4, train_items=64, val_items=16,
                 out="output/experiments/s2am_vs_unet")
