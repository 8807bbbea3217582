"""Checkpoints without pickle, never lost: atomic saves, lineage-aware pruning, a crash-safe ``best``.

Layout under ``<output>/checkpoints/``::

    iter_0000500/  model.safetensors       {role.key: tensor} of every net
                   optimizers.safetensors  {optimizer/key: tensor} (moments, beta powers, master weights)
                   trainer.json            step, lineage, RNG states, schedulers, scalers, the optimizers'
                                           non-tensor entries, the config digest
    latest         (text: the name of the newest complete checkpoint)
    best -> best_0000400/   (symlink to a complete checkpoint of the best evaluation) + best.json

A checkpoint is written into a ``.tmp-*`` folder and renamed, so a process killed during a save
leaves the previous set intact and ``latest`` only ever names a complete folder. ``best`` is
switched by replacing the symlink (one atomic rename) after the new folder is complete, then the
old folder is removed: a crash at any point leaves one complete best. Each run has a *lineage* id
(kept when resuming from the lineage's latest checkpoint, new when branching from an older one);
pruning removes only checkpoints of the current lineage older than the one just written.
Checkpoints written by older ppinpaint versions (``model.pdparams``, ``optimizers.pdopt``,
``trainer.pdstates``: pickle) are read through the restricted reader of
:mod:`ppinpaint.utils.weight_files`.
"""
import errno
import glob
import hashlib
import json
import os
import shutil
import uuid
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import paddle

from ..utils.weight_files import (WeightsFileError, load_tensors, nest, read_json, read_paddle_pickle,
                                  read_state_file, save_tensors, save_weights, write_json, write_text)

MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optimizers.safetensors"
STATE_FILE = "trainer.json"
LEGACY_FILES = ("model.pdparams", "optimizers.pdopt", "trainer.pdstates")
LOCK_FILE = ".lock"
TRAINER_KEYS = ("step", "world_size", "paddle_rng", "numpy_rng", "python_rng", "schedulers")


class RunFolderError(OSError):
    """A run folder that cannot be used as asked (in use, or holding another run); names the folder."""


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM  # exists, owned by someone else
    return True


class RunLock:
    """``<run>/.lock`` holding the writer's PID; a second writer is refused while that process lives."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, LOCK_FILE)
        self.held = False

    def acquire(self) -> None:
        """Take the lock (replacing a lock whose process is gone) or raise :class:`RunFolderError`."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = self._owner()
                if pid is not None and pid != os.getpid() and _pid_alive(pid):
                    raise RunFolderError(
                        f"{os.path.dirname(self.path)} is in use by another run (process {pid}, lock file "
                        f"{self.path}); wait for it to finish or stop it, or write to another folder") from None
                os.remove(self.path)  # stale: its process is gone (killed runs leave the file behind)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return
        raise RunFolderError(f"cannot take the lock {self.path}")

    def _owner(self) -> Optional[int]:
        try:
            with open(self.path, encoding="utf-8") as f:
                return int(f.read().strip() or -1)
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self.held and self._owner() == os.getpid():
            os.remove(self.path)
        self.held = False


def prepare_run_folder(folder: str, resume: bool, overwrite: bool) -> None:
    """Refuse a new run into a folder that holds another run's checkpoints or config, unless ``overwrite``
    (then that run's checkpoints are removed; its logs are appended to)."""
    if resume:
        return
    ckpts = os.path.join(folder, "checkpoints")
    holds = [n for n in (os.listdir(ckpts) if os.path.isdir(ckpts) else []) if not n.startswith(".")]
    if not holds and not os.path.isfile(os.path.join(folder, "config.yml")):
        return
    if not overwrite:
        what = (f"a run ({len(holds)} entries in checkpoints/); continue it with --resume {folder}, or start over "
                "in it with --overwrite (its checkpoints are deleted)" if holds else
                "a run that saved no checkpoint (config.yml); start over in it with --overwrite")
        raise RunFolderError(f"{folder} already holds {what}, or choose another output folder")
    shutil.rmtree(ckpts, ignore_errors=True)


