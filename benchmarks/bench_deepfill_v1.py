"""DeepFill v1 speed and memory: inference latency (batch 1 and 8, 256² and 512²) and one training step.

One JSON line per measurement (benchmarks/common.py). The training step is one critic update
with both gradient penalties plus one generator update (``n_critic: 1`` so every step measures
both; the official schedule runs the generator on every 5th). Example:
    PYTHONPATH=. python benchmarks/bench_deepfill_v1.py --cnum 32 --ndf 64
    PYTHONPATH=. python benchmarks/bench_deepfill_v1.py --sizes 1024 --batches 1   # chunked attention
"""
import argparse

import ppinpaint
from harmonization_bench import bench_inference, bench_train_step  # benchmarks/ is sys.path[0]
from ppinpaint.engine.optim import Adam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnum", type=int, default=32)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--chunk-mib", type=float, default=256.0, help="contextual attention score budget")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-train", action="store_true", help="inference only")
    args = parser.parse_args()
    critic = {"type": "DeepFillV1Critic", "ndf": args.ndf}
    cfg = {"model": {"type": "DeepFillV1", "n_critic": 1,
                     "generator": {"type": "DeepFillV1Generator", "cnum": args.cnum,
                                   "attention": {"chunk_mib": args.chunk_mib}},
                     "local_discriminator": {**critic, "input_size": 128, "width_mults": [1, 2, 4, 8]},
                     "global_discriminator": {**critic, "input_size": 256}}}
    model = ppinpaint.build_model(cfg)
    common = {"model": "deepfill_v1", "cnum": args.cnum, "ndf": args.ndf, "chunk_mib": args.chunk_mib}
    bench_inference(model, common, args.sizes, args.batches, args.repeat)
    if args.no_train:
        return
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=1e-4, beta1=0.5, beta2=0.9),
                  "discriminator": Adam(model.parameters(["local_discriminator", "global_discriminator"]),
                                        learning_rate=1e-4, beta1=0.5, beta2=0.9)})
    bench_train_step(model, common, args.train_batch, args.repeat, loss_key="d")


if __name__ == "__main__":
    main()
