"""S²AM speed and memory: inference latency (batch 1 and 8, 256² and 512²) and one training step.

One JSON line per measurement (benchmarks/common.py). Example:
    python benchmarks/bench_s2am.py --ngf 64 --attention s2ad
"""
import argparse

import numpy as np
import paddle

import ppinpaint
from common import emit, peak_rss_mb, time_call  # benchmarks/ is sys.path[0] when run as a script
from ppinpaint.engine.optim import Adam


def build(ngf: int, attention: str):
    """The S2AM method with a randomly initialised generator."""
    cfg = {"model": {"type": "S2AM", "generator": {"type": "S2AMUNet", "ngf": ngf, "attention": attention}}}
    return ppinpaint.build_model(cfg)


def inputs(batch: int, size: int, seed: int = 0):
    """Random composites with a rectangular foreground per sample."""
    rng = np.random.default_rng(seed)
    image = paddle.to_tensor(rng.random((batch, 3, size, size), dtype=np.float32))
    mask = np.zeros((batch, 1, size, size), np.float32)
    mask[:, :, size // 4: size // 2 + size // 4, size // 4: size // 2 + size // 4] = 1.0
    return image, paddle.to_tensor(mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--attention", default="s2ad", choices=["s2ad", "s2asc", "none"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model = build(args.ngf, args.attention).eval()
    common = {"model": "s2am", "ngf": args.ngf, "attention": args.attention}
    for size in args.sizes:
        for batch in args.batches:
            image, mask = inputs(batch, size)
            timing = time_call(lambda: model.infer(image, mask).numpy(), warmup=1, repeat=args.repeat)
            emit({**common, "what": "infer", "batch": batch, "size": size, **timing,
                  "ms_per_image": timing["median_ms"] / batch, "peak_rss_mb": round(peak_rss_mb(), 1)})
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=1e-3)})
    model.train()
    image, mask = inputs(args.train_batch, 256)
    batch = {"image": image, "mask": mask, "target": image}
    step = iter(range(10 ** 6))
    timing = time_call(lambda: float(model.train_step(batch, next(step))["total"]), warmup=1, repeat=args.repeat)
    emit({**common, "what": "train_step", "batch": args.train_batch, "size": 256, **timing,
          "peak_rss_mb": round(peak_rss_mb(), 1)})


if __name__ == "__main__":
    main()
