"""Official CSA checkpoints (``*_net_G/P/D/F.pth``) and torchvision VGG16 -> Paddle states.

Our nets keep the official ``Sequential`` indices, so keys map one to one; the only renames are
affine InstanceNorm ``weight`` -> ``scale``. Each source is recognised by its structure (first
conv shape), so the four files may be given in any order, and widths are read from the weights.
"""
from typing import Dict, List

from ..registry import CONVERTERS
from .common import ConversionError, State, map_state

FIRST = "model.model.0.weight"


def _kind(src: State) -> str:
    """'G' (refine), 'P' (rough), 'D' (patch critic) or 'F' (feature critic) from the first conv."""
    if FIRST in src:
        shape = tuple(src[FIRST].shape)
        if shape[1:] == (6, 3, 3):
            return "G"
        if shape[1:] == (3, 4, 4):
            return "P"
    if "model.0.weight" in src:
        return "F" if tuple(src["model.0.weight"].shape)[1] == 256 else "D"
    raise ConversionError("not an official CSA net_G/P/D/F state dict (unknown first layer)")


def _pairs(src: State, prefix: str, target: Dict[str, tuple]):
    """(src, dst, None) for every source key; norm ``weight`` becomes ``scale`` where needed."""
    pairs = []
    for key in src:
        dst = prefix + key
        if dst not in target and key.endswith(".weight") and dst[:-len("weight")] + "scale" in target:
            dst = dst[:-len("weight")] + "scale"
        pairs.append((key, dst, None))
    return pairs


@CONVERTERS.register(name="csa")
def convert_csa(sources: List[State]) -> Dict[str, State]:
    """Any of the official net_G, net_P, net_D, net_F -> {generator, discriminator, feature_discriminator}."""
    from ..modeling.discriminators.csa import CSAFeatureDiscriminator, CSAPatchDiscriminator
    from ..modeling.generators.csa import CSAGenerator

    by_kind: Dict[str, State] = {}
    for src in sources:
        kind = _kind(src)
        if kind in by_kind:
            raise ConversionError(f"two sources look like the official net_{kind}")
        by_kind[kind] = src
    if ("G" in by_kind) != ("P" in by_kind):
        raise ConversionError("the generator needs both net_G (refinement) and net_P (rough) weights")
    out: Dict[str, State] = {}
    if "G" in by_kind:
        ngf = int(by_kind["G"][FIRST].shape[0])
        net = CSAGenerator(ngf=ngf)
        shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        merged = {**{"rough." + k: v for k, v in by_kind["P"].items()},
                  **{"refine." + k: v for k, v in by_kind["G"].items()}}
        out["generator"] = map_state(merged, _pairs(merged, "", shapes), shapes, "csa generator (net_P + net_G)")
    if "D" in by_kind:
        net = CSAPatchDiscriminator(ndf=int(by_kind["D"]["model.0.weight"].shape[0]))
        shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        out["discriminator"] = map_state(by_kind["D"], _pairs(by_kind["D"], "", shapes), shapes, "csa net_D")
    if "F" in by_kind:
        net = CSAFeatureDiscriminator()
        shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        out["feature_discriminator"] = map_state(by_kind["F"], _pairs(by_kind["F"], "", shapes), shapes,
                                                 "csa net_F")
    return out


@CONVERTERS.register(name="torchvision_vgg16")
def convert_torchvision_vgg16(sources: List[State]) -> Dict[str, State]:
    """torchvision ``vgg16`` state dict (or the official ``Vgg16`` wrapper's) -> {'vgg16': state}."""
    from ..modeling.layers.vgg16 import from_features

    if len(sources) != 1:
        raise ConversionError(f"torchvision_vgg16 takes one state dict, got {len(sources)}")
    src = sources[0]
    if any(k.startswith("features.") for k in src):
        feats = {k[len("features."):]: v for k, v in src.items() if k.startswith("features.")}
        src = from_features(feats)
    net = _vgg_skeleton()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    return {"vgg16": map_state(src, [(k, k, None) for k in src if k in shapes], shapes, "vgg16",
                               ignore=lambda k: not k.startswith("slice"))}


def _vgg_skeleton():
    """A VGG16Features built without weights and without the random-features warning."""
    import logging

    from ..modeling.layers import vgg16

    level = vgg16.logger.level
    vgg16.logger.setLevel(logging.ERROR)
    try:
        return vgg16.VGG16Features()
    finally:
        vgg16.logger.setLevel(level)
