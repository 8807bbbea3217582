import importlib.metadata
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("install_deps", os.path.join(ROOT, "tools", "install_deps.py"))
install_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_deps)


def fake_versions(present):
    def version(name):
        if name in present:
            return present[name]
        raise importlib.metadata.PackageNotFoundError(name)
    return version


@pytest.mark.parametrize("present, expect_cpu_wheel", [
    ({"paddlepaddle-gpu": "2.6.2"}, False),   # AIStudio: keep the GPU build
    ({"paddlepaddle": "3.3.1"}, False),
    ({}, True),                               # fresh machine: CPU wheel
])
def test_paddle_is_installed_only_when_missing(monkeypatch, present, expect_cpu_wheel):
    calls = []
    monkeypatch.setattr(install_deps.importlib.metadata, "version", fake_versions(present))
    monkeypatch.setattr(install_deps, "pip", lambda *args: calls.append(args))
    install_deps.main([])
    installed = [a for call in calls for a in call]
    assert (install_deps.CPU_WHEEL in installed) is expect_cpu_wheel
    assert not any(a.startswith("paddlepaddle-gpu") for a in installed)
    assert calls[0][0] == "-r"


def test_requirements_never_name_paddle_wheels():
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        lines = [line.split("#")[0].strip() for line in f]
    assert not [line for line in lines if line.lower().startswith("paddlepaddle")]


def _requirements(path: str):
    from packaging.requirements import Requirement

    with open(path) as f:
        return [Requirement(line.split(" #")[0].strip()) for line in f if line.split("#")[0].strip()]


def test_default_install_brings_compiled_inference_and_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    listed = _requirements(os.path.join(ROOT, "requirements.txt"))
    assert sorted(map(str, listed)) == sorted(str(type(listed[0])(d)) for d in declared)
    names = {r.name for r in listed}
    assert {"openvino", "paddle2onnx", "onnx"} <= names


def test_installed_requirements_never_pull_in_paddle():
    """Every distribution requirements.txt brings, and theirs in turn, as installed here: none is a Paddle wheel."""
    from packaging.requirements import Requirement

    seen, todo = set(), [r for r in _requirements(os.path.join(ROOT, "requirements.txt")) if r.marker is None
                         or r.marker.evaluate()]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = importlib.metadata.requires(req.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        for text in needs:
            dep = Requirement(text)
            if dep.marker is None or dep.marker.evaluate({"extra": ""}):
                todo.append(dep)
    assert "openvino" in seen and not seen & set(install_deps.PADDLE_DISTRIBUTIONS)
