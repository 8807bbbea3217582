"""CSA critics: the image PatchGAN (official ``basic``) and the feature-patch critic (``PFDiscriminator``).

Official ``networks.NLayerDiscriminator`` with instance norm (affine, biased convs because the
norm is an InstanceNorm) and ``PFDiscriminator`` on VGG16 "relu3_3" (256 channels at 1/8 size);
indices of the official ``Sequential`` kept so official state dicts map key for key.
"""
import paddle
from paddle import nn

from ...registry import NETWORKS
from ..init import init_net
from ..layers.portable import LeakyReLU


@NETWORKS.register()
class CSAPatchDiscriminator(nn.Layer):
    """70x70 PatchGAN: [N,3,256,256] -> [N,1,30,30] raw scores."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, init: str = "official") -> None:
        super().__init__()
        layers = [nn.Conv2D(in_channels, ndf, 4, 2, 1), LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2D(ndf * prev, ndf * mult, 4, stride, 1),
                       nn.InstanceNorm2D(ndf * mult, epsilon=1e-5), LeakyReLU(0.2)]
        layers.append(nn.Conv2D(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_net(self, init, "normal")     # official define_D -> init_net(netD, 'normal', 0.02)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Image in [-1,1] -> patch scores."""
        return self.model(x)


@NETWORKS.register()
class CSAFeatureDiscriminator(nn.Layer):
    """PFDiscriminator: VGG16 relu3_3 [N,256,h,w] -> [N,512,h/8,w/8] raw scores."""

    def __init__(self, in_channels: int = 256, channels: int = 512, init: str = "official") -> None:
        super().__init__()
        # The official InstanceNorm2d(512) here has no affine parameters (torch default).
        self.model = nn.Sequential(
            nn.Conv2D(in_channels, channels, 4, 2, 1), LeakyReLU(0.2),
            nn.Conv2D(channels, channels, 4, 2, 1),
            nn.InstanceNorm2D(channels, epsilon=1e-5, weight_attr=False, bias_attr=False), LeakyReLU(0.2),
            nn.Conv2D(channels, channels, 4, 2, 1))
        init_net(self, init, "normal")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """VGG feature -> patch scores."""
        return self.model(x)
