import os
import subprocess
import sys
import textwrap

import pytest

from ppinpaint.builder import build
from ppinpaint.config import Config, ConfigError, parse_override
from ppinpaint.registry import Registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_several_bases_deep_merge_and_child_wins(tmp_path):
    write(tmp_path, "_base_/a.yml", """
        model: {type: M, width: 8, depth: 2}
        train: {iters: 10, batch_size: 2}
    """)
    write(tmp_path, "_base_/b.yml", """
        train: {batch_size: 4, seed: 3}
    """)
    child = write(tmp_path, "exp/c.yml", """
        _base_: [../_base_/a.yml, ../_base_/b.yml]
        model: {width: 16}
    """)
    cfg = Config(child)
    assert cfg["model"] == {"type": "M", "width": 16, "depth": 2}
    assert cfg["train"] == {"iters": 10, "batch_size": 4, "seed": 3}
    assert cfg.origin("model.width").endswith("c.yml")
    assert cfg.origin("model.depth").endswith("a.yml")
    assert cfg.origin("train.batch_size").endswith("b.yml")


def test_other_type_replaces_instead_of_merging(tmp_path):
    write(tmp_path, "base.yml", "model: {type: M, width: 8}\n")
    child = write(tmp_path, "c.yml", "_base_: base.yml\nmodel: {type: N, depth: 1}\n")
    assert Config(child)["model"] == {"type": "N", "depth": 1}
    child2 = write(tmp_path, "d.yml", "_base_: base.yml\nmodel: {_delete_: true, type: M, depth: 1}\n")
    assert Config(child2)["model"] == {"type": "M", "depth": 1}


def test_overrides_are_yaml_values(tmp_path):
    path = write(tmp_path, "c.yml", "model: {type: M, width: 8}\ntrain: {iters: 10}\n")
    cfg = Config(path, ["train.iters=3", "model.width=1.5e-4", "model.names=[a, b]", "train.amp=true"])
    assert cfg["train"]["iters"] == 3 and cfg["model"]["width"] == pytest.approx(1.5e-4)
    assert cfg["model"]["names"] == ["a", "b"] and cfg["train"]["amp"] is True
    assert cfg.origin("train.iters") == "-o train.iters=3"
    assert parse_override("a.b=") == {"a": {"b": ""}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("novalue")


def test_unknown_keys_name_the_key_and_the_file(tmp_path):
    path = write(tmp_path, "bad.yml", "model: {type: M}\ntrian: {iters: 1}\n")
    with pytest.raises(ConfigError, match=r"'trian'.*bad\.yml"):
        Config(path)
    path = write(tmp_path, "bad2.yml", "model: {type: M}\ntrain: {itres: 1}\n")
    with pytest.raises(ConfigError, match=r"train\.itres.*bad2\.yml"):
        Config(path)
    ok = write(tmp_path, "ok.yml", "model: {type: M}\n")
    with pytest.raises(ConfigError, match=r"train\.bogus.*-o train\.bogus=1"):
        Config(ok, ["train.bogus=1"])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Config(str(tmp_path / "missing.yml"))
    broken = write(tmp_path, "broken.yml", "model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Config(broken)
    a = write(tmp_path, "a.yml", "_base_: b.yml\nmodel: {type: M}\n")
    write(tmp_path, "b.yml", "_base_: a.yml\n")
    with pytest.raises(ConfigError, match="cycle"):
        Config(a)


def test_resolved_config_round_trips(tmp_path):
    write(tmp_path, "base.yml", "model: {type: M, width: 8}\n")
    path = write(tmp_path, "c.yml", "_base_: base.yml\ntrain: {iters: 5}\n")
    cfg = Config(path, ["model.width=4"])
    cfg.dump(str(tmp_path / "out" / "config.yml"))
    again = Config(str(tmp_path / "out" / "config.yml"))
    assert again.data == cfg.data


def test_builder_recurses_and_rejects_unknown_arguments(tmp_path):
    reg = Registry("thing")

    @reg.register()
    class Leaf:
        def __init__(self, size: int = 1):
            self.size = size

    @reg.register()
    class Node:
        def __init__(self, child, scale: float):
            self.child, self.scale = child, scale

    node = build({"type": "Node", "scale": 2.0, "child": {"type": "Leaf", "size": 3}}, reg)
    assert isinstance(node.child, Leaf) and node.child.size == 3
    path = write(tmp_path, "m.yml", "model: {type: Node, scale: 1, child: {type: Leaf, sise: 3}}\n")
    cfg = Config(path)
    with pytest.raises(ConfigError, match=r"model\.child\.sise for Leaf.*m\.yml.*accepted: size"):
        build(cfg["model"], reg, where="model", origin=cfg.origin)
    with pytest.raises(ConfigError, match="needs scale"):
        build({"type": "Node", "child": None}, reg)


def test_registry_errors_list_known_names():
    reg = Registry("widget")

    @reg.register()
    class A:
        pass

    with pytest.raises(KeyError, match=r"unknown widget 'B'; registered: A"):
        reg.get("B")
    with pytest.raises(ConfigError, match=r"model\.type: unknown widget 'B'"):
        build({"type": "B"}, reg, where="model")
    with pytest.raises(KeyError, match="registered twice"):
        reg.register(type("A", (), {}))


def test_a_typed_section_is_built_and_checked_like_a_component(tmp_path):
    """DeepFill's ``attention:`` mapping (no ``type:``) is a ContextualAttention: built, its keys checked."""
    from ppinpaint.modeling.layers.contextual_attention import ContextualAttention
    from ppinpaint.registry import MODELS

    base = os.path.join(ROOT, "configs", "deepfill_v1", "quickstart.yml")
    cfg = Config(base, ["model.generator.attention.chunk_mib=8"])
    model = build(cfg["model"], MODELS, where="model", origin=cfg.origin)
    attention = model.nets["generator"].fine_generator.contextual_attention
    assert isinstance(attention, ContextualAttention) and attention.chunk_mib == 8.0
    path = write(tmp_path, "typo.yml", f"""\
        _base_: {base}
        model:
          generator:
            attention: {{chunk_mb: 64}}
        """)
    cfg = Config(path)
    with pytest.raises(ConfigError, match=r"model\.generator\.attention\.chunk_mb for ContextualAttention "
                                          r"\(set in .*typo\.yml\); accepted: .*chunk_mib"):
        build(cfg["model"], MODELS, where="model", origin=cfg.origin)


def test_a_constructor_check_names_the_section_and_where_the_key_was_set():
    from ppinpaint.registry import MODELS

    cfg = Config(os.path.join(ROOT, "configs", "deepfill_v1", "quickstart.yml"), ["model.generator.channel_order=xyz"])
    with pytest.raises(ConfigError, match=r"model\.generator \(DeepFillV1Generator\): channel_order must be one "
                                          r"of .*'xyz' \(set in -o model\.generator\.channel_order=xyz\)"):
        build(cfg["model"], MODELS, where="model", origin=cfg.origin)


def test_registries_fill_themselves_whatever_was_imported_first():
    """A fresh interpreter that imports only the registry sees every component and converter."""
    code = ("from ppinpaint.registry import CONVERTERS, DATASETS, METRICS, MODELS, OPTIMIZERS; "
            "print(sorted(METRICS), 'deepfill_v1' in CONVERTERS, 'Adam' in OPTIMIZERS, 'DeepFillV1' in MODELS, "
            "'InpaintingDataset' in DATASETS)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "'InpaintingMetrics'" in proc.stdout and "'FID'" in proc.stdout
    assert proc.stdout.strip().endswith("True True True True")
