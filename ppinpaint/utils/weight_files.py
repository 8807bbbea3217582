"""Weight files without pickle: safetensors for tensors, JSON for the rest, atomic writes.

ppinpaint writes ``{role: {key: array}}`` weights as one ``.safetensors`` file whose tensor names
are ``role.key`` (``generator.conv1.weight``); a role never contains a dot, so the first dot
splits them. Existing ``.pdparams`` files (``paddle.save``, i.e. pickle) are read through
:class:`~ppinpaint.utils.safe_pickle.RestrictedUnpickler` with only what ``paddle.save`` writes
for tensors and arrays (numpy arrays, dtypes, scalars, ``OrderedDict``, tuples); any other global
is refused by name before anything runs.
"""
import json
import os
import pickle
import tempfile
import warnings
from typing import Any, Callable, Dict, Optional

import numpy as np

from .safe_pickle import NumpyArray, PickleFormatError, RestrictedUnpickler, UnsafePickleError, numpy_globals

SAFETENSORS = ".safetensors"
FORMAT = "ppinpaint-weights/1"
# paddle.save writes this bookkeeping key into some state dicts; it is not a tensor.
_PADDLE_NAME_TABLE = "StructuredToParameterName@@"


class WeightsFileError(ValueError):
    """A weights, checkpoint or state file that cannot be used; the message names the file."""


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, fsync, then rename: ``path`` is never half written."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj: Any) -> None:
    """``obj`` as JSON, atomically; numpy values become plain numbers and lists."""

    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if hasattr(value, "numpy"):  # a paddle Tensor (e.g. a GradScaler's scale)
            return np.asarray(value.numpy()).tolist()
        raise TypeError(f"cannot store {type(value).__name__} as JSON")

    write_text(path, json.dumps(obj, default=plain, allow_nan=True))


def write_text(path: str, text: str) -> None:
    """``text`` (UTF-8) to ``path`` atomically: readers see the old file or the whole new one."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomic(path, write)


def read_json(path: str, what: str, max_bytes: int = 64 << 20) -> Dict[str, Any]:
    """A JSON object from ``path``; one :class:`WeightsFileError` naming the file otherwise."""
    if not os.path.isfile(path):
        raise WeightsFileError(f"{what} not found: {path}")
    if os.path.getsize(path) > max_bytes:
        raise WeightsFileError(f"{path}: {os.path.getsize(path)} bytes is too large for a {what}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise WeightsFileError(f"{path} is not a valid {what} (JSON: {e})") from None
    if not isinstance(data, dict) or not data:
        raise WeightsFileError(f"{path} is not a valid {what}: expected a non-empty JSON object")
    return data


def save_tensors(path: str, tensors: Dict[str, Any], metadata: Optional[Dict[str, str]] = None) -> None:
    """A flat ``{name: array or Tensor}`` as safetensors, atomically."""
    from safetensors.numpy import save_file

    arrays = {k: np.ascontiguousarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in tensors.items()}
    write_atomic(path, lambda tmp: save_file(arrays, tmp, metadata={"format": FORMAT, **(metadata or {})}))


def load_tensors(path: str) -> Dict[str, np.ndarray]:
    """A flat ``{name: ndarray}`` from a safetensors file (header and offsets checked, no code runs)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not os.path.isfile(path):
        raise WeightsFileError(f"weights not found: {path}")
    try:
        return load_file(path)
    except (SafetensorError, ValueError, TypeError, OSError) as e:
        raise WeightsFileError(f"{path} is not a readable safetensors file ({e})") from None


def save_weights(path: str, state: Dict[str, Dict[str, Any]]) -> None:
    """``{role: {key: array or Tensor}}`` as one safetensors file with ``role.key`` names."""
    flat = {}
    for role, sd in state.items():
        if "." in role:
            raise ValueError(f"role names may not contain a dot: {role!r}")
        flat.update({f"{role}.{key}": value for key, value in sd.items()})
    save_tensors(path, flat)


def nest(flat: Dict[str, Any], path: str) -> Dict[str, Dict[str, Any]]:
    """``{role.key: v}`` -> ``{role: {key: v}}``."""
    out: Dict[str, Dict[str, Any]] = {}
    for name, value in flat.items():
        role, dot, key = name.partition(".")
        if not dot or not role or not key:
            raise WeightsFileError(f"{path}: tensor name {name!r:.80} is not 'role.key'")
        out.setdefault(role, {})[key] = value
    return out


