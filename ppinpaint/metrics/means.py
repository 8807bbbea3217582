"""How per-image metric rows become reported numbers: means over images, overall and per subset."""
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np


def mean_finite(values: Sequence[float]) -> float:
    """Mean of the finite values (PSNR's +inf of identical images and undefined NaNs are skipped)."""
    kept = [v for v in values if np.isfinite(v)]
    return float(np.mean(kept)) if kept else float("nan")


def subset_means(rows: List[Dict[str, float]], subsets: List[str], keys: Sequence[str]) -> Dict[str, float]:
    """Means over all images (not over subset means) and, with several subsets, ``<subset>/<key>``."""
    groups = defaultdict(list)
    for row, subset in zip(rows, subsets):
        groups[subset].append(row)
    out = {k: mean_finite([r[k] for r in rows]) for k in keys}
    if len(groups) > 1 or "all" not in groups:
        for subset, members in sorted(groups.items()):
            out.update({f"{subset}/{k}": mean_finite([r[k] for r in members]) for k in keys})
    return out
