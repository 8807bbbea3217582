"""The RainNet generator (Ling et al., CVPR 2021, Fig. 2): an 8-level U-Net with RAIN in the decoder.

Mirrors the official ``RainNet`` (junleen/RainNet ``models/networks.py``) written as flat lists
indexed by level (0 = outermost, full resolution; 7 = innermost, 1x1 at 256²) instead of the
official named layers plus the ``UnetBlockCodec`` recursion:

- encoder: 4x4 stride-2 convs without bias, LeakyReLU(0.2) before each conv after the first,
  InstanceNorm (no affine) at levels 1-6, none at the innermost;
- decoder: ReLU, 4x4 stride-2 transposed conv, RAIN (the only place the mask enters) at
  levels 7..1, dropout(0.5) at levels 6-4 (the official middle blocks), a 1x1 conv + sigmoid
  gate on the concatenated skip at levels 2-0, and a biased transposed conv + tanh out.

Official quirk kept: the encoder's LeakyReLUs are in-place, so every skip connection carries
``leaky_relu(e)`` rather than the pre-activation ``e``; converted weights need it (it changes
the output by up to 0.2).
"""
from typing import List, Optional

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import NETWORKS
from ..draws import Draws
from ..init import init_net
from ..layers.portable import leaky_relu
from ..layers.rain import RAIN

NUM_LEVELS = 8
DROPOUT_LEVELS = (4, 5, 6)
GATE_LEVELS = (0, 1, 2)
NORMS = ("rain", "instance")


def level_channels(ngf: int) -> List[int]:
    """Output channels of each encoder level (official widths: ngf, 2ngf, 4ngf, then 8ngf)."""
    return [ngf, 2 * ngf, 4 * ngf] + [8 * ngf] * (NUM_LEVELS - 3)


def instance_norm(channels: int) -> nn.InstanceNorm2D:
    """torch ``InstanceNorm2d(affine=False)``: no parameters, eps 1e-5."""
    return nn.InstanceNorm2D(channels, epsilon=1e-5, weight_attr=False, bias_attr=False)


@NETWORKS.register()
class RainNetGenerator(nn.Layer):
    """``netG(comp, mask)`` -> raw tanh output in [-1, 1] (not composited).

    ``input_nc`` 3 feeds the composite only (official default; the mask reaches only the RAIN
    layers), 4 expects the caller to concatenate the mask as the 4th channel (official
    ``input_nc=4``). ``norm: instance`` replaces every RAIN by plain InstanceNorm (the paper's
    IN ablation); the mask is then unused. Inputs must be at least 256 and a multiple of 256.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "rain",
                 dropout: bool = True, init: str = "official") -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if input_nc not in (3, 4):
            raise ValueError(f"input_nc must be 3 (composite) or 4 (composite + mask), got {input_nc}")
        self.input_nc, self.norm, self.use_dropout = input_nc, norm, dropout
        ch = level_channels(ngf)
        ins = [input_nc] + ch[:-1]
        self.down = nn.LayerList([nn.Conv2D(ins[i], ch[i], 4, 2, 1, bias_attr=False) for i in range(NUM_LEVELS)])
        self.down_norm = nn.LayerList([instance_norm(ch[i]) for i in range(1, NUM_LEVELS - 1)])
        # Decoder level i maps the level-(i+1) feature (doubled by its skip, except innermost) back
        # to level i's input size; its output is concatenated with skip i-1.
        up_in = [2 * c for c in ch[:-1]] + [ch[-1]]
        up_out = [output_nc] + ch[:-1]
        self.up = nn.LayerList([nn.Conv2DTranspose(up_in[i], up_out[i], 4, 2, 1, bias_attr=(None if i == 0 else False))
                                for i in range(NUM_LEVELS)])
        make_norm = RAIN if norm == "rain" else instance_norm
        self.up_norm = nn.LayerList([make_norm(up_out[i]) for i in range(1, NUM_LEVELS)])
        self.gates = nn.LayerList([nn.Conv2D(2 * ch[i], 2 * ch[i], 1) for i in GATE_LEVELS])
        init_net(self, init, "normal")     # official define_G -> init_net(net, 'normal', 0.02)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor, draws: Optional[Draws] = None) -> paddle.Tensor:
        """Official ``RainNet.forward(x, mask)``: x [N,input_nc,H,W] in [-1,1], mask [N,1,H,W].

        In training mode the dropout keep masks come from ``draws`` (``dropout4..6``), so a step
        can be replayed; without it they are drawn afresh.
        """
        self._check(x, mask)
        skips = []
        h = self.down[0](x)
        for level in range(1, NUM_LEVELS):
            skip = leaky_relu(h, 0.2)           # in-place in the official code: the skip is activated
            skips.append(skip)
            h = self.down[level](skip)
            if level < NUM_LEVELS - 1:
                h = self.down_norm[level - 1](h)
        for level in range(NUM_LEVELS - 1, 0, -1):
            h = self.up[level](F.relu(h))
            h = self.up_norm[level - 1](h, mask) if self.norm == "rain" else self.up_norm[level - 1](h)
            if self.use_dropout and level in DROPOUT_LEVELS and self.training:
                h = (draws or Draws()).dropout(f"dropout{level}", h, 0.5)
            h = paddle.concat([skips[level - 1], h], axis=1)
            if level - 1 in GATE_LEVELS:
                h = F.sigmoid(self.gates[level - 1](h)) * h
        return paddle.tanh(self.up[0](F.relu(h)))

    def _check(self, x: paddle.Tensor, mask: paddle.Tensor) -> None:
        """One clear error for inputs the U-Net cannot take."""
        if not paddle.in_dynamic_mode():
            return  # an exported graph has symbolic N, H, W: no Python bool of them exists
        if x.ndim != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"RainNetGenerator(input_nc={self.input_nc}) needs x [N,{self.input_nc},H,W], "
                             f"got {list(x.shape)}")
        if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:]:
            raise ValueError(f"mask must be [N,1,H,W] matching x {list(x.shape)}, got {list(mask.shape)}")
        h, w = x.shape[2:]
        if h % 256 or w % 256:
            raise ValueError(f"RainNetGenerator needs H and W multiples of 256 (8 stride-2 levels), got {h}x{w}")
