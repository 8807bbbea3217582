"""The parity fixtures copied from ../shared/parity: recipe weights and cases, by model folder."""
import functools
import json
import os

import numpy as np

import recipe

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@functools.lru_cache(maxsize=4)
def official_state(model: str) -> dict:
    """Recipe weights (seed 0) in the official layout, checked against the folder's meta.json."""
    folder = os.path.join(ROOT, model)
    state = recipe.make_state(recipe.read_keys(os.path.join(folder, "keys.tsv")), 0)
    assert recipe.state_digest(state) == json.load(open(os.path.join(folder, "meta.json")))["state_sha256"]
    return state


def case(model: str, name: str) -> dict:
    """Arrays of ``<model>/case_<name>.npz``."""
    return dict(np.load(os.path.join(ROOT, model, f"case_{name}.npz")))
