"""DeepFill v1 (Yu et al., CVPR 2018) as a trainable method: two-stage generator, local and
global WGAN-GP critics, spatially discounted reconstruction loss.

Training follows the official v1 (TF ``build_graph_with_losses`` and daa233's ``Trainer``):

- critic: WGAN terms mean(D(fake) - D(real)) on the hole's bbox patch (local) and on the whole
  image (global, x ``global_wgan_loss_alpha``) + ``wgan_gp_lambda`` x the gradient penalties;
  TF v1 restricts the penalty to the hole (``gp_mask: true``), daa233 does not;
- generator: ``l1_loss_alpha`` x spatially discounted L1 on the bbox patch + ``ae_loss_alpha`` x
  L1 outside the hole + ``gan_loss_alpha`` x -D(fake); each L1 term counts the coarse output x
  ``coarse_l1_alpha`` plus the refined one. TF v1 takes the patch L1 on the raw outputs
  (``l1_target: raw``) and divides the ``ae`` term by the known-pixel fraction
  (``ae_normalize: true``); daa233 uses the composited outputs and no division;
- one generator step every ``n_critic`` (5) critic steps; the discounting gamma is 0.9 as in both
  codes (the paper text says 0.99);
- ``pretrain_coarse`` (TF v1 ``PRETRAIN_COARSE_NETWORK``): the coarse network alone on its
  reconstruction terms, one generator step per step and no critic step (TF adds no critic trainer).

A training batch may carry ``bbox`` [N,4] (top, left, height, width; the random box before its
shrink, where the local critic looks) and ``gp_alpha_local`` / ``gp_alpha_global`` [N,1] to
replay the official random draws (``last_draws`` holds the alphas of the last step); without
``bbox`` the hole's bounding box is used. TF v1 interpolates ``real + alpha·(fake - real)``: its
draws replay here as ``1 - alpha``.
"""
import contextlib
from typing import Dict, List, Optional

import numpy as np
import paddle
from paddle import nn

from ...registry import MODELS
from ...utils.pixels import paste_back
from ..draws import Draws
from ..losses.gradient_penalty import gradient_penalty
from .base import BaseModel

L1_TARGETS = ("raw", "composited")


def spatial_discounting_mask(height: int, width: int, gamma: float) -> paddle.Tensor:
    """[1,1,H,W] weights gamma^(distance to the nearest patch edge), the official formula."""
    i = np.arange(height)[:, None]
    j = np.arange(width)[None, :]
    values = np.maximum(gamma ** np.minimum(i, height - i), gamma ** np.minimum(j, width - j))
    return paddle.to_tensor(values[None, None].astype(np.float32))


def mask_bbox(mask: paddle.Tensor) -> paddle.Tensor:
    """[N,4] int64 (top, left, height, width) of each sample's hole; the whole image when empty."""
    boxes = []
    for axis in (3, 2):       # rows, then columns
        hit = (mask.max(axis=[1, axis]) > 0.5).astype("int32")
        first = paddle.argmax(hit, axis=1)
        last = hit.shape[1] - 1 - paddle.argmax(hit.flip([1]), axis=1)
        boxes.append((first, last - first + 1))
    (top, height), (left, width) = boxes
    return paddle.stack([top, left, height, width], axis=1).astype("int64")


