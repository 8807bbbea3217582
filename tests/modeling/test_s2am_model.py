"""The S²AM method: training step, mask-free variant, float16-safe loss scale, inference."""
import os

import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.config import Config
from ppinpaint.engine.optim import Adam
from ppinpaint.modeling.generators.s2am import S2AMUNet


def make_model(attention="s2ad", mask_free=False, loss_scale=1e10, seed=0):
    paddle.seed(seed)
    cfg = {"model": {"type": "S2AM", "loss_scale": loss_scale,
                     "generator": {"type": "S2AMUNet", "ngf": 8, "attention": attention, "mask_free": mask_free}}}
    return ppinpaint.build_model(cfg)


def make_batch(n=2, size=256, seed=0):
    rng = np.random.default_rng(seed)
    target = rng.random((n, 3, size, size)).astype(np.float32)
    mask = np.zeros((n, 1, size, size), np.float32)
    mask[0, :, 64:160, 80:200] = 1.0            # different masks per sample
    mask[-1, :, 100:240, 20:120] = 1.0
    image = np.where(mask > 0, np.clip(target * 0.6 + 0.3, 0, 1), target).astype(np.float32)
    return {"image": paddle.to_tensor(image), "mask": paddle.to_tensor(mask),
            "target": paddle.to_tensor(target), "subset": ["synthetic"] * n}


def attach_adam(model, amp_dtype=None, lr=1e-3):
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=lr)}, amp_dtype=amp_dtype)
    return model.train()


@pytest.mark.parametrize("attention", ["s2ad", "none"])
def test_train_step_learns(attention):
    model = attach_adam(make_model(attention))
    batch = make_batch()
    first = model.train_step(batch, 0)
    assert set(first) == {"mse", "total"}
    assert abs(float(first["total"]) - 1e10 * float(first["mse"])) <= 1e-5 * float(first["total"])
    for step in range(1, 4):
        last = model.train_step(batch, step)
    assert float(last["mse"]) < float(first["mse"])
    visuals = model.visuals()
    assert list(visuals) == ["input", "mask", "output", "target"]
    assert float(visuals["output"].min()) >= 0.0 and float(visuals["output"].max()) <= 1.0


def test_mask_free_predicts_and_supervises_masks():
    model = make_model("s2ad", mask_free=True)
    net = model.nets["generator"]
    batch = make_batch()
    x = paddle.concat([batch["image"], batch["mask"]], axis=1)
    out, masks = net(x, return_masks=True)
    assert out.shape == [2, 3, 256, 256]
    assert [m.shape[2] for m in masks] == [128, 64, 32]
    # The mask channel is not an input: changing it leaves the output unchanged.
    net.eval()
    with paddle.no_grad():
        a = net(x)
        b = net(paddle.concat([batch["image"], 1.0 - batch["mask"]], axis=1))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    attach_adam(model)
    first = model.train_step(batch, 0)
    assert set(first) == {"mse", "mask_mse", "total"}
    for step in range(1, 4):
        last = model.train_step(batch, step)
    assert float(last["mask_mse"]) < float(first["mask_mse"])


def test_float16_folds_the_loss_scale_into_epsilon():
    model = attach_adam(make_model(), amp_dtype="float16")
    assert model.backward_scale == 1.0
    assert model.optimizers["generator"]._epsilon == pytest.approx(1e-18)
    assert attach_adam(make_model()).backward_scale == 1e10


def test_folded_scale_gives_the_official_update():
    # Adam on 1e10 * loss (official) == Adam on the loss with epsilon / 1e10 (our float16 path).
    # Checked on fixed gradients, so backward rounding (gradients that cancel to ~0 and may flip
    # sign, moving Adam's ~lr*sign(g) first steps) does not blur the comparison.
    rng = np.random.default_rng(0)
    init = rng.standard_normal(1000).astype(np.float32)
    # gradient magnitudes from 1e-12 to 1: where epsilon matters and where it does not
    grads = [(rng.standard_normal(1000) * 10.0 ** rng.uniform(-12, 0, 1000)).astype(np.float32) for _ in range(3)]
    results = []
    for scale, eps in ((1e10, 1e-8), (1.0, 1e-8 / 1e10)):
        param = paddle.create_parameter([1000], "float32", default_initializer=paddle.nn.initializer.Assign(init))
        opt = Adam([param], learning_rate=1e-3, epsilon=eps)
        for g in grads:
            (param * paddle.to_tensor(g)).sum().multiply(paddle.to_tensor(scale, "float32")).backward()
            opt.step()
            opt.clear_grad()
        results.append(param.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-6)
    assert np.abs(results[0] - init).max() > 1e-3          # the steps did move the parameters


