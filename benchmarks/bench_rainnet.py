"""RainNet speed and memory: inference latency (batch 1 and 8, 256² and 512²) and one training step.

One JSON line per measurement (benchmarks/common.py). The training step is the full GAN step
(critic with gradient penalty, then generator). Example:
    python benchmarks/bench_rainnet.py --ngf 64 --ndf 64
"""
import argparse

import paddle

import ppinpaint
from bench_s2am import inputs  # random composites with a foreground per sample (shared helper)
from common import emit, peak_rss_mb, time_call  # benchmarks/ is sys.path[0] when run as a script
from ppinpaint.engine.optim import Adam


def build(ngf: int, ndf: int, norm: str):
    """The RainNet method with randomly initialised nets."""
    cfg = {"model": {"type": "RainNet",
                     "generator": {"type": "RainNetGenerator", "ngf": ngf, "norm": norm},
                     "discriminator": {"type": "RainNetDiscriminator", "ndf": ndf}}}
    return ppinpaint.build_model(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--norm", default="rain", choices=["rain", "instance"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model = build(args.ngf, args.ndf, args.norm).eval()
    common = {"model": "rainnet", "ngf": args.ngf, "ndf": args.ndf, "norm": args.norm}
    for size in args.sizes:
        for batch in args.batches:
            image, mask = inputs(batch, size)
            timing = time_call(lambda: model.infer(image, mask).numpy(), warmup=1, repeat=args.repeat)
            emit({**common, "what": "infer", "batch": batch, "size": size, **timing,
                  "ms_per_image": timing["median_ms"] / batch, "peak_rss_mb": round(peak_rss_mb(), 1)})
    model.attach({role: Adam(model.parameters([role]), learning_rate=2e-4, beta1=0.5)
                  for role in ("generator", "discriminator")})
    model.train()
    image, mask = inputs(args.train_batch, 256)
    batch = {"image": image, "mask": mask, "target": image}
    step = iter(range(10 ** 6))
    timing = time_call(lambda: float(model.train_step(batch, next(step))["G"]), warmup=1, repeat=args.repeat)
    emit({**common, "what": "train_step", "batch": args.train_batch, "size": 256, **timing,
          "peak_rss_mb": round(peak_rss_mb(), 1)})


if __name__ == "__main__":
    main()
