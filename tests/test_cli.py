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


def test_ppinpaint_alone_prints_help_and_version_and_every_tool_is_a_command():
    from ppinpaint import __version__
    from ppinpaint.cli import COMMANDS

    alone = run("-m", "ppinpaint")
    assert alone.returncode == 0 and "usage: ppinpaint" in alone.stdout and alone.stderr == ""
    version = run("-m", "ppinpaint", "--version")
    assert version.returncode == 0 and version.stdout.startswith(f"ppinpaint {__version__} (Python ")
    unknown = run("-m", "ppinpaint", "trian")
    assert unknown.returncode == 2 and "unknown command 'trian'" in unknown.stderr
    tools = {f[:-3] for f in os.listdir(os.path.join(ROOT, "tools")) if f.endswith(".py")} - {"install_deps"}
    named = {"convert_weights": "convert", "eval_folders": "eval-folders", "make_synthetic": "make-synthetic"}
    assert {named.get(t, t) for t in tools} <= set(COMMANDS)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for command in COMMANDS:  # the README shows every tool as a ppinpaint sub-command
        assert f"ppinpaint {command} " in readme, command
