"""The RainNet critic: the official ``NLayerDiscriminator`` (junleen/RainNet, from DoveNet).

Three streams share one 7-layer stack shape (3x3 spectrally normalised convs, no padding,
stride 2 except the last, InstanceNorm without affine after layers 2-6, LeakyReLU 0.2):

- global: plain convs ``conv1..conv7`` on the whole image -> 1x1 conv ``convg3`` (realism);
- foreground / background: the *same* partial convs ``conv1f..conv7f`` run on the image with
  the foreground mask and again with the background mask (DoveNet's domain verification);
  their product goes through two spectrally normalised 1x1 convs and ``convl3`` (do the two
  regions look like one image?).

Names follow the official state dict (``D.conv1``, ``convl1`` ...). In training mode every
spectrally normalised call does one power iteration, so the order of calls is the official
one: global, foreground, background.
"""
from typing import Optional, Tuple, Union

import paddle
from paddle import nn

from ...registry import NETWORKS
from ..init import init_net
from ..layers.partial_conv import PartialConv2D, SNConv2D
from ..layers.portable import leaky_relu

NUM_CONVS = 7
MIN_SIZE = 255   # seven unpadded 3x3 convs, six of stride 2, leave at least 1x1


def instance_norm(x: paddle.Tensor, eps: float = 1e-5) -> paddle.Tensor:
    """torch ``InstanceNorm2d(affine=False)`` composed from mean/variance ops.

    Same math as ``F.instance_norm``, but the gradient penalty differentiates the critic twice,
    and Paddle 3.3.1's fused instance-norm double grad is slow on CPU: composed ops make the
    penalty's backward ~3.5x faster (measured at ndf 8, 256²).
    """
    centred = x - x.mean(axis=[2, 3], keepdim=True)
    return centred / paddle.sqrt((centred * centred).mean(axis=[2, 3], keepdim=True) + eps)


def stream_channels(ndf: int, n_layers: int = 3) -> list:
    """Output channels of conv1..conv7 (official: ndf·min(2^i, 8), the last ndf·min(2^n_layers, 8))."""
    return [ndf * min(2 ** i, 8) for i in range(NUM_CONVS - 1)] + [ndf * min(2 ** n_layers, 8)]


class CriticTrunk(nn.Layer):
    """The official ``OrgDiscriminator``: global stream and shared foreground/background stream."""

    def __init__(self, input_nc: int, ndf: int, n_layers: int = 3) -> None:
        super().__init__()
        ch = stream_channels(ndf, n_layers)
        ins = [input_nc] + ch[:-1]
        for i in range(NUM_CONVS):
            stride = 2 if i < NUM_CONVS - 1 else 1
            setattr(self, f"conv{i + 1}", PartialConv2D(ins[i], ch[i], 3, stride, 0))
            setattr(self, f"conv{i + 1}f", PartialConv2D(ins[i], ch[i], 3, stride, 0))

    def stream(self, x: paddle.Tensor, mask: Optional[paddle.Tensor], suffix: str) -> paddle.Tensor:
        """conv1..conv7 (``suffix`` '' or 'f'), norms after 2-6, LeakyReLU after 1-6."""
        for i in range(NUM_CONVS):
            x, mask = getattr(self, f"conv{i + 1}{suffix}")(x, mask)
            if i == NUM_CONVS - 1:
                break
            if i > 0:   # the official norm2..norm6 / norm2f..norm6f (no parameters)
                x = instance_norm(x)
            x = leaky_relu(x, 0.2)
        return x

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        """(global feature, foreground feature, background feature)."""
        return self.stream(x, None, ""), self.stream(x, mask, "f"), self.stream(x, 1.0 - mask, "f")


@NETWORKS.register()
class RainNetDiscriminator(nn.Layer):
    """``D(image, mask)`` -> (global score, verification score), each [N,1,h,w] (1x1 at 256²).

    ``gp=True`` returns their mean, the official critic value used by the gradient penalty.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, init: str = "official") -> None:
        super().__init__()
        width = stream_channels(ndf, n_layers)[-1]
        self.D = CriticTrunk(input_nc, ndf, n_layers)
        self.convl1 = SNConv2D(width, width, 1)
        self.convl2 = SNConv2D(width, width, 1)
        self.convl3 = nn.Conv2D(width, 1, 1)
        self.convg3 = nn.Conv2D(width, 1, 1)
        # Official define_D -> init_net(net, 'normal', 0.02). Its init writes ``weight.data``, which
        # for a spectrally normalised conv shares storage with ``weight_orig``: that is what it draws.
        init_net(self, init, "normal")

    def forward(self, image: paddle.Tensor, mask: paddle.Tensor, gp: bool = False
                ) -> Union[paddle.Tensor, Tuple[paddle.Tensor, paddle.Tensor]]:
        """Scores of ``image`` [N,C,H,W] (values in [-1,1]) with its foreground ``mask`` [N,1,H,W]."""
        if (image.ndim != 4 or mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0]
                or mask.shape[2:] != image.shape[2:]):
            raise ValueError(f"RainNetDiscriminator needs image [N,C,H,W] and mask [N,1,H,W] of the same "
                             f"N, H, W; got {list(image.shape)} and {list(mask.shape)}")
        if min(image.shape[2:]) < MIN_SIZE:
            raise ValueError(f"RainNetDiscriminator needs H, W >= {MIN_SIZE}, got {image.shape[2]}x{image.shape[3]}")
        whole, fore, back = self.D(image, mask.astype(image.dtype))
        realism = self.convg3(whole)
        sim = leaky_relu(self.convl1(fore * back), 0.2)
        verification = self.convl3(leaky_relu(self.convl2(sim), 0.2))
        if gp:
            return (realism + verification) * 0.5
        return realism, verification
