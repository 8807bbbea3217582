"""CSA nets, critics, losses and gradients against the official code (KumapowerLIU/CSA-inpainting)."""
import numpy as np
import paddle
import pytest

from csa_data import case, load
from ppinpaint.modeling.generators.csa import CSAGenerator

OUT_TOL = 1e-4
# `center`, float32 only: four netG arrays at 1.2e-3..2.7e-3 of their max. Cause (measured against
# the official code in float32 and float64, docs/models/csa.md): four ReLU inputs out of millions
# lie within 1.3e-6 of zero, below the float32 rounding of the forward, and land on the other side
# of the kink than in exact arithmetic. With those four masks taken from the float64 run, every
# array is within 2.1e-4; in float64 our net equals the official to 5e-8 (test_netG_grads_float64).
LOOSE_REL = 5e-3
CENTER_KINK_KEYS = tuple("grad/netG.model.model.1.model.6.model.6." + k for k in (
    "model.4.bias", "model.7.weight", "model.12.bias", "model.8.model.6.model.6.model.6.model.6.model.4.weight"))
QUIRK_KEY = "grad/netP.model.model.0.weight"
MEAN = paddle.to_tensor([2 * 123 / 255 - 1, 2 * 104 / 255 - 1, 2 * 117 / 255 - 1]).reshape([1, 3, 1, 1])


def _close(value, ref, what):
    diff = np.abs(np.asarray(value, dtype=np.float64) - ref).max()
    assert diff <= OUT_TOL, f"{what}: max abs diff {diff}"


def _loss_close(value, ref, what):
    diff = abs(float(value) - float(ref))
    assert diff <= max(1e-4, 1e-5 * abs(float(ref))), f"{what}: {float(value)} vs {float(ref)}"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    return load(str(tmp_path_factory.mktemp("csa")), "official")


def _run(model, z):
    image, mask = paddle.to_tensor(z["in/image"]), paddle.to_tensor(z["in/mask"])
    rough, refined = model.nets["generator"](image, mask)
    return image, mask, rough, refined


@pytest.mark.parametrize("name", ["center", "irregular"])
def test_nets_and_critics(official, name):
    z = case(name)
    image, mask, rough, refined = _run(official, z)
    if name == "center":
        _close(rough.numpy(), z["out/fake_P"], "fake_P")
    else:
        _close((rough * mask).numpy(), z["out/fake_P_hole"], "fake_P in the hole")
    _close(refined.numpy(), z["out/fake_B"], "fake_B")
    d = official.nets["discriminator"]
    _close(d(refined).numpy(), z["out/D_fake"], "D_fake")
    _close(d(image).numpy(), z["out/D_real"], "D_real")
    if "out/F_fake" in z:
        f = official.nets["feature_discriminator"]
        _close(f(official.vgg(refined)["relu3_3"]).numpy(), z["out/F_fake"], "F_fake")
        _close(f(official.vgg(image)["relu3_3"]).numpy(), z["out/F_real"], "F_real")


def test_rough_and_refine_boundary(official):
    """The official netP and netG calls, reproduced through ``.rough`` and ``.refine``."""
    z = case("center")
    image, mask = paddle.to_tensor(z["in/image"]), paddle.to_tensor(z["in/mask"])
    net = official.nets["generator"]
    real_a = image * (1 - mask) + MEAN * mask
    fake_p = net.rough(real_a)
    _close(fake_p.numpy(), z["out/fake_P"], "netP(real_A)")
    middle = paddle.concat([fake_p * mask + image * (1 - mask), image * (1 - mask)], axis=1)
    _close(net.refine(middle, mask).numpy(), z["out/fake_B"], "netG(Middle)")


def _grads(net):
    return {k: p.grad.numpy() for k, p in net.named_parameters() if p.grad is not None}


def _check_grads(z, grads, official_prefix, paddle_prefix, convert_name, rel=1e-3, skip=(), loose=()):
    """Every ``grad/<official_prefix>.*`` array within ``rel`` of its max (``LOOSE_REL`` for ``loose`` keys)."""
    checked = 0
    for key in (k for k in z if k.startswith(f"grad/{official_prefix}.") and k not in skip):
        ours = grads[paddle_prefix + convert_name(key[len(f"grad/{official_prefix}."):])]
        ref = z[key]
        scale = np.abs(ref).max()
        diff = np.abs(ours - ref).max()
        tol = LOOSE_REL if key in loose else rel
        assert diff <= tol * scale + 1e-12, f"{key}: max diff {diff} vs max {scale}"
        checked += 1
    return checked


