"""How per-image metric rows become reported numbers: means over images, overall, per subset and
per mask-ratio bin.

Result keys: ``<metric>`` is the mean over all images; ``<group>/<metric>`` the mean over a
group's images, with ``<group>/num_samples`` beside it. Groups are the dataset's subsets
(``HCOCO``), ratio bins (``fg5-15pct``, ``hole10-20pct``) and both (``HCOCO fg5-15pct``). The overall
value is the mean over all images, not the mean of group means.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

# Published bin edges: foreground ratio in the harmonization papers that report by it (e.g.
# iDIH, DCCF: 0-5 %, 5-15 %, 15-100 %); hole-area ratio in the inpainting tables (PConv,
# AOT-GAN: 0-10 % ... 50-60 %).
DEFAULT_EDGES = {"harmonization": (0.0, 0.05, 0.15, 1.0),
                 "inpainting": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)}
BIN_PREFIX = {"harmonization": "fg", "inpainting": "hole"}


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


def _percent(x: float) -> str:
    return f"{100.0 * x:g}"


class RatioBins:
    """Half-open ratio bins ``[lo, hi)`` (the last one closed) with labels such as ``fg5-15pct``."""

    def __init__(self, edges: Sequence[float], prefix: str) -> None:
        edges = [float(e) for e in edges]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0 or edges[-1] > 1:
            raise ValueError(f"bin edges must be at least two increasing ratios in [0, 1], got {edges}")
        self.edges = edges
        self.labels = [f"{prefix}{_percent(a)}-{_percent(b)}pct" for a, b in zip(edges, edges[1:])]

    def label(self, ratio: float) -> Optional[str]:
        """The bin of ``ratio``, or None outside every bin (the image then counts only overall)."""
        for label, lo, hi in zip(self.labels, self.edges, self.edges[1:]):
            if lo <= ratio < hi or (hi == self.edges[-1] and ratio == hi):
                return label
        return None


def group_means(rows: List[Dict[str, float]], groups: List[List[str]]) -> Dict[str, float]:
    """Means of every key over all rows and over each group's rows (a row may be in several groups).

    A key missing from a row (hole metrics of an image without a hole) is skipped for that row.
    """
    keys = sorted({k for r in rows for k in r})
    out = {k: mean_finite([r[k] for r in rows if k in r]) for k in keys}
    out["num_samples"] = float(len(rows))
    members: Dict[str, List[Dict[str, float]]] = defaultdict(list)
    for row, names in zip(rows, groups):
        for name in names:
            members[name].append(row)
    for name, group in members.items():
        out[f"{name}/num_samples"] = float(len(group))
        out.update({f"{name}/{k}": mean_finite([r[k] for r in group if k in r]) for k in keys})
    return out
