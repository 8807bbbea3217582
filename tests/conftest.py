"""Test-wide setup: tests/ on sys.path (for recipe.py), one intra-op thread for reproducible sums, and a
compiled-graph cache of the session's own (tests never write ~/.cache; a build is reused within the session)."""
import os
import sys

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session", autouse=True)
def compiled_cache(tmp_path_factory) -> str:
    """$PPINPAINT_CACHE for the whole session (subprocesses inherit it): a fresh folder under pytest's tmp."""
    folder = str(tmp_path_factory.mktemp("compiled-cache"))
    before = os.environ.get("PPINPAINT_CACHE")
    os.environ["PPINPAINT_CACHE"] = folder
    yield folder
    if before is None:
        os.environ.pop("PPINPAINT_CACHE", None)
    else:
        os.environ["PPINPAINT_CACHE"] = before
