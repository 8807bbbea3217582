"""The Spatial-Separated Attention Module (S²AM, Cun & Pun, TIP 2020).

A feature map is split by the (blurred) foreground mask into a background part, re-weighted by
one channel-attention gate, and a spliced part, which mixes a second gate's output (the "mixed"
feature) with a third gate's output passed through a small learning block:

    out = G_bg(x) * blur(1 - M) + (L(G_sp(x)) + G_mix(x)) * blur(M)

mirroring the official ``RASC`` (vinthony/s2am ``scripts/models/rasc.py``).
"""
import math
from typing import Optional, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .portable import resize_nearest


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """The official 2-D smoothing kernel, float32 [1,1,size,size], normalised to sum 1.

    The official ``GaussianSmoothing`` uses exp(-((x - mu) / (2 sigma))^2), i.e. a Gaussian of
    standard deviation sigma*sqrt(2), not sigma; we keep that formula so converted weights
    behave identically. The 1/(sigma sqrt(2 pi)) factors cancel in the normalisation.
    """
    grid = np.arange(size, dtype=np.float32)
    profile = np.exp(-(((grid - (size - 1) / 2.0) / np.float32(2.0 * sigma)) ** 2)).astype(np.float32)
    norm = np.float32(1.0 / (sigma * math.sqrt(2.0 * math.pi)))
    kernel = (norm * profile)[:, None] * (norm * profile)[None, :]
    return (kernel / kernel.sum(dtype=np.float32)).astype(np.float32).reshape(1, 1, size, size)


def known(dim: object) -> bool:
    """True for a dimension fixed at trace time (an int >= 0; dynamic ones are -1 or a tensor in static graphs)."""
    return isinstance(dim, int) and dim >= 0


def mask_at_stride(mask: paddle.Tensor, stride: int) -> paddle.Tensor:
    """The official rule for a mask ``stride`` times larger than the feature (1 = the same size).

    Same size: used as given (the official code skips rounding then). ``stride`` >= 2: 2x2
    average at stride ``stride`` (the top-left 2x2 of each cell), then torch's
    round-half-to-even, which on [0, 1] is ``> 0.5`` (a half-covered window gives 0). We
    threshold explicitly because Paddle versions differ on half-way rounding. The rule depends on
    the int ``stride`` alone, never on a size, so a static graph with dynamic H and W can hold it.
    """
    if stride == 1:
        return mask
    return (F.avg_pool2d(mask, kernel_size=2, stride=stride) > 0.5).astype(mask.dtype)


def mask_to_feature(mask: paddle.Tensor, height: int, width: int, stride: Optional[int] = None) -> paddle.Tensor:
    """Hard [N,1,h,w] mask at a feature's size, by the official rule made explicit.

    With ``stride`` (what a network knows of its own levels): :func:`mask_at_stride`, and the
    sizes, where known, must agree. Without it the rule is picked from the sizes, as the official
    code does (stride = width ratio); any size that is no such multiple (not in the official
    code): nearest resize, ``> 0.5``.
    """
    mh, mw = mask.shape[2], mask.shape[3]
    sizes_known = all(known(d) for d in (mh, mw, height, width))
    if stride is not None:
        if not (isinstance(stride, int) and stride >= 1):
            raise ValueError(f"S2AM mask stride must be an int >= 1, got {stride!r}")
        # Dynamic H and W in a static graph cannot be checked here; eager sizes always can.
        if sizes_known and (mh, mw) != (stride * height, stride * width):
            raise ValueError(f"S2AM mask of {mh}x{mw} is not {stride} times the {height}x{width} feature")
        return mask_at_stride(mask, stride)
    if not sizes_known:
        raise ValueError("S2AM picks its mask rule from the mask and feature sizes: pass the stride "
                         "for a graph with dynamic H and W")
    if (mh, mw) == (height, width):
        return mask
    stride = mw // width
    if stride >= 2 and mw == stride * width and mh == stride * height:
        return mask_at_stride(mask, stride)
    return (resize_nearest(mask, [height, width]) > 0.5).astype(mask.dtype)


