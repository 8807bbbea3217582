"""Official RainNet checkpoints (junleen/RainNet ``net_G*.pth``, ``net_D*.pth``) -> Paddle.

The generator's named layers and ``UnetBlockCodec`` recursion become our flat, level-indexed
lists (see ``modeling/generators/rainnet.py``); the discriminator keeps the official names
(spectral norm included: ``weight_orig``, ``weight_u``, ``weight_v``). InstanceNorm layers
have no affine parameters and so no keys. Each source is recognised by its keys, so the
generator and discriminator files may be given in any order.
"""
from typing import Dict, List, Optional, Tuple

from ..registry import CONVERTERS
from .common import ConversionError, State, Transform, map_state

_RAIN = ("foreground_gamma", "foreground_beta", "background_gamma", "background_beta")
_SUB = "submodule."


def _block(depth: int) -> str:
    """Prefix of the official ``UnetBlockCodec`` at recursion ``depth`` (0 = outermost block)."""
    return "unet_block." + _SUB * depth


def _generator_modules() -> List[Tuple[str, str]]:
    """(official module, our module) for every weight-holding generator layer."""
    block = _block
    pairs = [("model_layer0", "down.0")] + [(f"model_layer{i}.1", f"down.{i}") for i in (1, 2, 3)]
    pairs += [(block(d) + "down.1", f"down.{4 + d}") for d in range(3)]
    pairs += [(block(3) + "up.1", "down.7"), (block(3) + "up.3", "up.7"), (block(3) + "upnorm", "up_norm.6")]
    pairs += [(block(d) + "up.1", f"up.{4 + d}") for d in range(3)]
    pairs += [(block(d) + "upnorm", f"up_norm.{3 + d}") for d in range(3)]
    for name, level in (("model_layer11", 3), ("model_layer12", 2), ("model_layer13", 1)):
        pairs += [(f"{name}.1", f"up.{level}"), (f"{name}norm", f"up_norm.{level - 1}"),
                  (f"{name}att.0", f"gates.{level - 1}")]
    return pairs + [("model_out.1", "up.0")]


def generator_options(src: State) -> Dict[str, object]:
    """Generator options implied by an official state dict (width, input channels, norm)."""
    first = src.get("model_layer0.weight")
    if first is None or first.ndim != 4:
        raise ConversionError("not an official RainNet generator: no model_layer0.weight")
    norm = "rain" if "model_layer11norm.foreground_gamma" in src else "instance"
    return {"ngf": int(first.shape[0]), "input_nc": int(first.shape[1]), "norm": norm}


def generator_pairs(shapes: Dict[str, tuple]) -> List[Tuple[str, str, Transform]]:
    """(official key, Paddle key, transform) for every parameter of a generator with these ``shapes``."""
    pairs = []
    for official, ours in _generator_modules():
        leaves = _RAIN if ours.startswith("up_norm") else ("weight", "bias")
        pairs += [(f"{official}.{leaf}", f"{ours}.{leaf}", None) for leaf in leaves if f"{ours}.{leaf}" in shapes]
    return pairs


def generator_shapes(options: Dict[str, object]) -> Dict[str, tuple]:
    """Parameter shapes of our generator built with ``options``."""
    from ..modeling.generators.rainnet import RainNetGenerator

    net = RainNetGenerator(**options)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def convert_generator(src: State) -> State:
    """Official ``net_G`` state -> ``RainNetGenerator`` state (strict)."""
    shapes = generator_shapes(generator_options(src))
    return map_state(src, generator_pairs(shapes), shapes, "RainNet generator")


def discriminator_shapes(ndf: int) -> Dict[str, tuple]:
    """Parameter shapes of our discriminator at width ``ndf``."""
    from ..modeling.discriminators.rainnet import RainNetDiscriminator

    return {k: tuple(v.shape) for k, v in RainNetDiscriminator(ndf=ndf).state_dict().items()}


def convert_discriminator(src: State) -> State:
    """Official ``net_D`` state -> ``RainNetDiscriminator`` state (same names, strict)."""
    first = src.get("D.conv1.weight_orig")
    if first is None or first.ndim != 4:
        raise ConversionError("not an official RainNet discriminator: no D.conv1.weight_orig")
    shapes = discriminator_shapes(int(first.shape[0]))
    return map_state(src, [(k, k, None) for k in src], shapes, "RainNet discriminator")


def _role(src: State) -> Optional[str]:
    if "model_layer0.weight" in src:
        return "generator"
    if "D.conv1.weight_orig" in src:
        return "discriminator"
    return None


@CONVERTERS.register(name="rainnet")
def convert_rainnet(sources: List[State]) -> Dict[str, State]:
    """Official ``net_G`` and/or ``net_D`` state dicts -> ``{generator, discriminator}`` Paddle states."""
    out: Dict[str, State] = {}
    for index, src in enumerate(sources):
        role = _role(src)
        if role is None:
            raise ConversionError(f"source {index} is neither a RainNet net_G nor net_D state dict "
                                  f"(first keys: {sorted(src)[:3]})")
        if role in out:
            raise ConversionError(f"two {role} state dicts given (source {index} repeats one)")
        out[role] = convert_generator(src) if role == "generator" else convert_discriminator(src)
    return out
