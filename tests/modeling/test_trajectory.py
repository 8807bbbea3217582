"""Replayable training: k optimizer steps from given weights and given random draws.

Against itself: two replays with the same draws are identical, different draws differ. Against the
official code: ``trajectory.npz`` of the parity set (three steps of the official training loop from
the recipe weights), looked up in tests/data/<model>/, then $PPINPAINT_PARITY_DIR/<model>/, then
../shared/parity/<model>/ beside the repository; a model whose file is absent is skipped. Format
(README of the parity set): ``in/<input>``, ``in/<draw>/step<k>``, ``loss/step<k>/<term>``,
``after/<net>.<official key>`` (parameters, running statistics, spectral-norm vectors). The
DeepFill v1 and CSA specs below assume the same layout with the inputs of their parity cases
(``in/gt``, ``in/mask``, ``in/bbox``; ``in/image``, ``in/mask``); adjust ``SPECS`` if the files differ.
"""
import os
from typing import Callable, Dict, List, NamedTuple, Optional

import numpy as np
import paddle
import pytest

import recipe
import ppinpaint
from ppinpaint.convert.csa import convert_csa, convert_torchvision_vgg16
from ppinpaint.convert.deepfill_v1 import convert_deepfill_v1
from ppinpaint.convert.rainnet import convert_rainnet
from ppinpaint.convert.s2am import convert_s2am
from ppinpaint.engine.optim import build_optimizers

HERE = os.path.dirname(os.path.abspath(__file__))
SEARCH = [os.path.join(HERE, "..", "data"), os.environ.get("PPINPAINT_PARITY_DIR", ""),
          os.path.join(HERE, "..", "..", "..", "shared", "parity")]


def reference(model: str, name: str = "trajectory.npz") -> Optional[dict]:
    """The official trajectory of ``model`` from the first folder that has it, else None."""
    for root in SEARCH:
        path = os.path.join(root, model, name)
        if root and os.path.isfile(path):
            return dict(np.load(path))
    return None


def adam(lr: float, beta1: float, beta2: float, nets: Dict[str, List[str]]) -> dict:
    return {name: {"type": "Adam", "nets": roles, "learning_rate": lr, "beta1": beta1, "beta2": beta2}
            for name, roles in nets.items()}


class Spec(NamedTuple):
    """How one model replays the official run: config, optimizers, converter, batch and draws."""
    config: dict
    optimizers: dict
    convert: Callable[[dict], dict]            # official state (all nets, prefixed) -> {role: state}
    batch: Callable[[dict], dict]              # reference arrays -> training batch
    draws: Dict[str, str]                      # our draw name -> reference name (in/<name>/step<k>)
    lr: float
    setup: Callable = lambda model, state: None    # anything outside the nets (CSA's VGG16)


def _rainnet_batch(z):
    return {"image": (z["in/comp"] + 1) / 2, "mask": z["in/mask"], "target": (z["in/real"] + 1) / 2}


def _s2am_batch(z):
    return {"image": z["in/input"][:, :3], "mask": z["in/input"][:, 3:], "target": z["in/target"]}


def _deepfill_batch(z):
    return {"image": (z["in/gt"] + 1) / 2, "mask": z["in/mask"], "bbox": z["in/bbox"].astype(np.int64)}


def _csa_batch(z):
    return {"image": (z["in/image"] + 1) / 2, "mask": z["in/mask"], "target": (z["in/image"] + 1) / 2}


def _critic(size):
    return {"type": "DeepFillV1Critic", "ndf": 8, "width_mults": [1, 2, 4, 4], "padding": "zero", "input_size": size}


