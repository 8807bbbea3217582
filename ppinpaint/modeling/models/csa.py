"""CSA inpainting (Liu et al., ICCV 2019) as a trainable method: the official GAN recipe.

Per step, as the official ``optimize_parameters``: both critics (image PatchGAN on the refined
output, feature critic on its VGG16 relu3_3) take one step on 0.5·RaLSGAN + 0.5·RaLSGAN, then the
generator (rough + refinement nets) on 100·(L1(refined) + L1(rough)) + 0.2·(RaLSGAN image +
feature) + the consistency losses.

``mode: official`` reproduces the official gradients: the CSA layer's truncated backward, the
feature-critic term computed on ``fake_B.data`` and the consistency terms re-wrapped as detached
leaves (their values are reported and added, they move nothing). ``mode: paper`` (default) lets
all three send their gradient to the generator.
"""
from typing import Dict, Optional

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import MODELS
from ...utils.pixels import paste_back
from ..layers.csa import MODES
from ..losses.consistency import consistency_losses
from ..losses.relativistic import RelativisticLSGAN
from .base import BaseModel


@MODELS.register()
class CSA(BaseModel):
    """Roles ``generator`` (``.rough`` = netP, ``.refine`` = netG), ``discriminator``, ``feature_discriminator``.

    ``vgg`` is the fixed VGG16 feature extractor (not a saved role). ``consistency_weight`` needs
    the official width (ngf 64: 512-channel CSA features); set it to 0 for other widths.
    """

    progress_keys = ("G_L1", "G_GAN", "D")
    size_multiple = 256
    min_size = 256

    def __init__(self, generator: nn.Layer, discriminator: nn.Layer, feature_discriminator: nn.Layer,
                 vgg: nn.Layer, mode: str = "paper", l1_weight: float = 100.0, gan_weight: float = 0.2,
                 consistency_weight: float = 1.0, fake_label: Optional[float] = None) -> None:
        super().__init__({"generator": generator, "discriminator": discriminator,
                          "feature_discriminator": feature_discriminator})
        if mode not in MODES:
            raise ValueError(f"CSA mode must be one of {MODES}, got {mode!r}")
        if consistency_weight and getattr(generator, "ngf", 64) * 8 != 512:
            raise ValueError(f"consistency_weight {consistency_weight} needs the official width ngf 64 "
                             f"(512-channel CSA features); ngf is {generator.ngf}: set consistency_weight: 0")
        generator.set_mode(mode)
        self.mode = mode
        self.vgg = vgg
        self.gan = RelativisticLSGAN(fake_label=fake_label)
        self.l1_weight = float(l1_weight)
        self.gan_weight = float(gan_weight)
        self.consistency_weight = float(consistency_weight)

    def critic_losses(self, refined: paddle.Tensor, real: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Official ``backward_D``: image and feature RaLSGAN critic terms on a detached output."""
        d, f = self.nets["discriminator"], self.nets["feature_discriminator"]
        fake = refined.detach()
        with paddle.no_grad():
            feat_fake = self.vgg(fake)["relu3_3"]
            feat_real = self.vgg(real)["relu3_3"]
        d_fake = self.gan.critic(d(fake), d(real))
        f_fake = self.gan.critic(f(feat_fake), f(feat_real))
        return {"D_fake": d_fake, "F_fake": f_fake, "D": 0.5 * d_fake + 0.5 * f_fake}

    def generator_losses(self, rough: paddle.Tensor, refined: paddle.Tensor,
                         real: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Official ``backward_G`` (``mode`` decides which terms carry gradient)."""
        d, f = self.nets["discriminator"], self.nets["feature_discriminator"]
        official = self.mode == "official"
        with paddle.no_grad():
            real_feats = self.vgg(real)
        # Official: the feature term sees vgg(fake_B.data), so it never reaches the generator.
        fake_feat = self.vgg(refined.detach() if official else refined)["relu3_3"]
        real_d = d(real).detach()
        real_f = f(real_feats["relu3_3"]).detach()
        gan = self.gan.generator(d(refined), real_d) + self.gan.generator(f(fake_feat), real_f)
        l1 = (F.l1_loss(refined, real) + F.l1_loss(rough, real)) * self.l1_weight
        out = {"G_GAN": gan, "G_L1": l1, "G": l1 + self.gan_weight * gan}
        if self.consistency_weight:
            encoder, decoder, feat_mask = self.nets["generator"].refine.features()
            first, second = consistency_losses(encoder, decoder, feat_mask, real_feats["relu4_3"])
            if official:
                # The official adds Variable(loss.data, requires_grad=True): value only.
                first, second = first.detach(), second.detach()
            out.update(innercos=first, innercos2=second)
            out["G"] = out["G"] + self.consistency_weight * (first + second)
        return out

    def _inputs(self, batch: Dict[str, paddle.Tensor]):
        self.check_batch(batch, ("image", "mask", "target"))
        image, mask, target = batch["image"], batch["mask"], batch["target"]
        if (image.ndim != 4 or image.shape[1] != 3 or list(mask.shape) != [image.shape[0], 1, *image.shape[2:]]
                or list(target.shape) != list(image.shape)):
            raise ValueError(f"CSA needs image/target [N,3,H,W] and mask [N,1,H,W] of the same N, H, W; got "
                             f"{list(image.shape)}, {list(target.shape)}, {list(mask.shape)}")
        return self.to_net(image), (mask > 0.5).astype("float32"), self.to_net(target)

    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        """Critics' step then generator's step; returns every loss term (detached)."""
        image, mask, real = self._inputs(batch)
        with self.autocast():
            rough, refined = self.nets["generator"](image, mask)
            critic = self.critic_losses(refined, real)
        self.optimize(critic["D"], "discriminator")
        with self.autocast():
            gen = self.generator_losses(rough, refined, real)
        self.optimize(gen["G"], "generator")
        composite = paste_back(refined.detach(), image, mask)
        self._visuals = {"input": self.from_net(image * (1.0 - mask)), "mask": mask,
                         "output": paddle.clip(self.from_net(composite), 0.0, 1.0),
                         "target": self.from_net(real)}
        return {k: v.detach() for k, v in {**critic, **gen}.items()}

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Both stages; the refined output pasted into the hole."""
        _, refined = self.nets["generator"](image, mask)
        return paste_back(refined, image, mask)