def _paddle_name(net):
    names = {k for k, _ in net.named_parameters()}

    def convert(key):
        return key if key in names or key[:-len("weight")] + "scale" not in names else key[:-len("weight")] + "scale"
    return convert


def _official_first_conv_quirk(model, image, mask):
    """Test-only: the official netP first-conv weight gradient uses the zero-filled input.

    ``real_A.data.masked_fill_(ex_mask, 0)`` rewrites netP's input after the forward, behind
    autograd's back, so the saved input of netP's first conv is A0, not the mean-filled image.
    We fix that bug in the library; here the same value is produced with the input swapped
    for the weight gradient only, to prove it is the one difference.
    """
    first = model.nets["generator"].rough.model.model[0]
    zero_filled = image * (1 - mask)

    def hook(layer, inputs, output):
        swapped = paddle.nn.functional.conv2d(zero_filled, layer.weight, layer.bias, stride=2, padding=1)
        return swapped + (output - swapped).detach()
    return first.register_forward_post_hook(hook)


def _at_official_values(ours, z, key):
    """Our tensor's gradient path carrying the official value (straight-through).

    The critics' gradients jump under input changes far below the 1e-4 forward tolerance (a
    1e-5 perturbation of fake_B moves netD's first-layer gradient by 1.7e-2 of its max: leaky
    ReLU kinks), so gradients are compared at exactly the official intermediate values.
    """
    if key not in z:
        return ours
    return paddle.to_tensor(z[key]) + ours - ours.detach()


@pytest.mark.parametrize("name", ["center", "irregular"])
def test_losses_and_grads_official_mode(official, name):
    z = case(name)
    # The CSA output carries the official value too: netG's gradients are as sensitive to it.
    handle = official.nets["generator"].refine.csa.register_forward_post_hook(
        lambda layer, inputs, out: _at_official_values(out, z, "out/csa_out"))
    try:
        image, mask, rough, refined = _run(official, z)
    finally:
        handle.remove()
    rough = _at_official_values(rough, z, "out/fake_P")
    refined = _at_official_values(refined, z, "out/fake_B")
    critic = official.critic_losses(refined, image)
    _loss_close(critic["D_fake"], z["loss/D_fake"], "D_fake")
    _loss_close(critic["F_fake"], z["loss/F_fake"], "F_fake")
    _loss_close(critic["D"], z["loss/D"], "D")
    for role in ("discriminator", "feature_discriminator", "generator"):
        official.nets[role].clear_gradients()
    critic["D"].backward()
    n = 0
    for role, prefix in (("discriminator", "netD"), ("feature_discriminator", "netF")):
        net = official.nets[role]
        n += _check_grads(z, _grads(net), prefix, "", _paddle_name(net))
    for role in ("discriminator", "feature_discriminator"):
        official.nets[role].clear_gradients()
    gen = official.generator_losses(rough, refined, image)
    _loss_close(gen["G_GAN"], z["loss/G_GAN"], "G_GAN")
    _loss_close(gen["G_L1"], z["loss/G_L1"], "G_L1")
    _loss_close(gen["G"], z["loss/G"], "G")
    gen["G"].backward()
    g = official.nets["generator"]
    loose = CENTER_KINK_KEYS if name == "center" else ()
    n += _check_grads(z, _grads(g), "netG", "refine.", _paddle_name(g.refine), loose=loose)
    n += _check_grads(z, _grads(g), "netP", "rough.", _paddle_name(g.rough), skip=(QUIRK_KEY,))
    assert n >= 8, f"only {n} gradient arrays checked"
    g.clear_gradients()