# The official runs' recipes: RainNet (scripts/train.sh, no_dropout for determinism), S2AD
# (BasicMachine, Adam 1e-3), DeepFill v1 daa233 (configs/config.yaml) and CSA (train.ipynb).
SPECS = {
    "rainnet": Spec(
        {"type": "RainNet", "generator": {"type": "RainNetGenerator", "ngf": 8, "dropout": False},
         "discriminator": {"type": "RainNetDiscriminator", "ndf": 8}},
        adam(2e-4, 0.5, 0.999, {"generator": ["generator"], "discriminator": ["discriminator"]}),
        lambda s: convert_rainnet([recipe.net_state(s, "netG"), recipe.net_state(s, "netD")]),
        _rainnet_batch, {"gp_alpha": "gp_alpha"}, 2e-4),
    "s2am": Spec(
        {"type": "S2AM", "generator": {"type": "S2AMUNet", "ngf": 16, "attention": "s2ad"}},
        adam(1e-3, 0.9, 0.999, {"generator": ["generator"]}),
        lambda s: convert_s2am([recipe.net_state(s, "s2ad")]), _s2am_batch, {}, 1e-3),
    "deepfill_v1": Spec(
        {"type": "DeepFillV1", "n_critic": 5, "gp_mask": False, "l1_target": "composited", "ae_normalize": False,
         "generator": {"type": "DeepFillV1Generator", "cnum": 8, "padding": "zero", "channel_order": "rgb",
                       "attention": {"patch_norm": "daa233", "resize": "torch"}},
         "local_discriminator": _critic(128), "global_discriminator": _critic(256)},
        adam(1e-4, 0.5, 0.9, {"generator": ["generator"],
                              "discriminator": ["local_discriminator", "global_discriminator"]}),
        lambda s: convert_deepfill_v1([recipe.net_state(s, "netG"), {
            f"{n}.{k}": v for n in ("localD", "globalD") for k, v in recipe.net_state(s, n).items()}]),
        _deepfill_batch, {"gp_alpha_local": "gp_alpha_local", "gp_alpha_global": "gp_alpha_global"}, 1e-4),
    "csa": Spec(
        {"type": "CSA", "mode": "official", "consistency_weight": 0.0,
         "generator": {"type": "CSAGenerator", "ngf": 8}, "discriminator": {"type": "CSAPatchDiscriminator", "ndf": 8},
         "feature_discriminator": {"type": "CSAFeatureDiscriminator"}, "vgg": {"type": "VGG16Features"}},
        adam(2e-4, 0.5, 0.999, {"generator": ["generator"], "discriminator": ["discriminator", "feature_discriminator"]}),
        lambda s: convert_csa([recipe.net_state(s, n) for n in ("netG", "netP", "netD", "netF")]),
        _csa_batch, {}, 2e-4,
        lambda model, s: model.vgg.set_state_dict(convert_torchvision_vgg16([recipe.net_state(s, "vgg")])["vgg16"])),
}


def run(model, optimizers: dict, batches: List[dict], draws: List[dict]):
    """Steps with fresh optimizers; returns (losses per step, draws per step, final state as numpy)."""
    model.attach(build_optimizers(optimizers, model.nets, lambda key: "test")[0])
    model.train()
    losses, used = [], []
    for step, (batch, given) in enumerate(zip(batches, draws)):
        tensors = {k: paddle.to_tensor(v) for k, v in {**batch, **given}.items()}
        losses.append({k: float(v) for k, v in model.train_step(tensors, step).items()})
        used.append({k: v.numpy().copy() for k, v in model.last_draws.items()})
    state = {role: {k: v.numpy().copy() for k, v in net.state_dict().items()} for role, net in model.nets.items()}
    return losses, used, state


def restart(model, weights: dict) -> None:
    model.set_state_dict({role: {k: paddle.to_tensor(v) for k, v in s.items()} for role, s in weights.items()})


# ---- against itself -------------------------------------------------------------------------

