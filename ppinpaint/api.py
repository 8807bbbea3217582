"""Build a method from a config and load weights into it: the entry point of every tool."""
import os
from typing import Iterable, Optional, Union

from .builder import build
from .config import Config
from .registry import MODELS
from .utils import runtime
from .utils.weight_files import check_finite, read_state_file

# Loaded with Paddle, before any model computes: eager math on every core the process may use.
runtime.set_threads_or_warn()

ConfigLike = Union[str, Config, dict]


def as_config(config: ConfigLike, opts: Optional[Iterable[str]] = None) -> Config:
    """A :class:`Config` from a path, a mapping or a Config (``opts`` only apply to paths)."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config.from_dict(config)
    return Config(config, opts)


def build_model(config: ConfigLike, opts: Optional[Iterable[str]] = None):
    """The method object described by ``config['model']``, freshly initialised."""
    cfg = as_config(config, opts)
    return build(cfg["model"], MODELS, where="model", origin=cfg.origin)


def read_weights(path: str) -> dict:
    """``{role: state_dict}`` of numpy arrays from a ``.safetensors`` or ``.pdparams`` file or a
    checkpoint folder; no pickle code ever runs (see :mod:`ppinpaint.utils.weight_files`)."""
    if os.path.isdir(path):
        found = [os.path.join(path, n) for n in ("model.safetensors", "model.pdparams")
                 if os.path.isfile(os.path.join(path, n))]
        if not found:
            raise FileNotFoundError(f"weights not found: {path} holds neither model.safetensors nor model.pdparams")
        path = found[0]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights not found: {path}")
    state = read_state_file(path)
    if not state:
        raise ValueError(f"{path} holds no weights (an empty state dict)")
    # A bare generator state dict (what many Paddle repos ship) becomes the generator role.
    if not all(isinstance(v, dict) for v in state.values()):
        state = {"generator": state}
    check_finite(state, path)
    return state


def load_model(config: ConfigLike, weights: Optional[str] = None, opts: Optional[Iterable[str]] = None,
               engine: str = "eager", cache_dir: Optional[str] = None, threads: Optional[int] = None):
    """The method object in eval mode, with ``weights`` loaded when given; with ``engine`` other than
    ``eager`` (``auto``, ``paddle``, ``onnx``), its inference graph compiled for prediction instead
    (:func:`ppinpaint.compiled.compile_model`; the eager weights are not kept).

    Weights may hold only some nets (a converted generator, say): the generator is
    required, the critics are loaded when present.
    """
    model = build_model(config, opts)
    if weights:
        state = read_weights(weights)
        if "generator" not in state:
            raise ValueError(f"{weights} has no generator weights; it holds {sorted(state)}")
        model.set_state_dict(state, strict=False)
    model.eval()
    if engine == "eager":
        return model
    from .compiled import compile_model

    return compile_model(model, engine, cache_dir, threads, release=True)
