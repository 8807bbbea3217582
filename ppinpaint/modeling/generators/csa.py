"""CSA generator (Liu et al., ICCV 2019, Fig. 2): rough U-Net (netP) then refinement U-Net (netG).

Mirrors the official ``UnetGenerator`` (``unet_256``) and ``UnetGeneratorCSA`` (``unet_csa``) of
KumapowerLIU/CSA-inpainting layer for layer, with the same ``Sequential`` indices (parameter-free
layers included), so an official state dict maps key for key (``ppinpaint/convert/csa.py``).
Instance norms have affine parameters and no running statistics, as the official
``functools.partial(nn.InstanceNorm2d, affine=True)``.

The official in-place LeakyReLU makes each skip carry leaky_relu(x); every consumer of a skip
starts with ReLU and relu(leaky_relu(x)) = relu(x), so plain (out-of-place) activations here
compute the same thing.
"""
from typing import List, Optional, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import NETWORKS
from ..init import init_net
from ..layers.csa import MODES, CoherentSemanticAttention, csa_feature_mask
from ..layers.portable import LeakyReLU


def _norm(channels: int) -> nn.Layer:
    return nn.InstanceNorm2D(channels, epsilon=1e-5)


def _keep(layer: nn.Layer, name: str, value: Optional[paddle.Tensor]) -> None:
    """Hold a per-call tensor as a plain attribute of ``layer``.

    ``Layer.__setattr__`` registers a Tensor as a buffer; an export traced after an eager call would then
    read that buffer (the last eager call's value, its batch size included) as a constant.
    """
    object.__setattr__(layer, name, value)


