"""Optimizers and learning-rate schedules built from the ``optimizers:`` config section."""
from typing import Any, Callable, Dict, List, Optional, Tuple

import paddle

from ..builder import build
from ..config import ConfigError
from ..registry import LR_SCHEDULERS, OPTIMIZERS


@LR_SCHEDULERS.register()
def LinearDecay(learning_rate: float, start_iter: int, end_iter: int,
                step_every: int = 1) -> paddle.optimizer.lr.LRScheduler:
    """Constant until ``start_iter``, then linear to 0 at ``end_iter`` (pix2pix's niter + niter_decay).

    ``step_every``: the rate changes only every that many iterations (an epoch), as the official
    pix2pix-style codes step their scheduler once per epoch: at iteration ``it`` the rate is the
    one of ``it`` rounded down to a multiple of ``step_every``.
    """
    if end_iter <= start_iter:
        raise ConfigError(f"LinearDecay needs end_iter > start_iter, got {start_iter}..{end_iter}")
    if step_every < 1:
        raise ConfigError(f"LinearDecay needs step_every >= 1, got {step_every}")
    span = float(end_iter - start_iter)
    return paddle.optimizer.lr.LambdaDecay(
        learning_rate, lambda it: 1.0 - min(max(it // step_every * step_every - start_iter, 0), span) / span)


@LR_SCHEDULERS.register()
def MultiStepDecay(learning_rate: float, milestones: List[int], gamma: float = 0.1) -> paddle.optimizer.lr.LRScheduler:
    """Multiply the rate by ``gamma`` at each milestone iteration."""
    return paddle.optimizer.lr.MultiStepDecay(learning_rate, milestones=list(milestones), gamma=gamma)


@OPTIMIZERS.register()
def Adam(parameters: list, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
         epsilon: float = 1e-8, weight_decay: Optional[float] = None, grad_clip: Any = None) -> paddle.optimizer.Adam:
    """Adam with torch's argument meaning (epsilon added outside the square root, as in Paddle)."""
    return paddle.optimizer.Adam(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                 parameters=parameters, weight_decay=weight_decay, grad_clip=grad_clip)


@OPTIMIZERS.register()
def AdamW(parameters: list, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
          epsilon: float = 1e-8, weight_decay: float = 0.01, grad_clip: Any = None) -> paddle.optimizer.AdamW:
    """AdamW (decoupled weight decay)."""
    return paddle.optimizer.AdamW(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                  parameters=parameters, weight_decay=weight_decay, grad_clip=grad_clip)


@OPTIMIZERS.register()
def SGD(parameters: list, learning_rate: Any = 1e-2, momentum: float = 0.0,
        weight_decay: Optional[float] = None, grad_clip: Any = None) -> paddle.optimizer.Optimizer:
    """SGD, with momentum when ``momentum`` > 0."""
    if momentum:
        return paddle.optimizer.Momentum(learning_rate=learning_rate, momentum=momentum, parameters=parameters,
                                         weight_decay=weight_decay, grad_clip=grad_clip)
    return paddle.optimizer.SGD(learning_rate=learning_rate, parameters=parameters,
                                weight_decay=weight_decay, grad_clip=grad_clip)


def build_optimizers(section: Dict[str, dict], nets: Dict[str, paddle.nn.Layer],
                     origin: Callable[[str], str]) -> Tuple[Dict[str, paddle.optimizer.Optimizer],
                                                            Dict[str, paddle.optimizer.lr.LRScheduler]]:
    """``{name: optimizer}`` and ``{name: scheduler}`` from ``optimizers: {name: {type, nets, ...}}``."""
    optimizers, schedulers = {}, {}
    claimed: Dict[str, str] = {}
    for name, raw in (section or {}).items():
        where = f"optimizers.{name}"
        if not isinstance(raw, dict) or "type" not in raw:
            raise ConfigError(f"{where} must be a mapping with 'type' (set in {origin(where)})")
        cfg = dict(raw)
        roles = cfg.pop("nets", None)
        if not roles:
            raise ConfigError(f"{where}.nets must list the nets it trains (set in {origin(where)})")
        for role in roles:
            if role not in nets:
                raise ConfigError(f"{where}.nets: the model has no net {role!r}; it has {sorted(nets)} "
                                  f"(set in {origin(where + '.nets')})")
            if role in claimed:
                raise ConfigError(f"{where}.nets: {role!r} is already trained by optimizers.{claimed[role]}")
            claimed[role] = name
        lr = cfg.get("learning_rate", 1e-3)
        sched_cfg = cfg.pop("lr_scheduler", None)
        if sched_cfg:
            sched = build(sched_cfg, LR_SCHEDULERS, where=where + ".lr_scheduler", origin=origin, learning_rate=lr)
            schedulers[name] = sched
            cfg["learning_rate"] = sched
        clip = cfg.pop("grad_clip", None)
        if clip:
            cfg["grad_clip"] = paddle.nn.ClipGradByGlobalNorm(float(clip))
        params = [p for role in roles for p in nets[role].parameters() if not p.stop_gradient]
        optimizers[name] = build(cfg, OPTIMIZERS, where=where, origin=origin, parameters=params)
    return optimizers, schedulers
