"""DeepFill v1 converters: daa233 files through the CLI, strictness, and the TF v1 layout."""
import os
import sys

import numpy as np
import paddle
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modeling"))
from deepfill_v1_data import case, load, official_sources  # noqa: E402
from ppinpaint.convert.common import ConversionError  # noqa: E402
from ppinpaint.convert.deepfill_v1 import _tf_generator_names, convert_deepfill_v1, convert_deepfill_v1_tf  # noqa: E402
from ppinpaint.commands.convert import main as convert_main  # noqa: E402


def test_cli_converts_daa233_files_and_the_model_reproduces_official(tmp_path, capsys):
    gen, critics = official_sources()
    np.savez(tmp_path / "gen_00430000.npz", **{f"module.{k}": v for k, v in gen.items()})  # DataParallel prefix
    np.savez(tmp_path / "dis_00430000.npz", **critics)
    out = tmp_path / "deepfill.pdparams"
    assert convert_main(["deepfill_v1", "--src", str(tmp_path / "dis_00430000.npz"),
                         "--src", str(tmp_path / "gen_00430000.npz"), "--dst", str(out)]) == 0
    assert "generator" in capsys.readouterr().out
    model = load(str(out))
    z = case("bbox")
    with paddle.no_grad():
        _, x2, _ = model.nets["generator"](paddle.to_tensor(z["in/x"]), paddle.to_tensor(z["in/mask"]))
    assert np.abs(x2.numpy() - z["out/x_stage2"]).max() <= 1e-4


def test_daa233_strictness():
    gen, critics = official_sources()
    broken = dict(gen)
    del broken["fine_generator.pmconv9.conv.weight"]
    broken["fine_generator.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ConversionError) as err:
        convert_deepfill_v1([broken])
    assert "pmconv9.conv.weight" in str(err.value) and "extra.weight" in str(err.value)
    with pytest.raises(ConversionError, match="not a daa233"):
        convert_deepfill_v1([{"conv.weight": np.zeros((1, 1, 1, 1), np.float32)}])
    shrunk = dict(critics)
    shrunk["globalD.linear.weight"] = shrunk["globalD.linear.weight"][:, :100]
    with pytest.raises(ConversionError, match="square feature map"):
        convert_deepfill_v1([shrunk])


def _as_tf_checkpoint(gen: dict, critics: dict) -> dict:
    """The same weights under TF v1's names and layouts (HWIO kernels, NHWC-flattened dense)."""
    out = {"global_step": np.array(7), "inpaint_net/conv1/kernel/Adam": np.zeros(1, np.float32)}
    for tf, ours in _tf_generator_names():
        scope = ours.split(".", 1)[1]
        prefix = ("coarse_generator." if ours.startswith("coarse") else "fine_generator.") + scope
        out[f"inpaint_net/{tf}/kernel"] = gen[f"{prefix}.conv.weight"].transpose(2, 3, 1, 0)
        out[f"inpaint_net/{tf}/bias"] = gen[f"{prefix}.conv.bias"]
    for net, scope, fc in (("localD", "discriminator_local", "dout_local_fc"),
                           ("globalD", "discriminator_global", "dout_global_fc")):
        for i in range(1, 5):
            out[f"discriminator/{scope}/conv{i}/kernel"] = critics[f"{net}.dis_conv_module.conv{i}.conv.weight"].transpose(2, 3, 1, 0)
            out[f"discriminator/{scope}/conv{i}/bias"] = critics[f"{net}.dis_conv_module.conv{i}.conv.bias"]
        w = critics[f"{net}.linear.weight"]                     # torch [1, C*H*W], NCHW order
        c = critics[f"{net}.dis_conv_module.conv4.conv.weight"].shape[0]
        side = int(round((w.shape[1] // c) ** 0.5))
        out[f"discriminator/{fc}/kernel"] = w.reshape(c, side, side).transpose(1, 2, 0).reshape(-1, 1)
        out[f"discriminator/{fc}/bias"] = critics[f"{net}.linear.bias"]
    return out


def test_tf_layout_maps_to_the_same_parameters():
    gen, critics = official_sources()
    want = convert_deepfill_v1([gen, critics])
    got = convert_deepfill_v1_tf([_as_tf_checkpoint(gen, critics)])
    assert set(got) == set(want) == {"generator", "local_discriminator", "global_discriminator"}
    for role in want:
        assert set(got[role]) == set(want[role])
        for key, value in want[role].items():
            np.testing.assert_array_equal(got[role][key], value, err_msg=f"{role}.{key}")
    # A generator-only release converts alone; an unknown variable is reported, not dropped.
    only_gen = {k: v for k, v in _as_tf_checkpoint(gen, critics).items() if not k.startswith("discriminator/")}
    assert set(convert_deepfill_v1_tf([only_gen])) == {"generator"}
    with pytest.raises(ConversionError, match="inpaint_net/mystery/kernel"):
        convert_deepfill_v1_tf([{**only_gen, "inpaint_net/mystery/kernel": np.zeros(1, np.float32)}])
