"""Compiled inference: a model's ``infer_graph`` exported once, cached on disk, run by an inference engine.

``compile_model(model, engine)`` returns a :class:`CompiledModel` (``infer`` returns a Tensor; ``task``,
``size_multiple``, ``min_size``; no eager nets) whose ``infer`` runs the exported graph with Paddle
Inference (``paddle``; oneDNN on CPU where ``deploy.yml`` allows), onnxruntime (``onnx``) or OpenVINO. The export
lives in ``<cache>/<Model>-<digest>/``, the digest covering the nets' structure and weights, the model's
options and the Paddle and ppinpaint versions; exports have dynamic N, H and W, so one folder serves
every input size. Each engine is built and checked against eager on a fixed batch in a child process
when first used (``check.yml`` in the folder); an engine that differs by more than ``TOLERANCE``, fails or
crashes is refused, and ``auto`` picks the fastest of eager and the engines that passed, timed on one
image of the models' official size (``timing_batch``), once, for every later session too.
``openvino`` runs the same ``model.onnx`` as ``onnx``, by OpenVINO.

Finding that folder needs the eager model (the digest hashes its nets), so ``load_model`` keeps an index
beside the folders, ``<cache>/index/<key>.json``, whose key covers only what is known before any net is
built: the versions, ppinpaint's own source, the config's model section and the bytes of the weights
file (:func:`load_key`). With a warm cache ``load_model(cfg, weights, engine=...)`` reads that entry and
loads the engine without ever building the eager nets (:func:`load_cached`).
"""
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import paddle
import yaml

from .export import DEPLOY_FILE, ONNX_FILE, ExportError, export_model, export_onnx
from .inference import load_predictor
from .utils.runtime import thread_count
from .utils.weight_files import WeightsFileError, read_json, write_json, write_text

ENGINES = ("eager", "paddle", "onnx", "openvino", "auto")
# Each needs the ONNX file of the export (paddle2onnx) besides the Paddle program.
_ONNX_ENGINES = ("onnx", "openvino")
CACHE_ENV = "PPINPAINT_CACHE"
CHECK_FILE = "check.yml"
OPENVINO_CACHE = "openvino"  # the folder inside an export where OpenVINO caches its compiled model
INDEX = "index"  # the folder in the cache root that maps load keys to export folders
TOLERANCE = 1e-4
CHECK_TIMEOUT = 900  # seconds for one check process: official widths build in 5-150 s on 2 busy cores
_RESULT = "ppinpaint-check: "  # marks the check process's result line among anything else it prints
logger = logging.getLogger(__name__)
_PRIMITIVES = (bool, int, float, str)
# nn.Layer's own bookkeeping (instance counters, train/eval and built flags): not what a layer computes.
_LAYER_NOISE = frozenset(vars(paddle.nn.Layer())) | {"_built", "training"}
_FOLDER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*-[0-9a-f]{24}")  # what compile_model names an export folder


def cache_root(cache_dir: Optional[str] = None) -> str:
    """Where compiled graphs are kept: ``cache_dir``, else ``$PPINPAINT_CACHE``, else ~/.cache/ppinpaint/compiled."""
    return os.path.expanduser(cache_dir or os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "ppinpaint",
                                                                                    "compiled"))


def _options(obj) -> str:
    """The primitive attributes of a model or layer, sorted: the options that change what it computes."""
    items = []
    for key, value in sorted(vars(obj).items()):
        if key in _LAYER_NOISE:
            continue
        if isinstance(value, _PRIMITIVES) or (isinstance(value, (tuple, list))
                                              and all(isinstance(v, _PRIMITIVES) for v in value)):
            items.append(f"{key}={value!r}")
    return ";".join(items)


