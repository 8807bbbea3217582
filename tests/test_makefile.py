"""Which interpreter `make` uses: an active venv as it is, a project .venv from a system Python, PYTHON= wins."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target, path_first, *args):
    env = {"PATH": os.pathsep.join([path_first, "/usr/bin", "/bin"]), "HOME": os.environ.get("HOME", "/tmp")}
    proc = subprocess.run(["make", "-n", target, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_inside_a_venv_its_python_is_used(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True, timeout=120)
    out = dry_run("quickstart", str(tmp_path / "env" / "bin"))
    assert f"{tmp_path / 'env' / 'bin'}/python tools/install_deps.py --editable" in out
    assert "-m venv" not in out  # no project venv is made


def test_a_system_python_gets_a_project_venv(tmp_path):
    base = getattr(sys, "_base_executable", sys.executable)
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(os.path.realpath(base), bare / "python3")  # only `python3`, as on Debian/Ubuntu
    venv = tmp_path / "venv"  # not the checkout's .venv, which `make test` in CI has already made
    out = dry_run("test", str(bare), f"VENV={venv}")
    assert f"{bare}/python3 -m venv --system-site-packages {venv}" in out
    assert f"{venv}/bin/python tools/install_deps.py --dev --editable" in out
    assert f"{venv}/bin/python -m pytest -x -q" in out


def test_python_on_the_command_line_wins(tmp_path):
    out = dry_run("install", str(tmp_path), "PYTHON=/opt/some/python")
    assert out.strip() == "/opt/some/python tools/install_deps.py --editable"
