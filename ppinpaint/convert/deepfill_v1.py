"""DeepFill v1 checkpoints -> Paddle: daa233's PyTorch port and the official TensorFlow v1 release.

- ``deepfill_v1`` (daa233/generative-inpainting-pytorch): ``gen_*.pt`` holds the generator under
  our own names; ``dis_*.pt`` holds ``{'localD': ..., 'globalD': ...}``. Linear weights are
  transposed; everything else maps key for key.
- ``deepfill_v1_tf`` (JiahuiYu/generative_inpainting v1.0.0): ``inpaint_net/<layer>/kernel|bias``
  and ``discriminator/{discriminator_local,discriminator_global}/conv*/…``, ``dout_*_fc``.
  Kernels go HWIO -> OIHW; the dense kernels were applied to NHWC-flattened features and are
  reordered for our NCHW flatten. The TF weights expect BGR input, TF 'SAME' padding and the TF
  attention conventions: use the generator options ``padding: tf_same``, ``channel_order: bgr``
  (``configs/deepfill_v1/*.yml`` are set so). Optimizer slots and step counters are skipped.

Widths (cnum, ndf, critic widths and input sizes) are read from the weights; both converters
are strict (every key used, every parameter filled, shapes checked).
"""
import math
import re
from typing import Dict, List, Tuple

import numpy as np

from ..registry import CONVERTERS
from .common import ConversionError, State, Transform, linear_to_paddle, map_state

CRITICS = {"localD": "local_discriminator", "globalD": "global_discriminator"}
_TF_SKIP = re.compile(r"(/Adam(_\d+)?$|(^|/)global_step$|(^|/)beta\d_power(_\d+)?$|/ExponentialMovingAverage$)")


def generator_shapes(cnum: int) -> Dict[str, tuple]:
    """Parameter shapes of our generator at width ``cnum``."""
    from ..modeling.generators.deepfill_v1 import DeepFillV1Generator

    return {k: tuple(v.shape) for k, v in DeepFillV1Generator(cnum=cnum).state_dict().items()}


