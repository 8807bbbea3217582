"""The DeepFill v1 method: critic/generator schedule, losses, crops, inference, conventions, errors."""
import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.data.quickstart import QuickstartInpainting
from ppinpaint.engine.optim import Adam
from ppinpaint.modeling.models.deepfill_v1 import local_patch, mask_bbox
from ppinpaint.predict import predict_array

SIZE = 64


def make_model(critics=True, seed=0, **options):
    paddle.seed(seed)
    critic = {"type": "DeepFillV1Critic", "ndf": 4}
    model = {"type": "DeepFillV1", "generator": {"type": "DeepFillV1Generator", "cnum": 4}, **options}
    if critics:
        model.update(local_discriminator={**critic, "input_size": SIZE // 2, "width_mults": [1, 2, 4, 8]},
                     global_discriminator={**critic, "input_size": SIZE})
    return ppinpaint.build_model({"model": model})


def make_batch(n=2, seed=0):
    """Bundled photos with random boxes of SIZE/2 (bbox before the shrink, as the official code)."""
    data = QuickstartInpainting(size=SIZE, length=n)
    samples = [data.load(i, np.random.default_rng([seed, i])) for i in range(n)]
    return {k: paddle.to_tensor(np.stack([s[k] for s in samples])) for k in ("image", "mask", "bbox")}


def attach(model):
    model.attach({"generator": Adam(model.parameters(["generator"]), learning_rate=1e-4, beta1=0.5, beta2=0.9),
                  "discriminator": Adam(model.parameters(["local_discriminator", "global_discriminator"]),
                                        learning_rate=1e-4, beta1=0.5, beta2=0.9)})
    return model.train()


def _snapshot(net):
    return [p.numpy().copy() for p in net.parameters()]


def _changed(net, before):
    return any(np.abs(p.numpy() - b).max() > 0 for p, b in zip(net.parameters(), before))


def test_critic_every_step_generator_every_n_critic():
    model = attach(make_model(n_critic=2))
    batch = make_batch()
    for step in range(2):
        gen, critic = _snapshot(model.nets["generator"]), _snapshot(model.nets["local_discriminator"])
        losses = model.train_step(batch, step)
        assert all(np.isfinite(float(v)) for v in losses.values())
        assert _changed(model.nets["local_discriminator"], critic)
        g_step = step == 1
        assert _changed(model.nets["generator"], gen) == g_step
        assert ({"l1", "ae", "wgan_g", "g"} <= set(losses)) == g_step
    assert {"wgan_d", "wgan_gp", "gp_local", "gp_global", "d"} <= set(losses)
    assert abs(float(losses["d"]) - float(losses["wgan_d"]) - 10 * float(losses["wgan_gp"])) < 1e-4
    assert all(not p.stop_gradient for p in model.parameters(["local_discriminator", "global_discriminator"]))
    visuals = model.visuals()
    assert list(visuals) == ["input", "mask", "output", "target"]
    known = visuals["mask"].numpy() == 0
    np.testing.assert_allclose(visuals["output"].numpy()[known.repeat(3, 1)],
                               batch["image"].numpy()[known.repeat(3, 1)], atol=1e-6)


def test_pretrain_coarse_trains_only_the_coarse_network():
    # TF v1 PRETRAIN_COARSE_NETWORK: no critic trainer, a generator step every step.
    model = attach(make_model(n_critic=5, pretrain_coarse=True))
    fine = _snapshot(model.nets["generator"].fine_generator)
    coarse = _snapshot(model.nets["generator"].coarse_generator)
    critic = _snapshot(model.nets["local_discriminator"])
    losses = model.train_step(make_batch(), 0)
    assert set(losses) == {"l1", "ae", "g"}
    assert _changed(model.nets["generator"].coarse_generator, coarse)
    assert not _changed(model.nets["generator"].fine_generator, fine)
    assert not _changed(model.nets["local_discriminator"], critic)


def test_loss_conventions_tf_and_daa233_differ_as_documented():
    model = make_model()
    batch = make_batch()
    gt, mask, bbox = model.to_net(batch["image"]), batch["mask"], batch["bbox"]
    x1 = paddle.zeros_like(gt)
    tf = model.generator_loss(gt, mask, bbox, x1, x1)
    model.l1_target, model.ae_normalize = "composited", False
    daa = model.generator_loss(gt, mask, bbox, x1, x1)
    known = 1.0 - float(mask.mean())
    np.testing.assert_allclose(float(tf["ae"]) * known, float(daa["ae"]), rtol=1e-5)
    assert float(tf["l1"]) > float(daa["l1"])      # raw outputs also pay for the known bbox pixels


def test_bbox_and_local_patches():
    mask = np.zeros((3, 1, 16, 16), np.float32)
    mask[0, :, 2:5, 3:9] = 1
    mask[1, :, 12:16, 0:2] = 1
    bbox = mask_bbox(paddle.to_tensor(mask)).numpy()
    np.testing.assert_array_equal(bbox, [[2, 3, 3, 6], [12, 0, 4, 2], [0, 0, 16, 16]])
    x = paddle.arange(3 * 16 * 16, dtype="float32").reshape([3, 1, 16, 16])
    patches = local_patch(x, paddle.to_tensor(bbox), 8).numpy()
    xn = x.numpy()
    np.testing.assert_array_equal(patches[0], xn[0, :, 0:8, 2:10])     # centred, clamped at the top
    np.testing.assert_array_equal(patches[1], xn[1, :, 8:16, 0:8])     # clamped at bottom and left
    np.testing.assert_array_equal(patches[2], xn[2, :, 4:12, 4:12])


def test_inference_batches_independently_and_keeps_known_pixels():
    model = make_model(critics=False).eval()
    batch = make_batch(n=2)
    image, mask = batch["image"], batch["mask"]
    both = model.infer(image, mask).numpy()
    for i in range(2):
        np.testing.assert_allclose(both[i:i + 1], model.infer(image[i:i + 1], mask[i:i + 1]).numpy(), atol=1e-5)
    known = (mask.numpy() == 0).repeat(3, axis=1)
    np.testing.assert_array_equal(both[known], image.numpy()[known])
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    hole = np.zeros((37, 53), np.uint8)
    hole[10:20, 5:30] = 255
    out = predict_array(model, rgb, hole)
    assert out.shape == rgb.shape and np.array_equal(out[hole == 0], rgb[hole == 0])


def test_bgr_generator_is_the_rgb_one_on_flipped_channels():
    bgr = make_model(critics=False).nets["generator"]
    rgb = make_model(critics=False, seed=1).nets["generator"]
    rgb.set_state_dict(bgr.state_dict())
    rgb.channel_order = "rgb"
    batch = make_batch(n=1)
    x, mask = batch["image"] * 2 - 1, batch["mask"]
    with paddle.no_grad():
        a = bgr(x, mask)[1].numpy()
        b = rgb(x.flip([1]), mask)[1].flip([1]).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="both critics"):
        ppinpaint.build_model({"model": {"type": "DeepFillV1", "generator": {"type": "DeepFillV1Generator", "cnum": 4},
                                         "local_discriminator": {"type": "DeepFillV1Critic", "ndf": 4}}})
    model = make_model(critics=False)
    with pytest.raises(ValueError, match="multiples of 8"):
        model.nets["generator"](paddle.zeros([1, 3, 60, 64]), paddle.zeros([1, 1, 60, 64]))
    with pytest.raises(ValueError, match="only run inference"):
        model.train_step(make_batch(n=1), 0)
    critic = make_model().nets["local_discriminator"]
    with pytest.raises(ValueError, match="takes 32x32"):
        critic(paddle.zeros([1, 3, 64, 64]))
