"""Region-aware Adaptive Instance Normalization (RAIN, Ling et al., CVPR 2021, Sec. 3.2, Eq. 3-5).

The background is instance-normalised with its own statistics; the foreground is standardised
with its own statistics and then re-styled with the background's mean and standard deviation,
so the foreground feature takes the background's "style". Each region then gets its own
learnable affine ``(1 + gamma) * x + beta`` (gamma, beta start at zero, as official). Mirrors
the official ``RAIN`` (junleen/RainNet ``models/normalize.py``).
"""
from typing import Tuple

import paddle
from paddle import nn

from .portable import resize_nearest


def region_mean_std(x: paddle.Tensor, region: paddle.Tensor, eps: float) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """Mean and std of ``x`` over the pixels where ``region`` is 1, per sample and channel.

    Official formula: sums divided by (pixel count + eps), population variance, std =
    sqrt(var + eps). An empty region therefore has mean 0 and std sqrt(eps) (no NaN).
    """
    count = region.sum(axis=[2, 3], keepdim=True) + eps
    mean = (x * region).sum(axis=[2, 3], keepdim=True) / count
    # The official (x*m + (1-m)*mean - mean) is m*(x - mean): deviations outside the region vanish.
    # dev * dev, not dev ** 2: Paddle's CPU pow and its gradient are several times slower than a product.
    dev = region * (x - mean)
    var = (dev * dev).sum(axis=[2, 3], keepdim=True) / count
    return mean, paddle.sqrt(var + eps)


def _per_channel(p: paddle.Tensor) -> paddle.Tensor:
    return p.reshape([1, -1, 1, 1])


class RAIN(nn.Layer):
    """RAIN(x, mask): mask [N,1,h,w] (1 = foreground) at any size, resized nearest to x's size."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        zeros = nn.initializer.Constant(0.0)
        self.foreground_gamma = self.create_parameter([channels], default_initializer=zeros)
        self.foreground_beta = self.create_parameter([channels], default_initializer=zeros)
        self.background_gamma = self.create_parameter([channels], default_initializer=zeros)
        self.background_beta = self.create_parameter([channels], default_initializer=zeros)
        self.eps = eps

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Normalise each region of ``x`` (Eq. 3-5); the mask gets no gradient."""
        # Eager only: an exported graph has a symbolic N, which has no Python bool.
        if paddle.in_dynamic_mode() and (
                x.ndim != 4 or mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0]):
            raise ValueError(f"RAIN needs x [N,C,H,W] and mask [N,1,h,w] with the same N; "
                             f"got {list(x.shape)} and {list(mask.shape)}")
        # torch 'nearest' (floor of i * in/out) is Paddle's nearest with align_corners=False.
        mask = resize_nearest(mask.detach().astype(x.dtype), x.shape[2:])
        back = 1.0 - mask
        mean_b, std_b = region_mean_std(x, back, self.eps)
        mean_f, std_f = region_mean_std(x, mask, self.eps)
        # Both regions are affine in x with per-channel coefficients: background
        # ((x - mean_b) / std_b) * (1 + gamma_b) + beta_b, foreground (Eq. 4) standardised with its own
        # statistics, re-styled with the background's, then (1 + gamma_f) * . + beta_f. Folding them into one
        # x * scale + shift per region runs half the full-size operations of the literal formula. Each region
        # keeps its own product (not one blended scale): the two scales can differ by orders of magnitude.
        scale_b = (1.0 + _per_channel(self.background_gamma)) / std_b
        shift_b = _per_channel(self.background_beta) - mean_b * scale_b
        gain_f = 1.0 + _per_channel(self.foreground_gamma)
        ratio = std_b / std_f
        scale_f = ratio * gain_f
        shift_f = (mean_b - mean_f * ratio) * gain_f + _per_channel(self.foreground_beta)
        return (x * scale_b + shift_b) * back + (x * scale_f + shift_f) * mask
