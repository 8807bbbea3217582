"""Weight and checkpoint files never run code: safetensors + JSON written, .pdparams read without pickle."""
import os
import pickle
import sys

import numpy as np
import paddle
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine"))
import tiny_gan  # noqa: E402,F401

from ppinpaint.api import load_model, read_weights  # noqa: E402
from ppinpaint.engine.checkpoint import load_checkpoint  # noqa: E402
from ppinpaint.modeling.layers.vgg16 import VGG16Features  # noqa: E402
from ppinpaint.metrics.perceptual import MetricWeightsError, load_metric_state  # noqa: E402
from ppinpaint.utils.weight_files import WeightsFileError, read_paddle_pickle, save_weights  # noqa: E402

CFG = {"model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                 "discriminator": {"type": "TinyCritic"}}}


class Payload:
    """Runs ``touch <marker>`` when unpickled by pickle/paddle.load, then yields real weights."""

    def __init__(self, marker, weights):
        self.marker, self.weights = marker, weights

    def __reduce__(self):
        # eval of a tuple: the shell command first, then the real state dict, as a hostile file would.
        return eval, (f"(__import__('os').system('touch {self.marker}'), {self.weights!r})[1]",)


def hostile_pdparams(tmp_path, marker):
    """A .pdparams that runs a shell command under paddle.load and then returns working weights."""
    model = load_model(CFG)
    weights = {k: v.numpy().tolist() for k, v in model.nets["generator"].state_dict().items()}
    path = tmp_path / "hostile.pdparams"
    path.write_bytes(pickle.dumps({"generator": Payload(marker, weights)}, protocol=4))
    return str(path)


def test_hostile_pdparams_is_refused_everywhere_and_never_runs(tmp_path):
    live = tmp_path / "live"
    paddle.load(hostile_pdparams(tmp_path, live))  # the file is live: paddle.load runs it
    assert live.exists()
    marker = tmp_path / "pwned"
    path = hostile_pdparams(tmp_path, marker)
    with pytest.raises(WeightsFileError, match=r"hostile\.pdparams.*refusing to load global 'builtins\.eval'"):
        read_weights(path)
    with pytest.raises(WeightsFileError, match="builtins.eval"):
        load_model(CFG, path)
    with pytest.raises(WeightsFileError, match="builtins.eval"):
        VGG16Features(weights=path)
    with pytest.raises(MetricWeightsError, match="builtins.eval"):
        load_metric_state(path, "fid_inception", "FID")
    assert not marker.exists()


def test_hostile_legacy_checkpoint_is_refused(tmp_path):
    folder = tmp_path / "checkpoints" / "iter_0000002"
    folder.mkdir(parents=True)
    model = load_model(CFG)
    paddle.save(model.state_dict(), str(folder / "model.pdparams"))
    paddle.save({}, str(folder / "optimizers.pdopt"))
    marker = tmp_path / "pwned"
    (folder / "trainer.pdstates").write_bytes(pickle.dumps({"step": Payload(marker, 2)}))
    with pytest.raises(WeightsFileError, match="trainer.pdstates.*builtins.eval"):
        load_checkpoint(str(folder))
    assert not marker.exists()


def test_paddle_save_files_read_as_paddle_load_reads_them(tmp_path):
    model = load_model(CFG)
    opt = paddle.optimizer.Adam(parameters=model.nets["generator"].parameters())
    model.nets["generator"](paddle.rand([1, 3, 8, 8]), paddle.ones([1, 1, 8, 8])).mean().backward()
    opt.step()
    for name, obj in (("w.pdparams", model.state_dict()), ("o.pdopt", opt.state_dict()),
                      ("s.pdstates", {"rng": np.random.get_state(), "f": np.float64(2.5), "n": [1, (2, "x")]})):
        paddle.save(obj, str(tmp_path / name))
        want = paddle.load(str(tmp_path / name), return_numpy=True)
        got = read_paddle_pickle(str(tmp_path / name))
        flat_want = want if name != "w.pdparams" else {f"{r}.{k}": v for r, sd in want.items() for k, v in sd.items()}
        flat_got = got if name != "w.pdparams" else {f"{r}.{k}": v for r, sd in got.items() for k, v in sd.items()}
        assert set(flat_got) == set(flat_want)
        for key, value in flat_want.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(flat_got[key], value)
    assert read_paddle_pickle(str(tmp_path / "s.pdstates"))["n"] == [1, (2, "x")]


def test_old_checkpoint_resumes_through_the_restricted_reader(tmp_path):
    """A checkpoint of the previous (pickle) layout: weights, Adam state and RNG states all come back."""
    import random

    folder = tmp_path / "iter_0000003"
    folder.mkdir()
    model = load_model(CFG)
    paddle.save(model.state_dict(), str(folder / "model.pdparams"))
    paddle.save({"generator": {"generator.w_moment1_0": paddle.ones([2])}}, str(folder / "optimizers.pdopt"))
    paddle.seed(3)
    paddle.save({"step": 3, "best_value": None, "world_size": 1, "seed": 0, "paddle_rng": paddle.get_rng_state(),
                 "numpy_rng": np.random.get_state(), "python_rng": random.getstate(), "schedulers": {},
                 "scalers": {}}, str(folder / "trainer.pdstates"))
    expected = paddle.rand([3]).numpy()
    state = load_checkpoint(str(folder))
    assert state["trainer"]["step"] == 3
    paddle.set_rng_state(state["trainer"]["paddle_rng"])
    np.testing.assert_array_equal(paddle.rand([3]).numpy(), expected)
    np.testing.assert_array_equal(state["optimizers"]["generator"]["generator.w_moment1_0"].numpy(), [1, 1])


@pytest.mark.parametrize("content", [b"", pickle.dumps({}), pickle.dumps({"step": 1})])
def test_empty_or_partial_trainer_state_names_the_file(tmp_path, content):
    folder = tmp_path / "iter_0000001"
    folder.mkdir()
    paddle.save(load_model(CFG).state_dict(), str(folder / "model.pdparams"))
    paddle.save({}, str(folder / "optimizers.pdopt"))
    (folder / "trainer.pdstates").write_bytes(content)
    with pytest.raises(WeightsFileError, match="trainer.pdstates"):
        load_checkpoint(str(folder))


def test_float64_weights_are_converted_and_nan_weights_warned(tmp_path):
    model = load_model(CFG)
    state = {role: {k: v.numpy().astype(np.float64) for k, v in sd.items()} for role, sd in model.state_dict().items()}
    save_weights(str(tmp_path / "f64.safetensors"), state)
    loaded = load_model(CFG, str(tmp_path / "f64.safetensors"))
    for k, v in loaded.nets["generator"].state_dict().items():
        assert v.dtype == paddle.float32
        np.testing.assert_allclose(v.numpy(), state["generator"][k], rtol=1e-6)
    key = next(iter(state["generator"]))
    state["generator"][key][...] = np.nan
    save_weights(str(tmp_path / "nan.safetensors"), state)
    with pytest.warns(UserWarning, match=rf"nan\.safetensors.*NaN or Inf.*generator\.{key}"):
        read_weights(str(tmp_path / "nan.safetensors"))


@pytest.mark.parametrize("content", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage", b"\xff" * 64])
def test_garbled_safetensors_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match="bad.safetensors"):
        read_weights(str(path))


def test_checkpoints_hold_no_pickle(tmp_path):
    from ppinpaint.engine.trainer import Trainer

    from test_trainer import tiny_config  # noqa: E402  (tests/engine is on sys.path)

    Trainer(tiny_config(iters=2), output_dir=str(tmp_path)).train()
    folder = tmp_path / "checkpoints" / "iter_0000002"
    assert sorted(os.listdir(folder)) == ["model.safetensors", "optimizers.safetensors", "trainer.json"]
    for name in os.listdir(folder):
        assert (folder / name).read_bytes()[:1] != b"\x80", name  # no pickle PROTO opcode