def config_digest(data: Dict[str, Any]) -> str:
    """A short SHA-256 of a resolved config (recorded in checkpoints to spot a changed config on resume)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---- trainer state <-> JSON ----------------------------------------------------------------------
def _encode_trainer(state: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(state)
    # GeneratorState pickles as (device, seed, offset, [bytes of its text state]): JSON-ready lists.
    out["paddle_rng"] = [list(s) if isinstance(s, (list, tuple)) else list(s.__getstate__())
                         for s in state["paddle_rng"]]
    name, keys, pos, has_gauss, gauss = state["numpy_rng"]
    out["numpy_rng"] = [name, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(gauss)]
    version, internal, gauss = state["python_rng"]
    out["python_rng"] = [version, list(internal), gauss]
    return out


def _decode_trainer(state: Any, path: str) -> Dict[str, Any]:
    """Validate a trainer state and turn its RNG states back into the objects Paddle, numpy and Python take."""
    if not isinstance(state, dict):
        raise WeightsFileError(f"{path}: trainer state is not a mapping")
    missing = [k for k in TRAINER_KEYS if k not in state]
    if missing:
        raise WeightsFileError(f"{path}: trainer state lacks {', '.join(missing)} (empty or not a ppinpaint "
                               "checkpoint)")
    try:
        generator = type(paddle.get_rng_state()[0])
        rngs = []
        for record in state["paddle_rng"]:
            device, seed, offset, text = record
            if not all(isinstance(v, int) for v in (device, seed, offset)) or not all(
                    isinstance(b, int) and 0 <= b < 256 for b in text):
                raise ValueError("bad Paddle RNG state")
            rng = generator.__new__(generator)
            rng.__setstate__((device, seed, offset, list(text)))
            rngs.append(rng)
        name, keys, pos, has_gauss, gauss = state["numpy_rng"]
        numpy_rng = (str(name), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(gauss))
        version, internal, gauss = state["python_rng"]
        python_rng = (int(version), tuple(int(v) for v in internal), gauss)
        step = state["step"]
        if not isinstance(step, int) or step < 0:
            raise ValueError(f"bad step {step!r}")
    except (TypeError, ValueError) as e:
        raise WeightsFileError(f"{path}: corrupt trainer state ({e})") from None
    return {**state, "paddle_rng": rngs, "numpy_rng": numpy_rng, "python_rng": python_rng}


def _split_optimizers(states: Dict[str, Dict[str, Any]]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``{opt: state}`` -> (``{opt/key: tensor}``, ``{opt: {key: JSON value}}``)."""
    tensors: Dict[str, Any] = {}
    extras: Dict[str, Any] = {}
    for opt, state in states.items():
        for key, value in state.items():
            if key == "master_weights" and isinstance(value, dict):
                tensors.update({f"{opt}/master_weights/{k}": v for k, v in value.items()})
            elif hasattr(value, "numpy") or isinstance(value, np.ndarray):
                tensors[f"{opt}/{key}"] = value
            else:
                extras.setdefault(opt, {})[key] = value
    return tensors, extras


def _join_optimizers(tensors: Dict[str, np.ndarray], extras: Dict[str, Any], path: str) -> Dict[str, Dict]:
    out: Dict[str, Dict[str, Any]] = {opt: dict(values) for opt, values in extras.items()}
    for name, value in tensors.items():
        opt, sep, key = name.partition("/")
        if not sep:
            raise WeightsFileError(f"{path}: tensor name {name!r:.80} is not 'optimizer/key'")
        state = out.setdefault(opt, {})
        if key.startswith("master_weights/"):
            state.setdefault("master_weights", {})[key[len("master_weights/"):]] = paddle.to_tensor(value)
        else:
            state[key] = paddle.to_tensor(value)
    return out


def _lineage_of(folder: str) -> Optional[Tuple[str, int]]:
    """(lineage, step) of a checkpoint folder written by this version, or None."""
    try:
        state = read_json(os.path.join(folder, STATE_FILE), "trainer state")
        return str(state["lineage"]), int(state["step"])
    except (WeightsFileError, KeyError, TypeError, ValueError):
        return None


