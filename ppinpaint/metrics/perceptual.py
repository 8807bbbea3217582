"""FID and LPIPS: metrics computed by pretrained networks whose weights the user supplies locally.

ppinpaint never downloads them. ``weights`` is either a ``.safetensors`` (or older ``.pdparams``) written by
``tools/convert_weights.py fid_inception|lpips`` or the original PyTorch file(s), converted in
memory by the same converter (read with the restricted unpickler, never full pickle):

- FID: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``;
- LPIPS: ``[<torchvision alexnet-owt-7be5be79.pth | vgg16-397923af.pth>, <lpips weights/v0.1/alex.pth | vgg.pth>]``.

FID follows pytorch-fid: 2048-d pool features of the outputs and of the targets (or of reference
statistics saved as ``.npz`` with ``mu`` and ``sigma``, pytorch-fid's ``--save-stats`` format), mean and
``np.cov``, Fréchet distance with ``scipy.linalg.sqrtm`` (1e-6 on the diagonals if the product is
singular). LPIPS follows ``lpips.LPIPS(version='0.1')`` on the [0, 1] images, averaged over images.
"""
import logging
import os
import warnings
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import paddle
from scipy import linalg

from ..registry import CONVERTERS, METRICS
from ..utils.weight_files import WeightsFileError, read_state_file
from ..utils.weights import load_net_state
from .inception import FIDInceptionV3, state_for_dims
from .lpips_net import LPIPSNet, backbone_of
from .means import subset_means

logger = logging.getLogger(__name__)

Weights = Union[str, Sequence[str], None]

HOW_TO_GET = {
    "fid_inception": "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (its FID_WEIGHTS_URL), then "
                     "`python tools/convert_weights.py fid_inception --src pt_inception-2015-12-05-6726825d.pth "
                     "--dst weights/fid_inception.safetensors`",
    "lpips": "torchvision's alexnet-owt-7be5be79.pth and the lpips package's weights/v0.1/alex.pth, then "
             "`python tools/convert_weights.py lpips --src alexnet-owt-7be5be79.pth --src alex.pth "
             "--dst weights/lpips_alex.safetensors`",
}


class MetricWeightsError(FileNotFoundError):
    """A metric network's weights are not given or not usable (a user error: one line, exit code 2)."""


def load_metric_state(weights: Weights, role: str, metric: str) -> Dict[str, np.ndarray]:
    """The ``role`` state from a converted ``.safetensors``/``.pdparams`` or from the original file(s), converted in memory."""
    if not weights:
        raise MetricWeightsError(f"{metric} needs its network weights as a local file (the metric's 'weights' "
                                 f"key); ppinpaint never downloads them. Get {HOW_TO_GET[role]}")
    paths = [weights] if isinstance(weights, str) else list(weights)
    for path in paths:
        if not os.path.isfile(path):
            raise MetricWeightsError(f"{metric} weights not found: {path}. Get {HOW_TO_GET[role]}")
    if len(paths) == 1 and paths[0].endswith((".safetensors", ".pdparams")):
        try:
            state = read_state_file(paths[0])  # no pickle code runs, whatever the file holds
        except WeightsFileError as e:
            raise MetricWeightsError(f"{metric} weights: {e}") from None
        if role not in state:
            raise MetricWeightsError(f"{paths[0]} holds no {role!r} weights (found: {sorted(state)[:4]}); "
                                     f"convert with `tools/convert_weights.py {role}`")
        return {k: np.asarray(v) for k, v in state[role].items()}
    # Imported here: the converters' file readers are only needed for this path.
    from ..convert.run import load_source

    try:
        return CONVERTERS.get(role)([load_source(p) for p in paths])[role]
    except (ValueError, OSError) as e:  # every reader and converter error is one of these
        raise MetricWeightsError(f"{metric} weights {', '.join(paths)}: {e}") from None


def _set_state(net: paddle.nn.Layer, state: Dict[str, np.ndarray], metric: str) -> None:
    try:
        load_net_state(net, state, f"{metric} network", ignore_unexpected=True)
    except ValueError as e:
        raise MetricWeightsError(str(e)) from None


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """||mu1-mu2||² + Tr(S1 + S2 - 2 sqrt(S1 S2)), pytorch-fid's stable form."""
    diff = mu1 - mu2
    # pytorch-fid passes disp=False (deprecated in SciPy 1.17): no printed estimate, same matrix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            logger.warning("FID: singular covariance product; adding %g to the diagonals", eps)
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in sqrtm")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def statistics(activations: np.ndarray) -> Dict[str, np.ndarray]:
    """``mu`` and ``sigma`` (float64, as pytorch-fid) of [N, dims] activations."""
    act = np.asarray(activations, dtype=np.float64)
    return {"mu": act.mean(axis=0), "sigma": np.cov(act, rowvar=False)}


