"""Relativistic-average LSGAN (Jolicoeur-Martineau 2019), as the official CSA ``GANLoss``.

The official ``GANLoss(y_pred_fake, y_pred, target_is_real)`` computes, whatever its
``gan_type``, the relativistic-average least-squares objective with a target tensor ``t``:

    critic:    ( E[(D(r) - E D(f) - t)^2] + E[(D(f) - E D(r) + t)^2] ) / 2
    generator: ( E[(D(r) - E D(f) + t)^2] + E[(D(f) - E D(r) - t)^2] ) / 2

and its "fake" target tensor is filled with the *real* label (1), so ``t`` is 1 in both calls
(official quirk). That quirk is what makes the generator term the proper RaLSGAN one, so it is
the default; ``fake_label`` gives the generator call the constructor's fake label instead.
"""
from typing import Optional

import paddle

from .adversarial import lsgan_loss


class RelativisticLSGAN:
    """Callable pair of RaLSGAN terms; ``fake_label=None`` reproduces the official target of 1."""

    def __init__(self, real_label: float = 1.0, fake_label: Optional[float] = None) -> None:
        self.real_label = float(real_label)
        self.fake_label = self.real_label if fake_label is None else float(fake_label)

    def critic(self, fake: paddle.Tensor, real: paddle.Tensor) -> paddle.Tensor:
        """Critic loss (official ``GANLoss(fake, real, True)``)."""
        t = self.real_label
        return (lsgan_loss(real - fake.mean(), t) + lsgan_loss(fake - real.mean(), -t)) / 2

    def generator(self, fake: paddle.Tensor, real: paddle.Tensor) -> paddle.Tensor:
        """Generator loss (official ``GANLoss(fake, real, False)``)."""
        t = self.fake_label
        return (lsgan_loss(real - fake.mean(), -t) + lsgan_loss(fake - real.mean(), t)) / 2
