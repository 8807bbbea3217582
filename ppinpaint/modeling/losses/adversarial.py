"""Adversarial objectives on critic outputs (WGAN, hinge, LSGAN): plain functions of tensors."""
import paddle
import paddle.nn.functional as F


def wgan_d_loss(real: paddle.Tensor, fake: paddle.Tensor) -> paddle.Tensor:
    """WGAN critic loss E[D(fake)] - E[D(real)]."""
    return fake.mean() - real.mean()


def wgan_g_loss(fake: paddle.Tensor) -> paddle.Tensor:
    """WGAN generator loss -E[D(fake)] (also the hinge generator loss)."""
    return -fake.mean()


def hinge_d_loss(real: paddle.Tensor, fake: paddle.Tensor) -> paddle.Tensor:
    """Hinge critic loss E[relu(1 - D(real))] + E[relu(1 + D(fake))]."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def lsgan_loss(pred: paddle.Tensor, target: float) -> paddle.Tensor:
    """Least-squares GAN loss E[(D(x) - target)^2]."""
    return ((pred - target) ** 2).mean()
