"""WGAN-GP gradient penalty, written so Paddle can differentiate it twice."""
from typing import Callable, Optional

import paddle


def gradient_penalty(critic: Callable[[paddle.Tensor], paddle.Tensor], real: paddle.Tensor,
                     fake: paddle.Tensor, alpha: paddle.Tensor, mask: Optional[paddle.Tensor] = None,
                     grad_eps: float = 0.0, center: float = 1.0) -> paddle.Tensor:
    """mean((||grad D(x_hat)|| - center)^2) / center^2 with x_hat = alpha*real + (1-alpha)*fake.

    ``alpha`` is drawn by the caller ([N,1,1,1]) so a run can be replayed exactly. The three
    official variants are options: ``mask`` multiplies the gradient before the norm
    (DeepFill v1 TF, the hole-restricted penalty), ``grad_eps`` is added to the gradient
    before the norm (RainNet/DoveNet's ``+ 1e-16``), and TF v1 divides by ``center**2``
    (a no-op at the usual centre 1). Reshape, not flatten: Paddle has no double grad for
    ``flatten``.
    """
    x_hat = alpha * real.detach() + (1.0 - alpha) * fake.detach()
    x_hat.stop_gradient = False
    score = critic(x_hat)
    grad = paddle.grad(outputs=score, inputs=x_hat, grad_outputs=paddle.ones_like(score),
                       create_graph=True, retain_graph=True)[0]
    if mask is not None:
        grad = grad * mask
    grad = grad.reshape([grad.shape[0], -1])
    if grad_eps:
        grad = grad + grad_eps
    norm = paddle.sqrt((grad * grad).sum(axis=1))
    return ((norm - center) ** 2).mean() / (center * center)
