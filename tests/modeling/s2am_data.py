"""Shared by the S²AM tests: the parity folder and the official-layout recipe weights."""
import functools
import json
import os

import recipe

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "s2am")


@functools.lru_cache(maxsize=1)
def official_state() -> dict:
    """Recipe weights (seed 0) for both nets, ``s2ad.*`` / ``s2asc.*``, checked against meta.json."""
    state = recipe.make_state(recipe.read_keys(os.path.join(DATA, "keys.tsv")), 0)
    assert recipe.state_digest(state) == json.load(open(os.path.join(DATA, "meta.json")))["state_sha256"]
    return state
