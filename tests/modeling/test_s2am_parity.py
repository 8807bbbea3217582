"""S2AD / S2ASC against the official vinthony/s2am outputs, losses, gradients and BN statistics.

Weights: the parity recipe in the official layout, converted by the ``s2am`` converter, saved
as .pdparams and loaded through ``ppinpaint.load_model`` (the parity boundary).
"""
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import recipe
from s2am_data import DATA, official_state
import ppinpaint
from ppinpaint.convert.common import ConversionError
from ppinpaint.convert.s2am import convert_s2am, infer_options, paddle_key
from ppinpaint.modeling.generators.s2am import S2AMUNet

ARCHS = ("s2ad", "s2asc")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    paths = {}
    for arch in ARCHS:
        converted = convert_s2am([recipe.net_state(official_state(), arch)])
        paths[arch] = str(tmp_path_factory.mktemp("w") / f"{arch}.pdparams")
        paddle.save(converted, paths[arch])
    return paths


def load_generator(arch, weights):
    cfg = {"model": {"type": "S2AM", "generator": {"type": "S2AMUNet", "ngf": 16, "attention": arch}}}
    return ppinpaint.load_model(cfg, weights[arch]).nets["generator"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("case", ["a", "b"])
def test_eval_output_matches_official(arch, case, weights):
    z = np.load(os.path.join(DATA, f"case_{case}.npz"))
    net = load_generator(arch, weights)
    with paddle.no_grad():
        out = net(paddle.to_tensor(z["in/input"]))
    assert np.abs(out.numpy() - z[f"out/{arch}"]).max() <= 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_train_step_loss_grads_and_bn_stats(arch, weights):
    z = np.load(os.path.join(DATA, "case_a.npz"))
    net = load_generator(arch, weights)
    net.train()
    out = net(paddle.to_tensor(z["in/input"]))
    mse = F.mse_loss(out, paddle.to_tensor(z["in/target"]))
    total = 1e10 * mse
    for name, value in (("mse", mse), ("total", total)):
        ref = float(z[f"loss/{arch}_train_{name}"])
        assert abs(float(value) - ref) <= max(1e-4, 1e-5 * abs(ref))
    total.backward()
    params = dict(net.named_parameters())
    grads = [k for k in z.files if k.startswith(f"grad/{arch}.")]
    assert grads
    for key in grads:
        name, transform = paddle_key(key[len(f"grad/{arch}."):])
        ref = transform(z[key]) if transform else z[key]
        assert np.abs(params[name].grad.numpy() - ref).max() <= 1e-3 * np.abs(ref).max(), key
    buffers = net.state_dict()
    stats = [k for k in z.files if k.startswith(f"train/bn_after/{arch}.")]
    assert stats
    for key in stats:
        name, _ = paddle_key(key[len(f"train/bn_after/{arch}."):])
        assert np.abs(buffers[name].numpy() - z[key]).max() <= 1e-4, key


def test_converter_reads_the_architecture():
    assert infer_options(recipe.net_state(official_state(), "s2ad")) == {
        "ngf": 16, "attention": "s2ad", "mask_free": False}
    assert infer_options(recipe.net_state(official_state(), "s2asc"))["attention"] == "s2asc"
    plain = {k: v for k, v in recipe.net_state(official_state(), "s2asc").items() if ".attention." not in k}
    assert infer_options(plain)["attention"] == "none"
    assert len(convert_s2am([plain])["generator"]) > 0


def test_converter_is_strict():
    sd = recipe.net_state(official_state(), "s2ad")
    missing = {k: v for k, v in sd.items() if not k.endswith("up.1.bias")}
    with pytest.raises(ConversionError, match="up_conv.bias"):
        convert_s2am([missing])
    with pytest.raises(ConversionError, match="not used"):
        convert_s2am([{**sd, "model.model.extra.weight": np.zeros(3, np.float32)}])
    gaussian = "model.model.sub.model.attention.gaussianMask.weight"
    from ppinpaint.modeling.layers.s2am import gaussian_kernel
    assert convert_s2am([{**sd, gaussian: gaussian_kernel()}])      # the official buffer is accepted
    with pytest.raises(ConversionError, match="smoothing kernel"):
        convert_s2am([{**sd, gaussian: np.full((1, 1, 5, 5), 0.04, np.float32)}])
    with pytest.raises(ConversionError, match="down.0.weight"):
        convert_s2am([{"foo": np.zeros(2, np.float32)}])
    with pytest.raises(ConversionError, match="input channels"):
        convert_s2am([{**sd, "model.model.down.0.weight": np.zeros((16, 3, 4, 4), np.float32)}])


def test_conversion_tool_route(tmp_path):
    # The file route of tools/convert_weights.py: a flat official state dict (npz) -> .pdparams.
    from ppinpaint.convert.run import convert_file

    src = tmp_path / "rascv2.npz"
    np.savez(src, **recipe.net_state(official_state(), "s2ad"))
    convert_file("s2am", [str(src)], str(tmp_path / "s2ad.pdparams"))
    net = load_generator("s2ad", {"s2ad": str(tmp_path / "s2ad.pdparams")})
    z = np.load(os.path.join(DATA, "case_b.npz"))
    with paddle.no_grad():
        out = net(paddle.to_tensor(z["in/input"]))
    assert np.abs(out.numpy() - z["out/s2ad"]).max() <= 1e-4


def test_mask_free_matches_official_urasc_net():
    # Official building blocks of the mask-free variant (UnetGenerator(3, 3) + URASC), fixture
    # from tests/data/s2am/make_extra_fixtures.py: output and the three predicted masks.
    rows = recipe.read_keys(os.path.join(DATA, "keys_maskfree.tsv"))
    converted = convert_s2am([recipe.net_state(recipe.make_state(rows, 0), "urasc")])["generator"]
    net = S2AMUNet(ngf=16, attention="s2ad", mask_free=True)
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in converted.items()})
    net.eval()
    z = np.load(os.path.join(DATA, "case_maskfree.npz"))
    with paddle.no_grad():
        out, masks = net(paddle.to_tensor(z["in/input"]), return_masks=True)
    assert np.abs(out.numpy() - z["out/output"]).max() <= 1e-4
    for i, mask in enumerate(masks):
        assert np.abs(mask.numpy() - z[f"out/mask_level{i + 1}"]).max() <= 1e-4


@pytest.mark.parametrize("arch, attention", [("rascv2", "s2ad"), ("rascv1", "s2asc"), ("unet", "none")])
def test_official_width_structure(arch, attention):
    # Every key of the official net at its default width (ngf 64) maps onto S2AMUNet(ngf=64).
    rows = recipe.read_keys(os.path.join(DATA, f"keys_ngf64_{arch}.tsv"))
    official = {key.split(".", 1)[1]: np.zeros(shape, np.float32) for key, shape, _, kind in rows
                if kind != "buffer-keep"}
    assert infer_options(official) == {"ngf": 64, "attention": attention, "mask_free": False}
    # strict: every official key used and every parameter of S2AMUNet(ngf=64) filled, shapes checked
    assert convert_s2am([official])["generator"]["levels.0.down_conv.weight"].shape == (64, 4, 4, 4)
