"""RainNet harmonization (Ling et al., CVPR 2021): RAIN U-Net generator + DoveNet-style critic.

Training follows the official ``RainNetModel.optimize_parameters`` (junleen/RainNet, gan_mode
``wgangp``, the ``scripts/train.sh`` recipe):

- critic: hinge terms relu(1 + D(fake)) + relu(1 - D(real)) on both heads (global realism and
  foreground/background verification), plus ``gp_weight`` x the WGAN-GP penalty on the mean of
  the two heads (official ``cal_gradient_penalty``: lambda_gp 10 x gp_ratio 1, ``+ 1e-16`` on the
  gradient before the norm);
- generator: -D(fake) on both heads (weights ``lambda_global``, ``lambda_verif``: official
  lambda_a, lambda_v) + ``lambda_l1`` x L1(harmonized, real), harmonized = output·mask +
  composite·(1 - mask).

The critic steps first, then the generator, with the critic's parameters frozen for the
generator's backward (official ``set_requires_grad(netD, False)``).
"""
from typing import Dict, Optional

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import MODELS
from ...utils.pixels import paste_back
from ..draws import Draws
from ..generators.rainnet import DROPOUT_LEVELS
from ..losses.adversarial import wgan_g_loss
from ..losses.gradient_penalty import gradient_penalty
from .base import BaseModel


@MODELS.register()
class RainNet(BaseModel):
    """RainNet as a trainable method; ``discriminator`` may be omitted for inference only.

    A training batch may hold the step's random draws (``draw_names``: ``gp_alpha`` [N,1] and the
    generator's dropout keep masks ``dropout4..6``) to replay a run exactly; ``last_draws`` holds
    those of the last step.
    """

    task = "harmonization"
    progress_keys = ("G_L1", "G_GAN", "D")
    value_range = (-1.0, 1.0)
    size_multiple = 256      # eight stride-2 levels in the U-Net
    min_size = 256
    draw_names = ("gp_alpha",) + tuple(f"dropout{level}" for level in DROPOUT_LEVELS)

    def __init__(self, generator: nn.Layer, discriminator: Optional[nn.Layer] = None, lambda_l1: float = 100.0,
                 gp_weight: float = 10.0, lambda_global: float = 1.0, lambda_verif: float = 1.0,
                 grad_eps: float = 1e-16) -> None:
        nets = {"generator": generator}
        if discriminator is not None:
            nets["discriminator"] = discriminator
        super().__init__(nets)
        self.lambda_l1, self.gp_weight = float(lambda_l1), float(gp_weight)
        self.lambda_global, self.lambda_verif = float(lambda_global), float(lambda_verif)
        self.grad_eps = float(grad_eps)

    def _generate(self, comp: paddle.Tensor, mask: paddle.Tensor, draws: Optional[Draws] = None) -> paddle.Tensor:
        """Raw generator output for a composite in [-1,1] (the mask added as input if 4-channel)."""
        self.check_inputs(comp, mask)
        net = self.nets["generator"]
        inputs = paddle.concat([comp, mask], axis=1) if getattr(net, "input_nc", 3) == 4 else comp
        with self.autocast():
            output = net(inputs, mask, draws)
        return output.astype(comp.dtype)

    def discriminator_loss(self, real: paddle.Tensor, fake: paddle.Tensor, mask: paddle.Tensor,
                           alpha: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Official ``backward_D`` terms (wgangp mode); ``D`` is their total. Calls: fake, real, GP."""
        critic = self.nets["discriminator"]
        fake = fake.detach()
        with self.autocast():
            fake_global, fake_verif = critic(fake, mask)
            real_global, real_verif = critic(real, mask)
        fake_global, fake_verif, real_global, real_verif = (
            t.astype("float32") for t in (fake_global, fake_verif, real_global, real_verif))
        g_fake, v_fake = F.relu(1.0 + fake_global).mean(), F.relu(1.0 + fake_verif).mean()
        g_real, v_real = F.relu(1.0 - real_global).mean(), F.relu(1.0 - real_verif).mean()
        # Float32 outside autocast: the penalty differentiates the critic twice.
        gp = gradient_penalty(lambda x: critic(x, mask, gp=True), real, fake, alpha, grad_eps=self.grad_eps)
        terms = {"D_fake": g_fake + v_fake, "D_real": g_real + v_real, "D_gp": self.gp_weight * gp,
                 "D_global": g_fake + g_real, "D_local": v_fake + v_real}
        terms["D"] = terms["D_fake"] + terms["D_real"] + terms["D_gp"]
        return terms

    def generator_loss(self, real: paddle.Tensor, harmonized: paddle.Tensor,
                       mask: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Official ``backward_G`` terms; ``G`` is their total."""
        with self.autocast():
            fake_global, fake_verif = self.nets["discriminator"](harmonized, mask)
        terms = {"G_global": wgan_g_loss(fake_global.astype("float32")),
                 "G_local": wgan_g_loss(fake_verif.astype("float32"))}
        terms["G_GAN"] = self.lambda_global * terms["G_global"] + self.lambda_verif * terms["G_local"]
        terms["G_L1"] = self.lambda_l1 * F.l1_loss(harmonized, real)
        terms["G"] = terms["G_GAN"] + terms["G_L1"]
        return terms

    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        """One critic update, then one generator update; returns every term (detached)."""
        self.check_batch(batch, ("image", "mask", "target"))
        if "discriminator" not in self.nets:
            raise ValueError("RainNet was built without a discriminator: it can only run inference")
        mask = batch["mask"].astype("float32")
        comp, real = self.to_net(batch["image"]), self.to_net(batch["target"])
        draws = Draws.from_batch(batch, self.draw_names)
        output = self._generate(comp, mask, draws)
        harmonized = paste_back(output, comp, mask)
        alpha = draws.uniform("gp_alpha", [comp.shape[0], 1])
        d_terms = self.discriminator_loss(real, harmonized, mask, alpha.reshape([-1, 1, 1, 1]))
        self.optimize(d_terms["D"], "discriminator")
        with self.frozen(["discriminator"]):
            g_terms = self.generator_loss(real, harmonized, mask)
            self.optimize(g_terms["G"], "generator")
        self.last_draws = draws.taken
        self._visuals = {"input": batch["image"], "mask": mask, "output": paddle.clip(self.from_net(harmonized), 0.0, 1.0),
                         "target": batch["target"]}
        return {k: v.detach() for k, v in {**d_terms, **g_terms}.items()}

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Composite in [-1,1] + mask -> harmonized foreground on the original background (``processImage``)."""
        mask = mask.astype(image.dtype)
        return paste_back(self._generate(image, mask), image, mask)