class CheckpointManager:
    """Saves and finds checkpoints of one run (of one lineage)."""

    def __init__(self, root: str, keep_last: int = 3, lineage: Optional[str] = None) -> None:
        self.root = root
        self.keep_last = keep_last
        self.lineage = lineage or uuid.uuid4().hex

    def _commit(self, name: str, model_state: Dict, optim_state: Dict, trainer_state: Dict) -> str:
        os.makedirs(self.root, exist_ok=True)
        for stale in glob.glob(os.path.join(self.root, ".tmp-*")):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = os.path.join(self.root, f".tmp-{name}-{os.getpid()}")
        os.makedirs(tmp)
        tensors, extras = _split_optimizers(optim_state)
        save_weights(os.path.join(tmp, MODEL_FILE), model_state)
        save_tensors(os.path.join(tmp, OPTIM_FILE), tensors)
        write_json(os.path.join(tmp, STATE_FILE),
                   {**_encode_trainer(trainer_state), "lineage": self.lineage, "optimizer_extras": extras})
        final = os.path.join(self.root, name)
        if os.path.isdir(final) and not os.path.islink(final):
            # Re-saving a step of this lineage (its content is the same run's): replace it.
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(self.root)
        return final

    def _free_name(self, base: str) -> str:
        """``base`` unless a checkpoint of another lineage holds it (a branch never replaces its parent's)."""
        folder = os.path.join(self.root, base)
        owner = _lineage_of(folder) if os.path.exists(folder) else None
        if not os.path.exists(folder) or (owner and owner[0] == self.lineage):
            return base
        return f"{base}_{self.lineage[:8]}"

    def save(self, step: int, model_state: Dict, optim_state: Dict, trainer_state: Dict) -> str:
        """Write ``iter_<step>`` atomically, point ``latest`` at it, prune older ones of this lineage."""
        name = self._free_name(f"iter_{step:07d}")
        path = self._commit(name, model_state, optim_state, trainer_state)
        write_text(os.path.join(self.root, "latest"), name)
        self._prune(name, step)
        return path

    def save_best(self, step: int, metric: str, value: float, model_state: Dict, optim_state: Dict,
                  trainer_state: Dict) -> str:
        """Write a new best folder, switch the ``best`` symlink to it atomically, then drop the old one."""
        link = os.path.join(self.root, "best")
        previous = os.path.realpath(link) if os.path.islink(link) else None
        name = self._free_name(f"best_{step:07d}")
        path = self._commit(name, model_state, optim_state, trainer_state)
        if os.path.isdir(link) and not os.path.islink(link):
            os.rename(link, os.path.join(self.root, f"best_old_{uuid.uuid4().hex[:8]}"))  # an older layout's folder
        tmp_link = os.path.join(self.root, f".tmp-link-{os.getpid()}")
        os.symlink(name, tmp_link)
        os.replace(tmp_link, link)
        write_text(os.path.join(self.root, "best.json"),
                           json.dumps({"metric": metric, "value": value, "step": step, "path": name}))
        _fsync_dir(self.root)
        # Only a best folder of this checkpoints folder is removed (a copied run's link may point anywhere).
        if (previous and previous != os.path.realpath(path) and os.path.isdir(previous)
                and os.path.dirname(previous) == os.path.realpath(self.root)
                and os.path.basename(previous).startswith("best_")):
            shutil.rmtree(previous, ignore_errors=True)
        return path

    def _prune(self, current: str, step: int) -> None:
        if self.keep_last <= 0:
            return
        older: List[Tuple[int, str]] = []
        for name in os.listdir(self.root):
            if not name.startswith("iter_") or name == current or os.path.islink(os.path.join(self.root, name)):
                continue
            owner = _lineage_of(os.path.join(self.root, name))
            # Only this lineage's checkpoints older than the one just written; unknown folders stay.
            if owner and owner[0] == self.lineage and owner[1] < step:
                older.append((owner[1], name))
        for _, name in sorted(older)[:max(len(older) - (self.keep_last - 1), 0)]:
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def latest(self) -> Optional[str]:
        """The newest complete checkpoint folder, or None."""
        pointer = os.path.join(self.root, "latest")
        if not os.path.isfile(pointer):
            return None
        with open(pointer, encoding="utf-8") as f:
            name = f.read(256).strip()
        path = os.path.join(self.root, name)
        return path if name and "/" not in name and _is_checkpoint(path) else None