@pytest.mark.parametrize("name", ["center", "irregular"])
def test_netG_grads_float64(official, tmp_path, name):
    """netG in float64 at the official netG input meets the 1e-3 rule on every array, `center` included.

    Float64 takes the ReLU kinks out of float32 rounding's reach: what is left is the official
    float32 run's own rounding (<= 1.2e-4 of the max against the official code in float64).
    """
    z = case(name)
    image, mask = z["in/image"], z["in/mask"]
    fake_p = z["out/fake_P"] if "out/fake_P" in z else z["out/fake_P_hole"]
    # dG/dfake_B at the official values, from the float32 losses (as the float32 test).
    fake_b = paddle.to_tensor(z["out/fake_B"], stop_gradient=False)
    official.generator_losses(paddle.to_tensor(fake_p), fake_b, paddle.to_tensor(image))["G"].backward()
    upstream = fake_b.grad.numpy().astype(np.float64)
    for net in official.nets.values():
        net.clear_gradients()
    refine = load(str(tmp_path), "official").nets["generator"].refine
    refine.to(dtype="float64")
    # Official netG input: cat([Syn, A0]) with the official rough result in the hole.
    middle = np.concatenate([fake_p * mask + image * (1 - mask), image * (1 - mask)], axis=1).astype(np.float64)
    handle = refine.csa.register_forward_post_hook(
        lambda layer, inputs, out: _at_official_values(out, {"csa_out": z["out/csa_out"].astype(np.float64)}, "csa_out"))
    try:
        out = refine(paddle.to_tensor(middle), paddle.to_tensor(mask.astype(np.float64)))
    finally:
        handle.remove()
    out.backward(paddle.to_tensor(upstream))
    grads = {k: p.grad.numpy() for k, p in refine.named_parameters() if p.grad is not None}
    assert _check_grads(z, grads, "netG", "", _paddle_name(refine)) == 7


@pytest.mark.parametrize("name", ["center", "irregular"])
def test_rough_first_conv_grad_quirk(official, name):
    """The one array we do not reproduce by default is explained exactly by the aliasing bug."""
    z = case(name)
    image, mask = paddle.to_tensor(z["in/image"]), paddle.to_tensor(z["in/mask"])
    g = official.nets["generator"]
    handle = _official_first_conv_quirk(official, image, mask)
    try:
        rough = g.rough(image * (1 - mask) + MEAN * mask)
    finally:
        handle.remove()
    g.clear_gradients()
    (paddle.nn.functional.l1_loss(rough, image) * 100).backward()
    grad = g.rough.model.model[0].weight.grad.numpy()
    ref = z[QUIRK_KEY]
    assert np.abs(grad - ref).max() <= 1e-3 * np.abs(ref).max()
    g.clear_gradients()


def test_paper_mode_sends_more_gradient(tmp_path):
    """Paper mode: same values, but the CSA layer and the feature term carry their true gradient."""
    paper = load(str(tmp_path), "paper")
    z = case("center")
    image, mask, rough, refined = _run(paper, z)
    _close(refined.numpy(), z["out/fake_B"], "fake_B (paper mode)")
    gen = paper.generator_losses(rough, refined, image)
    _loss_close(gen["G"], z["loss/G"], "G (paper mode)")
    gen["G"].backward()
    grad = dict(paper.nets["generator"].named_parameters())["refine.model.model.0.weight"].grad.numpy()
    ref = z["grad/netG.model.model.0.weight"]
    assert np.isfinite(grad).all()
    assert np.abs(grad - ref).max() > 1e-3 * np.abs(ref).max()


def test_innercos_official_width(tmp_path):
    """Consistency losses at the official ngf 64 (InnerCos/InnerCos2 vs VGG relu4_3)."""
    z = case("innercos_ngf64")
    model = load(str(tmp_path), "official", "keys_ngf64.tsv", 64, 1.0)
    c = case("center")
    image, mask, rough, refined = _run(model, c)
    gen = model.generator_losses(rough, refined, image)
    _loss_close(gen["innercos"], z["loss/innercos"], "innercos")
    _loss_close(gen["innercos2"], z["loss/innercos2"], "innercos2")
    _loss_close(gen["G_L1"], z["loss/G_L1"], "G_L1 (ngf 64)")
    _loss_close(gen["G"], z["loss/G"], "G (ngf 64)")
    critic = model.critic_losses(refined, image)
    _loss_close(critic["D"], z["loss/D"], "D (ngf 64)")


def test_generator_rejects_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        CSAGenerator(ngf=8, mode="fast")
