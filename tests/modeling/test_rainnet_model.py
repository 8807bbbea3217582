"""The RainNet method: training step, inference compositing, masks, batch independence, errors."""
import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.engine.optim import Adam
from ppinpaint.modeling.discriminators.rainnet import RainNetDiscriminator
from ppinpaint.modeling.generators.rainnet import RainNetGenerator
from test_s2am_model import make_batch as harmonization_batch

SIZE = 256


def make_model(norm="rain", input_nc=3, critic=True, seed=0):
    paddle.seed(seed)
    model = {"type": "RainNet", "generator": {"type": "RainNetGenerator", "ngf": 8, "norm": norm, "input_nc": input_nc}}
    if critic:
        model["discriminator"] = {"type": "RainNetDiscriminator", "ndf": 8}
    return ppinpaint.build_model({"model": model})


def make_batch(n=2, seed=0):
    """Composites with a different foreground per sample (the S²AM tests' helper, at 256²)."""
    return harmonization_batch(n, SIZE, seed)


def test_train_step_updates_both_nets_and_reports_every_term():
    model = make_model()
    model.attach({role: Adam(model.parameters([role]), learning_rate=2e-4, beta1=0.5)
                  for role in ("generator", "discriminator")})
    model.train()
    before = {role: [p.numpy().copy() for p in model.nets[role].parameters()] for role in model.nets}
    losses = model.train_step(make_batch(), 0)
    assert set(losses) == {"D_fake", "D_real", "D_gp", "D_global", "D_local", "D",
                           "G_global", "G_local", "G_GAN", "G_L1", "G"}
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert abs(float(losses["G"]) - float(losses["G_GAN"]) - float(losses["G_L1"])) < 1e-3
    for role, old in before.items():
        assert any(np.abs(p.numpy() - o).max() > 0 for p, o in zip(model.nets[role].parameters(), old)), role
    assert all(not p.stop_gradient for p in model.nets["discriminator"].parameters())   # unfrozen again
    visuals = model.visuals()
    assert list(visuals) == ["input", "mask", "output", "target"]
    assert 0.0 <= float(visuals["output"].min()) and float(visuals["output"].max()) <= 1.0


def test_inference_keeps_the_background_and_batches_independently():
    model = make_model().eval()
    batch = make_batch()
    image, mask = batch["image"], batch["mask"]
    both = model.infer(image, mask).numpy()
    for i in range(2):
        one = model.infer(image[i:i + 1], mask[i:i + 1]).numpy()
        np.testing.assert_allclose(both[i:i + 1], one, atol=1e-5)
    outside = (mask.numpy() == 0).repeat(3, axis=1)
    np.testing.assert_array_equal(both[outside], image.numpy()[outside])
    assert np.abs(both - image.numpy()).max() > 0      # the foreground is changed


def test_empty_and_full_masks():
    model = make_model().eval()
    image = make_batch(1)["image"]
    empty = model.infer(image, paddle.zeros([1, 1, SIZE, SIZE]))
    np.testing.assert_array_equal(empty.numpy(), image.numpy())
    full = model.infer(image, paddle.ones([1, 1, SIZE, SIZE]))
    assert np.isfinite(full.numpy()).all()


def test_instance_norm_ablation_ignores_the_mask_and_four_channel_input_uses_it():
    model = make_model(norm="instance").eval()
    net, image = model.nets["generator"], make_batch(1)["image"] * 2 - 1
    a = net(image, paddle.zeros([1, 1, SIZE, SIZE]))
    b = net(image, paddle.ones([1, 1, SIZE, SIZE]))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not any("gamma" in k for k in net.state_dict())
    four = make_model(input_nc=4).eval()
    assert four.nets["generator"].down[0].weight.shape[1] == 4
    assert four.infer(make_batch(1)["image"], make_batch(1)["mask"]).shape == [1, 3, SIZE, SIZE]