def critic_shapes(ndf: int, width_mults: Tuple[int, ...], input_size: int) -> Dict[str, tuple]:
    """Parameter shapes of our critic."""
    from ..modeling.discriminators.deepfill_v1 import DeepFillV1Critic

    net = DeepFillV1Critic(ndf=ndf, input_size=input_size, width_mults=width_mults)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def critic_geometry(conv_out: List[int], linear_in: int, what: str) -> Tuple[int, Tuple[int, ...], int]:
    """(ndf, width_mults, input_size) from the four convs' output channels and the linear input size."""
    ndf = conv_out[0]
    if any(c % ndf for c in conv_out):
        raise ConversionError(f"{what}: conv widths {conv_out} are not multiples of the first ({ndf})")
    side = math.isqrt(linear_in // conv_out[3]) if linear_in % conv_out[3] == 0 else 0
    if side == 0 or side * side * conv_out[3] != linear_in:
        raise ConversionError(f"{what}: linear input {linear_in} is not {conv_out[3]} x a square feature map")
    return ndf, tuple(c // ndf for c in conv_out), side * 16


# ---- daa233 ----------------------------------------------------------------------------
def _daa233_kind(src: State) -> str:
    if any(k.startswith("coarse_generator.") for k in src):
        return "generator"
    if any(k.split(".", 1)[0] in CRITICS for k in src):
        return "critics"
    raise ConversionError("not a daa233 DeepFill v1 gen_*.pt / dis_*.pt state dict "
                          "(no coarse_generator.* or localD.* / globalD.* keys)")


@CONVERTERS.register(name="deepfill_v1")
def convert_deepfill_v1(sources: List[State]) -> Dict[str, State]:
    """daa233 ``gen_*.pt`` and/or ``dis_*.pt`` -> {generator, local_discriminator, global_discriminator}."""
    out: Dict[str, State] = {}
    for src in sources:
        if _daa233_kind(src) == "generator":
            key = "coarse_generator.conv1.conv.weight"
            if key not in src:
                raise ConversionError(f"DeepFill v1 generator: missing {key}")
            shapes = generator_shapes(int(src[key].shape[0]))
            out["generator"] = map_state(src, [(k, k, None) for k in shapes], shapes, "DeepFill v1 generator")
            continue
        for prefix, role in CRITICS.items():
            part = {k[len(prefix) + 1:]: v for k, v in src.items() if k.startswith(prefix + ".")}
            convs = [f"dis_conv_module.conv{i}.conv.weight" for i in range(1, 5)]
            if any(c not in part for c in convs) or "linear.weight" not in part:
                raise ConversionError(f"DeepFill v1 {prefix}: missing conv or linear weights")
            geometry = critic_geometry([int(part[c].shape[0]) for c in convs], int(part["linear.weight"].shape[1]), prefix)
            shapes = critic_shapes(*geometry)
            pairs = [(f"{prefix}.{k}", k, linear_to_paddle if k == "linear.weight" else None) for k in shapes]
            out[role] = map_state(src, pairs, shapes, f"DeepFill v1 {prefix}",
                                  ignore=lambda k: not k.startswith(prefix + "."))
    return out


# ---- TensorFlow v1 ------------------------------------------------------------------------
def _hwio_to_oihw(w: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(w.transpose(3, 2, 0, 1))


def _tf_generator_names() -> List[Tuple[str, str]]:
    """(TF layer scope under inpaint_net/, our layer prefix) for every generator conv."""
    pairs = []
    for i in range(1, 18):
        ours = {2: "conv2_downsample", 4: "conv4_downsample"}.get(i, f"conv{i}_atrous" if 7 <= i <= 10 else f"conv{i}")
        tf = {13: "conv13_upsample/conv13_upsample_conv", 15: "conv15_upsample/conv15_upsample_conv"}.get(i, ours)
        pairs.append((tf, f"coarse_generator.{ours}"))
    for i in range(1, 11):
        ours = {2: "conv2_downsample", 4: "conv4_downsample"}.get(i, f"conv{i}_atrous" if i >= 7 else f"conv{i}")
        pairs.append(("x" + ours, f"fine_generator.{ours}"))
    for i in (1, 2, 3, 4, 5, 6, 9, 10):
        ours = {2: "pmconv2_downsample", 4: "pmconv4_downsample"}.get(i, f"pmconv{i}")
        pairs.append((ours, f"fine_generator.{ours}"))
    for i in range(11, 18):
        ours = f"allconv{i}"
        tf = f"{ours}_upsample/{ours}_upsample_conv" if i in (13, 15) else ours
        pairs.append((tf, f"fine_generator.{ours}"))
    return pairs


def _dense_nhwc_to_nchw(channels: int) -> Transform:
    """TF dense kernel [H*W*C, 1] over NHWC-flattened features -> Paddle [C*H*W, 1] over NCHW."""
    def transform(w: np.ndarray) -> np.ndarray:
        side = math.isqrt(w.shape[0] // channels)
        return np.ascontiguousarray(w.reshape(side, side, channels, -1).transpose(2, 0, 1, 3).reshape(w.shape[0], -1))
    return transform


@CONVERTERS.register(name="deepfill_v1_tf")
def convert_deepfill_v1_tf(sources: List[State]) -> Dict[str, State]:
    """Official TF v1 checkpoint (generator, and the critics when present) -> Paddle states."""
    src: State = {}
    for s in sources:
        src.update(s)
    kept = {k: v for k, v in src.items() if not _TF_SKIP.search(k)}
    first = "inpaint_net/conv1/kernel"
    if first not in kept:
        raise ConversionError(f"not a DeepFill v1 TensorFlow checkpoint: no {first}")
    out: Dict[str, State] = {}
    shapes = generator_shapes(int(kept[first].shape[3]))
    pairs = []
    for tf, ours in _tf_generator_names():
        pairs += [(f"inpaint_net/{tf}/kernel", f"{ours}.conv.weight", _hwio_to_oihw),
                  (f"inpaint_net/{tf}/bias", f"{ours}.conv.bias", None)]
    has_critics = any(k.startswith("discriminator/") for k in kept)
    out["generator"] = map_state(kept, pairs, shapes, "DeepFill v1 TF generator",
                                 ignore=lambda k: has_critics and k.startswith("discriminator/"))
    if not has_critics:
        return out
    for scope, role, fc in (("discriminator_local", "local_discriminator", "dout_local_fc"),
                            ("discriminator_global", "global_discriminator", "dout_global_fc")):
        convs = [f"discriminator/{scope}/conv{i}/kernel" for i in range(1, 5)]
        dense = f"discriminator/{fc}/kernel"
        if any(c not in kept for c in convs) or dense not in kept:
            raise ConversionError(f"DeepFill v1 TF {scope}: missing conv or dense kernels")
        widths = [int(kept[c].shape[3]) for c in convs]
        shapes = critic_shapes(*critic_geometry(widths, int(kept[dense].shape[0]), scope))
        pairs = []
        for i in range(1, 5):
            pairs += [(f"discriminator/{scope}/conv{i}/kernel", f"dis_conv_module.conv{i}.conv.weight", _hwio_to_oihw),
                      (f"discriminator/{scope}/conv{i}/bias", f"dis_conv_module.conv{i}.conv.bias", None)]
        pairs += [(dense, "linear.weight", _dense_nhwc_to_nchw(widths[3])),
                  (f"discriminator/{fc}/bias", "linear.bias", None)]
        mine = (f"discriminator/{scope}/", f"discriminator/{fc}/")
        out[role] = map_state(kept, pairs, shapes, f"DeepFill v1 TF {scope}",
                              ignore=lambda k, mine=mine: not k.startswith(mine))
    return out
