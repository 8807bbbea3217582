"""The S²AM harmonization network: an 8-level U-Net with S²AM in the decoder or on the skips.

Mirrors the official ``UnetGenerator`` (vinthony/s2am ``scripts/models/unet.py``) with
``MinimalUnetV2`` (S2AD, arch ``rascv2``: S²AM on the concatenated decoder feature) or
``MinimalUnet`` (S2ASC, arch ``rascv1``: S²AM on the skip feature), written as a flat list of
levels instead of the official recursion. Level 0 is the outermost (full resolution), level 7
the innermost (1x1 at 256²); S²AM sits at levels 1-3 (the 128², 64², 32² skips at 256² input).
"""
from typing import List, Optional, Tuple, Union

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import NETWORKS
from ..init import init_net
from ..layers.portable import leaky_relu
from ..layers.s2am import S2AM, MaskFreeS2AM, known

NUM_LEVELS = 8
ATTENTION_LEVELS = (1, 2, 3)
ATTENTIONS = ("s2ad", "s2asc", "none")


def level_channels(ngf: int) -> List[Tuple[int, int]]:
    """(outer, inner) channels of each level, outermost first (official ``UnetGenerator``)."""
    inner = [ngf, 2 * ngf, 4 * ngf] + [8 * ngf] * (NUM_LEVELS - 3)
    outer = [None, ngf, 2 * ngf, 4 * ngf] + [8 * ngf] * (NUM_LEVELS - 4)
    return list(zip(outer, inner))


def _bn(channels: int) -> nn.BatchNorm2D:
    # torch BatchNorm2d defaults: running = 0.9 running + 0.1 batch (Paddle's momentum is the
    # weight of the old value), eps 1e-5.
    return nn.BatchNorm2D(channels, momentum=0.9, epsilon=1e-5)


class UNetLevel(nn.Layer):
    """One level: 4x4/2 down conv (+BN), 4x4/2 transposed up conv (+BN), optional S²AM."""

    def __init__(self, in_channels: int, inner: int, out_channels: int, up_in: int,
                 outermost: bool, innermost: bool, attention: Optional[nn.Layer]) -> None:
        super().__init__()
        # Official: convs before a BatchNorm have no bias; the outermost up conv has one.
        self.down_conv = nn.Conv2D(in_channels, inner, 4, stride=2, padding=1, bias_attr=False)
        self.down_norm = _bn(inner) if not (outermost or innermost) else None
        self.up_conv = nn.Conv2DTranspose(up_in, out_channels, 4, stride=2, padding=1,
                                          bias_attr=None if outermost else False)
        self.up_norm = _bn(out_channels) if not outermost else None
        self.attention = attention

    def down(self, x: paddle.Tensor) -> paddle.Tensor:
        """Encoder step (the activation before it is applied by the caller)."""
        x = self.down_conv(x)
        return self.down_norm(x) if self.down_norm is not None else x

    def up(self, x: paddle.Tensor) -> paddle.Tensor:
        """Decoder step: ReLU, transposed conv, BN."""
        x = self.up_conv(F.relu(x))
        return self.up_norm(x) if self.up_norm is not None else x


@NETWORKS.register()
class S2AMUNet(nn.Layer):
    """U-Net harmonizer; ``forward(input4)`` on [N,4,H,W] = composite in [0,1] + mask (1 = foreground).

    ``attention``: ``s2ad`` (official ``rascv2``), ``s2asc`` (``rascv1``) or ``none`` (the plain
    U-Net baseline, official ``unet``). ``mask_free``: the first conv sees only the 3 colour
    channels and every S²AM predicts its own mask (``forward(x, return_masks=True)`` also
    returns those masks, outermost level first). H and W must be multiples of 256 (eight
    stride-2 levels). Output: [N,3,H,W], no activation (official).
    """

    def __init__(self, ngf: int = 64, attention: str = "s2ad", mask_free: bool = False,
                 out_channels: int = 3, reduction: int = 16, init: str = "official") -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if mask_free and attention == "none":
            raise ValueError("mask_free needs S2AM blocks (attention s2ad or s2asc) to predict the mask")
        self.attention = attention
        self.mask_free = mask_free
        block = MaskFreeS2AM if mask_free else S2AM
        levels = []
        for i, (outer, inner) in enumerate(level_channels(ngf)):
            outermost, innermost = i == 0, i == NUM_LEVELS - 1
            att = None
            if attention != "none" and i in ATTENTION_LEVELS:
                # S2AD works on cat(skip, up) = 2*outer channels, S2ASC on the skip (outer).
                att = block(2 * outer if attention == "s2ad" else outer, reduction)
            levels.append(UNetLevel(
                # the official mask-free net is UnetGenerator(3, 3): its first conv sees RGB only
                in_channels=(3 if mask_free else 4) if outermost else outer,
                inner=inner,
                out_channels=out_channels if outermost else outer,
                up_in=inner if innermost else 2 * inner,
                outermost=outermost, innermost=innermost, attention=att))
        self.levels = nn.LayerList(levels)
        # Official: model.apply(weights_init_kaiming) (scripts/models/backbone_unet.py).
        init_net(self, init, "kaiming_normal")

    def forward(self, x: paddle.Tensor, return_masks: bool = False
                ) -> Union[paddle.Tensor, Tuple[paddle.Tensor, List[paddle.Tensor]]]:
        """[N,4,H,W] composite + mask -> [N,3,H,W] (and the predicted masks when asked)."""
        if x.ndim != 4 or x.shape[1] != 4:
            raise ValueError(f"S2AMUNet expects [N,4,H,W] (RGB + mask), got {list(x.shape)}")
        size = 2 ** NUM_LEVELS
        if any(known(d) and d % size for d in x.shape[2:]):
            raise ValueError(f"S2AMUNet needs H and W multiples of {size} (8 stride-2 levels), got {list(x.shape)}")
        mask = x[:, 3:4]
        h = x[:, :3] if self.mask_free else x
        skips = []
        for i, level in enumerate(self.levels):
            if i > 0:
                # Official quirk kept: the LeakyReLU(0.2) before each inner down conv is in-place,
                # so the skip connection carries leaky_relu(x), not x.
                h = leaky_relu(h, 0.2)
                skips.append(h)
            h = level.down(h)
        predicted = []
        for i in range(NUM_LEVELS - 1, -1, -1):
            level = self.levels[i]
            h = level.up(h)
            if i == 0:
                break
            skip = skips[i - 1]
            if self.attention == "s2asc" and level.attention is not None:
                skip = self._attend(level.attention, skip, mask, 2 ** i, predicted)
            h = paddle.concat([skip, h], axis=1)
            if self.attention == "s2ad" and level.attention is not None:
                h = self._attend(level.attention, h, mask, 2 ** i, predicted)
        if return_masks:
            return h, predicted[::-1]
        return h

    def _attend(self, block: nn.Layer, feature: paddle.Tensor, mask: paddle.Tensor, stride: int,
                predicted: List[paddle.Tensor]) -> paddle.Tensor:
        # Level i's features are 2**i times smaller than the input mask by construction: passing
        # that stride keeps the mask rule free of sizes, so H and W can stay dynamic in an export.
        if not self.mask_free:
            return block(feature, mask, stride)
        out, soft = block(feature)
        predicted.append(soft)
        return out
