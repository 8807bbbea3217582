"""A task's pixel metrics over a dataset: one protocol, ratio bins, and the baseline beside the model.

Every image is scored by the chosen protocol (``protocols.PROTOCOLS``) and, when the input is
given, so is the baseline a user should beat: for harmonization the untouched composite, for
inpainting OpenCV's Telea inpainting (``cv2.inpaint``, radius 3) of the same hole. Baseline keys
carry its name: ``composite:psnr``, ``telea:hole10-20pct/psnr``. Images are also grouped by the
mask's ratio (foreground for harmonization, hole for inpainting; RainNet's ``mask.mean()``).
"""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from .means import BIN_PREFIX, DEFAULT_EDGES, RatioBins, group_means
from .protocols import DEFAULT_PROTOCOL, eight_bit, get_protocol

BASELINES = {"harmonization": "composite", "inpainting": "telea"}
TELEA_RADIUS = 3


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's Telea inpainting of the hole (mask > 0.5) of an HxWx3 image; uint8 result."""
    u8 = eight_bit(image).astype(np.uint8)
    return cv2.inpaint(u8, (mask > 0.5).astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)


def _hwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(1, 2, 0))


class TaskMetrics:
    """Per-image protocol rows for one task, averaged overall, per subset and per ratio bin."""

    task = ""

    def __init__(self, protocol: Optional[str] = None, bins: Optional[Sequence[float]] = None,
                 baseline: bool = True) -> None:
        self.protocol = get_protocol(protocol or DEFAULT_PROTOCOL[self.task], self.task)
        self.bins = RatioBins(DEFAULT_EDGES[self.task] if bins is None else bins, BIN_PREFIX[self.task])
        self.baseline = BASELINES[self.task] if baseline else None
        self.reset()

    def reset(self) -> None:
        """Forget accumulated samples."""
        self.rows: List[Dict[str, float]] = []
        self.baseline_rows: List[Dict[str, float]] = []
        self.groups: List[List[str]] = []
        self.samples: List[Dict[str, object]] = []

    def _baseline_output(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return image if self.task == "harmonization" else telea(image, mask)

    def update(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, subsets: Optional[list] = None,
               image: Optional[np.ndarray] = None, names: Optional[list] = None) -> None:
        """Add a batch: NCHW images in [0,1] (or uint8), N1HW mask (1 = foreground / hole),
        optional subset names, the model's input (needed by ``s2am`` and the baseline) and file names."""
        if image is None and self.protocol.name == "s2am":
            raise ValueError("the s2am protocol composites the model's input: pass image= (eval_folders: --inputs)")
        for i in range(len(output)):
            out, tgt, m = _hwc(output[i]), _hwc(target[i]), np.asarray(mask[i][0], np.float64)
            img = _hwc(image[i]) if image is not None else out
            ratio = float(m.mean())
            row = self.protocol.score(out, tgt, m, img, False)
            subset, label = (str(subsets[i]) if subsets is not None else None), self.bins.label(ratio)
            self.groups.append([g for g in (subset, label, subset and label and f"{subset} {label}") if g])
            self.rows.append(row)
            sample: Dict[str, object] = {"name": str(names[i]) if names is not None else f"{len(self.samples):06d}",
                                         "subset": subset or "", "ratio": ratio, **row}
            if self.baseline and image is not None:
                # The composite is a loaded image (as the official loaders read it); Telea's result is computed.
                base = self.protocol.score(self._baseline_output(img, m), tgt, m, img, self.task == "harmonization")
                self.baseline_rows.append(base)
                sample.update({f"{self.baseline}:{k}": v for k, v in base.items()})
            self.samples.append(sample)

    def result(self) -> Dict[str, float]:
        """Model means (``psnr``, ``<group>/psnr``) and the baseline's (``composite:psnr`` …)."""
        out = group_means(self.rows, self.groups)
        if self.baseline_rows:
            base = group_means(self.baseline_rows, self.groups)
            out.update({f"{self.baseline}:{k}": v for k, v in base.items() if not k.endswith("num_samples")})
        return out

    def describe(self) -> Dict[str, object]:
        """The protocol, bin edges and baseline, as ``metrics.json`` records them."""
        return {"protocol": self.protocol.describe(), "bins": {"of": f"{BIN_PREFIX[self.task]} ratio",
                                                               "edges": self.bins.edges},
                "baseline": self.baseline}

    def per_image(self) -> List[Dict[str, object]]:
        """One row per image: name, subset, mask ratio, the protocol's values (and the baseline's)."""
        return self.samples


def update_all(metrics: Sequence, output: np.ndarray, target: np.ndarray, mask: np.ndarray,
               subsets: Optional[list] = None, image: Optional[np.ndarray] = None,
               names: Optional[list] = None) -> None:
    """Update each metric with a batch (float in [0,1] or uint8); the input image and names go to the
    task metrics only, the others get float images in [0, 1]."""
    for m in metrics:
        if isinstance(m, TaskMetrics):
            m.update(output, target, mask, subsets=subsets, image=image, names=names)
        else:
            m.update(_unit(output), _unit(target), mask, subsets=subsets)


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x
