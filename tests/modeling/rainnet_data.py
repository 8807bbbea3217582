"""Shared by the RainNet tests: the parity folder, recipe weights, converted .pdparams, loading."""
import paddle

import parity
import recipe
import ppinpaint
from ppinpaint.convert.rainnet import convert_rainnet

WIDTH = 8   # ngf = ndf of the fixtures


def official_state() -> dict:
    """Recipe weights (seed 0) in the official layout."""
    return parity.official_state("rainnet")


def case(name: str) -> dict:
    """Arrays of ``case_<name>.npz``."""
    return parity.case("rainnet", name)


def save_weights(path: str) -> str:
    """Convert the official-layout recipe weights and save them as .pdparams."""
    state = official_state()
    paddle.save(convert_rainnet([recipe.net_state(state, "netG"), recipe.net_state(state, "netD")]), path)
    return path


def config(norm: str = "rain") -> dict:
    """The model config at the fixtures' width."""
    return {"model": {"type": "RainNet",
                      "generator": {"type": "RainNetGenerator", "ngf": WIDTH, "norm": norm},
                      "discriminator": {"type": "RainNetDiscriminator", "ndf": WIDTH}}}


def load(weights: str):
    """``ppinpaint.load_model`` at the parity boundary."""
    return ppinpaint.load_model(config(), weights)
