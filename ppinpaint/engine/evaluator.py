"""Evaluation: ``model.infer`` over a dataset with fixed masks, metrics, and result grids."""
import os
from typing import Any, Callable, Dict, List, Optional

import paddle
from paddle.io import DataLoader
from tqdm import tqdm

from ..builder import build
from ..registry import METRICS
from .logger import make_grid, save_png
from .sampler import EvalBatchSampler

DEFAULT_METRICS = {"inpainting": "InpaintingMetrics", "harmonization": "HarmonizationMetrics"}


def build_metrics(configs: List[Any], task: str, origin=None) -> list:
    """Metric objects from ``eval.metrics`` (names or ``{type: ...}``), or the task's default."""
    configs = configs or [DEFAULT_METRICS[task]]
    return [build(c if isinstance(c, dict) else {"type": c}, METRICS, where=f"eval.metrics[{i}]", origin=origin)
            for i, c in enumerate(configs)]


@paddle.no_grad()
def evaluate(model, dataset, metrics: list, batch_size: int = 1, num_workers: int = 0,
             max_samples: Optional[int] = None, image_dir: Optional[str] = None, save_images: int = 8,
             progress: bool = True, on_grid: Optional[Callable[[str, Any], None]] = None) -> Dict[str, float]:
    """Run ``model.infer`` on every item (its mask fixed by its index) and return all metric values.

    ``image_dir`` receives up to ``save_images`` grids (input | mask | output | target) named after
    the samples; ``on_grid(name, rgb)`` also gets each (the trainer logs them to VisualDL).
    """
    was_training = [net.training for net in model.nets.values()]
    model.eval()
    for m in metrics:
        m.reset()
    n = len(dataset) if max_samples is None else min(len(dataset), int(max_samples))
    loader = DataLoader(dataset, batch_sampler=EvalBatchSampler(n, batch_size), num_workers=num_workers)
    names: set = set()
    for batch in tqdm(loader, total=(n + batch_size - 1) // batch_size, desc="eval", disable=not progress):
        image, mask, target = batch["image"], batch["mask"], batch["target"]
        output = model.infer(image, mask)
        out_np = output.numpy()
        subsets = batch.get("subset")
        for m in metrics:
            m.update(out_np, target.numpy(), mask.numpy(), subsets=subsets)
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
    for net, flag in zip(model.nets.values(), was_training):
        if flag:
            net.train()
    results: Dict[str, float] = {}
    for m in metrics:
        results.update({k: float(v) for k, v in m.result().items()})
    results["num_samples"] = float(n)
    return results


def _stem(name: str, taken: set) -> str:
    """A file-name-safe stem of a sample name (``a/b/x.jpg`` -> ``x``), made unique among ``taken``."""
    base = os.path.splitext(os.path.basename(str(name)))[0]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in base)[:80] or "sample"
    unique, k = stem, 1
    while unique in taken:
        unique, k = f"{stem}_{k}", k + 1
    return unique
