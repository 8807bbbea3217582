"""Initialisation schemes against the official formulas, per layer type, and per model."""
import math
import os

import numpy as np
import paddle
import pytest
from paddle import nn

import ppinpaint
from ppinpaint.config import Config
from ppinpaint.modeling.init import fans, init_net, initialize
from ppinpaint.modeling.layers.partial_conv import SNConv2D

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")


def layers():
    """One layer of each type, each with a few thousand weights: (name, layer, weight, fan_in, fan_out)."""
    conv = nn.Conv2D(24, 48, 3)                # fan_in 216, fan_out 432
    deconv = nn.Conv2DTranspose(40, 20, 4)     # Paddle/torch weight [in, out, k, k]: fan_in 320
    linear = nn.Linear(300, 20)                # Paddle weight [in, out]: fan_in 300
    sn = SNConv2D(16, 40, 3)                   # weight_orig, fan_in 144
    return [("conv", conv, conv.weight, 216, 432), ("deconv", deconv, deconv.weight, 320, 640),
            ("linear", linear, linear.weight, 300, 20), ("sn_conv", sn, sn.weight_orig, 144, 360)]


def check_normal(values: np.ndarray, mean: float, std: float) -> None:
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(values.std() / std - 1) < 5 / math.sqrt(2 * n)
    assert np.abs(values - mean).max() > 2.5 * std          # a normal's tails, not a uniform's


def check_uniform(values: np.ndarray, bound: float) -> None:
    n = values.size
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > bound * (1 - 20 / n)      # the bound is reached, not a narrower law
    assert abs(values.mean()) < 5 * bound / math.sqrt(3 * n)
    assert abs(values.std() / (bound / math.sqrt(3)) - 1) < 5 / math.sqrt(1.25 * n)


def test_fans_follow_torch():
    for _, layer, weight, fan_in, fan_out in layers():
        assert fans(weight, isinstance(layer, nn.Linear)) == (fan_in, fan_out)


@pytest.mark.parametrize("scheme", ["normal", "kaiming_normal", "glorot_uniform", "torch_default"])
def test_weight_and_bias_distributions(scheme):
    paddle.seed(1)
    for name, layer, weight, fan_in, fan_out in layers():
        initialize(layer, scheme)
        w = weight.numpy().ravel().astype(np.float64)
        b = layer.bias.numpy().astype(np.float64)
        assert w.size >= 5000, name
        if scheme == "normal":                           # pix2pix / CSA / RainNet
            check_normal(w, 0.0, 0.02)
            assert not b.any(), name
        elif scheme == "kaiming_normal":                 # S2AM weights_init_kaiming; bias: torch default
            check_normal(w, 0.0, math.sqrt(2.0 / fan_in))
            assert np.abs(b).max() <= 1 / math.sqrt(fan_in) and b.std() > 0, name
        elif scheme == "glorot_uniform":                 # TF v1 tf.layers defaults
            check_uniform(w, math.sqrt(6.0 / (fan_in + fan_out)))
            assert not b.any(), name
        else:                                            # torch defaults (daa233)
            check_uniform(w, 1.0 / math.sqrt(fan_in))
            assert np.abs(b).max() <= 1 / math.sqrt(fan_in) and b.std() > 0, name


@pytest.mark.parametrize("scheme", ["normal", "kaiming_normal"])
def test_batchnorm_scale(scheme):
    paddle.seed(2)
    bn = initialize(nn.BatchNorm2D(6000), scheme)
    check_normal(bn.weight.numpy().astype(np.float64), 1.0, 0.02)
    assert not bn.bias.numpy().any()


def test_paddle_scheme_and_frozen_weights_are_left_alone():
    paddle.seed(3)
    conv = nn.Conv2D(8, 8, 3)
    before = conv.weight.numpy().copy()
    np.testing.assert_array_equal(initialize(conv, "paddle").weight.numpy(), before)
    conv.weight.stop_gradient = True                     # S2AM: only requires_grad weights
    np.testing.assert_array_equal(initialize(conv, "normal").weight.numpy(), before)


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match="daa233"):
        init_net(nn.Conv2D(2, 2, 1), "xavier", "glorot_uniform", {"tf": "glorot_uniform", "daa233": "torch_default"})


def first_weight(net: nn.Layer, name: str) -> np.ndarray:
    return dict(net.named_parameters())[name].numpy().astype(np.float64)


def build(config: str, overrides=()):
    return ppinpaint.build_model(Config(os.path.join(CONFIGS, config), list(overrides)))


def test_deepfill_conventions():
    # TF v1 (default): Glorot-uniform, zero bias; daa233: torch's defaults; paddle: N(0, 2/fan_in).
    paddle.seed(0)
    key = "coarse_generator.conv4_downsample.conv.weight"      # 16 -> 32 channels, 3x3: fan_in 144
    tf = build("deepfill_v1/quickstart.yml").nets
    check_uniform(first_weight(tf["generator"], key).ravel(), math.sqrt(6.0 / (144 + 288)))
    assert not first_weight(tf["generator"], key.replace("weight", "bias")).any()
    lin = first_weight(tf["global_discriminator"], "linear.weight").ravel()
    check_uniform(lin, math.sqrt(6.0 / (lin.size + 1)))
    daa = build("deepfill_v1/quickstart.yml", [f"model.{r}.init=daa233" for r in
                                               ("generator", "local_discriminator", "global_discriminator")]).nets
    check_uniform(first_weight(daa["generator"], key).ravel(), 1 / 12.0)
    assert first_weight(daa["generator"], key.replace("weight", "bias")).std() > 0
    pd = build("deepfill_v1/quickstart.yml", ["model.generator.init=paddle"]).nets
    check_normal(first_weight(pd["generator"], key).ravel(), 0.0, math.sqrt(2.0 / 144))


def test_each_model_official_init():
    paddle.seed(0)
    csa = build("csa/quickstart.yml").nets
    for role, key in (("generator", "refine.model.model.1.model.1.weight"), ("discriminator", "model.2.weight"),
                      ("feature_discriminator", "model.2.weight")):
        w = first_weight(csa[role], key).ravel()
        check_normal(w, 0.0, 0.02)
    paddle.seed(0)
    s2am = build("s2am/quickstart.yml", ["model.generator.ngf=8"]).nets["generator"]
    w = first_weight(s2am, "levels.2.down_conv.weight")
    check_normal(w.ravel(), 0.0, math.sqrt(2.0 / (w.shape[1] * 16)))
    scales = np.concatenate([p.numpy() for n, p in s2am.named_parameters() if n.endswith("norm.weight")])
    check_normal(scales.astype(np.float64), 1.0, 0.02)      # BatchNorm scale N(1, 0.02), not Paddle's 1


@pytest.mark.parametrize("config", ["deepfill_v1/quickstart.yml", "csa/quickstart.yml", "rainnet/quickstart.yml",
                                    "s2am/quickstart.yml"])
def test_one_seed_one_model(config):
    states = []
    for seed in (5, 5, 6):
        paddle.seed(seed)
        states.append({role: {k: v.numpy() for k, v in net.state_dict().items()}
                       for role, net in build(config).nets.items()})
    same = all(np.array_equal(states[0][r][k], states[1][r][k]) for r in states[0] for k in states[0][r])
    other = all(np.array_equal(states[0][r][k], states[2][r][k]) for r in states[0] for k in states[0][r])
    assert same and not other
