"""A convolution with the official codes' padding conventions and an activation: DeepFill v1's building block.

The TF v1 code pads with TF ``'SAME'`` (stride-2 layers pad more at the bottom/right than at the
top/left) or, optionally, mirrors with ``'SYMMETRIC'``; daa233's PyTorch port pads zeros equally
on both sides. The three give the same output size but shift stride-2 sampling grids, so weights
trained under one convention are only faithful under that convention.
"""
from typing import Optional

import paddle
import paddle.nn.functional as F
from paddle import nn

from .portable import leaky_relu

PADDINGS = ("tf_same", "symmetric", "zero")
ACTIVATIONS = ("elu", "relu", "lrelu", None)


def tf_same_pads(size: int, ksize: int, stride: int, dilation: int) -> tuple:
    """(before, after) padding of TF 'SAME' along one axis; an unknown (-1) size is taken as even."""
    k = (ksize - 1) * dilation + 1
    if size < 0:
        size = 2 * stride
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def symmetric_pad(x: paddle.Tensor, p: int) -> paddle.Tensor:
    """TF 'SYMMETRIC' padding by ``p`` on H and W: a mirror that repeats the edge pixel."""
    if p == 0:
        return x
    if p > x.shape[2] or p > x.shape[3]:
        raise ValueError(f"symmetric padding {p} exceeds the feature size {x.shape[2]}x{x.shape[3]}: "
                         "the input image is too small for this network")
    x = paddle.concat([x[:, :, :p].flip([2]), x, x[:, :, -p:].flip([2])], axis=2)
    return paddle.concat([x[:, :, :, :p].flip([3]), x, x[:, :, :, -p:].flip([3])], axis=3)


class PaddedConv2D(nn.Layer):
    """conv (+ padding convention) + activation; parameters under ``conv`` as in daa233's ``Conv2dBlock``."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1, dilation: int = 1,
                 activation: Optional[str] = "elu", padding: str = "tf_same") -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.ksize, self.stride, self.dilation = ksize, stride, dilation
        self.padding, self.activation = padding, activation
        # Zero paddings are the convolution's own (exports cleanly to ONNX); TF 'SAME' is fixed
        # for even inputs, which is all these nets see (images are multiples of 8).
        p = dilation * (ksize - 1) // 2
        pads = 0 if padding == "symmetric" else [p, p, p, p] if padding == "zero" else \
            list(tf_same_pads(-1, ksize, stride, dilation)) * 2
        self.conv = nn.Conv2D(in_channels, out_channels, ksize, stride, padding=pads, dilation=dilation)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Pad, convolve, activate."""
        if self.padding == "symmetric":
            x = symmetric_pad(x, self.dilation * (self.ksize - 1) // 2)
        elif self.padding == "tf_same" and paddle.in_dynamic_mode() and (x.shape[2] % 2 or x.shape[3] % 2):
            raise ValueError(f"tf_same padding is fixed for even inputs, got {x.shape[2]}x{x.shape[3]}")
        x = self.conv(x)
        if self.activation == "elu":
            return F.elu(x)
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "lrelu":
            return leaky_relu(x, 0.2)
        return x