def _has_model(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, n)) for n in (MODEL_FILE, LEGACY_FILES[0]))


def _is_checkpoint(folder: str) -> bool:
    return (all(os.path.isfile(os.path.join(folder, n)) for n in (MODEL_FILE, OPTIM_FILE, STATE_FILE))
            or all(os.path.isfile(os.path.join(folder, n)) for n in LEGACY_FILES))


def continue_lineage(path: str) -> Optional[str]:
    """The lineage a run resumed from ``path`` continues: the checkpoint's own when it is its
    folder's ``latest``, else None (a branch from an older checkpoint starts a new lineage)."""
    owner = _lineage_of(path)
    latest = CheckpointManager(os.path.dirname(path)).latest()
    if owner and latest and os.path.realpath(latest) == os.path.realpath(path):
        return owner[0]
    return None


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
        if _is_checkpoint(candidate):
            return candidate
        latest = CheckpointManager(candidate).latest()
        if latest:
            return latest
    raise FileNotFoundError(f"no checkpoint found at {path} (expected a folder with {MODEL_FILE}, {OPTIM_FILE} "
                            f"and {STATE_FILE}, or a run folder whose checkpoints/latest names one)")


def load_checkpoint(path: str) -> Dict[str, Any]:
    """``{'path', 'model', 'optimizers', 'trainer'}`` of the checkpoint at ``path`` (tensors as Paddle tensors)."""
    path = resolve_checkpoint(path)
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        model = nest(load_tensors(os.path.join(path, MODEL_FILE)), os.path.join(path, MODEL_FILE))
        state_path = os.path.join(path, STATE_FILE)
        trainer = read_json(state_path, "trainer state")
        optimizers = _join_optimizers(load_tensors(os.path.join(path, OPTIM_FILE)),
                                      trainer.get("optimizer_extras") or {}, os.path.join(path, OPTIM_FILE))
    else:  # written by an older version: pickle files, read without pickle's code paths
        model = read_state_file(os.path.join(path, LEGACY_FILES[0]))
        state_path = os.path.join(path, LEGACY_FILES[2])
        trainer = read_paddle_pickle(state_path)
        optimizers = read_paddle_pickle(os.path.join(path, LEGACY_FILES[1]))
        if not isinstance(optimizers, dict):
            raise WeightsFileError(f"{os.path.join(path, LEGACY_FILES[1])} does not hold optimizer states")
        optimizers = {opt: {k: {n: paddle.to_tensor(a) for n, a in v.items()} if isinstance(v, dict) and k ==
                            "master_weights" else paddle.to_tensor(v) if isinstance(v, np.ndarray) else v
                            for k, v in state.items()} for opt, state in optimizers.items()}
    if not all(isinstance(sd, dict) for sd in model.values()):
        raise WeightsFileError(f"{path}: the model state is not {{role: state_dict}}")
    return {
        "path": path,
        "model": {role: {k: paddle.to_tensor(v) for k, v in sd.items()} for role, sd in model.items()},
        "optimizers": optimizers,
        "trainer": _decode_trainer(trainer, state_path),
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
    if _has_model(path):
        parent = os.path.dirname(os.path.abspath(path))
        run = os.path.dirname(parent) if os.path.basename(parent) == "checkpoints" else None
        chosen, note = path, "checkpoint folder"
    else:
        root = os.path.join(path, "checkpoints") if os.path.isdir(os.path.join(path, "checkpoints")) else path
        run = os.path.dirname(os.path.abspath(root))
        best, latest = os.path.join(root, "best"), CheckpointManager(root).latest()
        if _has_model(best):
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
