"""Atomic checkpoints: write to a temporary folder, then rename; keep-last-N and best-by-metric.

Layout under ``<output>/checkpoints/``::

    iter_0000500/  model.pdparams  optimizers.pdopt  trainer.pdstates
    latest         (text: the name of the newest complete checkpoint)
    best/          (a complete checkpoint of the best evaluation so far) + best.json

A rename is atomic on POSIX, so a process killed during a save leaves either the
previous checkpoint set or the new one, never a half-written folder that ``latest``
points to; leftover ``.tmp-*`` folders are removed by the next save.
"""
import glob
import json
import os
import shutil
from typing import Any, Dict, Optional, Tuple

import paddle

MODEL_FILE = "model.pdparams"
OPTIM_FILE = "optimizers.pdopt"
STATE_FILE = "trainer.pdstates"


def _write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointManager:
    """Saves and finds checkpoints of one run."""

    def __init__(self, root: str, keep_last: int = 3) -> None:
        self.root = root
        self.keep_last = keep_last

    def _commit(self, name: str, model_state: Dict, optim_state: Dict, trainer_state: Dict) -> str:
        os.makedirs(self.root, exist_ok=True)
        for stale in glob.glob(os.path.join(self.root, ".tmp-*")):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = os.path.join(self.root, f".tmp-{name}-{os.getpid()}")
        os.makedirs(tmp)
        paddle.save(model_state, os.path.join(tmp, MODEL_FILE))
        paddle.save(optim_state, os.path.join(tmp, OPTIM_FILE))
        paddle.save(trainer_state, os.path.join(tmp, STATE_FILE))
        for fname in (MODEL_FILE, OPTIM_FILE, STATE_FILE):
            with open(os.path.join(tmp, fname), "rb") as f:
                os.fsync(f.fileno())
        final = os.path.join(self.root, name)
        if os.path.exists(final):
            # Re-saving a name (e.g. best/): move the old one aside first; the swap window
            # only ever exposes a complete folder or none under this name.
            old = os.path.join(self.root, f".tmp-old-{name}-{os.getpid()}")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(self.root)
        return final

    def save(self, step: int, model_state: Dict, optim_state: Dict, trainer_state: Dict) -> str:
        """Write ``iter_<step>`` atomically, point ``latest`` at it, prune old ones."""
        name = f"iter_{step:07d}"
        path = self._commit(name, model_state, optim_state, trainer_state)
        _write_text_atomic(os.path.join(self.root, "latest"), name)
        self._prune()
        return path

    def save_best(self, step: int, metric: str, value: float, model_state: Dict, optim_state: Dict,
                  trainer_state: Dict) -> str:
        """Write ``best/`` atomically with ``best.json`` naming the metric, value and step."""
        path = self._commit("best", model_state, optim_state, trainer_state)
        _write_text_atomic(os.path.join(self.root, "best.json"),
                           json.dumps({"metric": metric, "value": value, "step": step}))
        return path

    def _prune(self) -> None:
        if self.keep_last <= 0:
            return
        names = sorted(n for n in os.listdir(self.root) if n.startswith("iter_"))
        for name in names[:-self.keep_last]:
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def latest(self) -> Optional[str]:
        """The newest complete checkpoint folder, or None."""
        pointer = os.path.join(self.root, "latest")
        if not os.path.isfile(pointer):
            return None
        with open(pointer, encoding="utf-8") as f:
            path = os.path.join(self.root, f.read().strip())
        return path if os.path.isdir(path) else None


def _param_names(nets: Dict[str, paddle.nn.Layer]) -> Dict[str, str]:
    """Paddle's auto-generated parameter name -> a stable ``role.path`` name."""
    return {p.name: f"{role}.{path}" for role, net in nets.items() for path, p in net.named_parameters()}


def _rename_keys(state: Dict[str, Any], names: Dict[str, str]) -> Dict[str, Any]:
    # Accumulator keys are "<param name>_<accumulator>"; match the longest parameter name so
    # "conv2d_1.w_0" never captures "conv2d_14.w_0_moment1_0".
    by_length = sorted(names, key=len, reverse=True)
    out: Dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict) and key == "master_weights":
            out[key] = {names.get(k, k): v for k, v in value.items()}
            continue
        hit = next((n for n in by_length if key.startswith(n + "_")), None)
        out[names[hit] + key[len(hit):] if hit else key] = value
    return out


