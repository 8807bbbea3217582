"""One small decorator registry per kind of buildable component.

A registry fills itself: the first lookup imports every module of the packages that provide its
kind (``providers``), so what is registered never depends on what happened to be imported first.
The provider names are the one place the foundation names the floors above it (by string, as a
plugin table; :mod:`tests.test_architecture` checks the real imports).
"""
import importlib
from typing import Callable, Dict, Iterator, Optional, Sequence

from .utils.autoimport import import_submodules


class Registry:
    """Maps a config ``type:`` name to a class or factory of one kind."""

    def __init__(self, kind: str, providers: Sequence[str] = ()) -> None:
        self.kind = kind
        self.providers = tuple(providers)
        self._items: Dict[str, Callable] = {}
        self._filled = not self.providers

    def fill(self) -> None:
        """Import every module of the provider packages (once), running their registrations."""
        if self._filled:
            return
        self._filled = True  # before importing: a provider module may look itself up while loading
        try:
            for name in self.providers:
                import_submodules(importlib.import_module(name))
        except BaseException:
            self._filled = False  # a failed import is reported again, not hidden behind a half-full registry
            raise

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
        self.fill()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {known}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        self.fill()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self.fill()
        return iter(sorted(self._items))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self)})"


MODELS = Registry("model", ["ppinpaint.modeling"])            # method objects: nets + losses + train_step
NETWORKS = Registry("network", ["ppinpaint.modeling"])        # generators, discriminators, backbones
DATASETS = Registry("dataset", ["ppinpaint.data"])
MASKS = Registry("mask generator", ["ppinpaint.data"])
METRICS = Registry("metric", ["ppinpaint.metrics"])
OPTIMIZERS = Registry("optimizer", ["ppinpaint.engine.optim"])
LR_SCHEDULERS = Registry("lr scheduler", ["ppinpaint.engine.optim"])
CONVERTERS = Registry("weight converter", ["ppinpaint.convert"])

# What a config's ``type:`` may name (converters are not built from configs).
ALL = (MODELS, NETWORKS, DATASETS, MASKS, METRICS, OPTIMIZERS, LR_SCHEDULERS)

