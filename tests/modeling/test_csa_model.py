"""The CSA method: training step in both modes, inference compositing, batch independence, errors."""
import os

import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.config import Config
from ppinpaint.engine.optim import Adam

SIZE = 256
CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "csa")


def make_model(mode="paper", consistency_weight=0.0, seed=0):
    paddle.seed(seed)
    return ppinpaint.build_model({"model": {
        "type": "CSA", "mode": mode, "consistency_weight": consistency_weight,
        "generator": {"type": "CSAGenerator", "ngf": 4},
        "discriminator": {"type": "CSAPatchDiscriminator", "ndf": 4},
        "feature_discriminator": {"type": "CSAFeatureDiscriminator", "channels": 32},
        "vgg": {"type": "VGG16Features"}}})


def make_batch(n=2, seed=0):
    """Images in [0,1] with a different hole per sample."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (n, 3, SIZE, SIZE)).astype(np.float32)
    mask = np.zeros((n, 1, SIZE, SIZE), np.float32)
    for i in range(n):
        top, left = 40 + 50 * i, 90 - 30 * i
        mask[i, :, top:top + 96, left:left + 80] = 1
    return {"image": paddle.to_tensor(image), "mask": paddle.to_tensor(mask), "target": paddle.to_tensor(image)}


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_train_step_updates_every_net(mode):
    model = make_model(mode)
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=2e-4, beta1=0.5),
                  "discriminator": Adam(model.parameters(["discriminator", "feature_discriminator"]),
                                        learning_rate=2e-4, beta1=0.5)})
    before = {r: [p.numpy().copy() for p in model.nets[r].parameters()] for r in model.nets}
    losses = model.train().train_step(make_batch(1), 0)
    assert {"D", "D_fake", "F_fake", "G", "G_GAN", "G_L1"} <= set(losses)
    assert all(np.isfinite(float(v)) for v in losses.values())
    for role, old in before.items():
        assert any(not np.array_equal(o, p.numpy()) for o, p in zip(old, model.nets[role].parameters())), role
    assert set(model.visuals()) == {"input", "mask", "output", "target"}


def test_inference_keeps_known_pixels_and_batches_independently():
    model = make_model().eval()
    batch = make_batch(2)
    out = model.infer(batch["image"], batch["mask"]).numpy()
    known = batch["mask"].numpy() == 0
    assert np.array_equal(np.broadcast_to(known, out.shape) * out,
                          np.broadcast_to(known, out.shape) * batch["image"].numpy())
    single = model.infer(batch["image"][1:], batch["mask"][1:]).numpy()
    assert np.abs(out[1:] - single).max() < 1e-5


def test_empty_and_full_masks():
    model = make_model().eval()
    image = make_batch(1)["image"]
    empty = model.infer(image, paddle.zeros([1, 1, SIZE, SIZE])).numpy()
    assert np.array_equal(empty, image.numpy())
    full = model.infer(image, paddle.ones([1, 1, SIZE, SIZE])).numpy()
    assert np.isfinite(full).all() and full.min() >= 0 and full.max() <= 1


def test_bad_inputs_are_one_clear_error():
    model = make_model()
    batch = make_batch(1)
    with pytest.raises(KeyError, match="target"):
        model.train_step({"image": batch["image"], "mask": batch["mask"]}, 0)
    with pytest.raises(ValueError, match="same N, H, W"):
        model.train_step({**batch, "mask": batch["mask"][:, :, :128]}, 0)
    with pytest.raises(ValueError, match="ngf 64"):
        make_model(consistency_weight=1.0)
    with pytest.raises(ValueError, match="mode"):
        make_model(mode="fast")


@pytest.mark.parametrize("name", ["quickstart", "paris_streetview_256", "celeba_256", "places2_256"])
def test_configs_load(name):
    """Every config resolves; the quickstart one builds (the official-width ones are large)."""
    config = Config(os.path.join(CONFIGS, f"{name}.yml"))
    assert config["model"]["type"] == "CSA"
    if name == "quickstart":
        model = ppinpaint.build_model(config)
        assert set(model.nets) == {"generator", "discriminator", "feature_discriminator"}


def test_pretrained_vgg_is_fetched_only_when_training_runs_it(monkeypatch):
    """An official config (vgg pretrained: true) predicts, evaluates and exports without a download."""
    calls = []

    def offline_vgg16(pretrained=False, **kwargs):
        calls.append(pretrained)
        raise RuntimeError("no network here")

    monkeypatch.setattr(paddle.vision.models, "vgg16", offline_vgg16)
    model = ppinpaint.build_model(os.path.join(CONFIGS, "places2_256.yml"),
                                  opts=["model.generator.ngf=4", "model.discriminator.ndf=4",
                                        "model.consistency_weight=0"])
    batch = make_batch(n=1)
    assert model.infer(batch["image"], batch["mask"]).shape == [1, 3, SIZE, SIZE] and not calls
    with pytest.raises(RuntimeError, match="no network"):
        model.vgg(batch["image"])
    assert calls == [True]
