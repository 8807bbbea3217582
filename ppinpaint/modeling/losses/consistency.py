"""CSA consistency loss (paper Eq. 6): hole features of the CSA block vs VGG16 relu4_3 of the target.

Official ``InnerCos`` / ``InnerCos2``: ``MSE(feature * feat_mask * strength, target)`` where
``feature`` is the CSA layer's output (InnerCos) or the first 512 channels of the block's
submodule output, i.e. the decoder feature at the same level (InnerCos2), and ``target`` is the
unmasked relu4_3 of the ground truth. Only defined when those features have 512 channels
(official width ngf 64): any other width is one clear error.
"""
from typing import Tuple

import paddle
import paddle.nn.functional as F


def consistency_losses(encoder: paddle.Tensor, decoder: paddle.Tensor, feat_mask: paddle.Tensor,
                       target: paddle.Tensor, strength: float = 1.0) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """(InnerCos, InnerCos2) losses; ``feat_mask`` [N,1,h,w] 1 = hole, ``target`` [N,512,h,w]."""
    channels = target.shape[1]
    if encoder.shape[1] != channels or decoder.shape[1] < channels or encoder.shape[2:] != target.shape[2:]:
        raise ValueError(f"consistency loss needs {channels}-channel CSA features at {list(target.shape[2:])} "
                         f"(official width ngf 64); got {list(encoder.shape[1:])} and {list(decoder.shape[1:])}. "
                         f"Set consistency_weight: 0 for other widths.")
    first = F.mse_loss(encoder * feat_mask * strength, target)
    second = F.mse_loss(decoder[:, :channels] * feat_mask * strength, target)
    return first, second