def local_patch(x: paddle.Tensor, bbox: paddle.Tensor, size: int) -> paddle.Tensor:
    """``size`` x ``size`` crops centred on each sample's bbox, kept inside the image (batched gather)."""
    n, c, h, w = x.shape
    bbox = bbox.astype("int64")
    top = paddle.clip(bbox[:, 0] + bbox[:, 2] // 2 - size // 2, 0, h - size)
    left = paddle.clip(bbox[:, 1] + bbox[:, 3] // 2 - size // 2, 0, w - size)
    offs = paddle.arange(size, dtype="int64")[None]
    rows = (top[:, None] + offs).reshape([n, 1, size, 1]).expand([n, c, size, w])
    cols = (left[:, None] + offs).reshape([n, 1, 1, size]).expand([n, c, size, size])
    return paddle.take_along_axis(paddle.take_along_axis(x, rows, axis=2), cols, axis=3)


@MODELS.register()
class DeepFillV1(BaseModel):
    """DeepFill v1; the critics may be omitted for inference only."""

    task = "inpainting"
    progress_keys = ("l1", "ae", "g", "d")
    value_range = (-1.0, 1.0)
    size_multiple = 8
    min_size = 64      # rate-16 dilations with symmetric padding need 16 feature pixels
    draw_names = ("gp_alpha_local", "gp_alpha_global")

    def __init__(self, generator: nn.Layer, local_discriminator: Optional[nn.Layer] = None,
                 global_discriminator: Optional[nn.Layer] = None, n_critic: int = 5,
                 coarse_l1_alpha: float = 1.2, l1_loss_alpha: float = 1.2, ae_loss_alpha: float = 1.2,
                 gan_loss_alpha: float = 0.001, global_wgan_loss_alpha: float = 1.0, wgan_gp_lambda: float = 10.0,
                 spatial_discounting_gamma: float = 0.9, discounted_mask: bool = True, gp_mask: bool = True,
                 l1_target: str = "raw", ae_normalize: bool = True, pretrain_coarse: bool = False) -> None:
        nets = {"generator": generator}
        if (local_discriminator is None) != (global_discriminator is None):
            raise ValueError("DeepFill v1 needs both critics (local_discriminator and global_discriminator) or neither")
        if local_discriminator is not None:
            nets.update(local_discriminator=local_discriminator, global_discriminator=global_discriminator)
        super().__init__(nets)
        if l1_target not in L1_TARGETS:
            raise ValueError(f"l1_target must be one of {L1_TARGETS}, got {l1_target!r}")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.n_critic = int(n_critic)
        self.coarse_l1_alpha, self.l1_loss_alpha = float(coarse_l1_alpha), float(l1_loss_alpha)
        self.ae_loss_alpha, self.gan_loss_alpha = float(ae_loss_alpha), float(gan_loss_alpha)
        self.global_wgan_loss_alpha, self.wgan_gp_lambda = float(global_wgan_loss_alpha), float(wgan_gp_lambda)
        self.gamma, self.discounted_mask = float(spatial_discounting_gamma), bool(discounted_mask)
        self.gp_mask, self.l1_target = bool(gp_mask), l1_target
        self.ae_normalize, self.pretrain_coarse = bool(ae_normalize), bool(pretrain_coarse)

    @property
    def local_size(self) -> int:
        """Side of the local critic's patch (the official mask_shape, 128 at 256^2)."""
        return self.nets["local_discriminator"].input_size

    def generate(self, x: paddle.Tensor, mask: paddle.Tensor):
        """Generator on the masked image in [-1,1] -> (coarse, refined); refined is None when pretraining."""
        net = self.nets["generator"]
        with self.autocast():
            if self.pretrain_coarse:
                return net.coarse_generator(x, mask).astype("float32"), None
            x1, x2, _ = net(x, mask)
        return x1.astype("float32"), x2.astype("float32")

    def _critics(self, local: paddle.Tensor, whole: paddle.Tensor):
        with self.autocast():
            scores = (self.nets["local_discriminator"](local), self.nets["global_discriminator"](whole))
        return [s.astype("float32") for s in scores]

    def discriminator_loss(self, gt: paddle.Tensor, completed: paddle.Tensor, mask: paddle.Tensor,
                           bbox: paddle.Tensor, alpha_local: paddle.Tensor,
                           alpha_global: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Official critic terms; ``d`` = wgan_d + wgan_gp_lambda x wgan_gp."""
        n, size = gt.shape[0], self.local_size
        completed = completed.detach()
        local_real, local_fake = local_patch(gt, bbox, size), local_patch(completed, bbox, size)
        local_scores, global_scores = self._critics(paddle.concat([local_real, local_fake]),
                                                    paddle.concat([gt, completed]))
        wgan_d = (local_scores[n:] - local_scores[:n]).mean() + \
            (global_scores[n:] - global_scores[:n]).mean() * self.global_wgan_loss_alpha
        local_mask = local_patch(mask, bbox, size) if self.gp_mask else None
        gp_local = gradient_penalty(self.nets["local_discriminator"], local_real, local_fake,
                                    alpha_local.reshape([-1, 1, 1, 1]), mask=local_mask)
        gp_global = gradient_penalty(self.nets["global_discriminator"], gt, completed,
                                     alpha_global.reshape([-1, 1, 1, 1]), mask=mask if self.gp_mask else None)
        terms = {"wgan_d": wgan_d, "gp_local": gp_local, "gp_global": gp_global, "wgan_gp": gp_local + gp_global}
        terms["d"] = wgan_d + self.wgan_gp_lambda * terms["wgan_gp"]
        return terms

    def _recon(self, errors: List[paddle.Tensor]) -> paddle.Tensor:
        """coarse_l1_alpha x mean(coarse error) + mean(refined error), as both official codes weigh them."""
        return self.coarse_l1_alpha * errors[0].mean() + sum(e.mean() for e in errors[1:])

    def generator_loss(self, gt: paddle.Tensor, mask: paddle.Tensor, bbox: paddle.Tensor, x1: paddle.Tensor,
                       x2: Optional[paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """Official generator terms; ``g`` = l1_alpha x l1 + ae_alpha x ae + gan_alpha x wgan_g."""
        size = self.local_size
        incomplete = gt * (1.0 - mask)
        outputs = [x1] if x2 is None else [x1, x2]
        completed = [paste_back(o, incomplete, mask) for o in outputs]
        patch_src = outputs if self.l1_target == "raw" else completed
        local_gt = local_patch(gt, bbox, size)
        sd = spatial_discounting_mask(size, size, self.gamma) if self.discounted_mask else 1.0
        l1 = self._recon([paddle.abs(local_patch(o, bbox, size) - local_gt) * sd for o in patch_src])
        ae = self._recon([paddle.abs(gt - o) * (1.0 - mask) for o in outputs])
        if self.ae_normalize:
            ae = ae / (1.0 - mask).mean()
        terms = {"l1": l1, "ae": ae}
        g = self.l1_loss_alpha * l1 + self.ae_loss_alpha * ae
        if x2 is not None:
            local_score, global_score = self._critics(local_patch(completed[1], bbox, size), completed[1])
            terms["wgan_g"] = -local_score.mean() - global_score.mean() * self.global_wgan_loss_alpha
            g = g + self.gan_loss_alpha * terms["wgan_g"]
        terms["g"] = g
        return terms

    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        """One critic update; every ``n_critic``-th step also one generator update (pretraining: generator only)."""
        self.check_batch(batch, ("image", "mask"))
        if "local_discriminator" not in self.nets:
            raise ValueError("DeepFill v1 was built without critics: it can only run inference")
        mask = batch["mask"].astype("float32")
        gt = self.to_net(batch["image"])
        bbox = batch["bbox"] if "bbox" in batch else mask_bbox(mask)
        incomplete = gt * (1.0 - mask)
        # daa233: iteration % n_critic == 0, from 1. Pretraining trains the coarse net every step.
        g_step = self.pretrain_coarse or (step + 1) % self.n_critic == 0
        with contextlib.nullcontext() if g_step else paddle.no_grad():
            x1, x2 = self.generate(incomplete, mask)
        predicted = x1 if x2 is None else x2
        completed = paste_back(predicted, incomplete, mask)
        draws = Draws.from_batch(batch, self.draw_names)
        terms = {}
        if not self.pretrain_coarse:
            alphas = [draws.uniform(k, [gt.shape[0], 1]) for k in self.draw_names]
            terms = self.discriminator_loss(gt, completed, mask, bbox, *alphas)
            self.optimize(terms["d"], "discriminator")
        self.last_draws = draws.taken
        if g_step:
            with self.frozen(["local_discriminator", "global_discriminator"]):
                g_terms = self.generator_loss(gt, mask, bbox, x1, None if self.pretrain_coarse else x2)
                self.optimize(g_terms["g"], "generator")
            terms.update(g_terms)
        self._visuals = {"input": batch["image"] * (1.0 - mask), "mask": mask,
                         "output": paddle.clip(self.from_net(completed.detach()), 0.0, 1.0),
                         "target": batch["image"]}
        return {k: v.detach() for k, v in terms.items()}

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Image in [-1,1] + mask -> completed image in [-1,1] (official ``inference``)."""
        mask = mask.astype(image.dtype)
        incomplete = image * (1.0 - mask)
        x1, x2 = self.generate(incomplete, mask)
        predicted = x1 if x2 is None else x2
        return paste_back(predicted, incomplete, mask)
