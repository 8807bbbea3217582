"""A convolution with the official codes' padding conventions and an activation: DeepFill v1's building block.

The TF v1 code pads with TF ``'SAME'`` (stride-2 layers pad more at the bottom/right than at the
top/left) or, optionally, mirrors with ``'SYMMETRIC'``; daa233's PyTorch port pads zeros equally
on both sides. The three give the same output size but shift stride-2 sampling grids, so weights
trained under one convention are only faithful under that convention.
"""
from typing import Optional

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .portable import leaky_relu, upsample2x_nearest

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


def _phase_taps() -> np.ndarray:
    """[2, 3, 3] 0/1: for output phase ``a`` of a nearest x2 upsampling, which low-resolution offset
    (-1, 0, +1) each tap (0, 1, 2) of a 3x3 kernel on the upsampled image reads: ``(a + t - 1) // 2``."""
    taps = np.zeros((2, 3, 3), np.float32)
    for a in range(2):
        for t in range(3):
            taps[a, (a + t - 1) // 2 + 1, t] = 1.0
    return taps


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
        return self._activate(self.conv(x))

    def upsampled(self, x: paddle.Tensor) -> paddle.Tensor:
        """This layer on ``x`` upsampled x2 (nearest), for the decoders' upsample + 3x3 convolution.

        Eagerly, a 3x3 convolution with stride 1 and no dilation on an image whose pixels repeat in 2x2
        blocks is, per output phase, a 3x3 convolution of the small image whose kernel sums the taps
        that read the same source pixel (any padding convention pads the small image alike); the four
        phases' kernels make one convolution with 4x the output channels, interleaved by a pixel shuffle.
        The same products, at a quarter of the im2col and without the upsampled image: DeepFill v1's
        64->32 layer at 256^2, forward + backward, 211 -> 72 ms CPU; outputs and gradients within 1e-6
        relative (sums of taps round differently; docs/speed.md). Traced graphs keep upsample + conv.
        """
        if not paddle.in_dynamic_mode() or (self.ksize, self.stride, self.dilation) != (3, 1, 1):
            return self(upsample2x_nearest(x))
        taps = paddle.to_tensor(_phase_taps())
        w = self.conv.weight
        cout, cin = w.shape[0], w.shape[1]
        # kernel of output channel o, phase (a, b): taps[a] @ w[o] @ taps[b]^T, channel index o*4 + a*2 + b
        rows = [paddle.matmul(taps[a], w) for a in range(2)]
        w4 = paddle.stack([paddle.matmul(rows[a], taps[b], transpose_y=True) for a in range(2) for b in range(2)],
                          axis=1).reshape([cout * 4, cin, 3, 3])
        bias = self.conv.bias
        bias4 = None if bias is None else bias.unsqueeze(1).expand([cout, 4]).reshape([cout * 4])
        if self.padding == "symmetric":
            y = F.conv2d(symmetric_pad(x, 1), w4, bias4)
        else:
            y = F.conv2d(x, w4, bias4, padding=1)
        return self._activate(F.pixel_shuffle(y, 2))

    def _activate(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.activation == "elu":
            return F.elu(x)
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "lrelu":
            return leaky_relu(x, 0.2)
        return x
