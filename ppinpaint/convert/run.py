"""Checkpoints of the official code -> ``.safetensors`` (the library behind ``ppinpaint convert``).

Each source is read without torch or tensorflow (:mod:`.torch_pickle`, :mod:`.tf_checkpoint`),
unwrapped to a flat state dict, handed to the converter registered in ``CONVERTERS``, and the
resulting ``{role: {paddle_key: ndarray}}`` is written atomically as safetensors (``role.key`` tensor
names, :func:`ppinpaint.utils.weight_files.save_weights`), whatever the extension of ``dst``.
"""
import inspect
import os
import re
from typing import Dict, List, Optional

import numpy as np

from ..registry import CONVERTERS
from ..utils.weight_files import load_tensors, save_weights
from .common import ConversionError, State, unwrap_state
from .tf_checkpoint import latest_checkpoint, read_tf_checkpoint
from .torch_pickle import load_torch_file

_TF_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")


def _tf_prefix(path: str) -> Optional[str]:
    """The checkpoint prefix when ``path`` names a TensorFlow checkpoint (prefix, .index, shard or folder)."""
    if path.endswith(".index"):
        return path[: -len(".index")]
    if _TF_DATA_SHARD.search(path):
        return _TF_DATA_SHARD.sub("", path)
    if os.path.isfile(path + ".index"):
        return path
    if os.path.isdir(path):
        return latest_checkpoint(path)
    return None


def load_source(path: str) -> State:
    """A flat ``{key: ndarray}`` from a torch file, a TensorFlow checkpoint, an ``.npz`` or a ``.safetensors``."""
    prefix = _tf_prefix(path)
    if prefix is not None:
        return _as_state(read_tf_checkpoint(prefix), prefix)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source not found: {path}")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:  # no pickle: an .npz cannot run code
            return _as_state({k: z[k] for k in z.files}, path)
    if path.endswith(".safetensors"):  # flat role.key names, as ppinpaint writes them
        return _as_state(load_tensors(path), path)
    return _as_state(load_torch_file(path), path)


def _as_state(obj: object, path: str) -> State:
    """Unwrap one state dict, or flatten a dict of them (``{'localD': sd, 'globalD': sd}``) to ``localD.key``."""
    try:
        return unwrap_state(obj)
    except ConversionError as e:
        if isinstance(obj, dict) and obj and all(isinstance(v, dict) for v in obj.values()):
            try:
                return {f"{role}.{k}": v for role, sd in obj.items() for k, v in unwrap_state(sd).items()}
            except ConversionError:
                pass
        raise ConversionError(f"{path}: {e}") from None


def _check_result(name: str, result: object) -> Dict[str, State]:
    if not isinstance(result, dict) or not result or not all(
            isinstance(state, dict) and all(isinstance(v, np.ndarray) for v in state.values())
            for state in result.values()):
        raise ConversionError(f"converter {name!r} did not return {{role: {{key: ndarray}}}}")
    return result


def _check_options(name: str, fn, options: Dict[str, object]) -> None:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p in list(params)[1:] if params[p].kind is not params[p].VAR_POSITIONAL]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConversionError(f"converter {name!r} has no option {', '.join(unknown)}; "
                              f"its options: {', '.join(accepted) or '(none)'}")


def convert_file(name: str, srcs: List[str], dst: str, **options) -> Dict[str, Dict[str, int]]:
    """Convert ``srcs`` with the converter ``name`` and write ``{role: state}`` to ``dst``.

    Returns, per role, the number of tensors and of parameters (elements) written.
    """
    try:
        fn = CONVERTERS.get(name)
    except KeyError as e:  # the registry's message lists the known names
        raise ConversionError(e.args[0]) from None
    _check_options(name, fn, options)
    if not srcs:
        raise ConversionError("no source file given")
    result = _check_result(name, fn([load_source(path) for path in srcs], **options))
    save_weights(dst, result)
    return {role: {"tensors": len(state), "parameters": int(sum(v.size for v in state.values()))}
            for role, state in result.items()}


def describe_source(path: str) -> str:
    """One line per tensor of a source (key, shape, dtype), as a converter will see it."""
    state = load_source(path)
    width = max((len(k) for k in state), default=0)
    lines = [f"  {k:{width}s}  {'x'.join(map(str, v.shape)) or 'scalar':>16s}  {v.dtype}" for k, v in state.items()]
    total = sum(v.size for v in state.values())
    return "\n".join([f"{path}: {len(state)} tensors, {total:,} elements"] + lines)
