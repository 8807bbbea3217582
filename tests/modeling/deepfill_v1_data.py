"""Shared by the DeepFill v1 tests: the parity folder, recipe weights, converted .pdparams, loading."""
import paddle

import parity
import recipe
import ppinpaint
from ppinpaint.convert.deepfill_v1 import convert_deepfill_v1

WIDTH = 8   # ngf = ndf of the fixtures


def official_state() -> dict:
    """Recipe weights (seed 0) in the official layout."""
    return parity.official_state("deepfill_v1")


def case(name: str) -> dict:
    """Arrays of ``case_<name>.npz``."""
    return parity.case("deepfill_v1", name)


def official_sources() -> list:
    """What daa233's gen_*.pt and dis_*.pt hold once read: the generator, then {localD, globalD} flattened."""
    state = official_state()
    critics = {f"{net}.{k}": v for net in ("localD", "globalD") for k, v in recipe.net_state(state, net).items()}
    return [recipe.net_state(state, "netG"), critics]


def save_weights(path: str) -> str:
    """Convert the daa233-layout recipe weights and save them as .pdparams."""
    paddle.save(convert_deepfill_v1(official_sources()), path)
    return path


def config(**generator) -> dict:
    """The daa233 conventions at the fixtures' width (local patch 128, image 256)."""
    gen = {"type": "DeepFillV1Generator", "cnum": WIDTH, "padding": "zero", "channel_order": "rgb",
           "attention": {"patch_norm": "daa233", "resize": "torch", "flow_norm": "running"}}
    gen.update(generator)
    critic = {"type": "DeepFillV1Critic", "ndf": WIDTH, "width_mults": [1, 2, 4, 4], "padding": "zero"}
    return {"model": {"type": "DeepFillV1", "gp_mask": False, "l1_target": "composited", "ae_normalize": False,
                      "generator": gen, "local_discriminator": {**critic, "input_size": 128},
                      "global_discriminator": {**critic, "input_size": 256}}}


def load(weights: str, **generator):
    """``ppinpaint.load_model`` at the parity boundary."""
    return ppinpaint.load_model(config(**generator), weights)
