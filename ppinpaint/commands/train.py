"""``ppinpaint train`` / ``tools/train.py``: train a model from a config (optionally data-parallel)."""
import argparse
import os
from typing import List, Optional

from .common import config_parser, run_command, threads_arg


def _spawn_worker(config, output: Optional[str], resume: Optional[str], overwrite: bool) -> None:
    from ..engine.trainer import Trainer

    Trainer(config, output_dir=output, resume=resume, overwrite=overwrite).train()


def _train(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..engine import distributed
    from ..engine.trainer import Trainer

    cfg = Config(args.config, args.opts)
    nprocs = args.nprocs or int(cfg.section("train")["nprocs"])
    if nprocs > 1 and distributed.world_size() == 1:
        import paddle

        # gloo on CPU; NCCL when this Paddle build has CUDA and a GPU.
        backend = "nccl" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "gloo"
        paddle.distributed.spawn(_spawn_worker, args=(cfg, args.output, args.resume, args.overwrite), nprocs=nprocs,
                                 backend=backend)
        return 0
    trainer = Trainer(cfg, output_dir=args.output, resume=args.resume, overwrite=args.overwrite)
    trainer.train()
    print(f"done: outputs in {trainer.output_dir} (VisualDL: visualdl --logdir {os.path.join(trainer.output_dir, 'vdl')})")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Train a model from a config."""
    p = config_parser(prog="train", description="Train a model from a YAML config.")
    p.add_argument("--resume", metavar="CKPT_DIR",
                   help="continue a run: a checkpoint folder, or a run folder (uses checkpoints/latest)")
    p.add_argument("--output", metavar="DIR", help="run folder (default: train.output_dir, or the resumed run's)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in a folder that holds another run (its checkpoints are deleted); "
                        "without it such a folder is refused")
    p.add_argument("--nprocs", type=int, default=0,
                   help="data-parallel processes to spawn on this machine (gloo on CPU, NCCL on GPU)")
    threads_arg(p)
    return run_command(_train, p.parse_args(argv))
