"""Measurements shared by the harmonization benchmarks: inference latency grid and one training step."""
from typing import Dict, Iterable, Tuple

import numpy as np
import paddle

from common import emit, peak_rss_mb, time_call  # benchmarks/ is sys.path[0] when run as a script


def composites(batch: int, size: int, seed: int = 0) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """Random [0,1] images with a centred square foreground per sample."""
    rng = np.random.default_rng(seed)
    image = paddle.to_tensor(rng.random((batch, 3, size, size), dtype=np.float32))
    mask = np.zeros((batch, 1, size, size), np.float32)
    mask[:, :, size // 4: size // 2 + size // 4, size // 4: size // 2 + size // 4] = 1.0
    return image, paddle.to_tensor(mask)


def bench_inference(model, common: Dict[str, object], sizes: Iterable[int], batches: Iterable[int],
                    repeat: int) -> None:
    """One JSON line per (size, batch): ``model.infer`` latency and peak RSS."""
    model.eval()
    for size in sizes:
        for batch in batches:
            image, mask = composites(batch, size)
            timing = time_call(lambda: model.infer(image, mask).numpy(), warmup=1, repeat=repeat)
            emit({**common, "what": "infer", "batch": batch, "size": size, **timing,
                  "ms_per_image": timing["median_ms"] / batch, "peak_rss_mb": round(peak_rss_mb(), 1)})


def bench_train_step(model, common: Dict[str, object], batch: int, repeat: int, loss_key: str,
                     size: int = 256) -> None:
    """One JSON line: ``model.train_step`` time (the model already has its optimizers attached)."""
    model.train()
    image, mask = composites(batch, size)
    data = {"image": image, "mask": mask, "target": image}
    steps = iter(range(10 ** 6))
    timing = time_call(lambda: float(model.train_step(data, next(steps))[loss_key]), warmup=1, repeat=repeat)
    emit({**common, "what": "train_step", "batch": batch, "size": size, **timing,
          "peak_rss_mb": round(peak_rss_mb(), 1)})
