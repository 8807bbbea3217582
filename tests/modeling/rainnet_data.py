"""Shared by the RainNet tests: the parity folder, recipe weights, converted .pdparams, loading."""
import functools
import json
import os

import numpy as np
import paddle

import recipe
import ppinpaint
from ppinpaint.convert.rainnet import convert_rainnet

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "rainnet")
WIDTH = 8   # ngf = ndf of the fixtures


@functools.lru_cache(maxsize=1)
def official_state() -> dict:
    """Recipe weights (seed 0), ``netG.*`` / ``netD.*``, checked against meta.json."""
    state = recipe.make_state(recipe.read_keys(os.path.join(DATA, "keys.tsv")), 0)
    assert recipe.state_digest(state) == json.load(open(os.path.join(DATA, "meta.json")))["state_sha256"]
    return state


def case(name: str) -> dict:
    """Arrays of ``case_<name>.npz``."""
    return dict(np.load(os.path.join(DATA, f"case_{name}.npz")))


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
