"""The random draws of one training step, by name: replayed when supplied, drawn (and kept) otherwise.

A step that takes every random number through a ``Draws`` can be replayed exactly: run it, read
``model.last_draws``, and feed those tensors back in the batch (same names) to repeat it from the
same weights, or feed an official run's draws to follow its trajectory. Names in use:
``gp_alpha`` (RainNet), ``gp_alpha_local`` / ``gp_alpha_global`` (DeepFill v1) — [N,1] uniform
interpolation factors, x_hat = alpha·real + (1 - alpha)·fake; ``dropout<level>`` (RainNet) —
[N,C,h,w] keep masks of 0/1 (kept values are scaled by 1/(1-p), as torch and Paddle do).
"""
from typing import Dict, Iterable, Mapping, Optional, Sequence

import paddle


class Draws:
    """Random tensors of one step by name; ``given`` ones are used as they are (shape-checked)."""

    def __init__(self, given: Optional[Mapping[str, paddle.Tensor]] = None) -> None:
        self.given: Dict[str, paddle.Tensor] = dict(given or {})
        self.taken: Dict[str, paddle.Tensor] = {}

    @classmethod
    def from_batch(cls, batch: Mapping[str, paddle.Tensor], names: Iterable[str]) -> "Draws":
        """The draws a training batch supplies among ``names`` (a model's draw names)."""
        return cls({name: batch[name] for name in names if name in batch})

    def _take(self, name: str, shape: Sequence[int], draw) -> paddle.Tensor:
        value = self.given.get(name)
        if value is None:
            value = draw()
        else:
            value = (value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)).astype("float32")
            if list(value.shape) != list(shape):
                raise ValueError(f"draw {name!r} has shape {list(value.shape)}, the step needs {list(shape)}")
        self.taken[name] = value
        return value

    def uniform(self, name: str, shape: Sequence[int]) -> paddle.Tensor:
        """U[0,1) values of ``shape``."""
        return self._take(name, shape, lambda: paddle.rand(list(shape)))

    def dropout(self, name: str, x: paddle.Tensor, p: float) -> paddle.Tensor:
        """Inverted dropout of ``x`` with probability ``p`` through a keep mask named ``name``."""
        keep = self._take(name, x.shape, lambda: (paddle.rand(x.shape) >= p).astype("float32"))
        return x * keep.astype(x.dtype) / (1.0 - p)
