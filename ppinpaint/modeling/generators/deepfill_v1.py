"""DeepFill v1 generator (Yu et al., CVPR 2018): coarse network, then a refinement network whose
dilated-convolution branch and contextual-attention branch are merged.

Layer names follow daa233's port (``coarse_generator.conv1.conv.weight`` …) so its checkpoints
map key for key; the TF v1 names map by a fixed table (``convert/deepfill_v1.py``). Both
official codes differ in conventions that change a trained network's output; each is an option,
with TF v1 (the paper's code) as the default:

- ``padding``: ``tf_same`` (TF v1) | ``symmetric`` (TF v1's optional mirror padding) | ``zero``
  (daa233: equal zero padding, which shifts the stride-2 sampling grid);
- ``channel_order``: ``bgr`` (TF v1 reads images with OpenCV and was trained on BGR) | ``rgb``
  (daa233); inputs and outputs stay RGB at this net's boundary either way;
- ``attention``: the contextual attention layer (a config builds it from its keys: ``patch_norm`` and
  ``resize`` conventions ``tf`` | ``daa233``/``torch``, ``chunk_mib``…), see ``layers/contextual_attention.py``;
- ``init``: ``official``/``tf`` (Glorot-uniform, zero bias) | ``daa233`` (torch's defaults) |
  ``paddle``, see ``modeling/init.py``.
"""
from typing import Optional, Tuple

import paddle
from paddle import nn

from ...registry import NETWORKS
from ...utils.pixels import paste_back
from ..layers.contextual_attention import ContextualAttention
from ..init import DEEPFILL_CONVENTIONS, init_net
from ..layers.padded_conv import PaddedConv2D

CHANNEL_ORDERS = ("rgb", "bgr")


def _stack(padding: str, spec) -> dict:
    """Named PaddedConv2D layers from (name, in, out, ksize, stride, dilation, activation) rows."""
    return {name: PaddedConv2D(cin, cout, k, s, d, act, padding) for name, cin, cout, k, s, d, act in spec}


def _atrous(prefix: str, c: int):
    return [(f"{prefix}{i}_atrous", c, c, 3, 1, rate, "elu") for i, rate in ((7, 2), (8, 4), (9, 8), (10, 16))]