# ---- .pdparams: what paddle.save writes, read without pickle's code paths -------------------------
class _GeneratorState:
    """Holder for a pickled ``paddle.base.libpaddle.GeneratorState`` (old checkpoints' RNG state)."""

    def __setstate__(self, state: Any) -> None:
        if (not isinstance(state, tuple) or len(state) != 4 or not all(isinstance(v, int) for v in state[:3])
                or not isinstance(state[3], list) or len(state[3]) > 1 << 20
                or not all(isinstance(v, int) and 0 <= v < 256 for v in state[3])):
            raise PickleFormatError("bad paddle GeneratorState record")
        self.state = state


def _paddle_globals() -> Dict[str, Any]:
    table = numpy_globals()
    table.update({"builtins.tuple": tuple, "builtins.list": list, "builtins.dict": dict, "builtins.set": set,
                  "paddle.base.libpaddle.GeneratorState": _GeneratorState,
                  "copyreg._reconstructor": _reconstructor, "builtins.object": object})
    return table


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # Protocol-2 pickles build objects as copyreg._reconstructor(cls, object, None).
    if cls is not _GeneratorState or base is not object or state is not None:
        raise UnsafePickleError(f"refusing copyreg._reconstructor of {cls!r:.60}")
    return _GeneratorState()


def _paddle_refusal(module: str, name: str) -> str:
    return ("not something paddle.save writes for tensors and arrays (a .pdparams holds arrays, dtypes and "
            "containers only); this file could run code if loaded with paddle.load")


def _untuple(obj: Any) -> Any:
    """paddle.save stores a Tensor as ``(name, ndarray)``: keep the array; drop its name table."""
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], np.ndarray):
        return obj[1]
    if isinstance(obj, dict):
        return {k: _untuple(v) for k, v in obj.items() if k != _PADDLE_NAME_TABLE}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_untuple(v) for v in obj)
    if isinstance(obj, _GeneratorState):
        return obj.state
    return obj


def read_paddle_pickle(path: str) -> Any:
    """What ``paddle.load(path, return_numpy=True)`` would return for a ``paddle.save`` file of tensors,
    arrays and containers, read by the restricted unpickler (RNG states come back as their state tuples)."""
    if not os.path.isfile(path):
        raise WeightsFileError(f"weights not found: {path}")
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(f, _paddle_globals(), _paddle_refusal,
                                      holders=(_GeneratorState,)).load()
    except UnsafePickleError as e:
        raise WeightsFileError(f"{path}: refused, {e}") from None
    except (PickleFormatError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError, RecursionError, pickle.UnpicklingError) as e:
        raise WeightsFileError(f"cannot read {path}: not a paddle.save file or corrupt "
                               f"({type(e).__name__}: {e})") from None
    if isinstance(obj, NumpyArray):
        raise WeightsFileError(f"cannot read {path}: corrupt numpy array")
    return _untuple(obj)


def read_state_file(path: str) -> Dict[str, Any]:
    """``{role: {key: ndarray}}`` (or a bare state dict) from ``.safetensors`` or a ``.pdparams``."""
    with open(path, "rb") as f:
        head = f.read(2)
    # A pickle starts with PROTO (0x80); a safetensors file with its little-endian header length.
    if path.endswith(SAFETENSORS) or (head and head[:1] != b"\x80"):
        return nest(load_tensors(path), path)
    state = read_paddle_pickle(path)
    if not isinstance(state, dict):
        raise WeightsFileError(f"{path} does not hold a state dict (found {type(state).__name__})")
    return state


def check_finite(state: Dict[str, Dict[str, Any]], path: str) -> None:
    """Warn (naming the file and up to five keys) when weights hold NaN or Inf."""
    bad = [f"{role}.{k}" for role, sd in state.items() if isinstance(sd, dict) for k, v in sd.items()
           if isinstance(v, np.ndarray) and v.dtype.kind in "fc" and not np.isfinite(v).all()]
    if bad:
        warnings.warn(f"{path}: {len(bad)} tensor(s) hold NaN or Inf values, e.g. {bad[:5]}; results will be "
                      "NaN where they are used")

