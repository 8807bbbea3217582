"""Recursive build of any mapping with a ``type:`` key, with errors that name the key."""
import inspect
from typing import Any, Callable, Optional

from .config import ConfigError
from .registry import ALL, Registry

Origin = Callable[[str], str]


def _lookup(name: str, registry: Optional[Registry], where: str, origin: Origin) -> Callable:
    for candidate in ([registry] if registry is not None else []) + list(ALL):
        if name in candidate:
            return candidate.get(name)
    if registry is not None:
        try:
            registry.get(name)
        except KeyError as e:
            raise ConfigError(f"{where}.type: {e.args[0]} (set in {origin(where)})") from None
    raise ConfigError(f"{where}.type: no component is registered as {name!r} (set in {origin(where)})")


def _check_arguments(factory: Callable, kwargs: dict, where: str, origin: Origin) -> None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"unknown key {where}.{key} for {factory.__name__} (set in {origin(where + '.' + key)}); "
                f"accepted: {', '.join(accepted) or '(none)'}")
    missing = [n for n, p in params.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in kwargs]
    if missing:
        raise ConfigError(f"{where} ({factory.__name__}) needs {', '.join(missing)} (config {origin(where)})")


def build_value(value: Any, where: str, origin: Origin, registry: Optional[Registry] = None) -> Any:
    """Build every nested ``type:`` mapping inside ``value`` (looked up in ``registry`` first, then all)."""
    if isinstance(value, dict) and "type" in value:
        return build(value, registry, where=where, origin=origin)
    if isinstance(value, dict):
        return {k: build_value(v, f"{where}.{k}", origin, registry) for k, v in value.items()}
    if isinstance(value, list):
        return [build_value(v, f"{where}[{i}]", origin, registry) for i, v in enumerate(value)]
    return value


def build(cfg: dict, registry: Optional[Registry] = None, where: str = "config",
          origin: Optional[Origin] = None, **extra: Any) -> Any:
    """Instantiate ``cfg['type']`` with the other keys (built recursively) plus ``extra``.

    ``type`` is looked up in ``registry`` first, then in every registry, so a model's nested
    networks, losses and mask generators need no registry named.
    """
    origin = origin or (lambda _key: "config")
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"{where} must be a mapping with a 'type' key (set in {origin(where)})")
    factory = _lookup(cfg["type"], registry, where, origin)
    kwargs = {k: build_value(v, f"{where}.{k}", origin, registry) for k, v in cfg.items() if k != "type"}
    kwargs.update(extra)
    _check_arguments(factory, kwargs, where, origin)
    return factory(**kwargs)