class _Tap(nn.Layer):
    """Identity that keeps its input: the official InnerCos/InnerCos2 positions (consistency loss)."""

    def __init__(self) -> None:
        super().__init__()
        _keep(self, "feature", None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        _keep(self, "feature", x)
        return x


class _MaskedCSA(nn.Layer):
    """The CSA layer at its ``Sequential`` slot; the generator hands it the feature mask per call."""

    def __init__(self, csa: CoherentSemanticAttention) -> None:
        super().__init__()
        self.csa = csa
        _keep(self, "feat_mask", None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.csa(x, self.feat_mask)


class _SkipBlock(nn.Layer):
    """U-Net level: ``cat([model(x), x])``, or ``model(x)`` at the outermost level (official order)."""

    def __init__(self, layers: List[nn.Layer], outermost: bool) -> None:
        super().__init__()
        self.outermost = outermost
        self.model = nn.Sequential(*layers)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.model(x)
        if self.outermost:
            return y
        # Traced sizes are symbolic; at the size multiple (256) every level's sizes agree anyway.
        if paddle.in_dynamic_mode() and y.shape[2:] != x.shape[2:]:
            # Official F.upsample(mode='bilinear') of torch 1.0: align_corners False.
            y = F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)
        return paddle.concat([y, x], axis=1)


def _rough_block(outer: int, inner: int, sub: Optional[nn.Layer], in_ch: Optional[int] = None,
                 outermost: bool = False) -> _SkipBlock:
    """Official ``UnetSkipConnectionBlock`` (4x4 stride-2 convs)."""
    in_ch = outer if in_ch is None else in_ch
    down = nn.Conv2D(in_ch, inner, 4, 2, 1)
    if outermost:
        return _SkipBlock([down, sub, nn.ReLU(), nn.Conv2DTranspose(inner * 2, outer, 4, 2, 1), nn.Tanh()], True)
    if sub is None:
        return _SkipBlock([LeakyReLU(0.2), down, nn.ReLU(), nn.Conv2DTranspose(inner, outer, 4, 2, 1),
                           _norm(outer)], False)
    return _SkipBlock([LeakyReLU(0.2), down, _norm(inner), sub, nn.ReLU(),
                       nn.Conv2DTranspose(inner * 2, outer, 4, 2, 1), _norm(outer)], False)


def _refine_block(outer: int, inner: int, sub: Optional[nn.Layer], in_ch: Optional[int] = None,
                  outermost: bool = False, csa: Optional[_MaskedCSA] = None,
                  taps: Tuple[_Tap, _Tap] = ()) -> _SkipBlock:
    """Official ``UnetSkipConnectionBlock_3`` / ``CSA`` block (dilated 4x4 down, 3x3 convs)."""
    in_ch = outer if in_ch is None else in_ch
    if outermost:
        return _SkipBlock([nn.Conv2D(in_ch, inner, 3, 1, 1), sub, nn.ReLU(),
                           nn.Conv2DTranspose(inner * 2, outer, 3, 1, 1)], True)
    dilated = nn.Conv2D(in_ch, in_ch, 4, 2, 3, dilation=2)
    if sub is None:
        return _SkipBlock([LeakyReLU(0.2), dilated, nn.ReLU(), nn.Conv2DTranspose(inner, outer, 4, 2, 1),
                           _norm(outer)], False)
    down = [LeakyReLU(0.2), dilated, _norm(in_ch), LeakyReLU(0.2), nn.Conv2D(in_ch, inner, 3, 1, 1)]
    up = [nn.ReLU(), nn.Conv2DTranspose(inner * 2, outer, 3, 1, 1), _norm(outer),
          nn.ReLU(), nn.Conv2DTranspose(outer, outer, 4, 2, 1), _norm(outer)]
    if csa is None:
        return _SkipBlock(down + [_norm(inner), sub] + up, False)
    # Official CSA block order: ..., conv3x3, CSA, InnerCos, norm, submodule, InnerCos2, ...
    return _SkipBlock(down + [csa, taps[0], _norm(inner), sub, taps[1]] + up, False)


class RoughUNet(nn.Layer):
    """netP: official ``unet_256`` (8 stride-2 levels, Tanh output)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, num_downs: int = 8) -> None:
        super().__init__()
        block = _rough_block(ngf * 8, ngf * 8, None)
        for _ in range(num_downs - 5):
            block = _rough_block(ngf * 8, ngf * 8, block)
        for mult in (4, 2, 1):
            block = _rough_block(ngf * mult, ngf * mult * 2, block)
        self.model = _rough_block(out_channels, ngf, block, in_ch=in_channels, outermost=True)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Mean-filled image in [-1,1] -> rough result (official ``netP(real_A)``)."""
        return self.model(x)


class RefineUNet(nn.Layer):
    """netG: official ``unet_csa`` (dilated U-Net, CSA layer + consistency taps at 1/8 size)."""

    def __init__(self, in_channels: int = 6, out_channels: int = 3, ngf: int = 64, num_downs: int = 8,
                 mode: str = "paper", clamp: bool = True, threshold: float = 5.0 / 16.0,
                 triple_weight: float = 1.0) -> None:
        super().__init__()
        self.threshold = threshold
        self.csa = _MaskedCSA(CoherentSemanticAttention(mode, triple_weight, clamp))
        self.taps = (_Tap(), _Tap())
        block = _refine_block(ngf * 8, ngf * 8, None)
        for _ in range(num_downs - 5):
            block = _refine_block(ngf * 8, ngf * 8, block)
        block = _refine_block(ngf * 8, ngf * 8, block)
        block = _refine_block(ngf * 4, ngf * 8, block, csa=self.csa, taps=self.taps)
        block = _refine_block(ngf * 2, ngf * 4, block)
        block = _refine_block(ngf, ngf * 2, block)
        self.model = _refine_block(out_channels, ngf, block, in_ch=in_channels, outermost=True)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """cat([Syn, A0]) [N,6,H,W] and the image mask [N,1,H,W] -> refined result (no activation)."""
        # Three levels down to the CSA level, as the official set_mask(mask_global, 3, threshold).
        _keep(self.csa, "feat_mask", csa_feature_mask(mask, 3, self.threshold))
        return self.model(x)

    def features(self) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        """(CSA output, submodule output, feature mask) of the last forward, for the consistency loss."""
        return self.taps[0].feature, self.taps[1].feature, self.csa.feat_mask


@NETWORKS.register()
class CSAGenerator(nn.Layer):
    """Role ``generator``: ``.rough`` (official netP) and ``.refine`` (official netG)."""

    def __init__(self, ngf: int = 64, mode: str = "paper", clamp: bool = True,
                 threshold: float = 5.0 / 16.0, triple_weight: float = 1.0, init: str = "official") -> None:
        super().__init__()
        self.ngf = ngf
        self.rough = RoughUNet(3, 3, ngf)
        self.refine = RefineUNet(6, 3, ngf, mode=mode, clamp=clamp, threshold=threshold,
                                 triple_weight=triple_weight)
        init_net(self, init, "normal")     # official define_G -> init_net(netG, 'normal', 0.02)

    def set_mode(self, mode: str) -> None:
        """Switch the CSA layer's backward between ``official`` and ``paper``."""
        if mode not in MODES:
            raise ValueError(f"CSA mode must be one of {MODES}, got {mode!r}")
        self.refine.csa.csa.mode = mode

    def forward(self, image: paddle.Tensor, mask: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """Official input preparation and both stages: image in [-1,1], mask 1 = hole.

        Returns (rough, refined), raw (not composited), as the official fake_P and fake_B.
        """
        mean = paddle.to_tensor([2 * 123.0 / 255 - 1, 2 * 104.0 / 255 - 1, 2 * 117.0 / 255 - 1]).reshape([1, 3, 1, 1])
        known = image * (1.0 - mask)
        rough = self.rough(known + mean * mask)
        # The official builds Syn from fake_P.data: netP learns from its own L1 term only.
        syn = rough.detach() * mask + known
        # Official quirk kept: A0 (second half of netG's input) has its hole zero-filled, not
        # mean-filled, because real_A.data.masked_fill_ aliases input_A.
        refined = self.refine(paddle.concat([syn, known], axis=1), mask)
        return rough, refined
