"""Compiled inference: every model through every engine equals eager, cached builds are reused, the
cache key follows the weights, the CLI runs compiled by default and an engine that fails its check is
refused (``auto`` falls back to eager with one warning)."""
import importlib.util
import logging
import os
import sys

import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.compiled import (CHECK_FILE, INDEX, TOLERANCE, CompiledModel, check_batch, compile_model,
                                graph_digest)
from ppinpaint.registry import MODELS as REGISTERED

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine"))
from tiny_gan import TinyInpaintGAN  # noqa: E402

TINY = {"model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                  "discriminator": {"type": "TinyCritic"}}}


@REGISTERED.register()
class NoisyTinyGAN(TinyInpaintGAN):
    """Adds uniform noise at inference: no compiled graph can reproduce eager's draws, so every engine fails."""

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        return super().forward_infer(image, mask) + 0.5 * paddle.rand(paddle.shape(image))


@REGISTERED.register()
class CountedTinyGAN(TinyInpaintGAN):
    """Records every construction: whether loading built the eager model at all."""

    built = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        CountedTinyGAN.built += 1


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


def _folders(cache) -> list:
    """The export folders of a cache (not its index of load keys)."""
    return sorted(n for n in os.listdir(cache) if n != INDEX)


def _eager(model, image, mask) -> np.ndarray:
    return model.infer(paddle.to_tensor(image), paddle.to_tensor(mask)).numpy()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_paddle_engine_matches_eager(name, tmp_path):
    model = _model(name)
    image, mask = check_batch(model)
    # Used eagerly first, on a batch of one: nothing that call leaves behind may end up in the export.
    _eager(model, image[:1], mask[:1])
    compiled = compile_model(model, "paddle", cache_dir=str(tmp_path))
    assert isinstance(compiled, CompiledModel) and compiled.engine == "paddle"
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
    if engine == "openvino":  # the check process compiled it into the folder; this one loaded that
        assert compiled.predictor.compiled.get_property("LOADED_FROM_CACHE")
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
    assert "engine: paddle" in proc.stdout and len(_folders(tmp_path / "cache")) == 1
    assert "predict (paddle): 100%" in proc.stderr  # the progress bar names the engine too
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


def test_the_default_is_auto_compiled_and_a_second_call_reuses_the_build(tmp_path, capsys):
    import yaml

    from ppinpaint.commands.predict import main as predict_main
    from ppinpaint.config import Config
    from ppinpaint.data.io import write_image
    from ppinpaint.utils.weight_files import save_weights

    paddle.seed(3)
    model = ppinpaint.load_model(TINY)
    weights = str(tmp_path / "w.safetensors")
    # The generator only, as converted official weights: the critic is drawn afresh at every load.
    save_weights(weights, {"generator": {n: v.numpy() for n, v in model.nets["generator"].state_dict().items()}})
    (tmp_path / "c.yml").write_text(yaml.safe_dump(TINY))
    assert Config(str(tmp_path / "c.yml")).section("predict")["engine"] == "auto"
    write_image(str(tmp_path / "in" / "a.png"), np.random.default_rng(0).integers(0, 256, (24, 32, 3), np.uint8))
    hole = np.zeros((24, 32), np.uint8)
    hole[4:12, 6:20] = 255
    write_image(str(tmp_path / "m.png"), hole)
    cache = tmp_path / "cache"
    argv = ["-c", str(tmp_path / "c.yml"), "--weights", weights, "--image", str(tmp_path / "in"),
            "--mask", str(tmp_path / "m.png"), "--output", str(tmp_path / "out"), "-o", f"predict.cache_dir={cache}"]
    assert predict_main(argv) == 0
    first = [line for line in capsys.readouterr().out.splitlines() if line.startswith("engine: ")]
    assert len(first) == 1 and "(auto: fastest of" in first[0] and "built and checked in" in first[0]
    (folder,) = _folders(cache)
    stamps = {n: os.path.getmtime(os.path.join(cache, folder, n)) for n in (CHECK_FILE, "model.json")}
    with open(os.path.join(cache, folder, CHECK_FILE)) as f:
        check = yaml.safe_load(f)
    # The graph holds leaky_relu after a convolution, which crashed Paddle 3.3.1's oneDNN fuse pass.
    assert check["paddle"]["ok"] and check["paddle"]["max_diff"] <= TOLERANCE and check["eager"]["ok"]
    # leaky_relu again: paddle2onnx 2.1.0 wrote its slope wrong, which the export now mends.
    for candidate, module in (("onnx", "onnxruntime"), ("openvino", "openvino")):
        if importlib.util.find_spec(module) and importlib.util.find_spec("paddle2onnx"):
            assert check[candidate]["ok"], check[candidate]
    assert predict_main(argv[:-4] + ["--output", str(tmp_path / "out2")] + argv[-2:]) == 0
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("engine: ")]
    assert len(again) == 1 and "built" not in again[0] and again[0].split(" (")[0] == first[0].split(" (")[0]
    assert _folders(cache) == [folder]
    assert stamps == {n: os.path.getmtime(os.path.join(cache, folder, n)) for n in stamps}


