"""One small decorator registry per kind of buildable component."""
from typing import Callable, Dict, Iterator, Optional


class Registry:
    """Maps a config ``type:`` name to a class or factory of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, Callable] = {}

    def register(self, obj: Optional[Callable] = None, *, name: Optional[str] = None):
        """Register ``obj`` under ``name`` (default: its ``__name__``); usable as a decorator."""

        def add(item: Callable) -> Callable:
            key = name or item.__name__
            if key in self._items and self._items[key] is not item:
                raise KeyError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = item
            return item

        return add(obj) if obj is not None else add

    def get(self, name: str) -> Callable:
        """The component called ``name``; the error lists what exists."""
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {known}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._items)})"


MODELS = Registry("model")            # method objects: nets + losses + train_step
NETWORKS = Registry("network")        # generators and discriminators (paddle.nn.Layer)
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
MASKS = Registry("mask generator")
METRICS = Registry("metric")
OPTIMIZERS = Registry("optimizer")
LR_SCHEDULERS = Registry("lr scheduler")
CONVERTERS = Registry("weight converter")

ALL = (MODELS, NETWORKS, LOSSES, DATASETS, MASKS, METRICS, OPTIMIZERS, LR_SCHEDULERS)
