"""A small but real GAN method and dataset for exercising the engine (registered for tests only)."""
from typing import Dict

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ppinpaint.data.base import SeededDataset
from ppinpaint.modeling.losses.adversarial import hinge_d_loss, wgan_g_loss
from ppinpaint.modeling.losses.gradient_penalty import gradient_penalty
from ppinpaint.modeling.models.base import BaseModel
from ppinpaint.registry import DATASETS, MODELS, NETWORKS


@NETWORKS.register()
class TinyGenerator(nn.Layer):
    """Two convolutions from (masked image, mask) to an image in [-1, 1]."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(4, width, 3, padding=1)
        self.conv2 = nn.Conv2D(width, 3, 3, padding=1)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        return paddle.tanh(self.conv2(F.leaky_relu(self.conv1(paddle.concat([x, mask], axis=1)), 0.2)))


@NETWORKS.register()
class TinyCritic(nn.Layer):
    """A strided conv critic returning one score per sample."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(3, width, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2D(width, 1, 4, stride=2, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.conv2(F.leaky_relu(self.conv1(x), 0.2)).mean(axis=[1, 2, 3])


@MODELS.register()
class TinyInpaintGAN(BaseModel):
    """L1 + hinge GAN with gradient penalty; critic steps every iteration, generator every ``disc_steps``."""

    def __init__(self, generator: nn.Layer, discriminator: nn.Layer, disc_steps: int = 2,
                 gp_weight: float = 1.0, nan_at_step: int = -1) -> None:
        super().__init__({"generator": generator, "discriminator": discriminator})
        self.disc_steps, self.gp_weight, self.nan_at_step = disc_steps, gp_weight, nan_at_step

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        out = self.nets["generator"](image * (1 - mask), mask)
        return out * mask + image * (1 - mask)

    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        image, mask = self.to_net(batch["image"]), batch["mask"]
        with self.autocast():
            fake = self.forward_infer(image, mask)
        critic = self.nets["discriminator"]
        d_loss = hinge_d_loss(critic(image), critic(fake.detach()))
        alpha = paddle.rand([image.shape[0], 1, 1, 1])
        gp = gradient_penalty(critic, image, fake, alpha)
        self.optimize(d_loss + self.gp_weight * gp, "discriminator")
        losses = {"d": d_loss.detach(), "gp": gp.detach()}
        if step % self.disc_steps == 0:
            l1 = (fake - image).abs().mean()
            if step == self.nan_at_step:
                l1 = l1 * float("nan")
            g_loss = l1 + 0.01 * wgan_g_loss(critic(fake))
            self.optimize(g_loss, "generator")
            losses.update(l1=l1.detach(), g=g_loss.detach())
        self._visuals = {"input": batch["image"] * (1 - mask), "mask": mask,
                         "output": self.from_net(fake.detach()), "target": batch["target"]}
        return losses


@DATASETS.register()
class TinyBlobs(SeededDataset):
    """Smooth random images with a random box hole, generated from the item's rng."""

    def __init__(self, size: int = 16, length: int = 10) -> None:
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def load(self, index: int, rng: np.random.Generator) -> dict:
        s = self.size
        yy, xx = np.mgrid[0:s, 0:s] / s
        freq = rng.uniform(1, 4, size=(3, 2))
        image = 0.5 + 0.5 * np.sin(freq[:, :1, None] * xx * 6 + freq[:, 1:, None] * yy * 6)
        mask = np.zeros((1, s, s), np.float32)
        t, l = rng.integers(0, s // 2, size=2)
        mask[:, t:t + s // 2, l:l + s // 2] = 1.0
        image = image.astype(np.float32)
        return {"image": image, "mask": mask, "target": image.copy(), "name": f"blob{index}"}
