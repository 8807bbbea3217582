"""Official S²AM checkpoints (vinthony/s2am ``*.pth.tar``, arch rascv1 / rascv2 / unet / urasc) -> S2AMUNet.

The official net is a recursion: level ``i`` lives under ``model.model`` + ``.sub.model`` x i,
with ``down.{0|1,2}``, ``up.{1,2}`` and ``attention.*``; ours is a flat ``levels.{i}``.
Architecture options (width, attention placement, mask-free) are read off the checkpoint.
"""
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..registry import CONVERTERS
from .common import ConversionError, State, Transform, linear_to_paddle, map_state

_LEVEL = re.compile(r"^model\.model\.((?:sub\.model\.)*)(.*)$")
_BN = {"weight": "weight", "bias": "bias", "running_mean": "_mean", "running_var": "_variance"}
# official S²AM submodule -> (ours, is a Linear whose weight needs transposing)
_BLOCKS = {"connection.rconv1": ("learn.conv1", False), "connection.rbn1": ("learn.bn1", False),
           "connection.rconv2": ("learn.conv2", False), "connection.rbn2": ("learn.bn2", False),
           "background_attention.fc.0": ("background_gate.fc1", True),
           "background_attention.fc.2": ("background_gate.fc2", True),
           "mixed_attention.fc.0": ("mixed_gate.fc1", True), "mixed_attention.fc.2": ("mixed_gate.fc2", True),
           "spliced_attention.fc.0": ("spliced_gate.fc1", True), "spliced_attention.fc.2": ("spliced_gate.fc2", True),
           "mask_attention.fc.0": ("mask_head.conv1", False), "mask_attention.fc.2": ("mask_head.conv2", False)}
GAUSSIAN = "gaussianMask.weight"


def _split_level(key: str) -> Optional[Tuple[int, str]]:
    match = _LEVEL.match(key)
    if not match:
        return None
    return match.group(1).count("sub.model."), match.group(2)


def _block_key(rest: str) -> Optional[Tuple[str, Transform]]:
    """Paddle name and transform of one official S²AM key (``rest`` after ``attention.``)."""
    module, _, leaf = rest.rpartition(".")
    if module not in _BLOCKS or leaf == "num_batches_tracked":
        return None
    name, linear = _BLOCKS[module]
    if name.rsplit(".", 1)[-1].startswith("bn"):
        leaf = _BN.get(leaf, leaf)
    return f"{name}.{leaf}", (linear_to_paddle if linear and leaf == "weight" else None)


def paddle_key(official: str) -> Optional[Tuple[str, Transform]]:
    """(Paddle key, transform) for one official generator key, or None if it is not a weight of ours."""
    parts = _split_level(official)
    if parts is None:
        return None
    level, rest = parts
    prefix = f"levels.{level}."
    if rest.startswith("attention."):
        mapped = _block_key(rest[len("attention."):])
        return (prefix + "attention." + mapped[0], mapped[1]) if mapped else None
    module, _, leaf = rest.rpartition(".")
    role = {"down.0": "down_conv", "down.1": "down_conv", "down.2": "down_norm",
            "up.1": "up_conv", "up.2": "up_norm"}.get(module)
    if role is None or leaf == "num_batches_tracked":
        return None
    return prefix + f"{role}.{_BN.get(leaf, leaf) if role.endswith('norm') else leaf}", None


def block_state(src: State, prefix: str) -> State:
    """Paddle state of one S²AM layer from official ``RASC`` keys starting with ``prefix``."""
    out = {}
    for key, value in src.items():
        if key.startswith(prefix):
            mapped = _block_key(key[len(prefix):])
            if mapped:
                out[mapped[0]] = mapped[1](value) if mapped[1] else np.asarray(value)
    return out


def infer_options(src: State) -> Dict[str, object]:
    """Generator options implied by an official state dict (width, attention type, mask-free)."""
    first = src.get("model.model.down.0.weight")
    if first is None or first.ndim != 4:
        raise ConversionError("not an official S2AM U-Net: no model.model.down.0.weight")
    ngf = int(first.shape[0])
    mask_free = any(".mask_attention." in k for k in src)
    rconv = [(k, v) for k, v in src.items() if k.endswith("attention.connection.rconv1.weight")]
    if not rconv:
        attention = "none"
    else:
        # S2AD blocks see cat(skip, up): twice the level's outer width (S2ASC: once).
        key, value = min(rconv, key=lambda kv: kv[0].count("sub.model"))
        attention = "s2ad" if value.shape[1] == 2 * ngf else "s2asc"
    if first.shape[1] != (3 if mask_free else 4):
        raise ConversionError(f"model.model.down.0.weight has {first.shape[1]} input channels; the S2AM nets "
                              f"take {'RGB (mask-free)' if mask_free else 'RGB + mask'}")
    return {"ngf": ngf, "attention": attention, "mask_free": mask_free}


def check_gaussian(src: State) -> None:
    """The official smoothing buffers must equal the kernel our layer computes itself."""
    from ..modeling.layers.s2am import gaussian_kernel

    expected = gaussian_kernel()
    for key in (k for k in src if k.endswith(GAUSSIAN)):
        value = np.asarray(src[key], dtype=np.float32)
        if value.shape != expected.shape or np.abs(value - expected).max() > 1e-6:
            raise ConversionError(f"{key}: smoothing kernel differs from the official 5x5 (sigma 1) kernel")


@CONVERTERS.register(name="s2am")
def convert_s2am(sources: List[State]) -> Dict[str, State]:
    """Official S²AM state dict -> ``{'generator': S2AMUNet state}`` (strict)."""
    from ..modeling.generators.s2am import S2AMUNet

    if len(sources) != 1:
        raise ConversionError(f"s2am takes one checkpoint, got {len(sources)}")
    src = sources[0]
    options = infer_options(src)
    check_gaussian(src)
    net = S2AMUNet(**options)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    pairs = []
    for key in src:
        mapped = paddle_key(key)
        if mapped:
            pairs.append((key, mapped[0], mapped[1]))
    state = map_state(src, pairs, shapes, "s2am generator",
                      ignore=lambda k: k.endswith("num_batches_tracked") or k.endswith(GAUSSIAN))
    return {"generator": state}
