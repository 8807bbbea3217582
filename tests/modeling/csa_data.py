"""Shared by the CSA tests: parity folder, recipe weights, converted .pdparams, model loading."""
import functools
import json
import os

import numpy as np
import paddle

import recipe
import ppinpaint
from ppinpaint.convert.csa import convert_csa, convert_torchvision_vgg16

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "csa")
NETS = ("netG", "netP", "netD", "netF")


@functools.lru_cache(maxsize=2)
def official_state(keys: str = "keys.tsv") -> dict:
    """Recipe weights (seed 0) in the official layout; the ngf-8 set is checked against meta.json."""
    state = recipe.make_state(recipe.read_keys(os.path.join(DATA, keys)), 0)
    if keys == "keys.tsv":
        assert recipe.state_digest(state) == json.load(open(os.path.join(DATA, "meta.json")))["state_sha256"]
    return state


def case(name: str) -> dict:
    """Arrays of ``case_<name>.npz``."""
    return dict(np.load(os.path.join(DATA, f"case_{name}.npz")))


def save_weights(folder: str, keys: str = "keys.tsv") -> tuple:
    """Convert the recipe weights (four nets + VGG16); returns (model .pdparams, vgg .pdparams)."""
    state = official_state(keys)
    model = os.path.join(folder, "csa.pdparams")
    vgg = os.path.join(folder, "vgg16.pdparams")
    paddle.save(convert_csa([recipe.net_state(state, n) for n in NETS]), model)
    # As tools/convert_weights.py writes it: {'vgg16': state}.
    paddle.save(convert_torchvision_vgg16([recipe.net_state(state, "vgg")]), vgg)
    return model, vgg


def config(vgg: str, mode: str = "official", ngf: int = 8, consistency_weight: float = 0.0) -> dict:
    """The model config at the fixtures' widths."""
    return {"model": {"type": "CSA", "mode": mode, "consistency_weight": consistency_weight,
                      "generator": {"type": "CSAGenerator", "ngf": ngf},
                      "discriminator": {"type": "CSAPatchDiscriminator", "ndf": ngf},
                      "feature_discriminator": {"type": "CSAFeatureDiscriminator"},
                      "vgg": {"type": "VGG16Features", "weights": vgg}}}


def load(folder: str, mode: str = "official", keys: str = "keys.tsv", ngf: int = 8, consistency_weight: float = 0.0):
    """``ppinpaint.load_model`` at the parity boundary."""
    model, vgg = save_weights(folder, keys)
    return ppinpaint.load_model(config(vgg, mode, ngf, consistency_weight), model)