def graph_digest(model) -> str:
    """SHA-256 of what the exported graph depends on: versions, model options, the structure and weights of
    the nets inference runs (``model.inference_nets``; critics, which generator-only weights leave random,
    would make every session miss the cache)."""
    from . import __version__

    h = hashlib.sha256()
    h.update(f"paddle {paddle.__version__} ppinpaint {__version__} {type(model).__name__}\n".encode())
    h.update(_options(model).encode())
    roles = sorted(r for r in getattr(model, "inference_nets", ()) if r in model.nets) or sorted(model.nets)
    for role in roles:
        net = model.nets[role]
        for name, layer in net.named_sublayers(include_self=True):
            h.update(f"\n{role}.{name}:{type(layer).__name__}:{_options(layer)}".encode())
        for key, value in sorted(net.state_dict().items()):
            array = np.ascontiguousarray(value.numpy())
            h.update(f"\n{key}:{array.dtype}:{array.shape}".encode())
            h.update(array.tobytes())
    return h.hexdigest()


# auto times every engine on one image of this side (rounded up to a valid size), the official training
# size of every model here: on the small check batch the fixed costs per call rank the engines, not their
# convolutions (DeepFill v1 at official width: Paddle Inference 52 vs OpenVINO 104 ms at 2x64^2, 379 vs 366
# ms at 256^2; docs/speed.md).
TIMING_SIDE = 256


def _valid_size(model, at_least: int) -> int:
    """The model's smallest valid image side >= ``at_least``."""
    multiple, minimum = int(model.size_multiple), int(getattr(model, "min_size", 0))
    size = max(minimum, multiple)
    while size < at_least:
        size += multiple
    return size


