"""Batch samplers whose output is a pure function of (seed, step): resumable and worker-independent."""
from typing import Iterator, List, Tuple

import numpy as np
from paddle.io import Sampler


class TrainBatchSampler(Sampler):
    """Yields ``[(index, item_seed), ...]`` batches for steps ``start_step .. total_steps - 1``.

    Sample position ``q`` (counted over the whole run and all ranks) falls in epoch
    ``q // n`` at slot ``q % n`` of that epoch's permutation (seeded by the run seed and the
    epoch); its item seed is derived from the run seed and ``q``. A resumed run therefore
    draws exactly the batches — crops, flips, masks — the uninterrupted run would have.
    Rank ``r`` of ``w`` takes the ``r``-th slice of each global batch.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, start_step: int, total_steps: int,
                 rank: int = 0, world_size: int = 1) -> None:
        if num_items <= 0:
            raise ValueError("the training dataset is empty")
        self.n, self.batch_size, self.seed = num_items, batch_size, seed
        self.start_step, self.total_steps = start_step, total_steps
        self.rank, self.world_size = rank, world_size
        self._perm_epoch, self._perm = -1, None

    def _slot(self, q: int) -> int:
        epoch = q // self.n
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        return int(self._perm[q % self.n])

    def batch_keys(self, step: int) -> List[Tuple[int, int]]:
        """The keys rank ``self.rank`` loads at ``step``."""
        first = (step * self.world_size + self.rank) * self.batch_size
        return [(self._slot(q), (self.seed << 32) + q) for q in range(first, first + self.batch_size)]

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_keys(step)

    def __len__(self) -> int:
        return max(self.total_steps - self.start_step, 0)


class EvalBatchSampler(Sampler):
    """Consecutive indices ``0..n-1`` in batches; an index is also its item's seed (fixed masks)."""

    def __init__(self, num_items: int, batch_size: int) -> None:
        self.n, self.batch_size = num_items, max(int(batch_size), 1)

    def __iter__(self) -> Iterator[List[int]]:
        for i in range(0, self.n, self.batch_size):
            yield list(range(i, min(i + self.batch_size, self.n)))

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size
