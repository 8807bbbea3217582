import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_of_every_tool():
    for tool in ("train", "eval", "predict"):
        proc = run(f"tools/{tool}.py", "--help")
        assert proc.returncode == 0, proc.stderr
        assert "-c CONFIG" in proc.stdout or "--config" in proc.stdout
    proc = run("-m", "ppinpaint.cli", "--help")
    assert proc.returncode == 0 and "convert" in proc.stdout


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("model: {type: NoSuchModel}\ntrain_dataset: {type: X}\n")
    proc = run("tools/train.py", "-c", str(bad), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "NoSuchModel" in proc.stderr and "bad.yml" in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing is written for a config that cannot build
    proc = run("tools/train.py", "-c", str(tmp_path / "missing.yml"))
    assert proc.returncode == 2 and "config file not found" in proc.stderr and "Traceback" not in proc.stderr