def test_scaled_loss_is_float32_under_half_outputs():
    model = make_model()
    out = paddle.full([1, 3, 4, 4], 60000.0, dtype="float16")
    mse = paddle.nn.functional.mse_loss(out.astype("float32"), paddle.zeros([1, 3, 4, 4]))
    assert np.isfinite(float(mse * model.loss_scale))


def test_infer_keeps_the_background():
    model = make_model().eval()
    batch = make_batch(n=1)
    out = model.infer(batch["image"], batch["mask"]).numpy()
    keep = batch["mask"].numpy() == 0
    np.testing.assert_array_equal(np.broadcast_to(keep, out.shape) * out,
                                  np.broadcast_to(keep, out.shape) * batch["image"].numpy())
    empty = model.infer(batch["image"], paddle.zeros_like(batch["mask"])).numpy()
    np.testing.assert_array_equal(empty, batch["image"].numpy())


def test_batch_of_two_equals_two_single_runs():
    net = S2AMUNet(ngf=16, attention="s2asc").eval()
    batch = make_batch(n=2)
    x = paddle.concat([batch["image"], batch["mask"]], axis=1)
    with paddle.no_grad():
        both = net(x).numpy()
        for i in range(2):
            np.testing.assert_allclose(both[i:i + 1], net(x[i:i + 1]).numpy(), atol=1e-5)


def test_bad_inputs_and_options():
    net = S2AMUNet(ngf=8)
    with pytest.raises(ValueError, match="RGB \\+ mask"):
        net(paddle.zeros([1, 3, 256, 256]))
    with pytest.raises(ValueError, match="multiples of 256"):
        net(paddle.zeros([1, 4, 128, 256]))
    with pytest.raises(ValueError, match="attention"):
        S2AMUNet(attention="s2am")
    with pytest.raises(ValueError, match="mask_free"):
        S2AMUNet(attention="none", mask_free=True)
    with pytest.raises(ValueError, match="reduction"):
        S2AMUNet(ngf=8, attention="s2asc")      # S2ASC's first gate would have 8 // 16 = 0 units


@pytest.mark.parametrize("name, attention, mask_free", [
    ("quickstart", "s2ad", False), ("quickstart_unet", "none", False), ("quickstart_mask_free", "s2ad", True),
    ("iharmony4_256", "s2ad", False), ("scoco_256", "s2ad", False)])
def test_configs_build(name, attention, mask_free):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "s2am", f"{name}.yml")
    # built at ngf 16 to keep the test fast; the width each config asks for is checked as written
    assert Config(path)["model"]["generator"]["ngf"] in (16, 64)
    net = ppinpaint.build_model(path, opts=["model.generator.ngf=16"]).nets["generator"]
    assert (net.attention, net.mask_free) == (attention, mask_free)


def test_loss_scale_must_be_a_number():
    # The builder refuses the string by key (ppinpaint's YAML loader reads 1.0e10 as a number anyway).
    with pytest.raises(ValueError, match="loss_scale must be a number, got '1.0e10'"):
        make_model(loss_scale="1.0e10")


def test_model_input_errors():
    model = attach_adam(make_model())
    batch = make_batch(n=1)
    with pytest.raises(KeyError, match="target"):
        model.train_step({"image": batch["image"], "mask": batch["mask"]}, 0)
    with pytest.raises(ValueError, match="same N, H, W"):
        model.infer(batch["image"], batch["mask"][:, :, :128])


def test_generator_exports_with_a_dynamic_batch(tmp_path):
    paddle.seed(0)
    net = S2AMUNet(ngf=8).eval()
    batch = make_batch(n=2)
    x = paddle.concat([batch["image"], batch["mask"]], axis=1)
    with paddle.no_grad():
        expected = net(x).numpy()
    spec = [paddle.static.InputSpec([None, 4, 256, 256], "float32")]
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True), str(tmp_path / "s2am"))
    exported = paddle.jit.load(str(tmp_path / "s2am"))
    np.testing.assert_allclose(exported(x).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(exported(x[1:]).numpy(), expected[1:], atol=1e-5)