def timing_batch(model) -> Tuple[np.ndarray, np.ndarray]:
    """One image at the model's smallest valid size >= ``TIMING_SIDE`` with a centred square hole: what
    ``auto`` times the engines on."""
    size = _valid_size(model, TIMING_SIDE)
    image = np.random.default_rng(1).random((1, 3, size, size)).astype(np.float32)
    mask = np.zeros((1, 1, size, size), np.float32)
    mask[:, :, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
    return image, mask


def _shape(array: np.ndarray) -> str:
    return "x".join(map(str, array.shape[:1] + array.shape[2:]))


def check_batch(model) -> Tuple[np.ndarray, np.ndarray]:
    """Two different images and masks (a rectangle and a scattered pattern) at the model's smallest size >= 64."""
    size = _valid_size(model, 64)
    rng = np.random.default_rng(0)
    image = rng.random((2, 3, size, size)).astype(np.float32)
    mask = np.zeros((2, 1, size, size), np.float32)
    mask[0, :, size // 4:size // 2, size // 3:3 * size // 4] = 1.0
    mask[1, :, ::7, ::5] = 1.0
    mask[1, :, size // 2:, :size // 3] = 1.0
    return image, mask


def _time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of ``repeat`` timed calls after one untimed call (oneDNN and OpenVINO prepare their kernels for
    a shape at its first run)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(min(times))


class CompiledModel:
    """What prediction and evaluation need of a model (``infer``, ``task``, ``size_multiple``…), run by a
    compiled engine. It holds no eager nets: once the caller drops the eager model its weights are freed,
    so a compiled run does not keep the weights twice."""

    def __init__(self, name: str, predictor, engine: str, folder: str) -> None:
        self.name, self.predictor, self.engine, self.folder = name, predictor, engine, folder
        self.task, self.size_multiple, self.min_size = predictor.task, predictor.size_multiple, predictor.min_size
        self.cpu_threads = getattr(predictor, "cpu_threads", None)
        self.device = getattr(predictor, "device", "cpu")
        self.nets: Dict[str, paddle.nn.Layer] = {}  # nothing to switch between train and eval

    def eval(self) -> "CompiledModel":
        """A compiled graph always runs in inference mode."""
        return self

    def infer(self, image, mask) -> paddle.Tensor:
        """[N,3,H,W] image in [0,1] + [N,1,H,W] mask -> [N,3,H,W] Tensor in [0,1], by the compiled graph."""
        return paddle.to_tensor(self.predictor.infer(image, mask))


def _export(model, folder: str) -> None:
    """Export into a temporary sibling, then rename: a concurrent or interrupted build never leaves half a folder."""
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(folder))
    try:
        export_model(model, tmp)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _predictor(folder: str, engine: str, threads: Optional[int]):
    """``engine``'s predictor on the export in ``folder``; OpenVINO keeps its compiled model there too, so
    the check's build is the one every later session loads."""
    options = {"cache_dir": os.path.join(folder, OPENVINO_CACHE)} if engine == "openvino" else {}
    return load_predictor(folder, engine, cpu_threads=threads, **options)


def _check_here(folder: str, engine: str, threads: int, image: np.ndarray, mask: np.ndarray,
                expected: np.ndarray, timing_image: np.ndarray, timing_mask: np.ndarray) -> Dict[str, object]:
    """Build ``engine`` on the export, compare it with the eager output ``expected`` and time it on the
    timing batch (the child's side)."""
    try:
        if engine in _ONNX_ENGINES and not os.path.isfile(os.path.join(folder, ONNX_FILE)):
            export_onnx(folder)
        predictor = _predictor(folder, engine, threads)
        diff = float(np.abs(predictor.infer(image, mask) - expected).max())
        seconds = _time(lambda: predictor.infer(timing_image, timing_mask)) if diff <= TOLERANCE else None
    except (ImportError, ValueError, OSError, RuntimeError) as e:
        return {"ok": False, "error": str(e).splitlines()[0][:300] if str(e) else type(e).__name__}
    return {"ok": diff <= TOLERANCE, "max_diff": diff, "seconds": seconds, "timed_on": _shape(timing_image)}


def _text(output) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _child_failure(proc: subprocess.CompletedProcess) -> str:
    """Why a check process ended early: the signal that killed it, else its last error line."""
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        return f"the engine crashed the process that built and checked it ({name}); this process is unharmed"
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else f"the check process exited with status {proc.returncode}")[:300]


def _self_checks(model, folder: str, engines: Sequence[str], threads: Optional[int],
                 time_eager: bool) -> Dict[str, dict]:
    """Build each engine on the export in a child process, compare it with eager on ``check_batch`` and time
    it on ``timing_batch`` (eager too when ``time_eager``).

    A child process, because Paddle Inference can die in native code while it builds or runs a graph
    (Paddle 3.3.1: a segmentation fault in a oneDNN fuse pass, heap corruption in its pad kernel): that
    must cost one engine, never the user's process. The engines that follow a crashed one get a new child.
    """
    image, mask = check_batch(model)
    timing_image, timing_mask = timing_batch(model)
    expected = model.infer(paddle.to_tensor(image), paddle.to_tensor(mask)).numpy()
    results: Dict[str, dict] = {}
    if time_eager:
        # One timed call: eager is the slow candidate, seconds a call at official widths.
        seconds = _time(lambda: model.infer(paddle.to_tensor(timing_image), paddle.to_tensor(timing_mask)), 1)
        results["eager"] = {"ok": True, "max_diff": 0.0, "seconds": seconds, "timed_on": _shape(timing_image)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="ppinpaint-check-") as tmp:
        arrays = os.path.join(tmp, "check.npz")
        np.savez(arrays, image=image, mask=mask, expected=expected, timing_image=timing_image,
                 timing_mask=timing_mask)
        while any(e not in results for e in engines):
            todo = [e for e in engines if e not in results]
            try:
                proc = subprocess.run([sys.executable, "-m", __name__, folder, str(thread_count(threads)), arrays,
                                       *todo], capture_output=True, text=True, env=env, timeout=CHECK_TIMEOUT)
            except subprocess.TimeoutExpired as e:  # a corrupted heap can deadlock instead of aborting
                proc = subprocess.CompletedProcess(e.cmd, 1, _text(e.stdout), f"the check did not finish within "
                                                   f"{CHECK_TIMEOUT} s (hung?)")
            for line in proc.stdout.splitlines():
                if line.startswith(_RESULT):
                    results.update(json.loads(line[len(_RESULT):]))
            # The first engine without a result is the one the process died on.
            if any(e not in results for e in todo):
                results[next(e for e in todo if e not in results)] = {"ok": False, "error": _child_failure(proc)}
    return results


def _read_check(folder: str) -> Dict[str, dict]:
    path = os.path.join(folder, CHECK_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return data if isinstance(data, dict) else {}


def _write_check(folder: str, check: Dict[str, dict]) -> None:
    write_text(os.path.join(folder, CHECK_FILE), yaml.safe_dump(check, sort_keys=True))


def _failure(result: Dict[str, object]) -> str:
    return str(result.get("error") or f"its output differs from eager by {result.get('max_diff'):.3g} (> {TOLERANCE})")


def release_weights(model) -> None:
    """Free the storage of every parameter and buffer of ``model``'s nets (it can no longer run eagerly)."""
    for net in model.nets.values():
        for tensor in list(net.parameters()) + list(net.buffers()):
            tensor._clear_data()


def _wanted(engine: str) -> Tuple[str, ...]:
    """The compiled engines ``engine`` needs a check of."""
    return ("paddle",) + _ONNX_ENGINES if engine == "auto" else (engine,)


def _missing(check: Dict[str, dict], engines: Sequence[str]) -> list:
    """The engines among ``engines`` that ``check`` has no current result for; a pass recorded before
    engines were timed on ``timing_batch`` (no ``timed_on``) is checked again, so ``auto`` never compares
    times taken at different sizes."""
    return [e for e in engines if e not in check or (check[e].get("ok") and "timed_on" not in check[e])]


def _passed(check: Dict[str, dict]) -> Dict[str, float]:
    """Seconds per call of eager and of each engine ``auto`` considers that passed its check."""
    return {e: float(r["seconds"]) for e, r in check.items() if r.get("ok") and e in ("eager",) + _wanted("auto")}


def _pick(check: Dict[str, dict], engine: str) -> Optional[str]:
    """The engine to run by ``check``: ``engine`` itself when it passed (None when it did not), for ``auto``
    the fastest of eager and the engines that passed."""
    if engine != "auto":
        return engine if check[engine].get("ok") else None
    passed = _passed(check)
    return min(passed, key=passed.get)


def _announce(check: Dict[str, dict], engine: str, chosen: str, where: str, log: Callable[[str], None]) -> None:
    """The one log line saying which compiled engine runs ``model`` and why."""
    if engine != "auto":
        log(f"engine: {engine} (max difference from eager {check[engine]['max_diff']:.2g} on the check batch; {where})")
        return
    passed = _passed(check)
    timings = ", ".join(f"{e} {passed[e] * 1000:.0f} ms" for e in sorted(passed, key=passed.get))
    log(f"engine: {chosen} (auto: fastest of {timings} on a {check[chosen]['timed_on']} image; {where})")


def compile_model(model, engine: str = "auto", cache_dir: Optional[str] = None, threads: Optional[int] = None,
                  log: Optional[Callable[[str], None]] = None, release: bool = False):
    """``model`` itself for ``eager``, else a :class:`CompiledModel` on the cached, self-checked export.

    ``log`` (default: this module's logger) gets one line saying which engine runs and why (and how long a
    first build took); when ``auto`` falls back to eager because no engine passed, that line is a warning of
    this module's logger instead.
    ``release``: the caller gives ``model`` up, so its weights are freed before the engine loads its own
    copy (peak memory: the larger of the two, not their sum).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "eager":
        return model
    name = type(model).__name__
    model.eval()
    start = time.perf_counter()
    folder = os.path.join(cache_root(cache_dir), f"{name}-{graph_digest(model)[:24]}")
    if not os.path.isfile(os.path.join(folder, DEPLOY_FILE)):
        try:
            _export(model, folder)
        except Exception as e:  # tracing fails with many exception types, all meaning "not exportable"
            # Paddle's tracing errors end with the original exception's line.
            reason = (str(e).strip().splitlines() or [type(e).__name__])[-1].strip()[:300]
            if engine == "auto":
                logger.warning("engine: eager (auto: %s cannot be exported: %s)", name, reason)
                return model
            raise ExportError(f"{name} cannot be compiled: {reason}") from e
    check = _read_check(folder)
    todo = _missing(check, _wanted(engine))
    time_eager = engine == "auto" and bool(_missing(check, ("eager",)))
    if todo or time_eager:
        check.update(_self_checks(model, folder, todo, threads, time_eager))
        _write_check(folder, check)
    where = f"cache {folder}" + (f"; built and checked in {time.perf_counter() - start:.1f} s"
                                 if todo or time_eager else "")
    chosen = _pick(check, engine)
    if chosen is None:
        raise ExportError(f"the {engine} engine cannot run {name} here: {_failure(check[engine])} "
                          f"(check {os.path.join(folder, CHECK_FILE)}; --engine eager runs it eagerly)")
    if chosen == "eager" and not any(check[e].get("ok") for e in _wanted(engine)):
        failed = "; ".join(f"{e}: {_failure(check[e])}" for e in _wanted(engine))
        logger.warning("engine: eager (auto: no compiled engine passed its check against eager: %s; %s)",
                       failed, where)
        return model
    _announce(check, engine, chosen, where, log or logger.info)
    if chosen == "eager":
        return model
    if release:
        release_weights(model)
    return CompiledModel(name, _predictor(folder, chosen, threads), chosen, folder)


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    """SHA-256 of ppinpaint's own Python source: a changed layer default or forward changes the load key
    even where the version number did not move (a development checkout)."""
    package = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(package):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            h.update(f"\n{os.path.relpath(path, package)}\n".encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def load_key(model_config: dict, weights_file: str) -> str:
    """SHA-256 of what a config and a weights file compile to, known before any net is built: the Paddle
    and ppinpaint versions and source, the config's ``model`` section, and the weights file's bytes
    (streamed: memory stays bounded whatever the file's size)."""
    from . import __version__

    h = hashlib.sha256()
    h.update(f"paddle {paddle.__version__} ppinpaint {__version__} source {_source_digest()}\n".encode())
    h.update(json.dumps(model_config, sort_keys=True, default=repr).encode())
    with open(weights_file, "rb") as f:
        h.update(b"\nweights " + hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def _index_file(key: str, cache_dir: Optional[str]) -> str:
    return os.path.join(cache_root(cache_dir), INDEX, f"{key}.json")


def remember(key: str, compiled: CompiledModel, cache_dir: Optional[str] = None) -> None:
    """Record that ``key`` (:func:`load_key`) compiles to ``compiled``'s folder (written atomically)."""
    write_json(_index_file(key, cache_dir), {"folder": os.path.basename(compiled.folder)})


def load_cached(key: str, engine: str, cache_dir: Optional[str] = None, threads: Optional[int] = None,
                log: Optional[Callable[[str], None]] = None) -> Optional[CompiledModel]:
    """The compiled model ``key`` was recorded for, without building the eager one; None when that needs
    the eager model after all: no entry, its folder gone, an engine not checked there yet, or a check
    that makes ``engine`` run eagerly or fail (``compile_model`` then says why)."""
    if engine not in ENGINES or engine == "eager" or not os.path.isfile(_index_file(key, cache_dir)):
        return None
    try:
        name = read_json(_index_file(key, cache_dir), "compiled-graph index entry").get("folder")
    except WeightsFileError:
        return None  # a damaged entry: the full path rebuilds it
    if not isinstance(name, str) or not _FOLDER_NAME.fullmatch(name):
        return None
    folder = os.path.join(cache_root(cache_dir), name)
    check = _read_check(folder)
    checked = _wanted(engine) + (("eager",) if engine == "auto" else ())
    if not os.path.isfile(os.path.join(folder, DEPLOY_FILE)) or _missing(check, checked):
        return None
    chosen = _pick(check, engine)
    if chosen in (None, "eager"):
        return None
    compiled = CompiledModel(name.rsplit("-", 1)[0], _predictor(folder, chosen, threads), chosen, folder)
    _announce(check, engine, chosen, f"cache {folder}", log or logger.info)
    return compiled


if __name__ == "__main__":  # the check process of _self_checks: folder threads arrays.npz engine...
    with np.load(sys.argv[3], allow_pickle=False) as _data:
        _arrays = tuple(_data[k] for k in ("image", "mask", "expected", "timing_image", "timing_mask"))
    for _engine in sys.argv[4:]:
        # One line per engine, flushed at once: what was printed survives a crash on the next engine.
        print(_RESULT + json.dumps({_engine: _check_here(sys.argv[1], _engine, int(sys.argv[2]), *_arrays)}),
              flush=True)
