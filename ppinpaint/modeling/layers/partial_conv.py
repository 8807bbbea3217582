"""Spectrally normalised convolutions, plain and partial, as the RainNet critic uses them.

``SNConv2D`` is a Conv2D wrapped like ``torch.nn.utils.spectral_norm`` (Miyato et al., ICLR
2018): parameter ``weight_orig``, buffers ``weight_u``/``weight_v``; in training mode every call
runs one power iteration in place (v <- normalize(W^T u), u <- normalize(W v)) and divides the
weight by sigma = u^T W v, with u, v constants for autograd; in eval mode the stored u, v are
used as they are. We write it ourselves because the order and in-place update of u, v per call
is what a replayed official training step needs (the official critic calls each shared
foreground/background conv twice per forward, i.e. two power iterations).

``PartialConv2D`` (Liu et al., ECCV 2018) adds the official ``PartialConv2d``'s single-channel
mask handling: conv(x * m) re-scaled by window size / mask count where the window sees the
mask, zero where it does not; the updated (clamped) mask is returned for the next layer.
"""
import math
from typing import Optional, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn


def _normalize(x: paddle.Tensor, eps: float) -> paddle.Tensor:
    """torch ``F.normalize(x, dim=0, eps)``: x / max(||x||, eps)."""
    return x / paddle.clip(paddle.linalg.norm(x), min=eps)


class SNConv2D(nn.Layer):
    """Conv2D with torch-style spectral norm (one power iteration per training-mode call)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True, eps: float = 1e-12) -> None:
        super().__init__()
        self.stride, self.padding, self.eps = stride, padding, eps
        fan_in = in_channels * kernel_size * kernel_size
        bound = 1.0 / math.sqrt(fan_in)  # torch's default conv init (RainNet re-initialises it)
        init = nn.initializer.Uniform(-bound, bound)
        self.weight_orig = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size],
                                                 default_initializer=init)
        self.bias = self.create_parameter([out_channels], default_initializer=init) if bias else None
        # torch draws u, v from N(0,1) and normalises them; the first training call refines them.
        self.register_buffer("weight_u", _normalize(paddle.randn([out_channels]), eps))
        self.register_buffer("weight_v", _normalize(paddle.randn([fan_in]), eps))

    def normalized_weight(self) -> paddle.Tensor:
        """weight_orig / sigma; in training mode after one in-place power iteration of u, v."""
        matrix = self.weight_orig.reshape([self.weight_orig.shape[0], -1])
        u, v = self.weight_u, self.weight_v
        if self.training:
            with paddle.no_grad():
                v = _normalize(paddle.mv(matrix.t(), u), self.eps)
                u = _normalize(paddle.mv(matrix, v), self.eps)
                # Fresh tensors go into the graph; the buffers are overwritten for the next call
                # (torch clones for the same reason: later in-place updates must not alter saved u, v).
                paddle.assign(u, self.weight_u)
                paddle.assign(v, self.weight_v)
        sigma = paddle.dot(u, paddle.mv(matrix, v))
        return self.weight_orig / sigma

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Convolution with the spectrally normalised weight."""
        return F.conv2d(x, self.normalized_weight(), self.bias, stride=self.stride, padding=self.padding)


class PartialConv2D(SNConv2D):
    """Official ``spectral_norm(PartialConv2d(...))``; ``forward(x, mask)`` -> (out, updated mask)."""

    def forward(self, x: paddle.Tensor, mask: Optional[paddle.Tensor] = None
                ) -> Tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        """Partial convolution of x [N,C,H,W] with mask [N,1,H,W]; without a mask a plain conv.

        Without a mask the official layer uses an all-ones mask: every window is full, the
        re-scaling is 9 / (9 + 1e-8) == 1 in float32, so it is the plain convolution.
        """
        weight = self.normalized_weight()
        if mask is None:
            return F.conv2d(x, weight, self.bias, stride=self.stride, padding=self.padding), None
        k = weight.shape[2:]
        with paddle.no_grad():
            ones = paddle.ones([1, 1] + list(k), dtype=x.dtype)
            count = F.conv2d(mask, ones, stride=self.stride, padding=self.padding)
            new_mask = paddle.clip(count, 0.0, 1.0)
            ratio = float(k[0] * k[1]) / (count + 1e-8) * new_mask
        raw = F.conv2d(x * mask, weight, None, stride=self.stride, padding=self.padding)
        # Official: ((raw + b) - b) * ratio + b, then * new_mask; without the bias round trip.
        out = raw * ratio
        if self.bias is not None:
            out = (out + self.bias.reshape([1, -1, 1, 1])) * new_mask
        return out, new_mask
