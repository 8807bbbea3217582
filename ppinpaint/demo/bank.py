"""The demo's models: which ones (configs, weights, run folders), each loaded once, run one at a time."""
import os
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from ..highres import choose
from ..predict import predict_array
from ..utils import runtime

CONFIG_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs")
# What the demo shows when it is given no weights: every method at quickstart width, random init.
QUICKSTART = (("DeepFill v1", "deepfill_v1/quickstart.yml"), ("CSA", "csa/quickstart.yml"),
              ("RainNet", "rainnet/quickstart.yml"), ("S²AM", "s2am/quickstart.yml"),
              ("S²AM mask-free", "s2am/quickstart_mask_free.yml"))


@dataclass
class ModelSpec:
    """One entry of the model list: a config, optional weights (file, checkpoint or run folder), a name."""

    config: str
    weights: Optional[str] = None
    name: Optional[str] = None

    @property
    def label(self) -> str:
        """The name shown in the page."""
        if self.name:
            return self.name
        stem = os.path.splitext(os.path.basename(self.config))[0]
        return f"{stem} · {os.path.basename(os.path.normpath(self.weights))}" if self.weights else stem


def quickstart_specs(root: str = CONFIG_ROOT) -> List[ModelSpec]:
    """The quickstart configs of all four methods with random weights."""
    specs = [ModelSpec(os.path.join(root, rel), None, f"{name} (quickstart, random weights)")
             for name, rel in QUICKSTART]
    missing = [s.config for s in specs if not os.path.isfile(s.config)]
    if missing:
        raise FileNotFoundError(f"quickstart configs not found ({missing[0]}): run from a ppinpaint checkout "
                                "or give models with --weights / --models")
    return specs


def spec_from_arg(arg: str) -> ModelSpec:
    """``--weights`` value: ``CONFIG=WEIGHTS``, or weights inside a training run (the run's config.yml)."""
    if "=" in arg and not os.path.exists(arg):
        config, weights = arg.split("=", 1)
        return ModelSpec(config, weights or None)
    from ..engine.checkpoint import resolve_weights

    _, config, _ = resolve_weights(arg)
    if not config or not os.path.isfile(config):
        raise ValueError(f"--weights {arg}: not inside a training run with a config.yml; give CONFIG={arg}")
    return ModelSpec(config, arg)


def read_model_list(path: str) -> List[ModelSpec]:
    """A YAML list of ``{config, weights, name}`` (paths relative to the list file; ``config`` may be left
    out when ``weights`` lie in a training run)."""
    try:
        with open(path, encoding="utf-8") as f:
            entries = yaml.safe_load(f)
    except OSError as e:
        raise FileNotFoundError(f"cannot read the model list {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty list of {{config, weights, name}} entries")
    here = os.path.dirname(os.path.abspath(path))
    specs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not ({"config", "weights"} & set(entry)):
            raise ValueError(f"{path}: entry {i} must be a mapping with 'config' and/or 'weights', got {entry!r}")
        unknown = sorted(set(entry) - {"config", "weights", "name"})
        if unknown:
            raise ValueError(f"{path}: entry {i} has unknown key(s) {unknown} (known: config, weights, name)")
        resolve = lambda p: p if p is None or os.path.isabs(str(p)) else os.path.join(here, str(p))  # noqa: E731
        weights = resolve(entry.get("weights"))
        config = resolve(entry["config"]) if "config" in entry else spec_from_arg(weights).config
        specs.append(ModelSpec(config, weights, entry.get("name")))
    return specs


def _load(spec: ModelSpec, engine: Optional[str], threads: Optional[int]):
    """The spec's model, run by ``engine`` (else its config's ``predict.engine``) through ppinpaint.compiled."""
    from ..api import as_config, load_model
    from ..engine.checkpoint import resolve_weights

    try:
        cfg = as_config(spec.config)
        section = cfg.section("predict")
        # Random weights differ at every start: compiling them would only fill the cache with one-off graphs.
        chosen = (engine or str(section["engine"])) if spec.weights else "eager"
        # A run folder or its checkpoints/ means its best checkpoint, else its latest (as every command).
        return load_model(cfg, resolve_weights(spec.weights)[0] if spec.weights else None, engine=chosen,
                          cache_dir=section["cache_dir"], threads=threads)
    except (ValueError, OSError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise type(e)(f"model '{spec.label}': {msg}") from None


def engine_info(model) -> Dict[str, object]:
    """Engine, device and threads of a loaded model or predictor, as the page reports them."""
    import paddle

    return {"engine": getattr(model, "engine", "eager"),
            "device": getattr(model, "device", None) or paddle.get_device(),
            # Eager math uses ppinpaint.utils.runtime's count; predictors record their own.
            "threads": getattr(model, "cpu_threads", None) or runtime.thread_count()}


class ModelBank:
    """Every model of the demo, loaded (and compiled, per ``engine``) once at start; runs are served one at
    a time (a lock)."""

    def __init__(self, specs: Sequence[ModelSpec], engine: Optional[str] = None,
                 threads: Optional[int] = None) -> None:
        labels = [s.label for s in specs]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"two models share the name {dupes[0]!r}: give each a distinct 'name'")
        self.specs = {s.label: s for s in specs}
        self.models = {s.label: _load(s, engine, threads) for s in specs}
        self.random = [s.label for s in specs if not s.weights]
        self._lock = threading.Lock()

    def names(self, task: str) -> List[str]:
        """Model names for ``inpainting`` or ``harmonization``, in the order given."""
        return [name for name, m in self.models.items() if m.task == task]

    def run(self, name: str, image: np.ndarray, mask: np.ndarray, strategy: str = "auto", max_size: int = 1024,
            margin: int = 64) -> Tuple[np.ndarray, str]:
        """(result, one-line report) of model ``name`` through the toolkit's prediction path."""
        if name not in self.models:
            raise ValueError(f"unknown model {name!r}; loaded: {sorted(self.models)}")
        model = self.models[name]
        with self._lock:
            start = time.perf_counter()
            result = predict_array(model, image, mask, strategy=strategy, max_size=int(max_size), margin=int(margin))
            seconds = time.perf_counter() - start
        info = engine_info(model)
        used = choose(strategy, mask.shape[:2], int(max_size), model.task, model.size_multiple, model.min_size)
        report = (f"{name} · engine {info['engine']} · device {info['device']} · threads {info['threads']} · "
                  f"{seconds:.2f} s · {mask.shape[1]}×{mask.shape[0]} · strategy {strategy}"
                  + (f" → {used}" if strategy == "auto" else ""))
        return result, report
