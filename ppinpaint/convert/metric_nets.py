"""Weights of the metric networks -> Paddle: pytorch-fid's Inception and the LPIPS backbone + lin layers.

``fid_inception``: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow FID graph
ported to torchvision's Inception3 layout). The 1008-way ``fc`` and BatchNorm counters are not used.

``lpips``: the ``lpips`` package's calibration file (``weights/v0.1/alex.pth`` or ``vgg.pth``,
keys ``lin<k>.model.1.weight``) together with torchvision's ImageNet backbone
(``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``; ``classifier.*`` is not used), given in any
order; or one state dict of a whole ``lpips.LPIPS`` module (``net.slice<k>.<i>.*`` + ``lin<k>.*``).
"""
import re
from typing import Dict, List, Tuple

from ..registry import CONVERTERS
from .common import ConversionError, State, map_state

_BN_STATS = {"running_mean": "_mean", "running_var": "_variance"}
_LIN = re.compile(r"^lin(\d)\.model\.\d+\.weight$")
_SLICE = re.compile(r"^net\.slice\d\.(\d+)\.(weight|bias)$")


def _shapes(net) -> Dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


@CONVERTERS.register(name="fid_inception")
def convert_fid_inception(sources: List[State]) -> Dict[str, State]:
    """pytorch-fid's FID Inception (pt_inception-2015-12-05-6726825d.pth) -> {'fid_inception': state}."""
    from ..metrics.inception import FIDInceptionV3

    if len(sources) != 1:
        raise ConversionError(f"fid_inception takes one state dict, got {len(sources)}")
    src = sources[0]
    if "Mixed_7c.branch_pool.conv.weight" not in src:
        raise ConversionError("not pytorch-fid's FID Inception: no Mixed_7c.branch_pool.conv.weight "
                              f"(first keys: {sorted(src)[:3]})")
    pairs = []
    for key in src:
        head, _, leaf = key.rpartition(".")
        if leaf in _BN_STATS:
            pairs.append((key, f"{head}.{_BN_STATS[leaf]}", None))
        elif leaf in ("weight", "bias") and not key.startswith(("fc.", "AuxLogits.")):
            pairs.append((key, key, None))
    unused = lambda key: key.endswith("num_batches_tracked") or key.startswith(("fc.", "AuxLogits."))
    return {"fid_inception": map_state(src, pairs, _shapes(FIDInceptionV3(2048)), "FID Inception", ignore=unused)}


def _lpips_parts(sources: List[State]) -> Tuple[State, State]:
    """(lin layers, backbone features) keyed as our ``LPIPSNet``, from one or two sources."""
    lins, feats = {}, {}
    for index, src in enumerate(sources):
        kinds = 0
        for key, value in src.items():
            lin, part = _LIN.match(key), _SLICE.match(key)
            if lin:
                lins[f"lin{lin.group(1)}.weight"] = value
            elif part:
                feats[f"features.{part.group(1)}.{part.group(2)}"] = value
            elif key.startswith("features."):
                feats[key] = value
            elif not key.startswith(("classifier.", "scaling_layer.")):
                raise ConversionError(f"lpips: source {index} has a key that is neither an LPIPS lin layer nor "
                                      f"a torchvision backbone weight: {key}")
            else:
                continue
            kinds += 1
        if not kinds:
            raise ConversionError(f"lpips: source {index} holds no LPIPS or backbone weights")
    if not lins:
        raise ConversionError("lpips: no lin layers given (the lpips package's weights/v0.1/<net>.pth)")
    if not feats:
        raise ConversionError("lpips: no backbone given (torchvision's alexnet-owt-7be5be79.pth or "
                              "vgg16-397923af.pth)")
    return lins, feats


@CONVERTERS.register(name="lpips")
def convert_lpips(sources: List[State]) -> Dict[str, State]:
    """lpips lin file + torchvision AlexNet/VGG16 file (or one lpips.LPIPS state) -> {'lpips': state}."""
    from ..metrics.lpips_net import LPIPSNet, backbone_of

    lins, feats = _lpips_parts(sources)
    if len(lins) != 5:
        raise ConversionError(f"lpips: {len(lins)} lin layers given; only AlexNet and VGG16 (5 layers) are "
                              "supported (SqueezeNet has 7)")
    try:
        net = LPIPSNet(backbone_of(lins))
    except ValueError as e:
        raise ConversionError(f"lpips: {e}") from None
    src = {**lins, **feats}
    shapes = _shapes(net)
    # torchvision's backbone goes on past the last layer LPIPS taps (a final max-pool has no weights).
    pairs = [(k, k, None) for k in src if k in shapes]
    return {"lpips": map_state(src, pairs, shapes, f"LPIPS ({net.net})", ignore=lambda k: k not in shapes)}
