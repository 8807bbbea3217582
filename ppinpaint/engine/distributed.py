"""Data-parallel helpers on ``paddle.distributed`` (NCCL on GPU, gloo on CPU)."""
import os
from typing import Iterable

import paddle
import paddle.distributed as dist


def world_size() -> int:
    """Number of training processes (1 when not launched in parallel)."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank() -> int:
    """This process's rank (0 when not launched in parallel)."""
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def init() -> None:
    """Join the process group when launched by ``paddle.distributed.launch`` or ``spawn``."""
    if world_size() > 1 and not dist.is_initialized():
        dist.init_parallel_env()


def broadcast_parameters(layers: Iterable[paddle.nn.Layer]) -> None:
    """Copy rank 0's parameters and buffers to every rank, so all replicas start equal."""
    if world_size() <= 1:
        return
    for layer in layers:
        for tensor in list(layer.parameters()) + list(layer.buffers()):
            dist.broadcast(tensor, src=0)


def all_reduce_gradients(params: Iterable[paddle.Tensor]) -> None:
    """Average gradients over ranks in one fused all-reduce.

    Done by hand instead of ``paddle.DataParallel`` because a GAN step backwards several
    losses through overlapping nets (and a gradient penalty through a double backward);
    averaging exactly the parameters an optimizer is about to step is always correct.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = paddle.concat([g.reshape([-1]) for g in grads])
    dist.all_reduce(flat)
    flat = flat / float(world_size())
    offset = 0
    for g in grads:
        n = int(g.numel())
        paddle.assign(flat[offset:offset + n].reshape(g.shape), output=g)
        offset += n
