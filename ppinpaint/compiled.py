"""Compiled inference: a model's ``infer_graph`` exported once, cached on disk, run by an inference engine.

``compile_model(model, engine)`` returns an object with the eager model's interface (``infer`` returns
a Tensor; ``task``, ``nets``…) whose ``infer`` runs the exported graph with Paddle Inference
(``paddle``; oneDNN on CPU where ``deploy.yml`` allows) or onnxruntime (``onnx``). The export lives in
``<cache>/<Model>-<digest>/``, the digest covering the nets' structure and weights, the model's
options and the Paddle and ppinpaint versions; exports have dynamic N, H and W, so one folder serves
every input size. Each engine is checked against eager on a fixed batch when first built (``check.yml``
in the folder); an engine that differs by more than ``TOLERANCE`` is refused, and ``auto`` picks the
fastest of eager and the engines that passed, once, for every later session too.
``openvino`` runs the same ``model.onnx`` as ``onnx``, by OpenVINO.
"""
import hashlib
import logging
import os
import shutil
import tempfile
import time
from typing import Dict, Optional, Tuple

import numpy as np
import paddle
import yaml

from .export import ExportError, export_model, export_onnx
from .inference import load_predictor
from .utils.weight_files import write_text

ENGINES = ("eager", "paddle", "onnx", "openvino", "auto")
# Each needs the ONNX file of the export (paddle2onnx) besides the Paddle program.
_ONNX_ENGINES = ("onnx", "openvino")
CACHE_ENV = "PPINPAINT_CACHE"
CHECK_FILE = "check.yml"
TOLERANCE = 1e-4
logger = logging.getLogger(__name__)
_PRIMITIVES = (bool, int, float, str)
# nn.Layer's own bookkeeping (instance counters, train/eval and built flags): not what a layer computes.
_LAYER_NOISE = frozenset(vars(paddle.nn.Layer())) | {"_built", "training"}


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
    """SHA-256 of what the exported graph depends on: versions, model options, net structure and weights."""
    from . import __version__

    h = hashlib.sha256()
    h.update(f"paddle {paddle.__version__} ppinpaint {__version__} {type(model).__name__}\n".encode())
    h.update(_options(model).encode())
    for role in sorted(model.nets):
        net = model.nets[role]
        for name, layer in net.named_sublayers(include_self=True):
            h.update(f"\n{role}.{name}:{type(layer).__name__}:{_options(layer)}".encode())
        for key, value in sorted(net.state_dict().items()):
            array = np.ascontiguousarray(value.numpy())
            h.update(f"\n{key}:{array.dtype}:{array.shape}".encode())
            h.update(array.tobytes())
    return h.hexdigest()


def check_batch(model) -> Tuple[np.ndarray, np.ndarray]:
    """Two different images and masks (a rectangle and a scattered pattern) at the model's smallest size >= 64."""
    multiple, minimum = int(model.size_multiple), int(getattr(model, "min_size", 0))
    size = max(minimum, multiple)
    while size < 64:
        size += multiple
    rng = np.random.default_rng(0)
    image = rng.random((2, 3, size, size)).astype(np.float32)
    mask = np.zeros((2, 1, size, size), np.float32)
    mask[0, :, size // 4:size // 2, size // 3:3 * size // 4] = 1.0
    mask[1, :, ::7, ::5] = 1.0
    mask[1, :, size // 2:, :size // 3] = 1.0
    return image, mask


def _time(fn, repeat: int = 3) -> float:
    fn()  # warm-up: oneDNN builds its kernels at the first run
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(min(times))


class CompiledModel:
    """An eager model whose ``infer`` (and so ``predict``, evaluation) runs a compiled engine instead."""

    def __init__(self, model, predictor, engine: str, folder: str) -> None:
        self.model, self.predictor, self.engine, self.folder = model, predictor, engine, folder
        self.cpu_threads = getattr(predictor, "cpu_threads", None)
        self.device = getattr(predictor, "device", "cpu")

    def __getattr__(self, name: str):
        # Everything but inference (task, size_multiple, nets, eval, state_dict…) is the eager model's.
        return getattr(self.__dict__["model"], name)

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


def _self_check(model, folder: str, engine: str, threads: Optional[int]) -> Dict[str, object]:
    """Build ``engine`` on the export, compare it with eager on ``check_batch`` and time both."""
    image, mask = check_batch(model)
    expected = model.infer(paddle.to_tensor(image), paddle.to_tensor(mask)).numpy()
    try:
        if engine in _ONNX_ENGINES and not os.path.isfile(os.path.join(folder, "model.onnx")):
            export_onnx(folder)
        predictor = load_predictor(folder, engine, cpu_threads=threads)
        diff = float(np.abs(predictor.infer(image, mask) - expected).max())
        seconds = _time(lambda: predictor.infer(image, mask))
    except (ImportError, ValueError, OSError, RuntimeError) as e:
        return {"ok": False, "error": str(e).splitlines()[0][:300] if str(e) else type(e).__name__}
    return {"ok": diff <= TOLERANCE, "max_diff": diff, "seconds": seconds}


def _read_check(folder: str) -> Dict[str, dict]:
    path = os.path.join(folder, CHECK_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return data if isinstance(data, dict) else {}


def _write_check(folder: str, check: Dict[str, dict]) -> None:
    write_text(os.path.join(folder, CHECK_FILE), yaml.safe_dump(check, sort_keys=True))


def compile_model(model, engine: str = "auto", cache_dir: Optional[str] = None, threads: Optional[int] = None):
    """``model`` itself for ``eager``, else a :class:`CompiledModel` on the cached, self-checked export."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "eager":
        return model
    model.eval()
    folder = os.path.join(cache_root(cache_dir), f"{type(model).__name__}-{graph_digest(model)[:24]}")
    if not os.path.isfile(os.path.join(folder, "deploy.yml")):
        try:
            _export(model, folder)
        except Exception as e:  # tracing fails with many exception types, all meaning "not exportable"
            # Paddle's tracing errors end with the original exception's line.
            reason = (str(e).strip().splitlines() or [type(e).__name__])[-1].strip()[:300]
            if engine == "auto":
                logger.warning("%s cannot be exported (%s): running it eagerly", type(model).__name__, reason)
                return model
            raise ExportError(f"{type(model).__name__} cannot be compiled: {reason}") from e
    check = _read_check(folder)
    wanted = ("paddle",) + _ONNX_ENGINES if engine == "auto" else (engine,)
    if any(e not in check for e in wanted):
        for e in wanted:
            check.setdefault(e, _self_check(model, folder, e, threads))
        if engine == "auto" and "eager" not in check:
            image, mask = (paddle.to_tensor(a) for a in check_batch(model))
            check["eager"] = {"ok": True, "max_diff": 0.0, "seconds": _time(lambda: model.infer(image, mask).numpy())}
        _write_check(folder, check)
    if engine == "auto":
        passed = {e: r["seconds"] for e, r in check.items() if r.get("ok") and e in ("eager",) + wanted}
        engine = min(passed, key=passed.get)
        if engine == "eager":
            return model
    result = check[engine]
    if not result.get("ok"):
        reason = result.get("error") or f"its output differs from eager by {result.get('max_diff'):.3g} (> {TOLERANCE})"
        raise ExportError(f"the {engine} engine cannot run {type(model).__name__} here: {reason} "
                          f"(check {os.path.join(folder, CHECK_FILE)}; --engine eager runs it eagerly)")
    return CompiledModel(model, load_predictor(folder, engine, cpu_threads=threads), engine, folder)