class CoarseGenerator(nn.Layer):
    """Stage 1: 5-channel input (image, ones, mask) -> coarse image in [-1,1]."""

    def __init__(self, cnum: int = 32, padding: str = "tf_same") -> None:
        super().__init__()
        c = cnum
        spec = [("conv1", 5, c, 5, 1, 1, "elu"), ("conv2_downsample", c, 2 * c, 3, 2, 1, "elu"),
                ("conv3", 2 * c, 2 * c, 3, 1, 1, "elu"), ("conv4_downsample", 2 * c, 4 * c, 3, 2, 1, "elu"),
                ("conv5", 4 * c, 4 * c, 3, 1, 1, "elu"), ("conv6", 4 * c, 4 * c, 3, 1, 1, "elu")]
        spec += _atrous("conv", 4 * c)
        spec += [("conv11", 4 * c, 4 * c, 3, 1, 1, "elu"), ("conv12", 4 * c, 4 * c, 3, 1, 1, "elu"),
                 ("conv13", 4 * c, 2 * c, 3, 1, 1, "elu"), ("conv14", 2 * c, 2 * c, 3, 1, 1, "elu"),
                 ("conv15", 2 * c, c, 3, 1, 1, "elu"), ("conv16", c, c // 2, 3, 1, 1, "elu"),
                 ("conv17", c // 2, 3, 3, 1, 1, None)]
        for name, layer in _stack(padding, spec).items():
            setattr(self, name, layer)
        self.order = [row[0] for row in spec]

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Masked image [N,3,H,W] in [-1,1] + mask [N,1,H,W] -> clipped coarse output."""
        x = paddle.concat([x, paddle.ones_like(mask), mask], axis=1)
        for name in self.order:
            layer = getattr(self, name)
            x = layer.upsampled(x) if name in ("conv13", "conv15") else layer(x)
        return paddle.clip(x, -1.0, 1.0)


class FineGenerator(nn.Layer):
    """Stage 2: dilated-conv branch + contextual-attention branch on the coarse result, merged."""

    def __init__(self, cnum: int = 32, padding: str = "tf_same",
                 attention: Optional[ContextualAttention] = None) -> None:
        super().__init__()
        c = cnum
        conv = [("conv1", 5, c, 5, 1, 1, "elu"), ("conv2_downsample", c, c, 3, 2, 1, "elu"),
                ("conv3", c, 2 * c, 3, 1, 1, "elu"), ("conv4_downsample", 2 * c, 2 * c, 3, 2, 1, "elu"),
                ("conv5", 2 * c, 4 * c, 3, 1, 1, "elu"), ("conv6", 4 * c, 4 * c, 3, 1, 1, "elu")]
        conv += _atrous("conv", 4 * c)
        attn = [("pmconv1", 5, c, 5, 1, 1, "elu"), ("pmconv2_downsample", c, c, 3, 2, 1, "elu"),
                ("pmconv3", c, 2 * c, 3, 1, 1, "elu"), ("pmconv4_downsample", 2 * c, 4 * c, 3, 2, 1, "elu"),
                ("pmconv5", 4 * c, 4 * c, 3, 1, 1, "elu"), ("pmconv6", 4 * c, 4 * c, 3, 1, 1, "relu")]
        after = [("pmconv9", 4 * c, 4 * c, 3, 1, 1, "elu"), ("pmconv10", 4 * c, 4 * c, 3, 1, 1, "elu")]
        merge = [("allconv11", 8 * c, 4 * c, 3, 1, 1, "elu"), ("allconv12", 4 * c, 4 * c, 3, 1, 1, "elu"),
                 ("allconv13", 4 * c, 2 * c, 3, 1, 1, "elu"), ("allconv14", 2 * c, 2 * c, 3, 1, 1, "elu"),
                 ("allconv15", 2 * c, c, 3, 1, 1, "elu"), ("allconv16", c, c // 2, 3, 1, 1, "elu"),
                 ("allconv17", c // 2, 3, 3, 1, 1, None)]
        for name, layer in _stack(padding, conv + attn + after + merge).items():
            setattr(self, name, layer)
        self.contextual_attention = attention if attention is not None else ContextualAttention()
        self.conv_order, self.attn_order = [r[0] for r in conv], [r[0] for r in attn]
        self.after_order, self.merge_order = [r[0] for r in after], [r[0] for r in merge]

    def _run(self, x: paddle.Tensor, names) -> paddle.Tensor:
        for name in names:
            layer = getattr(self, name)
            x = layer.upsampled(x) if name in ("allconv13", "allconv15") else layer(x)
        return x

    def forward(self, xin: paddle.Tensor, x_stage1: paddle.Tensor, mask: paddle.Tensor,
                return_flow: bool = False) -> Tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        """Refined output in [-1,1] (and the attention flow image when asked)."""
        x1_inpaint = paste_back(x_stage1, xin, mask)
        xnow = paddle.concat([x1_inpaint, paddle.ones_like(mask), mask], axis=1)
        x_hallu = self._run(xnow, self.conv_order)
        pm = self._run(xnow, self.attn_order)
        pm, flow = self.contextual_attention(pm, pm, mask, return_flow=return_flow)
        pm = self._run(pm, self.after_order)
        x = self._run(paddle.concat([x_hallu, pm], axis=1), self.merge_order)
        return paddle.clip(x, -1.0, 1.0), flow


@NETWORKS.register()
class DeepFillV1Generator(nn.Layer):
    """``forward(x, mask) -> (x_stage1, x_stage2, flow)``, as the official ``Generator``.

    ``x`` is the masked image (``image * (1 - mask)``) in [-1,1], RGB, H and W multiples of 8;
    ``mask`` [N,1,H,W] with 1 = hole. ``flow`` (attention offsets as a colour image in [0,1]) is
    computed only with ``return_flow=True`` and is ``None`` otherwise.
    """

    size_multiple = 8

    def __init__(self, cnum: int = 32, padding: str = "tf_same", channel_order: str = "bgr",
                 attention: Optional[ContextualAttention] = None, init: str = "official") -> None:
        super().__init__()
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
        self.channel_order = channel_order
        self.coarse_generator = CoarseGenerator(cnum, padding)
        self.fine_generator = FineGenerator(cnum, padding, attention)
        init_net(self, init, DEEPFILL_CONVENTIONS["tf"], DEEPFILL_CONVENTIONS)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor, return_flow: bool = False):
        """Masked image and mask -> (coarse, refined, flow image or None), images clipped to [-1,1]."""
        if x.ndim != 4 or x.shape[1] != 3 or mask.ndim != 4 or mask.shape[1] != 1:
            raise ValueError(f"DeepFill v1 needs x [N,3,H,W] and mask [N,1,H,W], got {x.shape} and {mask.shape}")
        if paddle.in_dynamic_mode() and (x.shape[2] % 8 or x.shape[3] % 8):    # traced: size unknown
            raise ValueError(f"DeepFill v1 needs H and W that are multiples of 8, got {x.shape[2]}x{x.shape[3]}")
        mask = mask.astype(x.dtype)
        if self.channel_order == "bgr":
            x = x.flip([1])
        x1 = self.coarse_generator(x, mask)
        x2, flow = self.fine_generator(x, x1, mask, return_flow=return_flow)
        if self.channel_order == "bgr":
            x1, x2 = x1.flip([1]), x2.flip([1])
        return x1, x2, flow
