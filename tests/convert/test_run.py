"""The conversion tool end to end: readers -> registered converter -> atomic .pdparams."""
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import paddle
import pytest
from paddle import nn

from ppinpaint import cli
from ppinpaint.api import read_weights
from ppinpaint.commands import convert as convert_command
from ppinpaint.convert import run
from ppinpaint.convert.common import ConversionError, linear_to_paddle, map_state
from ppinpaint.registry import CONVERTERS
from ppinpaint.utils.weights import load_net_state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "convert")
TINY = os.path.join(DATA, "tiny_net.pth")  # legacy torch format, keys "module.fc.weight" …


class TinyNet(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.conv = nn.Conv2D(2, 3, 3)


def tiny_converter(sources, with_critic: bool = False):
    """Test converter: torch Linear + Conv2d -> Paddle TinyNet (critic copy on request)."""
    target = {k: tuple(v.shape) for k, v in TinyNet().state_dict().items()}
    pairs = [("fc.weight", "fc.weight", linear_to_paddle), ("fc.bias", "fc.bias", None),
             ("conv.weight", "conv.weight", None), ("conv.bias", "conv.bias", None)]
    state = map_state(sources[0], pairs, target, "tiny generator")
    return {"generator": state, "discriminator": dict(state)} if with_critic else {"generator": state}


if "test_tiny" not in CONVERTERS:
    CONVERTERS.register(tiny_converter, name="test_tiny")


def torch_values():
    z = np.load(os.path.join(DATA, "torch_expected.npz"))
    return {k.split("/module.")[-1]: z[k] for k in z.files if k.startswith("tiny_net.pth:")}


def run_main(capsys, *argv):
    code = convert_command.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_cli_converts_and_the_net_computes_what_torch_would(tmp_path, capsys):
    dst = str(tmp_path / "out" / "tiny.pdparams")
    code, out, _ = run_main(capsys, "test_tiny", "--src", TINY, "--dst", dst, "--option", "with_critic=true")
    assert code == 0
    assert "generator: 4 tensors, 72 parameters" in out and "discriminator: 4 tensors" in out
    weights = read_weights(dst)
    assert sorted(weights) == ["discriminator", "generator"]
    net = TinyNet()
    load_net_state(net, weights["generator"], "generator")
    ref = torch_values()
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(net.fc(paddle.to_tensor(x)).numpy(), x @ ref["fc.weight"].T + ref["fc.bias"],
                               rtol=1e-5, atol=1e-6)
    img = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    want = paddle.nn.functional.conv2d(paddle.to_tensor(img), paddle.to_tensor(ref["conv.weight"]),
                                       paddle.to_tensor(ref["conv.bias"]))
    np.testing.assert_array_equal(net.conv(paddle.to_tensor(img)).numpy(), want.numpy())


def test_convert_file_report_and_npz_source(tmp_path):
    ref = torch_values()
    npz = str(tmp_path / "src.npz")
    np.savez(npz, **{f"module.{k}": v for k, v in ref.items()})
    report = run.convert_file("test_tiny", [npz], str(tmp_path / "a.pdparams"))
    assert report == {"generator": {"tensors": 4, "parameters": 3 * 4 + 3 + 3 * 2 * 9 + 3}}
    np.testing.assert_array_equal(read_weights(str(tmp_path / "a.pdparams"))["generator"]["fc.weight"],
                                  ref["fc.weight"].T)


def test_failed_write_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    dst = tmp_path / "tiny.pdparams"
    dst.write_bytes(b"old weights")

    def broken_save(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    import safetensors.numpy

    monkeypatch.setattr(safetensors.numpy, "save_file", broken_save)
    code, _, err = run_main(capsys, "test_tiny", "--src", TINY, "--dst", str(dst))
    assert code == 2 and "disk full" in err
    assert dst.read_bytes() == b"old weights"
    assert os.listdir(tmp_path) == ["tiny.pdparams"]  # no temporary file left behind


def test_file_with_several_state_dicts_is_flattened_by_role():
    state = run.load_source(os.path.join(DATA, "tiny_critics.pt"))
    assert sorted(state) == ["globalD.bias", "globalD.weight", "localD.bias", "localD.weight"]
    z = np.load(os.path.join(DATA, "torch_expected.npz"))
    np.testing.assert_array_equal(state["globalD.weight"], z["tiny_critics.pt:globalD/weight"])


def test_source_without_tensors_is_refused(tmp_path):
    path = tmp_path / "meta.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"epoch": 3, "opt": {"lr": 1.0}}, protocol=2))
    with pytest.raises(ConversionError, match="meta.pt: the file holds no state dict"):
        run.load_source(str(path))


def test_tf_checkpoint_given_four_ways():
    prefix = os.path.join(DATA, "tf_ckpt", "model.ckpt-7")
    forms = [prefix, prefix + ".index", prefix + ".data-00000-of-00001", os.path.join(DATA, "tf_ckpt")]
    states = [run.load_source(p) for p in forms]
    assert "inpaint_net/conv1/kernel" in states[0]
    for state in states[1:]:
        assert sorted(state) == sorted(states[0])
        np.testing.assert_array_equal(state["inpaint_net/conv1/kernel"], states[0]["inpaint_net/conv1/kernel"])


@pytest.mark.parametrize("argv,message", [
    (["no_such_model", "--src", TINY], "unknown weight converter 'no_such_model'; registered: .*test_tiny"),
    (["test_tiny", "--src", "missing.pth"], "source not found: missing.pth"),
    (["test_tiny", "--src", os.path.join(DATA, "tf_ckpt", "model.ckpt-7")], "missing in source: fc.weight"),
    (["test_tiny", "--src", TINY, "--option", "scale=2"], "no option scale; its options: with_critic"),
    (["test_tiny", "--src", TINY, "--option", "with_critic"], "key=value"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code, _, err = run_main(capsys, *argv, "--dst", str(tmp_path / "x.pdparams"))
    assert code == 2
    assert err.startswith("error: ") and re.search(message, err), err
    assert not (tmp_path / "x.pdparams").exists()


def test_truncated_source_names_the_file(tmp_path, capsys):
    bad = tmp_path / "cut.pth"
    bad.write_bytes(open(TINY, "rb").read()[:300])
    code, _, err = run_main(capsys, "test_tiny", "--src", str(bad), "--dst", str(tmp_path / "x.pdparams"))
    assert code == 2 and "cut.pth" in err and "truncated" in err


def test_inspect_prints_what_the_converter_receives(capsys):
    code, out, _ = run_main(capsys, "--inspect", "--src", TINY, "--src", os.path.join(DATA, "tf_ckpt"))
    assert code == 0
    assert "tiny_net.pth: 4 tensors, 72 elements" in out
    assert re.search(r"fc\.weight +3x4 +float32", out)  # module. prefix stripped, torch layout kept
    assert re.search(r"global_step +scalar +int64", out)


def test_list_and_missing_arguments(capsys):
    code, out, _ = run_main(capsys, "--list")
    assert code == 0 and "test_tiny" in out and "Test converter" in out
    assert cli.main(["convert", "--list"]) == 0 and "test_tiny" in capsys.readouterr().out  # `ppinpaint convert`
    with pytest.raises(SystemExit) as e:
        convert_command.main(["test_tiny", "--src", TINY])
    assert e.value.code == 2 and "--dst" in capsys.readouterr().err


def test_tool_script_runs(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_weights.py"), "no_such_model",
                           "--src", TINY, "--dst", str(tmp_path / "x.pdparams")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error: unknown weight converter 'no_such_model'" in proc.stderr and "Traceback" not in proc.stderr
