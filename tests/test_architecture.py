"""The import direction of docs/architecture.md, read from the source (every import statement,
also those inside functions): a module imports only from its own floor or the floors below."""
import ast
import os
import sys
from typing import List, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "ppinpaint")

# Lowest floor first. A module belongs to the floor of the longest prefix that names it.
FLOORS = [
    # foundation: YAML + registries + building, small helpers, and plain file reading (image input
    # rules and listing; the safe checkpoint readers that the converters and the metrics share).
    ("ppinpaint.config", "ppinpaint.registry", "ppinpaint.builder", "ppinpaint.utils", "ppinpaint.data.io",
     "ppinpaint.convert.common", "ppinpaint.convert.torch_pickle", "ppinpaint.convert.tf_checkpoint",
     "ppinpaint.convert.run", "ppinpaint.__version__"),
    # components, independent of each other
    ("ppinpaint.data", "ppinpaint.metrics", "ppinpaint.modeling"),
    # what stands on the components: training, prediction, export, the converters' per-method mappings,
    # scoring result folders (metrics over files and datasets)
    ("ppinpaint.engine", "ppinpaint.api", "ppinpaint.predict", "ppinpaint.highres", "ppinpaint.export",
     "ppinpaint.inference", "ppinpaint.compiled", "ppinpaint.convert", "ppinpaint.demo", "ppinpaint.metrics.folders"),
    ("ppinpaint.commands",),
    ("ppinpaint.cli", "ppinpaint.__main__", "ppinpaint"),
]
# Packages on one floor that must not import each other.
INDEPENDENT = FLOORS[1]

# Inside modeling: building blocks, then one paper's networks (generators and critics apart), then the
# methods that put nets and losses together.
MODELING_FLOORS = [
    ("ppinpaint.modeling.layers", "ppinpaint.modeling.losses", "ppinpaint.modeling.init", "ppinpaint.modeling.draws"),
    ("ppinpaint.modeling.generators", "ppinpaint.modeling.discriminators"),
    ("ppinpaint.modeling.models",),
]


def _place(module: str, floors=None) -> Tuple[int, str]:
    """(floor, the prefix that placed it); (-1, '') for a module no prefix names."""
    return max(((i, p) for i, floor in enumerate(floors or FLOORS) for p in floor
                if module == p or module.startswith(p + ".")), key=lambda ip: len(ip[1]), default=(-1, ""))


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def imports(path: str) -> List[Tuple[str, int]]:
    """(imported ppinpaint module or name, line) for every import statement of a file."""
    module = _module_name(path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "ppinpaint"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "ppinpaint":
                # `from . import x` names a module x (or a constant such as __version__, placed in
                # FLOORS like a module); `from .m import f` names m.
                found += ([(target, node.lineno)] if node.module
                          else [(f"{target}.{a.name}", node.lineno) for a in node.names])
    return found


def _modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def wrong_way_imports(floors=None, independent=INDEPENDENT) -> List[str]:
    """Every import that points up a floor, or across between independent packages (modules that
    ``floors`` does not place, on either side, are not checked)."""
    wrong = []
    for path in _modules():
        source = _module_name(path)
        floor, prefix = _place(source, floors)
        for target, line in imports(path):
            t_floor, t_prefix = _place(target, floors)
            where = f"{os.path.relpath(path, ROOT)}:{line} imports {target}"
            if floor < 0 or t_floor < 0:
                continue
            if t_floor > floor:
                wrong.append(f"{where} (floor {t_floor} '{t_prefix}' above floor {floor} '{prefix}')")
            elif t_floor == floor and prefix in independent and t_prefix in independent and t_prefix != prefix:
                wrong.append(f"{where} ({prefix} and {t_prefix} are independent)")
    return wrong


def test_imports_point_down_the_floors():
    assert wrong_way_imports() == []


def test_inside_modeling_networks_stand_on_layers_and_methods_on_networks():
    assert wrong_way_imports(MODELING_FLOORS, MODELING_FLOORS[1]) == []


def test_every_module_has_a_floor():
    for path in _modules():
        floor, prefix = _place(_module_name(path))
        assert prefix != "ppinpaint" or _module_name(path) == "ppinpaint", path


@pytest.mark.parametrize("source, target, inside_modeling", [
    ("ppinpaint/modeling/models/base.py", "from ...engine.distributed import all_reduce_gradients", False),
    ("ppinpaint/metrics/inpaint.py", "from ..modeling.models.base import BaseModel", False),
    ("ppinpaint/config.py", "from .commands.common import USER_ERRORS", False),
    ("ppinpaint/modeling/discriminators/rainnet.py", "from ..generators.rainnet import level_channels", True),
    ("ppinpaint/modeling/layers/rain.py", "from ..models.base import BaseModel", True),
])
def test_the_check_fails_on_a_wrong_way_import(tmp_path, monkeypatch, source, target, inside_modeling):
    """The same check on a copy of one module with one wrong-way import added."""
    original = os.path.join(ROOT, source)
    copy = tmp_path / "ppinpaint" / os.path.relpath(original, PACKAGE)
    copy.parent.mkdir(parents=True)
    copy.write_text(open(original, encoding="utf-8").read() + f"\n\ndef _late():\n    {target}\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", str(tmp_path / "ppinpaint"))
    found = wrong_way_imports(MODELING_FLOORS, MODELING_FLOORS[1]) if inside_modeling else wrong_way_imports()
    assert len(found) == 1, found