def portable_optimizer_state(optimizer: paddle.optimizer.Optimizer, nets: Dict[str, paddle.nn.Layer]) -> Dict:
    """The optimizer state keyed by ``role.path`` instead of Paddle's process-global parameter names.

    Paddle names parameters from a global counter (``conv2d_14.w_0``), so the same model built
    in another process, or after another model, gets other names; stable keys make a resume work
    wherever the model is rebuilt.
    """
    return _rename_keys(optimizer.state_dict(), _param_names(nets))


def load_portable_optimizer_state(optimizer: paddle.optimizer.Optimizer, state: Dict,
                                  nets: Dict[str, paddle.nn.Layer]) -> None:
    """Inverse of :func:`portable_optimizer_state`."""
    stable_to_auto = {v: k for k, v in _param_names(nets).items()}
    optimizer.set_state_dict(_rename_keys(state, stable_to_auto))


def resolve_checkpoint(path: str) -> str:
    """A checkpoint folder from a checkpoint folder, a ``checkpoints/`` folder or a run folder."""
    for candidate in (path, os.path.join(path, "checkpoints")):
        if os.path.isfile(os.path.join(candidate, MODEL_FILE)) and os.path.isfile(os.path.join(candidate, STATE_FILE)):
            return candidate
        latest = CheckpointManager(candidate).latest()
        if latest:
            return latest
    raise FileNotFoundError(f"no checkpoint found at {path} (expected a folder with {MODEL_FILE} and "
                            f"{STATE_FILE}, or a run folder whose checkpoints/latest names one)")


def load_checkpoint(path: str) -> Dict[str, Any]:
    """``{'model', 'optimizers', 'trainer'}`` states of the checkpoint at ``path``."""
    path = resolve_checkpoint(path)
    return {
        "path": path,
        "model": paddle.load(os.path.join(path, MODEL_FILE)),
        "optimizers": paddle.load(os.path.join(path, OPTIM_FILE)),
        "trainer": paddle.load(os.path.join(path, STATE_FILE), return_numpy=True),
    }


def resolve_weights(path: str) -> Tuple[str, Optional[str], str]:
    """Which weights ``--weights PATH`` means: ``(weights, the run's config.yml or None, a line saying which)``.

    PATH may be a weights file, a checkpoint folder, a run's ``checkpoints/`` folder or a run folder;
    in the last two the run's ``best/`` is taken when it exists, else its latest checkpoint.
    """
    if os.path.isfile(path):
        return path, None, path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"weights not found: {path}")
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        parent = os.path.dirname(os.path.abspath(path))
        run = os.path.dirname(parent) if os.path.basename(parent) == "checkpoints" else None
        chosen, note = path, "checkpoint folder"
    else:
        root = os.path.join(path, "checkpoints") if os.path.isdir(os.path.join(path, "checkpoints")) else path
        run = os.path.dirname(os.path.abspath(root))
        best, latest = os.path.join(root, "best"), CheckpointManager(root).latest()
        if os.path.isfile(os.path.join(best, MODEL_FILE)):
            chosen, note = best, "the run's best checkpoint"
            if os.path.isfile(os.path.join(root, "best.json")):
                with open(os.path.join(root, "best.json"), encoding="utf-8") as f:
                    info = json.load(f)
                note += f": {info['metric']}={info['value']:.4g} at iteration {info['step']}"
        elif latest:
            chosen, note = latest, "the run's latest checkpoint (it has no best/)"
        else:
            raise FileNotFoundError(
                f"no weights at {path}: expected a weights file, a checkpoint folder (with {MODEL_FILE}), "
                "a run's checkpoints/ folder or a run folder (with checkpoints/best or checkpoints/latest)")
    config = os.path.join(run, "config.yml") if run else None
    return chosen, config if config and os.path.isfile(config) else None, f"{chosen} ({note})"