class ChannelGate(nn.Layer):
    """Channel attention from avg- and max-pooled features (official ``GlobalAttentionModule``)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"S2AM channel gate needs channels >= reduction ({reduction}), got {channels}")
        self.fc1 = nn.Linear(2 * channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """x scaled per channel by sigmoid(fc2(relu(fc1([avg(x), max(x)]))))."""
        # adaptive_max_pool2d, not x.max(axis=[2, 3]): Paddle 3.3's CPU backward of a max over
        # a large axis takes seconds per call (21 s at 2x32x128x128); this one takes ms.
        peak = F.adaptive_max_pool2d(x, 1).flatten(1)
        pooled = paddle.concat([x.mean(axis=[2, 3]), peak], axis=1)
        weight = F.sigmoid(self.fc2(F.relu(self.fc1(pooled))))
        return x * weight.unsqueeze([2, 3])


class LearningBlock(nn.Layer):
    """conv3x3-BN-ELU twice (C -> 2C -> C), the official ``BasicLearningBlock``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(channels, 2 * channels, 3, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(2 * channels, momentum=0.9, epsilon=1e-5)
        self.conv2 = nn.Conv2D(2 * channels, channels, 3, padding=1, bias_attr=False)
        self.bn2 = nn.BatchNorm2D(channels, momentum=0.9, epsilon=1e-5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """The learned transform applied to the spliced branch."""
        return F.elu(self.bn2(self.conv2(F.elu(self.bn1(self.conv1(x))))))


class S2AM(nn.Layer):
    """S²AM on a feature map guided by a foreground mask (1 = spliced region).

    ``forward(x, mask, stride=None)``: ``x`` [N,C,H,W] (H, W >= 3), ``mask`` [N,1,h,w] at any
    resolution, or exactly ``stride`` times H and W when the caller knows that ratio (then the
    rule needs no sizes and a static graph keeps H and W dynamic; see :func:`mask_to_feature`);
    returns [N,C,H,W]. Batch samples are independent (the gates pool per sample; BatchNorm uses
    running statistics in eval mode).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.channels = channels
        self.learn = LearningBlock(channels)
        self.background_gate = ChannelGate(channels, reduction)
        self.mixed_gate = ChannelGate(channels, reduction)
        self.spliced_gate = ChannelGate(channels, reduction)
        # A constant of the architecture, not a weight: kept out of the state dict (the
        # converter checks an official checkpoint's copy against this value).
        self.register_buffer("gaussian", paddle.to_tensor(gaussian_kernel()), persistable=False)

    def blur(self, maps: paddle.Tensor) -> paddle.Tensor:
        """The official 5x5 smoothing of each channel of a [N,C,H,W] map, reflect padding 2."""
        channels = maps.shape[1]
        kernel = self.gaussian.tile([channels, 1, 1, 1])
        return F.conv2d(F.pad(maps, [2, 2, 2, 2], mode="reflect"), kernel, groups=channels)

    def combine(self, x: paddle.Tensor, fg: paddle.Tensor, bg: paddle.Tensor) -> paddle.Tensor:
        """The paper's recombination: the background gate where ``bg``, learned + mixed features where ``fg``."""
        spliced = self.learn(self.spliced_gate(x)) + self.mixed_gate(x)
        return self.background_gate(x) * bg + spliced * fg

    def check_input(self, x: paddle.Tensor) -> None:
        """One clear error for a feature map this module cannot take."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"S2AM({self.channels}) expects [N,{self.channels},H,W], got {list(x.shape)}")
        if any(known(d) and d < 3 for d in x.shape[2:]):
            raise ValueError(f"S2AM needs features of at least 3x3 (reflect padding 2), got {list(x.shape)}")

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor, stride: Optional[int] = None) -> paddle.Tensor:
        """Harmonize the features of the masked region (1 = foreground) against the rest."""
        self.check_input(x)
        n, m = x.shape[0], mask.shape[0]
        if mask.ndim != 4 or mask.shape[1] != 1 or (known(n) and known(m) and n != m):
            raise ValueError(f"S2AM mask must be [N,1,h,w] with N = {x.shape[0]}, got {list(mask.shape)}")
        hard = mask_to_feature(mask.astype(x.dtype), x.shape[2], x.shape[3], stride)
        # Official: the mask and its complement are blurred separately (1 - blur(M) differs by
        # float rounding only). Stacked on the channel axis, not the batch: paddle2onnx cannot
        # split a dynamic batch axis, and the depthwise conv gives the same bits per channel.
        both = self.blur(paddle.concat([hard, 1.0 - hard], axis=1))
        return self.combine(x, both[:, 0:1], both[:, 1:2])


class MaskPredictor(nn.Layer):
    """Spatial attention predicting the foreground from the feature (official ``SpatialAttentionModule``).

    Channel-wise mean and max -> conv7x7 (2 -> hidden) -> ReLU -> conv7x7 (hidden -> 1) -> sigmoid.
    """

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(2, hidden, 7, padding=3)
        self.conv2 = nn.Conv2D(hidden, 1, 7, padding=3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """[N,C,H,W] feature -> [N,1,H,W] soft mask in (0, 1)."""
        n, c, h, w = x.shape
        # Channel max as a [C,1] max pool: ~30x faster backward than x.max(axis=1) on CPU.
        peak = F.max_pool2d(x.reshape([n, 1, c, h * w]), kernel_size=[c, 1]).reshape([n, 1, h, w])
        pooled = paddle.concat([x.mean(axis=1, keepdim=True), peak], axis=1)
        return F.sigmoid(self.conv2(F.relu(self.conv1(pooled))))


class MaskFreeS2AM(S2AM):
    """S²AM that predicts its own mask (the paper's mask-free harmonization; official ``URASC``).

    ``forward(x)`` returns ``(out, predicted_mask)``; the predicted soft mask replaces the
    blurred hard mask and its complement (no blur, as official), and the caller supervises
    it with the true mask at that scale.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__(channels, reduction)
        self.mask_head = MaskPredictor(reduction)

    def forward(self, x: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """Harmonize using the predicted foreground; ``mask`` is ignored (kept for a uniform call)."""
        self.check_input(x)
        predicted = self.mask_head(x)
        return self.combine(x, predicted, 1.0 - predicted), predicted
