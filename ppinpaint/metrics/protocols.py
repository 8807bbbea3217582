"""Evaluation protocols: each published evaluation's exact per-image formula, by name.

A protocol turns one (output, target, mask, input) quadruple into a row of numbers; rows are then
averaged over images (``means.group_means``). Each protocol follows an official evaluation file,
line by line, not the paper's prose; ``docs/metrics.md`` lists where code and paper disagree.

Images come in as HxWx3 float in [0, 1] (a model's output) or uint8 (files), the mask as HxW in
[0, 1] (1 = foreground / hole). Ground truths and composites are 8-bit images as a loader read
them (``eight_bit``); network outputs become levels the way the official scripts cast them,
``astype(np.uint8)`` of a float32 product (truncation, pix2pix's ``tensor2im``: ``truncate``).
DoveNet's and RainNet's loaders (``ToTensor`` then ``Normalize(0.5, 0.5)``) and ``tensor2im`` run
in float32, and that round trip brings 63 of the 256 levels back one lower; those two protocols
apply it (``PIX2PIX_ROUND_TRIP``) to every loaded image, as their scripts do.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np
from skimage.metrics import structural_similarity

from ..utils.pixels import quantize

Row = Dict[str, float]
# (output, target, mask, input, output is itself a loaded 8-bit image such as the composite baseline)
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool], Row]


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """10·log10(peak² / mse); +inf for identical images."""
    return float("inf") if mse <= 0 else float(10.0 * np.log10(peak * peak / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> Tuple[float, np.ndarray]:
    """SSIM of two HxWx3 images on 0–255 (Wang et al. settings) and its HxW map (channel mean).

    The scalar is skimage's (the map's mean without the window-radius border); the map serves
    region means such as the hole-only SSIM.
    """
    value, full = structural_similarity(a, b, data_range=255.0, channel_axis=2, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, full=True)
    return float(value), full.mean(axis=2)


def eight_bit(x: np.ndarray) -> np.ndarray:
    """The 0-255 levels (float64) of an 8-bit image, given as uint8 or divided by 255."""
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    return quantize(x.astype(np.float64))


def truncate(x: np.ndarray) -> np.ndarray:
    """0-255 levels (float64) of a network output: ``(x * 255).astype(np.uint8)`` in float32; uint8 as is."""
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    return np.floor(np.clip(x, 0.0, 1.0).astype(np.float32) * np.float32(255.0)).astype(np.float64)


def _pix2pix_round_trip() -> np.ndarray:
    u = np.arange(256, dtype=np.float32)
    t = (u / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)      # ToTensor, Normalize(0.5, 0.5)
    return ((t + np.float32(1.0)) / np.float32(2.0) * np.float32(255.0)).astype(np.uint8).astype(np.float64)


# Level u of a loaded image -> the level tensor2im gives back (u - 1 for 63 of the 256 levels).
PIX2PIX_ROUND_TRIP = _pix2pix_round_trip()


def pix2pix_loaded(x: np.ndarray) -> np.ndarray:
    """An 8-bit image as DoveNet's / RainNet's loader + ``tensor2im`` hand it to the metric."""
    return PIX2PIX_ROUND_TRIP[eight_bit(x).astype(np.int64)]


def hard(mask: np.ndarray) -> np.ndarray:
    """The mask as 0/1 float64 (foreground / hole where > 0.5)."""
    return (mask > 0.5).astype(np.float64)


def psnr_range(output: np.ndarray, mse: float) -> float:
    """PSNR with ``data_range = output.max() - output.min()`` (DoveNet test.py, S²AM's notebook)."""
    # The range is taken as a Python number: with NumPy >= 2 a uint8 range squared would wrap
    # (NumPy 1.x, the scripts' era, promoted it to int64); skimage now casts it to float too.
    return psnr_from_mse(mse, float(output.max()) - float(output.min()))


def _fmse(o: np.ndarray, t: np.ndarray, m: np.ndarray) -> float:
    """Squared error summed over the foreground / (foreground pixels x 3); NaN without foreground."""
    fg = m.sum()
    return float((((o - t) ** 2) * m[:, :, None]).sum() / (fg * 3.0)) if fg else float("nan")


def _pix2pix_pair(out: np.ndarray, tgt: np.ndarray, loaded: bool) -> Tuple[np.ndarray, np.ndarray]:
    return (pix2pix_loaded(out) if loaded else truncate(out)), pix2pix_loaded(tgt)


def _iharmony4(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    o, t = _pix2pix_pair(out, tgt, loaded)
    mse = float(((o - t) ** 2).mean())
    return {"mse": mse, "psnr": psnr_range(o, mse), "fmse": _fmse(o, t, hard(mask))}


def unit(x: np.ndarray) -> np.ndarray:
    """A uint8 or [0,1] float image as float64 in [0, 1]."""
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def _s2am(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    # The notebook composites in float32 on [0, 1]; its loader has no Normalize, so no level is lost.
    m = mask.astype(np.float32)[:, :, None]
    composite = (eight_bit(image) / 255.0).astype(np.float32) * (np.float32(1.0) - m) + \
        (eight_bit(out) / 255.0 if loaded else unit(out)).astype(np.float32) * m
    o, t = truncate(composite), eight_bit(tgt)
    mse = float(((o - t) ** 2).mean())
    return {"mse": mse, "psnr": psnr_range(o, mse)}


def _rainnet(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    o, t = _pix2pix_pair(out, tgt, loaded)
    mse = float(((o - t) ** 2).mean())
    return {"mse": mse, "psnr": psnr_from_mse(mse, 255.0)}


def _fmse_protocol(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    o = eight_bit(out) if loaded else np.clip(unit(out), 0.0, 1.0) * 255.0
    t = eight_bit(tgt)
    m = hard(mask)
    sq = (o - t) ** 2
    mse = float(sq.mean())
    # iDIH's epsilons: 1e-6 in the fMSE denominator and beside each MSE under the PSNR's log.
    fmse = float((sq * m[:, :, None]).sum() / (3.0 * m.sum() + 1e-6))
    peak2 = float(t.max()) ** 2
    return {"mse": mse, "fmse": fmse, "psnr": float(10.0 * np.log10(peak2 / (mse + 1e-6))),
            "fpsnr": float(10.0 * np.log10(peak2 / (fmse + 1e-6)))}


def _deepfill_v1(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    o, t = unit(out).clip(0, 1), unit(tgt).clip(0, 1)
    err = o - t
    # Total variation per value (tf.image.total_variation / pixel values) of the completed image.
    tv = np.abs(np.diff(o, axis=0)).sum() + np.abs(np.diff(o, axis=1)).sum()
    return {"l1": 100.0 * float(np.abs(err).mean()), "l2": 100.0 * float((err ** 2).mean()),
            "tv": 100.0 * float(tv / o.size)}


def _pixel(out: np.ndarray, tgt: np.ndarray, mask: np.ndarray, image: np.ndarray, loaded: bool) -> Row:
    o, t = unit(out).clip(0, 1), unit(tgt).clip(0, 1)
    err = o - t
    row = {"l1": float(np.abs(err).mean()), "mse": float((err ** 2).mean())}
    row["psnr"] = psnr_from_mse(row["mse"])
    row["ssim"], smap = ssim(o * 255.0, t * 255.0)
    hole = mask > 0.5
    if hole.any():
        row["l1_hole"] = float(np.abs(err[hole]).mean())
        row["mse_hole"] = float((err[hole] ** 2).mean())
        row["psnr_hole"] = psnr_from_mse(row["mse_hole"])
        row["ssim_hole"] = float(smap[hole].mean())
    return row


@dataclass(frozen=True)
class Protocol:
    """A named, versioned evaluation: its task, reported keys, the official file it follows."""

    name: str
    version: int
    task: str
    keys: Tuple[str, ...]
    follows: str
    summary: str
    score: Scorer

    def describe(self) -> Dict[str, object]:
        """What ``metrics.json`` records about the protocol."""
        return {"name": self.name, "version": self.version, "task": self.task, "follows": self.follows,
                "summary": self.summary}


PROTOCOLS: Dict[str, Protocol] = {p.name: p for p in (
    Protocol("iharmony4", 1, "harmonization", ("mse", "psnr", "fmse"),
             "bcmi/Image-Harmonization-Dataset-iHarmony4 DoveNet/test.py (+ evaluation.py for fMSE)",
             "output cast to uint8 (truncation), target through the pix2pix loader round trip, then float32 "
             "0-255; MSE over all values; "
             "PSNR with data_range = output.max() - output.min(); fMSE = MSE(out*m, real*m)*H*W/fg", _iharmony4),
    Protocol("s2am", 1, "harmonization", ("mse", "psnr"),
             "vinthony/s2am eval_s2am_iharmony4.ipynb",
             "composite inputs*(1-mask) + outputs*mask, clamp(x*255) cast to uint8 (truncation); MSE; "
             "PSNR with data_range = output.max() - output.min()", _s2am),
    Protocol("rainnet", 1, "harmonization", ("mse", "psnr"),
             "junleen/RainNet evaluate.py",
             "output cast to uint8 (truncation), target through the pix2pix loader round trip; skimage "
             "mean_squared_error and "
             "peak_signal_noise_ratio (peak 255); per-image CSV with the foreground ratio", _rainnet),
    Protocol("fmse", 1, "harmonization", ("mse", "fmse", "psnr", "fpsnr"),
             "SamsungLabs/image_harmonization iharm/inference/metrics.py (iDIH; CDTNet/PCT-Net/DCCF copy it), "
             "fPSNR from bcmi/CDTNet-High-Resolution-Image-Harmonization",
             "float 0-255 output clamped, not quantised; MSE over all values; fMSE = sum over fg / "
             "(3*fg + 1e-6); PSNR, fPSNR = 10 log10(target.max()^2 / (MSE or fMSE + 1e-6))", _fmse_protocol),
    Protocol("deepfill_v1", 1, "inpainting", ("l1", "l2", "tv"),
             "Yu et al. CVPR 2018 Table 1 (no official evaluation script; neuralgym's l1_loss/l2_loss, "
             "tf.image.total_variation)",
             "on [0,1], whole completed image, in percent: mean |out-gt|, mean (out-gt)^2, and the "
             "output's total variation per value", _deepfill_v1),
    Protocol("pixel", 1, "inpainting", ("l1", "mse", "psnr", "ssim"),
             "MMagic / PaddleGAN pixel metrics (skimage SSIM settings of Wang et al. 2004)",
             "[0,1] float; L1, MSE, PSNR peak 1, SSIM (11x11 Gaussian sigma 1.5 on 0-255, channel mean) "
             "on the whole image and the hole (*_hole)", _pixel),
)}

# What the published comparison tables of each task use (docs/metrics.md).
DEFAULT_PROTOCOL = {"harmonization": "iharmony4", "inpainting": "pixel"}


def get_protocol(name: str, task: str) -> Protocol:
    """The protocol called ``name`` for ``task``; the error lists the task's protocols."""
    own = sorted(n for n, p in PROTOCOLS.items() if p.task == task)
    if name not in PROTOCOLS or PROTOCOLS[name].task != task:
        raise ValueError(f"unknown {task} protocol {name!r}; choose one of {', '.join(own)}")
    return PROTOCOLS[name]
