"""Evaluation: ``model.infer`` over a dataset with fixed masks, metrics, and result grids.

Beside the protocol's size (the dataset's ``size``, 256² for iHarmony4), harmonization can also be
evaluated at full resolution (``full_resolution``: the long side capped, e.g. 1024, as the
high-resolution papers evaluate HAdobe5k), each image run through the model's high-resolution
strategy (:mod:`ppinpaint.highres`); those keys start with ``full-res``.
"""
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import paddle
from paddle.io import DataLoader
from tqdm import tqdm

from ..builder import build
from ..config import ConfigError
from ..metrics.task import TaskMetrics, update_all
from ..predict import predict_array
from ..registry import METRICS
from .logger import make_grid, save_png
from .sampler import EvalBatchSampler

DEFAULT_METRICS = {"inpainting": "InpaintingMetrics", "harmonization": "HarmonizationMetrics"}


def build_metrics(configs: List[Any], task: str, origin=None, protocol: Optional[str] = None,
                  bins: Optional[List[float]] = None, baseline: bool = True) -> list:
    """Metric objects from ``eval.metrics`` (names or ``{type: ...}``), or the task's default.

    ``protocol``, ``bins`` and ``baseline`` (``eval.protocol`` / ``eval.bins`` / ``eval.baseline``,
    ``--protocol``) go to the task metric unless its entry sets its own.
    """
    configs_given = bool(configs)
    configs = configs or [DEFAULT_METRICS[task]]
    shared = {"protocol": protocol, "bins": bins, "baseline": baseline}
    metrics = []
    for i, c in enumerate(configs):
        c = dict(c) if isinstance(c, dict) else {"type": c}
        if c.get("type") in DEFAULT_METRICS.values():
            c = {**{k: v for k, v in shared.items() if v is not None}, **c}
        # The builder names the section in its errors: the task's default metric is configured by eval.*.
        metrics.append(build(c, METRICS, where=f"eval.metrics[{i}]" if configs_given else "eval", origin=origin))
    return metrics


def metrics_from_config(ec: Mapping[str, Any], task: str, origin=None) -> list:
    """``build_metrics`` from an ``eval`` section (its metrics, protocol, bins and baseline)."""
    return build_metrics(ec["metrics"], task, origin, protocol=ec["protocol"], bins=ec["bins"],
                         baseline=bool(ec["baseline"]))


@paddle.no_grad()
def evaluate_full_resolution(model, dataset, metrics: List[TaskMetrics], max_side: int, n: int,
                             highres: Optional[Mapping[str, Any]] = None, progress: bool = True) -> Dict[str, float]:
    """Harmonization at each image's own size (long side capped at ``max_side``) through the
    high-resolution strategy of ``predict``; ``full-res`` keys for the model and its baseline."""
    options = {k: v for k, v in (highres or {}).items() if k in ("strategy", "max_size", "margin")}
    twins = [type(m)(protocol=m.protocol.name, bins=m.bins.edges, baseline=bool(m.baseline)) for m in metrics]
    for i in tqdm(range(n), desc="eval full-res", disable=not progress):
        item = dataset.original(i, int(max_side))
        result = predict_array(model, item["image"], item["mask"], **options)
        chw = [x.transpose(2, 0, 1)[None] for x in (result, item["target"], item["image"])]
        update_all(twins, chw[0], chw[1], item["mask"][None, None], [item["subset"]], chw[2], [item["name"]])
    results: Dict[str, float] = {}
    for m in twins:
        for key, value in m.result().items():
            run, sep, rest = key.rpartition(":")
            results[f"full-res {run}:{rest}" if sep else f"full-res:{key}"] = float(value)
    return results


@paddle.no_grad()
def evaluate(model, dataset, metrics: list, batch_size: int = 1, num_workers: int = 0,
             max_samples: Optional[int] = None, image_dir: Optional[str] = None, save_images: int = 8,
             progress: bool = True, on_grid: Optional[Callable[[str, Any], None]] = None,
             full_resolution: int = 0, highres: Optional[Mapping[str, Any]] = None) -> Dict[str, float]:
    """Run ``model.infer`` on every item (its mask fixed by its index) and return all metric values.

    ``image_dir`` receives up to ``save_images`` grids (input | mask | output | target) named after
    the samples; ``on_grid(name, rgb)`` also gets each (the trainer logs them to VisualDL).
    ``full_resolution`` > 0 adds the harmonization task metrics at full resolution (long side capped
    there), the model run with ``highres`` (``predict``'s strategy, max_size, margin).
    """
    if full_resolution and (model.task != "harmonization" or not hasattr(dataset, "original")):
        raise ConfigError(f"eval.full_resolution is for harmonization on a dataset with original images "
                          f"(HarmonizationDataset), not {model.task} on {type(dataset).__name__}")
    was_training = [net.training for net in model.nets.values()]
    model.eval()
    for m in metrics:
        m.reset()
    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    loader = DataLoader(dataset, batch_sampler=EvalBatchSampler(n, batch_size), num_workers=num_workers)
    names: set = set()
    engine = getattr(model, "engine", None)  # a compiled model's engine, named in the bar
    for batch in tqdm(loader, total=(n + batch_size - 1) // batch_size, desc=f"eval ({engine})" if engine else "eval",
                      disable=not progress):
        image, mask, target = batch["image"], batch["mask"], batch["target"]
        output = model.infer(image, mask)
        out_np = output.numpy()
        update_all(metrics, out_np, target.numpy(), mask.numpy(), batch.get("subset"), image.numpy(), batch.get("name"))
        if image_dir and len(names) < save_images:
            for i in range(min(out_np.shape[0], save_images - len(names))):
                visuals = {"input": image[i:i + 1], "mask": mask[i:i + 1], "output": output[i:i + 1],
                           "target": target[i:i + 1]}
                grid = make_grid(visuals, hole=model.task == "inpainting")
                name = _stem(batch["name"][i], names)
                names.add(name)
                save_png(os.path.join(image_dir, name + ".png"), grid)
                if on_grid:
                    on_grid(name, grid)
    results: Dict[str, float] = {}
    for m in metrics:
        results.update({k: float(v) for k, v in m.result().items()})
    results["num_samples"] = float(n)
    if full_resolution:
        task_metrics = [m for m in metrics if isinstance(m, TaskMetrics)]
        results.update(evaluate_full_resolution(model, dataset, task_metrics, full_resolution, n, highres, progress))
    for net, flag in zip(model.nets.values(), was_training):
        if flag:
            net.train()
    return results


def _stem(name: str, taken: set) -> str:
    """A file-name-safe stem of a sample name (``a/b/x.jpg`` -> ``x``), made unique among ``taken``."""
    base = os.path.splitext(os.path.basename(str(name)))[0]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in base)[:80] or "sample"
    unique, k = stem, 1
    while unique in taken:
        unique, k = f"{stem}_{k}", k + 1
    return unique


def log_scalars(results: Mapping[str, float], logdir: str, step: int = 0,
                grids: Sequence[Tuple[str, Any]] = ()) -> None:
    """Every result (model, baseline, full-res; overall, subsets, bins) as VisualDL ``eval/<key>``.

    ``grids``: ``(sample name, RGB grid)`` pairs from ``evaluate(on_grid=...)``, logged as images ``eval/<name>``.
    """
    from visualdl import LogWriter

    with LogWriter(logdir=logdir) as writer:
        for key, value in results.items():
            writer.add_scalar(tag=f"eval/{key}", value=float(value), step=step)
        for name, grid in grids:
            writer.add_image(tag=f"eval/{name}", img=grid, step=step)
