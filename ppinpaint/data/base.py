"""The dataset contract: items are dicts of float32 CHW arrays, randomness seeded per item."""
from typing import Any, Dict, Tuple, Union

import numpy as np
from paddle.io import Dataset

Key = Union[int, Tuple[int, int]]


class SeededDataset(Dataset):
    """A map-style dataset whose random choices depend only on (index, seed).

    The trainer's sampler passes ``(index, seed)`` pairs, so crops, flips and generated
    masks are the same whatever the worker count, and a resumed run sees exactly the
    batches the uninterrupted run would have seen. A plain integer key (evaluation,
    prediction) uses the index itself as the seed, so evaluation masks are fixed.

    Items are dicts: ``image`` [3,H,W] float32 in [0,1] (inpainting: the clean image;
    harmonization: the composite), ``mask`` [1,H,W] float32 in {0,1} (1 = hole/foreground),
    ``target`` [3,H,W] (inpainting: the same clean image; harmonization: the real image),
    ``name`` (str), and optionally ``bbox`` int64 [4] (top, left, height, width of the
    region a mask generator drew in) and ``subset`` (str, harmonization).
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int, rng: np.random.Generator) -> Dict[str, Any]:
        """The item at ``index`` using ``rng`` for every random choice."""
        raise NotImplementedError

    def __getitem__(self, key: Key) -> Dict[str, Any]:
        if isinstance(key, (tuple, list)):
            index, seed = int(key[0]), int(key[1])
        else:
            index, seed = int(key), int(key)
        n = len(self)
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} items")
        return self.load(index, np.random.default_rng([seed, index]))
