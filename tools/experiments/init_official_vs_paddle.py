"""``init: official`` vs ``init: paddle`` for each model, same seed and budget: loss curves.

Each model's quickstart config is built twice from one seed, once with every net's ``init:
official`` (the official code's initialisation, ``modeling/init.py``) and once with ``init: paddle``
(Paddle's layer defaults); both train by ``model.train_step`` on identical batches (the shared
runner of s2am_vs_unet.py) and are evaluated after every epoch (PSNR; fMSE too for harmonization).
Writes VisualDL scalars, ``<model>_losses.png`` (training losses per step) and ``summary.json``
under --out, and prints the final table. The model docs quote a run of:

    PYTHONPATH=. python tools/experiments/init_official_vs_paddle.py --epochs 3 --steps 10
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harmonization_report import plot_curves  # noqa: E402
from s2am_vs_unet import train_variant  # noqa: E402

# model: (config, nets (roles with an init key), losses logged, metrics kept, width overrides)
MODELS = {
    "deepfill_v1": ("configs/deepfill_v1/quickstart.yml", ["generator", "local_discriminator", "global_discriminator"],
                    ["l1", "ae", "d"], ["psnr"], []),
    "csa": ("configs/csa/quickstart.yml", ["generator", "discriminator", "feature_discriminator"],
            ["G_L1", "D"], ["psnr"], []),
    "rainnet": ("configs/rainnet/quickstart.yml", ["generator", "discriminator"], ["G_L1", "D"], ["fmse", "psnr"],
                ["model.generator.ngf=8", "model.discriminator.ndf=8"]),
    "s2am": ("configs/s2am/quickstart.yml", ["generator"], ["mse"], ["fmse", "psnr"], ["model.generator.ngf=16"]),
}


def main() -> None:
    """Train both initialisations of each model named on the command line; report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"some of {', '.join(MODELS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--train-items", type=int, default=16)
    parser.add_argument("--val-items", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="output/experiments/init_official_vs_paddle")
    args = parser.parse_args()
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    from visualdl import LogWriter

    os.makedirs(args.out, exist_ok=True)
    summary = {"args": vars(args), "models": {}}
    with LogWriter(logdir=os.path.join(args.out, "vdl")) as writer:
        for model in args.models or list(MODELS):
            config, roles, losses, keys, widths = MODELS[model]
            rows, curves = {}, {}
            for init in ("official", "paddle"):
                curves[init] = []
                overrides = widths + [f"model.{role}.init={init}" for role in roles]
                rows[init] = train_variant(f"{model}/{init}", config, overrides, losses, args, writer,
                                           keys=keys, curve=curves[init])
            plot_curves(curves, None, os.path.join(args.out, f"{model}_losses.png"), keys=losses, x="step")
            summary["models"][model] = {"rows": rows, "curves": curves}
            for init in rows:
                first, last = rows[init][0], rows[init][-1]
                tail = curves[init][-args.steps:]
                means = "  ".join(f"{k} {sum(c[k] for c in tail) / len(tail):.4g}" for k in losses)
                print(f"{model:12s} {init:8s} " + "  ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in keys)
                      + f"   last-epoch mean losses: {means}   ({last['seconds']:.0f} s)", flush=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