def tiny(name: str):
    """(model, optimizers, two batches) small enough for a quick test."""
    rng = np.random.default_rng(0)
    if name == "deepfill_v1":
        cfg = {"type": "DeepFillV1", "n_critic": 1, "generator": {"type": "DeepFillV1Generator", "cnum": 4},
               "local_discriminator": {"type": "DeepFillV1Critic", "ndf": 4, "input_size": 32},
               "global_discriminator": {"type": "DeepFillV1Critic", "ndf": 4, "input_size": 64}}
        size, opt = 64, SPECS["deepfill_v1"].optimizers
    elif name == "rainnet":
        cfg = {"type": "RainNet", "generator": {"type": "RainNetGenerator", "ngf": 4},     # dropout on
               "discriminator": {"type": "RainNetDiscriminator", "ndf": 4}}
        size, opt = 256, SPECS["rainnet"].optimizers
    n = 2 if size < 256 else 1
    paddle.seed(0)
    model = ppinpaint.build_model({"model": cfg})
    batches = []
    for _ in range(2):
        mask = np.zeros((n, 1, size, size), np.float32)
        mask[:, :, size // 4:size // 2, size // 4:size // 2 + size // 8] = 1
        image = rng.random((n, 3, size, size), dtype=np.float32)
        batches.append({"image": image, "mask": mask, "target": np.clip(image + 0.1 * mask, 0, 1)})
    return model, opt, batches


@pytest.mark.parametrize("name", ["rainnet", "deepfill_v1"])      # S2AM and CSA steps draw nothing
def test_replay_is_exact_and_draws_matter(name):
    model, opt, batches = tiny(name)
    weights = {role: {k: v.numpy().copy() for k, v in s.items()} for role, s in model.state_dict().items()}
    losses, draws, state = run(model, opt, batches, [{}, {}])
    assert set().union(*draws) == set(model.draw_names)       # every draw the model declares is taken
    restart(model, weights)
    losses2, draws2, state2 = run(model, opt, batches, draws)
    assert losses2 == losses
    assert all(np.array_equal(state[r][k], state2[r][k]) for r in state for k in state[r])
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(draws, draws2) for k in a)
    other = [{k: 1.0 - v for k, v in d.items()} for d in draws]      # alpha -> 1 - alpha, dropout flipped
    restart(model, weights)
    losses3, _, state3 = run(model, opt, batches, other)
    assert losses3 != losses
    assert any(not np.array_equal(state[r][k], state3[r][k]) for r in state for k in state[r])


def test_draw_with_the_wrong_shape_is_named():
    model, opt, batches = tiny("rainnet")
    with pytest.raises(ValueError, match="gp_alpha"):
        run(model, opt, batches[:1], [{"gp_alpha": np.zeros((3, 1), np.float32)}])


# ---- against the official code -------------------------------------------------------------

def converted_after(spec: Spec, state: dict, z: dict) -> Dict[str, Dict[str, np.ndarray]]:
    """{role: {key: value}} of the reference's ``after/`` entries, mapped by the converter itself."""
    after = {k[len("after/"):]: v for k, v in z.items() if k.startswith("after/")}
    before = spec.convert(state)
    moved = spec.convert({**state, **{k: np.asarray(v, state[k].dtype) for k, v in after.items() if k in state}})
    unknown = sorted(set(after) - set(state))
    assert not unknown, f"reference weights outside the recipe's keys: {unknown[:3]}"
    return {role: {k: np.asarray(v) for k, v in moved[role].items() if not np.array_equal(v, before[role][k])}
            for role in moved}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_trajectory_matches_official(name, tmp_path):
    z = reference(name)
    if z is None:
        pytest.skip(f"no official trajectory for {name} yet (trajectory.npz in the parity set)")
    spec = SPECS[name]
    from parity import official_state

    state = official_state(name)
    paddle.seed(0)
    model = ppinpaint.build_model({"model": spec.config})
    restart(model, spec.convert(state))
    spec.setup(model, state)
    steps = sorted({int(k.split("/")[1][len("step"):]) for k in z if k.startswith("loss/step")})
    batch = spec.batch(z)
    draws = [{ours: z[f"in/{theirs}/step{k}"] for ours, theirs in spec.draws.items()} for k in steps]
    losses, _, state_after = run(model, spec.optimizers, [batch] * len(steps), draws)
    for k in steps:
        for key in [key for key in z if key.startswith(f"loss/step{k}/")]:
            term, ref = key.rsplit("/", 1)[1], float(z[key])
            assert term in losses[k], f"step {k}: the official term {term} has no counterpart"
            assert abs(losses[k][term] - ref) <= 1e-3 * max(1.0, abs(ref)), (key, losses[k][term], ref)
    expected = converted_after(spec, state, z)
    assert sum(len(v) for v in expected.values()) >= 6
    for role, values in expected.items():
        for key, ref in values.items():
            got = state_after[role][key]
            if key.endswith(("_mean", "_variance", "weight_u", "weight_v")):
                assert np.abs(got - ref).max() <= 2.5e-4 * np.abs(ref).max(), (role, key)
            else:
                assert np.abs(got - ref).max() <= 0.5 * spec.lr, (role, key, np.abs(got - ref).max())
