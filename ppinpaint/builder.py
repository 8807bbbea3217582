"""Recursive build of any mapping with a ``type:`` key, with errors that name the key and its file.

A mapping without ``type:`` is a typed sub-component when the constructor annotates its parameter
with one of our classes (``attention: Optional[ContextualAttention]``): it is built as that class,
so its keys are checked like any other.
"""
import inspect
import typing
from typing import Any, Callable, Optional

from .config import Config, ConfigError
from .registry import ALL, DATASETS, Registry

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


def _expected_scalar(param: inspect.Parameter) -> Optional[type]:
    """int / float / bool when the signature says a config key must be one (annotation, else default)."""
    hint = param.annotation
    if typing.get_origin(hint) is typing.Union:  # Optional[int] and the like
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = inner[0] if len(inner) == 1 else None
    if hint in (int, float, bool):
        return hint
    if param.default is not param.empty and type(param.default) in (int, float, bool):
        return type(param.default)
    return None


def _check_values(factory: Callable, kwargs: dict, where: str, origin: Origin) -> None:
    """Numbers and booleans the signature asks for: a string, a bool for a number or a fraction for an int is
    one :class:`ConfigError` naming the key (instead of a TypeError deep inside Paddle); ``1e3`` becomes 1000."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    for key in list(kwargs):
        if key not in params or kwargs[key] is None:
            continue
        want, value = _expected_scalar(params[key]), kwargs[key]
        if want is int and isinstance(value, float) and value.is_integer():
            kwargs[key] = int(value)
            continue
        bad = ((want in (int, float) and isinstance(value, (str, bool)))
               or (want is int and isinstance(value, float))
               or (want is bool and isinstance(value, str)))
        if bad:
            kind = {int: "an integer", float: "a number", bool: "true or false"}[want]
            raise ConfigError(f"{where}.{key} must be {kind}, got {value!r:.60} (set in {origin(where + '.' + key)})")


def _section_class(factory: Callable, key: str) -> Optional[type]:
    """The ppinpaint class a parameter of ``factory`` is annotated with (also as ``Optional[...]``)."""
    try:
        hint = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory).get(key)
    except (NameError, TypeError):  # an annotation that does not resolve is no declaration
        return None
    options = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
    classes = [c for c in options if inspect.isclass(c) and c.__module__.startswith("ppinpaint.")]
    return classes[0] if len(classes) == 1 else None


def _instantiate(factory: Callable, kwargs: dict, where: str, origin: Origin) -> Any:
    _check_values(factory, kwargs, where, origin)
    _check_arguments(factory, kwargs, where, origin)
    try:
        return factory(**kwargs)
    except ConfigError:
        raise
    except ValueError as e:  # a constructor's own check: say which section, key and file it is about
        named = [k for k in kwargs if k in str(e)]
        place = f"set in {origin(f'{where}.{named[0]}')}" if len(named) == 1 else f"config {origin(where)}"
        raise ConfigError(f"{where} ({factory.__name__}): {e} ({place})") from e
    except (TypeError, AssertionError, ZeroDivisionError, OverflowError) as e:
        # A value of the right type that still cannot work (a negative width, say): name the component.
        raise ConfigError(f"{where} ({getattr(factory, '__name__', factory)}, set in {origin(where)}) "
                          f"cannot be built from these values: {e}") from e


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
    kwargs = {k: _build_argument(factory, k, v, f"{where}.{k}", origin, registry)
              for k, v in cfg.items() if k != "type"}
    kwargs.update(extra)
    return _instantiate(factory, kwargs, where, origin)


def _build_argument(factory: Callable, key: str, value: Any, where: str, origin: Origin,
                    registry: Optional[Registry]) -> Any:
    section = _section_class(factory, key) if isinstance(value, dict) and "type" not in value else None
    if section is None:
        return build_value(value, where, origin, registry)
    kwargs = {k: _build_argument(section, k, v, f"{where}.{k}", origin, registry) for k, v in value.items()}
    return _instantiate(section, kwargs, where, origin)


def build_dataset(cfg: Config, section: str, purpose: str) -> Any:
    """The dataset of a config section (``train_dataset``, ``val_dataset``); one clear error when it is absent."""
    if not cfg.get(section):
        raise ConfigError(f"{cfg.path}: {purpose} needs a '{section}' section (or -o {section}.…)")
    return build(cfg[section], DATASETS, where=section, origin=cfg.origin)
