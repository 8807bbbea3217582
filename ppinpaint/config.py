"""YAML configs: ``_base_`` inheritance, ``-o key=value`` overrides, unknown-key errors."""
import copy
import os
import re
from typing import Any, Dict, Iterable, List, Optional

import yaml


class ConfigError(ValueError):
    """A config that cannot be used as written; the message names the key and its file."""


# Sections whose keys are fixed here. Sections holding a ``type:`` are checked against the
# constructor signature when they are built (builder.py), so every key is checked somewhere.
SCHEMA: Dict[str, Optional[Dict[str, Any]]] = {
    "model": None,
    "train_dataset": None,
    "val_dataset": None,
    "optimizers": None,
    "train": {
        "iters": 1000,
        "batch_size": 4,
        "num_workers": 0,
        "seed": 0,
        "amp": False,            # false | true (float16 on GPU, bfloat16 on CPU) | a dtype name
        "amp_level": "O1",
        "log_interval": 10,
        "visual_interval": 100,
        "save_interval": 500,
        "eval_interval": 0,      # 0: evaluate only at the end when val_dataset is set
        "keep_last": 3,
        "best_metric": None,     # e.g. "psnr" or "max:psnr" / "min:fmse"
        "output_dir": "output",
        "nprocs": 1,
    },
    "eval": {
        "batch_size": 1,
        "num_workers": 0,
        "metrics": [],
        "max_samples": None,
        "save_images": 8,        # how many result grids evaluation writes as PNG
        "protocol": None,        # None: the task's published default (iharmony4 / pixel); docs/metrics.md
        "bins": None,            # mask-ratio bin edges; None: 0,.05,.15,1 (foreground) / 0,.1,...,.6 (hole)
        "baseline": True,        # score the composite (harmonization) / cv2 Telea (inpainting) beside the model
        "full_resolution": 0,    # >0: also evaluate harmonization at full size, long side capped at this
    },
    "predict": {
        "soft_mask": False,
        "strategy": "auto",
        "max_size": 1024,
        "margin": 64,
        "max_image_pixels": 100_000_000,  # images (and masks) claiming more pixels in their header are refused
        "engine": "auto",       # eager | paddle | onnx | openvino | auto: how predict and eval run the model (ppinpaint.compiled)
        "cache_dir": None,      # compiled graphs; None: $PPINPAINT_CACHE, else ~/.cache/ppinpaint/compiled
    },
}

# The integer keys of the fixed sections and their smallest allowed value; the others are free-form.
INTEGER_KEYS: Dict[str, int] = {
    "train.iters": 1, "train.batch_size": 1, "train.num_workers": 0, "train.seed": 0, "train.log_interval": 1,
    "train.visual_interval": 0, "train.save_interval": 0, "train.eval_interval": 0, "train.keep_last": 0,
    "train.nprocs": 1, "eval.batch_size": 1, "eval.num_workers": 0, "eval.max_samples": 1, "eval.save_images": 0,
    "predict.max_size": 1, "predict.margin": 0, "predict.max_image_pixels": 1,
}


def check_integer(value: Any, key: str, minimum: int, where: str) -> int:
    """``value`` as an int >= ``minimum`` (integral floats such as ``1e3`` and numeric strings accepted),
    else one :class:`ConfigError` naming ``key`` and where it was set."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r:.60} (set in {where})")
    return number


class _Loader(yaml.SafeLoader):
    """safe_load with YAML 1.2 floats: ``1e-4`` and ``5E3`` are numbers, not strings as in YAML 1.1."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def load_yaml(text: Any) -> Any:
    """YAML text or stream -> Python values (safe types only, YAML 1.2 floats)."""
    return yaml.load(text, Loader=_Loader)


