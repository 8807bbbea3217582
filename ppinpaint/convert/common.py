"""Strict key mapping shared by every PyTorch/TensorFlow -> Paddle weight converter.

A converter is registered in ``CONVERTERS`` as ``fn(sources, **options) -> {role: state}``:
``sources`` is a list of flat ``{key: ndarray}`` dicts in the source framework's layout
(already unwrapped by :func:`unwrap_state`), the result maps each net role
(``generator``, ``discriminator`` …) to a Paddle state dict of numpy arrays.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

State = Dict[str, np.ndarray]
Transform = Optional[Callable[[np.ndarray], np.ndarray]]

PREFIXES = ("module.", "netG.", "netD.")


class ConversionError(ValueError):
    """The source weights do not fit the target network; the message lists every problem."""


def unwrap_state(obj: object, prefixes: Sequence[str] = PREFIXES) -> State:
    """Find the state dict inside a loaded checkpoint and strip wrapper prefixes.

    Accepts a bare state dict or a dict holding one under ``state_dict`` / ``model`` /
    ``net``; strips ``module.`` (DataParallel) and the given net prefixes when every key
    carries them.
    """
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model", "net"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise ConversionError("the file holds no state dict of tensors")
    state = dict(obj)
    for prefix in prefixes:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def linear_to_paddle(w: np.ndarray) -> np.ndarray:
    """torch Linear weight [out,in] -> Paddle [in,out]."""
    return np.ascontiguousarray(w.T)


def map_state(src: State, pairs: Iterable[Tuple[str, str, Transform]],
              target_shapes: Dict[str, tuple], what: str,
              ignore: Callable[[str], bool] = lambda key: False) -> State:
    """Apply ``(src_key, dst_key, transform)`` pairs strictly.

    Every target key must be produced exactly once with the target's shape, and every
    source key must be used (or ``ignore``d, e.g. ``num_batches_tracked``); otherwise one
    :class:`ConversionError` lists all missing, leftover and mis-shaped keys.
    """
    out: State = {}
    used = set()
    problems: List[str] = []
    for src_key, dst_key, transform in pairs:
        if src_key not in src:
            problems.append(f"missing in source: {src_key} (for {dst_key})")
            continue
        value = np.asarray(src[src_key])
        value = transform(value) if transform else value
        used.add(src_key)
        if dst_key not in target_shapes:
            problems.append(f"no target parameter {dst_key} (from {src_key})")
            continue
        if tuple(value.shape) != tuple(target_shapes[dst_key]):
            problems.append(f"shape of {src_key} {tuple(value.shape)} != {dst_key} {tuple(target_shapes[dst_key])}")
            continue
        out[dst_key] = np.ascontiguousarray(value, dtype=np.float32 if value.dtype.kind == "f" else value.dtype)
    unfilled = [k for k in target_shapes if k not in out]
    leftover = [k for k in src if k not in used and not ignore(k)]
    problems += [f"target not filled: {k}" for k in unfilled if not any(k in p for p in problems)]
    problems += [f"source key not used: {k}" for k in leftover]
    if problems:
        shown = "\n  ".join(problems[:40])
        more = f"\n  … and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise ConversionError(f"{what}: {len(problems)} problem(s)\n  {shown}{more}")
    return out
