"""The FID Inception network, as pytorch-fid's ``InceptionV3(use_fid_inception=True)``.

pytorch-fid ports TensorFlow's 2015-12-05 Inception graph (the one the FID paper used) onto
torchvision's ``Inception3`` and patches three things we mirror here: the average pools inside
the A, C and E blocks exclude the zero padding (TensorFlow's ``SAME`` average pool), and the last
E block pools with a max instead of an average. Inputs in [0, 1] are resized to 299x299 with
bilinear ``align_corners=False`` (no antialiasing, as ``F.interpolate``) and mapped to [-1, 1].

Attribute names are torchvision's (``Mixed_5b.branch1x1.conv.weight`` …) so the converter only
renames BatchNorm statistics. ``dims`` picks pytorch-fid's output block: 64 (first max-pool),
192 (second max-pool), 768 (before the aux classifier) or 2048 (final average pool, the FID
standard); a spatial block is averaged to one vector as pytorch-fid's ``get_activations`` does.
"""
from typing import Sequence, Union

import paddle
import paddle.nn.functional as F
from paddle import nn

BLOCK_INDEX_BY_DIM = {64: 0, 192: 1, 768: 2, 2048: 3}

Size = Union[int, Sequence[int]]


class BasicConv2d(nn.Layer):
    """Conv without bias, BatchNorm (eps 1e-3, as TensorFlow's graph), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: Size, stride: int = 1, padding: Size = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2D(in_ch, out_ch, kernel_size, stride=stride, padding=padding, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_ch, epsilon=1e-3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """conv -> bn -> relu."""
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: paddle.Tensor) -> paddle.Tensor:
    # exclusive=True leaves the zero padding out of each mean (TensorFlow's SAME average pool);
    # pytorch-fid patches torchvision's count_include_pad=True to this.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, exclusive=True)


class FIDInceptionA(nn.Layer):
    """Mixed_5b/5c/5d: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_ch: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_ch, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, pool_features, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Concatenated branches."""
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return paddle.concat([self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg_pool(x))], axis=1)


class InceptionB(nn.Layer):
    """Mixed_6a: the stride-2 reduction to 17x17."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Concatenated branches."""
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return paddle.concat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], axis=1)


class FIDInceptionC(nn.Layer):
    """Mixed_6b-6e: factorised 7x7 branches."""

    def __init__(self, in_ch: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_ch, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_ch, 192, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Concatenated branches."""
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return paddle.concat([self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))], axis=1)


class InceptionD(nn.Layer):
    """Mixed_7a: the stride-2 reduction to 8x8."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_ch, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_ch, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Concatenated branches."""
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return paddle.concat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], axis=1)


class FIDInceptionE(nn.Layer):
    """Mixed_7b (``pool='avg'``) and Mixed_7c (``pool='max'``): expanded 3x3 branches."""

    def __init__(self, in_ch: int, pool: str) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_ch, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_ch, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_ch, 192, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Concatenated branches."""
        a = self.branch3x3_1(x)
        b3 = paddle.concat([self.branch3x3_2a(a), self.branch3x3_2b(a)], axis=1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = paddle.concat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], axis=1)
        # The last block of TensorFlow's FID graph max-pools here (pytorch-fid's FIDInceptionE_2).
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.pool == "max" else _tf_avg_pool(x)
        return paddle.concat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], axis=1)


class FIDInceptionV3(nn.Layer):
    """[N,3,H,W] images in [0,1] -> [N, dims] pytorch-fid activations (eval mode, no gradients)."""

    def __init__(self, dims: int = 2048) -> None:
        super().__init__()
        if dims not in BLOCK_INDEX_BY_DIM:
            raise ValueError(f"FID dims must be one of {sorted(BLOCK_INDEX_BY_DIM)}, got {dims}")
        self.dims = dims
        self.block = BLOCK_INDEX_BY_DIM[dims]
        # Only the layers up to the requested block exist, so a converted 2048-d file also fits
        # smaller dims after the converter drops the unused keys (see ``state_for_dims``).
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        if self.block >= 1:
            self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
            self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        if self.block >= 2:
            self.Mixed_5b = FIDInceptionA(192, pool_features=32)
            self.Mixed_5c = FIDInceptionA(256, pool_features=64)
            self.Mixed_5d = FIDInceptionA(288, pool_features=64)
            self.Mixed_6a = InceptionB(288)
            self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
            self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
            self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
            self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        if self.block >= 3:
            self.Mixed_7a = InceptionD(768)
            self.Mixed_7b = FIDInceptionE(1280, pool="avg")
            self.Mixed_7c = FIDInceptionE(2048, pool="max")
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Resize to 299, scale to [-1,1], run to the chosen block, average to [N, dims]."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, align_mode=0)
        x = 2.0 * x - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        if self.block >= 1:
            x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        if self.block >= 2:
            for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                         "Mixed_6e"):
                x = getattr(self, name)(x)
        if self.block >= 3:
            x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        return x.mean(axis=[2, 3])


def state_for_dims(state: dict, net: FIDInceptionV3) -> dict:
    """The entries of a full (2048-d) converted state that ``net`` (maybe fewer blocks) uses."""
    own = net.state_dict()
    return {k: v for k, v in state.items() if k in own}
