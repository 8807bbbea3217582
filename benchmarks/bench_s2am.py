"""S²AM speed and memory: inference latency (batch 1 and 8, 256² and 512²) and one training step.

One JSON line per measurement (benchmarks/common.py). Example:
    PYTHONPATH=. python benchmarks/bench_s2am.py --ngf 64 --attention s2ad
"""
import argparse

import ppinpaint
from harmonization_bench import bench_inference, bench_train_step  # benchmarks/ is sys.path[0]
from ppinpaint.engine.optim import Adam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--attention", default="s2ad", choices=["s2ad", "s2asc", "none"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cfg = {"model": {"type": "S2AM", "generator": {"type": "S2AMUNet", "ngf": args.ngf, "attention": args.attention}}}
    model = ppinpaint.build_model(cfg)
    common = {"model": "s2am", "ngf": args.ngf, "attention": args.attention}
    bench_inference(model, common, args.sizes, args.batches, args.repeat)
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=1e-3)})
    bench_train_step(model, common, args.train_batch, args.repeat, loss_key="total")


if __name__ == "__main__":
    main()