def test_an_engine_failing_its_check_is_refused_and_auto_falls_back_to_eager(tmp_path, caplog):
    paddle.seed(0)
    model = ppinpaint.load_model({"model": {**TINY["model"], "type": "NoisyTinyGAN"}})
    with caplog.at_level(logging.INFO, logger="ppinpaint.compiled"):
        assert compile_model(model, "auto", cache_dir=str(tmp_path)) is model
    (record,) = [r for r in caplog.records if r.name == "ppinpaint.compiled"]
    assert record.levelno == logging.WARNING
    assert "engine: eager (auto: no compiled engine passed its check against eager: paddle:" in record.getMessage()
    with pytest.raises(ValueError, match="the paddle engine cannot run NoisyTinyGAN here: its output differs "
                                         "from eager by"):
        compile_model(model, "paddle", cache_dir=str(tmp_path))


def test_the_compiled_model_keeps_no_eager_weights(tmp_path):
    import gc
    import weakref

    paddle.seed(5)
    model = ppinpaint.load_model(TINY)
    compiled = compile_model(model, "paddle", cache_dir=str(tmp_path))
    assert isinstance(compiled, CompiledModel) and compiled.nets == {} and compiled.eval() is compiled
    assert (compiled.task, compiled.size_multiple, compiled.min_size) == (model.task, model.size_multiple,
                                                                         model.min_size)
    net = weakref.ref(model.nets["generator"])
    del model
    gc.collect()
    assert net() is None  # the caller dropped the eager model: its weights are not kept beside the predictor
    paddle.seed(5)  # the same weights through the Python API: the same build, found in the cache
    again = ppinpaint.load_model(TINY, engine="paddle", cache_dir=str(tmp_path))
    assert isinstance(again, CompiledModel) and again.folder == compiled.folder


def _generator_file(path: str, seed: int, shift: float = 0.0) -> str:
    """Generator-only weights of the counted test GAN (``shift`` added to one value) written to ``path``."""
    from ppinpaint.utils.weight_files import save_weights

    paddle.seed(seed)
    state = {n: v.numpy() for n, v in ppinpaint.build_model(COUNTED).nets["generator"].state_dict().items()}
    state["conv1.bias"][0] += shift
    save_weights(path, {"generator": state})
    return path


COUNTED = {"model": {**TINY["model"], "type": "CountedTinyGAN"}}


def _load(config: dict, weights, cache, engine: str = "paddle"):
    """(loaded model, whether the eager model was built to get it)."""
    before = CountedTinyGAN.built
    model = ppinpaint.load_model(config, weights, engine=engine, cache_dir=str(cache))
    return model, CountedTinyGAN.built > before