def _read_yaml(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = load_yaml(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _merge(base: Dict[str, Any], child: Dict[str, Any], origins: Dict[str, str],
           source: str, prefix: str = "") -> Dict[str, Any]:
    """Deep-merge ``child`` into a copy of ``base``, recording where each key came from.

    A child mapping that sets ``_delete_: true`` or names another ``type:`` replaces the
    base mapping instead of merging with it, so switching a component never inherits the
    previous component's arguments.
    """
    out = copy.deepcopy(base)
    for key, value in child.items():
        path = f"{prefix}{key}"
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            value = dict(value)
            replace = value.pop("_delete_", False) or (
                "type" in value and "type" in old and value["type"] != old["type"])
            if replace:
                _forget(origins, path)
                out[key] = _merge({}, value, origins, source, path + ".")
            else:
                out[key] = _merge(old, value, origins, source, path + ".")
        else:
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "_delete_"}
            _forget(origins, path)
            out[key] = copy.deepcopy(value)
            _record(origins, path, value, source)
    return out


def _forget(origins: Dict[str, str], path: str) -> None:
    for k in [k for k in origins if k == path or k.startswith(path + ".")]:
        del origins[k]


def _record(origins: Dict[str, str], path: str, value: Any, source: str) -> None:
    origins[path] = source
    if isinstance(value, dict):
        for k, v in value.items():
            _record(origins, f"{path}.{k}", v, source)


def _load_with_bases(path: str, origins: Dict[str, str], seen: List[str]) -> Dict[str, Any]:
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f"_base_ cycle: {' -> '.join(seen + [path])}")
    data = _read_yaml(path)
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"{path}: _base_ must be a path or a list of paths, got {bases!r:.80}")
    merged: Dict[str, Any] = {}
    for base in bases:
        base_path = os.path.join(os.path.dirname(path), base)
        merged = _merge(merged, _load_with_bases(base_path, origins, seen + [path]), origins, base_path)
    return _merge(merged, data, origins, path)


def parse_override(opt: str) -> Dict[str, Any]:
    """``a.b.c=value`` -> ``{"a": {"b": {"c": value}}}`` with the value parsed as YAML."""
    if "=" not in opt:
        raise ConfigError(f"override {opt!r} must look like section.key=value")
    key, raw = opt.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {opt!r} has an empty key")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {opt!r}: the value is not valid YAML ({e})") from None
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


class Config:
    """A resolved config: plain nested dicts plus the file each key was set in."""

    def __init__(self, path: str, opts: Optional[Iterable[str]] = None) -> None:
        self.path = path
        self.origins: Dict[str, str] = {}
        data = _load_with_bases(path, self.origins, [])
        for opt in opts or []:
            data = _merge(data, parse_override(opt), self.origins, f"-o {opt}")
        self.data = data
        self._check_schema()

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = "<dict>") -> "Config":
        """A Config made from an in-memory mapping (used by notebooks and tests)."""
        self = cls.__new__(cls)
        self.path = source
        self.origins = {}
        self.data = _merge({}, data, self.origins, source)
        self._check_schema()
        return self

    def origin(self, dotted: str) -> str:
        """The file (or ``-o`` option) that set ``dotted`` or its nearest parent."""
        parts = dotted.split(".")
        while parts:
            hit = self.origins.get(".".join(parts))
            if hit:
                return hit
            parts.pop()
        return self.path

    def _check_schema(self) -> None:
        for section, value in self.data.items():
            if section not in SCHEMA:
                raise ConfigError(
                    f"unknown top-level key {section!r} (set in {self.origin(section)}); "
                    f"allowed: {', '.join(SCHEMA)}")
            fixed = SCHEMA[section]
            if fixed is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{section!r} must be a mapping (set in {self.origin(section)})")
            for key in value:
                if key not in fixed:
                    raise ConfigError(
                        f"unknown key {section}.{key} (set in {self.origin(section + '.' + key)}); "
                        f"allowed: {', '.join(fixed)}")
                dotted = f"{section}.{key}"
                if dotted in INTEGER_KEYS and not (value[key] is None and fixed[key] is None):
                    value[key] = check_integer(value[key], dotted, INTEGER_KEYS[dotted], self.origin(dotted))
        if "model" not in self.data:
            raise ConfigError(f"{self.path}: the config has no 'model' section")

    def section(self, name: str) -> Dict[str, Any]:
        """A fixed-schema section with its defaults filled in."""
        merged = copy.deepcopy(SCHEMA[name] or {})
        merged.update(copy.deepcopy(self.data.get(name) or {}))
        return merged

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def dump(self, path: str) -> None:
        """Write the fully resolved config (what the run really used) as YAML."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(self.data, f, sort_keys=False)