def test_dropout_is_active_in_training_only():
    net = make_model(critic=False).nets["generator"]
    image, mask = make_batch(1)["image"] * 2 - 1, make_batch(1)["mask"]
    net.eval()
    np.testing.assert_array_equal(net(image, mask).numpy(), net(image, mask).numpy())
    net.train()
    assert np.abs(net(image, mask).numpy() - net(image, mask).numpy()).max() > 0


def test_critic_batches_independently_and_iterates_spectral_norm_in_training():
    paddle.seed(1)
    critic = RainNetDiscriminator(ndf=8)
    batch = make_batch()
    image, mask = batch["image"] * 2 - 1, batch["mask"]
    critic.eval()
    realism, verification = critic(image, mask)
    for i in range(2):
        r, v = critic(image[i:i + 1], mask[i:i + 1])
        np.testing.assert_allclose(realism.numpy()[i:i + 1], r.numpy(), atol=1e-5)
        np.testing.assert_allclose(verification.numpy()[i:i + 1], v.numpy(), atol=1e-5)
    u = critic.D.conv1f.weight_u.numpy().copy()
    critic(image, mask)                                         # eval: u, v untouched
    np.testing.assert_array_equal(critic.D.conv1f.weight_u.numpy(), u)
    critic.train()
    critic(image, mask)
    assert np.abs(critic.D.conv1f.weight_u.numpy() - u).max() > 0


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_empty_and_full_masks_train_without_nan(fill):
    model = make_model()
    model.attach({role: Adam(model.parameters([role]), learning_rate=2e-4, beta1=0.5)
                  for role in ("generator", "discriminator")})
    model.train()
    batch = make_batch(1)
    batch["mask"] = paddle.full([1, 1, SIZE, SIZE], fill)
    losses = model.train_step(batch, 0)
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert all(np.isfinite(p.numpy()).all() for role in model.nets for p in model.nets[role].parameters())


def test_bad_inputs_are_one_clear_error():
    model = make_model()
    with pytest.raises(ValueError, match="multiples of 256"):
        model.nets["generator"](paddle.zeros([1, 3, 128, 128]), paddle.zeros([1, 1, 128, 128]))
    with pytest.raises(ValueError, match="same N, H, W"):
        model.forward_infer(paddle.zeros([1, 3, SIZE, SIZE]), paddle.zeros([1, 1, 64, 64]))
    with pytest.raises(ValueError, match=">= 255"):
        model.nets["discriminator"](paddle.zeros([1, 3, 128, 128]), paddle.zeros([1, 1, 128, 128]))
    with pytest.raises(KeyError, match="target"):
        model.train_step({"image": paddle.zeros([1, 3, SIZE, SIZE]), "mask": paddle.zeros([1, 1, SIZE, SIZE])}, 0)
    with pytest.raises(ValueError, match="without a discriminator"):
        make_model(critic=False).train_step(make_batch(1), 0)
    with pytest.raises(ValueError, match="norm must be"):
        RainNetGenerator(norm="batch")


@pytest.mark.parametrize("name,norm", [("quickstart", "rain"), ("quickstart_in", "instance"), ("iharmony4_256", "rain")])
def test_configs_build(name, norm):
    import os

    from ppinpaint.config import Config

    path = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "rainnet", f"{name}.yml")
    model = ppinpaint.build_model(Config(path))
    assert model.nets["generator"].norm == norm and set(model.nets) == {"generator", "discriminator"}


def test_official_initialisation():
    # init_weights(net, 'normal', 0.02) on both nets: conv weights (weight_orig under spectral
    # norm) ~ N(0, 0.02), biases 0, RAIN's gamma/beta 0.
    model = make_model()
    for role, net in model.nets.items():
        for name, value in net.state_dict().items():
            value = value.numpy()
            if name.endswith(("weight", "weight_orig")) and value.size >= 64:
                assert abs(value.std() - 0.02) < 0.005, (role, name)
            elif name.endswith(("bias", "gamma", "beta")):
                assert not value.any(), (role, name)
