"""Compiled inference: every model through every engine equals eager, cached builds are reused, and the
cache key follows the weights."""
import importlib.util
import os

import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.compiled import CHECK_FILE, TOLERANCE, CompiledModel, check_batch, compile_model, graph_digest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "rainnet": ("configs/rainnet/quickstart.yml", ["model.generator.ngf=8"]),
    "s2am": ("configs/s2am/quickstart.yml", ["model.generator.ngf=8"]),
    "deepfill_v1": ("configs/deepfill_v1/quickstart.yml", ["model.generator.cnum=4"]),
    "csa": ("configs/csa/quickstart.yml", ["model.generator.ngf=8"]),
}


def _model(name: str):
    config, opts = MODELS[name]
    paddle.seed(0)
    return ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)


def _eager(model, image, mask) -> np.ndarray:
    return model.infer(paddle.to_tensor(image), paddle.to_tensor(mask)).numpy()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_paddle_engine_matches_eager(name, tmp_path):
    model = _model(name)
    compiled = compile_model(model, "paddle", cache_dir=str(tmp_path))
    assert isinstance(compiled, CompiledModel) and compiled.engine == "paddle"
    image, mask = check_batch(model)
    out = compiled.infer(image, mask)
    assert isinstance(out, paddle.Tensor)
    assert np.abs(out.numpy() - _eager(model, image, mask)).max() <= TOLERANCE
    # A different size from the same export (dynamic H, W).
    h = image.shape[2] + int(model.size_multiple)
    image2 = np.random.default_rng(1).random((1, 3, h, image.shape[3])).astype(np.float32)
    mask2 = np.zeros((1, 1, h, image.shape[3]), np.float32)
    mask2[..., h // 3:h // 2, 8:40] = 1.0
    assert np.abs(compiled.infer(image2, mask2).numpy() - _eager(model, image2, mask2)).max() <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("engine, runtime", [("onnx", "onnxruntime"), ("openvino", "openvino")])
@pytest.mark.parametrize("name", ["rainnet", "s2am", "deepfill_v1", "csa"])
def test_onnx_engines_match_eager(name, engine, runtime, tmp_path):
    pytest.importorskip(runtime)
    pytest.importorskip("paddle2onnx")
    model = _model(name)
    compiled = compile_model(model, engine, cache_dir=str(tmp_path), threads=1)
    assert compiled.engine == engine and compiled.cpu_threads == 1
    image, mask = check_batch(model)
    assert np.abs(compiled.infer(image, mask).numpy() - _eager(model, image, mask)).max() <= TOLERANCE


def test_cache_is_reused_and_follows_the_weights(tmp_path):
    model = _model("rainnet")
    first = compile_model(model, "paddle", cache_dir=str(tmp_path))
    folders = os.listdir(tmp_path)
    stamp = os.path.getmtime(os.path.join(first.folder, "model.pdiparams"))
    again = compile_model(_model("rainnet"), "paddle", cache_dir=str(tmp_path))   # same config, same weights
    assert again.folder == first.folder and os.listdir(tmp_path) == folders
    assert os.path.getmtime(os.path.join(first.folder, "model.pdiparams")) == stamp
    assert os.path.isfile(os.path.join(first.folder, CHECK_FILE))
    net = model.nets["generator"]
    weight = next(iter(net.parameters()))
    weight.set_value(weight.numpy() + 1.0)
    changed = compile_model(model, "paddle", cache_dir=str(tmp_path))
    assert changed.folder != first.folder and changed.folder.endswith(graph_digest(model)[:24])
    image, mask = check_batch(model)
    assert np.abs(changed.infer(image, mask).numpy() - _eager(model, image, mask)).max() <= TOLERANCE


def test_auto_picks_an_engine_that_passed(tmp_path):
    model = _model("deepfill_v1")
    chosen = compile_model(model, "auto", cache_dir=str(tmp_path))
    engine = getattr(chosen, "engine", "eager")
    folder = os.path.join(tmp_path, os.listdir(tmp_path)[0])
    import yaml

    with open(os.path.join(folder, CHECK_FILE)) as f:
        check = yaml.safe_load(f)
    assert check[engine]["ok"] and check["eager"]["ok"]
    passed = {e: r["seconds"] for e, r in check.items() if r.get("ok")}
    assert engine == min(passed, key=passed.get)
    # Every engine installed here was a candidate and agreed with eager.
    for candidate, module in (("paddle", "paddle"), ("onnx", "onnxruntime"), ("openvino", "openvino")):
        if importlib.util.find_spec(module):
            assert check[candidate]["ok"] and check[candidate]["max_diff"] <= TOLERANCE, check[candidate]


def test_eager_and_unknown_engines(tmp_path):
    model = _model("rainnet")
    assert compile_model(model, "eager", cache_dir=str(tmp_path)) is model
    with pytest.raises(ValueError, match="engine must be one of"):
        compile_model(model, "tensorrt", cache_dir=str(tmp_path))


def test_predict_command_runs_the_chosen_engine(tmp_path):
    import subprocess
    import sys

    from ppinpaint.data.io import read_image, write_image
    from ppinpaint.predict import predict_array

    model = _model("rainnet")
    weights = tmp_path / "w.pdparams"
    paddle.save(model.state_dict(), str(weights))
    photo = np.random.default_rng(2).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    write_image(str(tmp_path / "in" / "x.png"), photo)
    m = np.zeros((64, 80), np.uint8)
    m[10:40, 20:60] = 255
    write_image(str(tmp_path / "x_mask.png"), np.repeat(m[..., None], 3, axis=2))
    config, opts = MODELS["rainnet"]
    cmd = [sys.executable, "-m", "ppinpaint", "predict", "-c", os.path.join(ROOT, config), "-o", *opts,
           "--weights", str(weights), "--image", str(tmp_path / "in"), "--mask", str(tmp_path / "x_mask.png"),
           "--output", str(tmp_path / "out"), "--engine", "paddle", "--threads", "1"]
    env = {**os.environ, "PPINPAINT_CACHE": str(tmp_path / "cache"), "PYTHONPATH": ROOT}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "engine: paddle" in proc.stdout and len(os.listdir(tmp_path / "cache")) == 1
    eager = predict_array(model, photo, (m > 0).astype(np.float32))
    assert np.abs(read_image(str(tmp_path / "out" / "x.png")).astype(int) - eager.astype(int)).max() <= 1


def test_a_graph_that_cannot_be_exported(tmp_path):
    model = _model("rainnet")

    def untraceable(image, mask):
        raise RuntimeError("not traceable here")

    model.infer_graph = untraceable
    assert compile_model(model, "auto", cache_dir=str(tmp_path)) is model
    with pytest.raises(ValueError, match="RainNet cannot be compiled: .*not traceable here"):
        compile_model(model, "paddle", cache_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []  # the failed build left nothing behind
