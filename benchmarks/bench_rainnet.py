"""RainNet speed and memory: inference latency (batch 1 and 8, 256² and 512²) and one training step.

One JSON line per measurement (benchmarks/common.py). The training step is the full GAN step
(critic with gradient penalty, then generator). Example:
    PYTHONPATH=. python benchmarks/bench_rainnet.py --ngf 64 --ndf 64
"""
import argparse

import ppinpaint
from harmonization_bench import bench_inference, bench_train_step  # benchmarks/ is sys.path[0]
from ppinpaint.engine.optim import Adam


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
    cfg = {"model": {"type": "RainNet",
                     "generator": {"type": "RainNetGenerator", "ngf": args.ngf, "norm": args.norm},
                     "discriminator": {"type": "RainNetDiscriminator", "ndf": args.ndf}}}
    model = ppinpaint.build_model(cfg)
    common = {"model": "rainnet", "ngf": args.ngf, "ndf": args.ndf, "norm": args.norm}
    bench_inference(model, common, args.sizes, args.batches, args.repeat)
    model.attach({role: Adam(model.parameters([role]), learning_rate=2e-4, beta1=0.5)
                  for role in ("generator", "discriminator")})
    bench_train_step(model, common, args.train_batch, args.repeat, loss_key="G")


if __name__ == "__main__":
    main()