def _batches(images: np.ndarray, size: int):
    for start in range(0, images.shape[0], size):
        yield paddle.to_tensor(np.ascontiguousarray(images[start:start + size], dtype=np.float32))


@METRICS.register()
class FID:
    """Fréchet Inception Distance of the outputs against the targets or reference statistics."""

    def __init__(self, weights: Weights = None, dims: int = 2048, ref_stats: Optional[str] = None,
                 batch_size: int = 16) -> None:
        self.net = FIDInceptionV3(int(dims))
        _set_state(self.net, state_for_dims(load_metric_state(weights, "fid_inception", "FID"), self.net), "FID")
        self.batch_size = int(batch_size)
        self.reference = None
        if ref_stats:
            if not os.path.isfile(ref_stats):
                raise MetricWeightsError(f"FID ref_stats not found: {ref_stats}")
            with np.load(ref_stats, allow_pickle=False) as z:
                if "mu" not in z.files or "sigma" not in z.files:
                    raise MetricWeightsError(f"FID ref_stats {ref_stats} must hold 'mu' and 'sigma' "
                                             f"(pytorch-fid --save-stats), found {z.files}")
                self.reference = {"mu": z["mu"].astype(np.float64), "sigma": z["sigma"].astype(np.float64)}
            if self.reference["mu"].shape != (self.net.dims,):
                raise MetricWeightsError(f"FID ref_stats {ref_stats} are {self.reference['mu'].shape[0]}-d, "
                                         f"the metric uses dims {self.net.dims}")
        self.reset()

    def reset(self) -> None:
        """Forget accumulated activations."""
        self.outputs: List[np.ndarray] = []
        self.targets: List[np.ndarray] = []

    @paddle.no_grad()
    def activations(self, images: np.ndarray) -> np.ndarray:
        """[N, dims] pool features of NCHW float images in [0, 1]."""
        return np.concatenate([self.net(x).numpy() for x in _batches(images, self.batch_size)], axis=0)

    def update(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, subsets: Optional[list] = None) -> None:
        """Add a batch of outputs and targets (NCHW float in [0,1]); the mask is not used."""
        self.outputs.append(self.activations(output))
        if self.reference is None:
            self.targets.append(self.activations(target))

    def result(self) -> Dict[str, float]:
        """``{'fid': value}`` over every image seen (NaN with a warning below 2 images)."""
        n = sum(a.shape[0] for a in self.outputs)
        if n < 2:
            logger.warning("FID needs at least 2 images, got %d", n)
            return {"fid": float("nan")}
        out = statistics(np.concatenate(self.outputs))
        ref = self.reference or statistics(np.concatenate(self.targets))
        return {"fid": frechet_distance(out["mu"], out["sigma"], ref["mu"], ref["sigma"])}


@METRICS.register()
class LPIPS:
    """LPIPS distance of each output to its target, averaged over images (and per subset)."""

    def __init__(self, weights: Weights = None, batch_size: int = 16) -> None:
        state = load_metric_state(weights, "lpips", "LPIPS")
        try:
            self.net = LPIPSNet(backbone_of(state))
        except ValueError as e:
            raise MetricWeightsError(f"LPIPS: {e}") from None
        _set_state(self.net, state, "LPIPS")
        self.batch_size = int(batch_size)
        self.reset()

    def reset(self) -> None:
        """Forget accumulated distances."""
        self.rows: List[Dict[str, float]] = []
        self.subsets: List[str] = []

    @paddle.no_grad()
    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """[N] distances of NCHW float images in [0, 1]."""
        return np.concatenate([self.net(x, y).numpy() for x, y in zip(_batches(a, self.batch_size),
                                                                        _batches(b, self.batch_size))])

    def update(self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, subsets: Optional[list] = None) -> None:
        """Add a batch (NCHW float in [0,1]); the mask is not used."""
        for i, d in enumerate(self.distances(output, target).tolist()):
            self.rows.append({"lpips": d})
            self.subsets.append(str(subsets[i]) if subsets is not None else "all")

    def result(self) -> Dict[str, float]:
        """Mean over images, and ``<subset>/lpips`` when samples carry subsets."""
        return subset_means(self.rows, self.subsets, ("lpips",))
