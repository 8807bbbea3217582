"""DeepFill v1's WGAN critics: four 5x5 stride-2 convs with leaky ReLU, then one linear score.

The local critic sees the hole's bounding-box patch, the global critic the whole image. TF v1
widens the local critic's last conv to 8x ``ndf`` (512) and keeps the global one at 4x (256);
daa233's port uses 4x for both — ``width_mults`` selects. Names follow daa233
(``dis_conv_module.conv1.conv.weight``, ``linear``); the linear layer's input is flattened in
NCHW order (the TF converter reorders TF's NHWC-flattened dense kernels). ``init`` as the
generator's: ``official``/``tf`` | ``daa233`` | ``paddle``.
"""
from typing import Sequence

import paddle
from paddle import nn

from ...registry import NETWORKS
from ..init import DEEPFILL_CONVENTIONS, init_net
from ..layers.padded_conv import PaddedConv2D


class DisConvModule(nn.Layer):
    """The four strided convolutions."""

    def __init__(self, in_channels: int, ndf: int, width_mults: Sequence[int], padding: str) -> None:
        super().__init__()
        widths = [in_channels] + [ndf * m for m in width_mults]
        for i in range(4):
            setattr(self, f"conv{i + 1}", PaddedConv2D(widths[i], widths[i + 1], 5, 2, 1, "lrelu", padding))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """[N,C,S,S] -> [N, ndf*m4, S/16, S/16]."""
        for i in range(4):
            x = getattr(self, f"conv{i + 1}")(x)
        return x


@NETWORKS.register()
class DeepFillV1Critic(nn.Layer):
    """WGAN critic for ``input_size`` x ``input_size`` images (a multiple of 16): [N,3,S,S] -> [N,1]."""

    def __init__(self, ndf: int = 64, input_size: int = 256, width_mults: Sequence[int] = (1, 2, 4, 4),
                 in_channels: int = 3, padding: str = "tf_same", init: str = "official") -> None:
        super().__init__()
        if len(width_mults) != 4:
            raise ValueError(f"width_mults needs one multiplier per conv (4), got {list(width_mults)}")
        if input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
        self.input_size = int(input_size)
        self.dis_conv_module = DisConvModule(in_channels, ndf, width_mults, padding)
        self.linear = nn.Linear(ndf * width_mults[3] * (input_size // 16) ** 2, 1)
        init_net(self, init, DEEPFILL_CONVENTIONS["tf"], DEEPFILL_CONVENTIONS)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Images in [-1,1] -> one score each."""
        if x.shape[2] != self.input_size or x.shape[3] != self.input_size:
            raise ValueError(f"this critic takes {self.input_size}x{self.input_size} inputs, got {x.shape[2]}x{x.shape[3]}")
        x = self.dis_conv_module(x)
        # reshape, not flatten: the gradient penalty differentiates this twice.
        return self.linear(x.reshape([x.shape[0], -1]))