def test_a_warm_cache_is_found_by_config_and_weights_file_without_building_the_eager_model(tmp_path, capsys):
    cache = tmp_path / "cache"
    weights = _generator_file(str(tmp_path / "w.safetensors"), 7)
    first, built = _load(COUNTED, weights, cache)
    assert built and isinstance(first, CompiledModel) and os.listdir(cache / INDEX)
    again, built = _load(COUNTED, weights, cache)
    assert not built and isinstance(again, CompiledModel) and again.folder == first.folder
    assert (again.engine, again.task, again.size_multiple, again.min_size) == (first.engine, first.task,
                                                                               first.size_multiple, first.min_size)
    image, mask = check_batch(first)
    assert np.array_equal(again.infer(image, mask).numpy(), first.infer(image, mask).numpy())
    # The same folder through a checkpoint folder (model.safetensors inside): the key is the file's bytes.
    os.makedirs(tmp_path / "ckpt")
    os.replace(weights, tmp_path / "ckpt" / "model.safetensors")
    assert not _load(COUNTED, str(tmp_path / "ckpt"), cache)[1]
    # An engine never checked in that folder needs the eager model once (to check it against).
    assert _load(COUNTED, str(tmp_path / "ckpt"), cache, "auto")[1]
    assert not _load(COUNTED, str(tmp_path / "ckpt"), cache, "auto")[1]


def test_other_weights_another_config_or_a_deleted_folder_never_reuse_a_wrong_folder(tmp_path):
    import shutil

    cache = tmp_path / "cache"
    weights = _generator_file(str(tmp_path / "w.safetensors"), 8)
    first, _ = _load(COUNTED, weights, cache)
    # The file changed in place (same path, one value different): built again, into another folder.
    _generator_file(weights, 8, shift=0.5)
    changed, built = _load(COUNTED, weights, cache)
    assert built and changed.folder != first.folder
    image, mask = check_batch(first)
    assert np.abs(changed.infer(image, mask).numpy() - first.infer(image, mask).numpy()).max() > 1e-3
    assert not _load(COUNTED, weights, cache)[1]
    # One config option changed: another key, so the eager model is built (and its own digest decides).
    options, built = _load({"model": {**COUNTED["model"], "disc_steps": 3}}, weights, cache)
    assert built and isinstance(options, CompiledModel)
    # The folder was deleted: the entry is not trusted, the build is redone in the same place.
    shutil.rmtree(changed.folder)
    rebuilt, built = _load(COUNTED, weights, cache)
    assert built and rebuilt.folder == changed.folder and os.path.isfile(os.path.join(rebuilt.folder, "deploy.yml"))
    # A damaged entry, or one naming something outside the cache, is ignored and rewritten.
    for text in ("{not json", '{"folder": "../../etc"}'):
        for entry in os.listdir(cache / INDEX):
            (cache / INDEX / entry).write_text(text)
        assert _load(COUNTED, weights, cache)[1]
        assert not _load(COUNTED, weights, cache)[1]


def test_without_a_weights_file_the_eager_model_is_built_every_time(tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):
        paddle.seed(9)
        model, built = _load(COUNTED, None, cache)
        assert built and isinstance(model, CompiledModel)
    assert not os.path.exists(cache / INDEX)


def test_eval_runs_batches_through_the_compiled_engine(tmp_path, capsys):
    import json

    from ppinpaint.cli import main
    from ppinpaint.utils.weight_files import save_weights

    config, opts = MODELS["rainnet"]
    opts = opts + ["val_dataset.length=5", "eval.batch_size=2", "eval.save_images=0"]
    weights = str(tmp_path / "w.safetensors")
    generator = _model("rainnet").nets["generator"]
    save_weights(weights, {"generator": {n: v.numpy() for n, v in generator.state_dict().items()}})
    results = {}
    for engine in ("paddle", "eager"):
        args = ["eval", "-c", os.path.join(ROOT, config), "-o", *opts, f"predict.cache_dir={tmp_path / 'cache'}",
                "--weights", weights, "--engine", engine, "--output", str(tmp_path / engine)]
        assert main(args) == 0
        out = capsys.readouterr()
        assert f"engine: {engine} (" in out.out
        assert ("eval (paddle): 100%" if engine == "paddle" else "eval: 100%") in out.err
        results[engine] = json.loads((tmp_path / engine / "metrics.json").read_text())
    assert results["paddle"]["num_samples"] == 5  # batches of 2, 2 and 1
    assert abs(results["paddle"]["psnr"] - results["eager"]["psnr"]) < 1e-3
