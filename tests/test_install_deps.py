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
