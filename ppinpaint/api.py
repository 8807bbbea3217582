"""Build a method from a config and load weights into it: the entry point of every tool."""
import os
from typing import Callable, Iterable, Optional, Tuple, Union

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


def weights_file(path: str) -> str:
    """The file ``path`` names: itself, or a checkpoint folder's ``model.safetensors`` (else ``model.pdparams``)."""
    if os.path.isdir(path):
        found = [os.path.join(path, n) for n in ("model.safetensors", "model.pdparams")
                 if os.path.isfile(os.path.join(path, n))]
        if not found:
            raise FileNotFoundError(f"weights not found: {path} holds neither model.safetensors nor model.pdparams")
        path = found[0]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights not found: {path}")
    return path


def read_weights(path: str) -> dict:
    """``{role: state_dict}`` of numpy arrays from a ``.safetensors`` or ``.pdparams`` file or a
    checkpoint folder; no pickle code ever runs (see :mod:`ppinpaint.utils.weight_files`)."""
    path = weights_file(path)
    state = read_state_file(path)
    if not state:
        raise ValueError(f"{path} holds no weights (an empty state dict)")
    # A bare generator state dict (what many Paddle repos ship) becomes the generator role.
    if not all(isinstance(v, dict) for v in state.values()):
        state = {"generator": state}
    check_finite(state, path)
    return state


def _stamp(path: str) -> Tuple[int, int, int]:
    """What changes when a file is rewritten in place or replaced: its size, modification time and inode."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def _eager_model(cfg: Config, weights: Optional[str]):
    """The model in eval mode with ``weights`` loaded; the arrays read are freed on return, before any
    engine loads its own copy."""
    model = build_model(cfg)
    if weights:
        state = read_weights(weights)
        if "generator" not in state:
            raise ValueError(f"{weights} has no generator weights; it holds {sorted(state)}")
        model.set_state_dict(state, strict=False)
    model.eval()
    return model


def load_model(config: ConfigLike, weights: Optional[str] = None, opts: Optional[Iterable[str]] = None,
               engine: str = "eager", cache_dir: Optional[str] = None, threads: Optional[int] = None,
               log: Optional[Callable[[str], None]] = None):
    """The method object in eval mode, with ``weights`` loaded when given; with ``engine`` other than
    ``eager`` (``auto``, ``paddle``, ``onnx``, ``openvino``), its inference graph compiled for prediction
    instead (:func:`ppinpaint.compiled.compile_model`; the eager weights are not kept, and ``log`` gets the
    line naming the engine).

    With ``weights`` and a cache that holds their build, the compiled model is found by the config and
    the weights file's bytes (:func:`ppinpaint.compiled.load_cached`): the eager nets are never built.
    Weights may hold only some nets (a converted generator, say): the generator is
    required, the critics are loaded when present.
    """
    cfg = as_config(config, opts)
    key = None
    if engine != "eager" and weights:
        from .compiled import load_cached, load_key

        source = weights_file(weights)
        stamp, key = _stamp(source), load_key(cfg["model"], source)
        found = load_cached(key, engine, cache_dir, threads, log)
        if found is not None:
            return found
    model = _eager_model(cfg, weights)
    if engine == "eager":
        return model
    from .compiled import CompiledModel, compile_model, remember

    compiled = compile_model(model, engine, cache_dir, threads, log=log, release=True)
    # Only a file unchanged since it was hashed: the key must name the bytes that were compiled.
    if key and isinstance(compiled, CompiledModel) and _stamp(source) == stamp:
        remember(key, compiled, cache_dir)
    return compiled
