import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "GLOG_minloglevel"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_entry_points_hide_paddles_ccache_warning_but_not_others():
    # Paddle warns about ccache when it is imported; our entry points filter exactly that.
    code = ("import sys; sys.path.insert(0, '.'); import ppinpaint.commands, paddle, warnings; "
            "warnings.warn('a warning that matters', UserWarning)")
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "ccache" not in proc.stderr
    assert "a warning that matters" in proc.stderr
    bare = run("-c", "import paddle")  # without our entry point Paddle's warning is there: the test can fail
    assert "No ccache found" in bare.stderr


HELP = """
import sys
sys.path.insert(0, ".")
from ppinpaint.commands.train import main as train_main
try:
    train_main(["--help"])
except SystemExit as e:
    code = e.code
assert "paddle" not in sys.modules, "--help imported paddle"
sys.exit(code)
"""


def test_help_needs_no_paddle_and_prints_nothing_on_stderr():
    proc = run("-c", HELP)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "usage: train" in proc.stdout


def test_batchnorm_training_chatter_is_filtered_in_process():
    import warnings

    import paddle

    from ppinpaint.utils.quiet import quiet_paddle

    bn = paddle.nn.BatchNorm2D(2)
    bn.train()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        bn(paddle.ones([2, 2, 3, 3]))
        assert any("track global mean" in str(w.message) for w in seen)  # Paddle says it on every forward
        seen.clear()
        quiet_paddle()
        bn(paddle.ones([2, 2, 3, 3]))
        warnings.warn("a warning that matters", UserWarning)
    assert [str(w.message) for w in seen] == ["a warning that matters"]
