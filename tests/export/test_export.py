"""Exported models (Paddle Inference with oneDNN, onnxruntime, OpenVINO) against the eager models, per config."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

import ppinpaint
from ppinpaint.data.io import read_image, write_image
from ppinpaint.export import export_model, export_onnx, read_deploy
from ppinpaint.inference import OnnxPredictor, OpenVinoPredictor, PaddlePredictor
from ppinpaint.predict import Predictor, predict_array

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# One entry per exportable model: quickstart config, tiny-width overrides. All export with a
# dynamic batch, height and width.
EXPORTABLE = {
    "rainnet": ("configs/rainnet/quickstart.yml", ["model.generator.ngf=8"]),
    "rainnet_in": ("configs/rainnet/quickstart_in.yml", ["model.generator.ngf=8"]),
    "s2am": ("configs/s2am/quickstart.yml", ["model.generator.ngf=8"]),
    "deepfill_v1": ("configs/deepfill_v1/quickstart.yml", ["model.generator.cnum=4"]),
    "csa": ("configs/csa/quickstart.yml", ["model.generator.ngf=8"]),
}
SIZES = {"deepfill_v1": (64, 96)}        # default 256 x 256 (eight stride-2 levels)
ONNX_RUNTIME_FAILS = {}     # model name -> the node onnxruntime rejects


def _batch(n: int, h: int = 256, w: int = 256, seed: int = 0):
    """Random [0,1] images and a different rectangular hole per sample."""
    rng = np.random.default_rng(seed)
    image = rng.random((n, 3, h, w), dtype=np.float32)
    mask = np.zeros((n, 1, h, w), np.float32)
    for i in range(n):
        top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
        mask[i, :, top:top + h // 3 + 8 * i, left:left + w // 4] = 1.0
    return image, mask


def _eager(model, image, mask):
    return model.infer(paddle.to_tensor(image), paddle.to_tensor(mask)).numpy()


@pytest.fixture(scope="module", params=sorted(EXPORTABLE))
def exported(request, tmp_path_factory):
    config, opts = EXPORTABLE[request.param]
    paddle.seed(0)
    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
    out = str(tmp_path_factory.mktemp(request.param))
    export_model(model, out, config=config)
    return request.param, model, out


def test_paddle_inference_matches_eager_with_onednn(exported):
    name, model, out = exported
    deploy = read_deploy(out)
    assert deploy["task"] == model.task and deploy["size_multiple"] == model.size_multiple
    assert deploy["inputs"]["image"]["value_range"] == [0.0, 1.0] and deploy["dynamic_batch"]
    assert deploy["fixed_size"] is None
    predictor = PaddlePredictor(out, device="cpu")
    assert isinstance(predictor, Predictor) and isinstance(model, Predictor)  # both run through predict_array
    assert predictor.use_mkldnn and deploy["onednn"] is True      # DeepFill v1 too (docs/speed.md)
    h, w = SIZES.get(name, (256, 256))
    image, mask = _batch(2, h, w)
    eager = _eager(model, image, mask)
    np.testing.assert_allclose(predictor.infer(image, mask), eager, atol=1e-4, rtol=0)
    # batch 1 of the second sample: the batch axis is dynamic and samples do not mix
    np.testing.assert_allclose(predictor.infer(image[1:], mask[1:]), eager[1:], atol=1e-4, rtol=0)
    # another H x W from the same export: H and W are dynamic
    image, mask = _batch(1, h, 2 * w, seed=1)
    np.testing.assert_allclose(predictor.infer(image, mask), _eager(model, image, mask), atol=1e-4, rtol=0)


def test_fixed_size_export_rejects_other_sizes(tmp_path):
    config, opts = EXPORTABLE["rainnet"]
    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
    export_model(model, str(tmp_path), size=(256, 256))
    assert read_deploy(str(tmp_path))["fixed_size"] == [256, 256]
    predictor = PaddlePredictor(str(tmp_path), device="cpu")
    image, mask = _batch(1)
    np.testing.assert_allclose(predictor.infer(image, mask), _eager(model, image, mask), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="exported for 256x256"):
        predictor.infer(*_batch(1, 256, 512))


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_file_matches_eager(exported, runtime, tmp_path):
    """model.onnx by onnxruntime and by OpenVINO (f32 pinned, compiled once into a cache): within 1e-4 of
    eager, N, H and W dynamic."""
    pytest.importorskip("paddle2onnx")
    pytest.importorskip(runtime)
    name, model, out = exported
    if name == "rainnet_in":
        pytest.skip("same operators as rainnet")
    if not os.path.isfile(os.path.join(out, "model.onnx")):  # one conversion serves both runtimes
        export_onnx(out)
    if runtime == "openvino":
        assert not OpenVinoPredictor(out, cpu_threads=1, cache_dir=str(tmp_path)).compiled.get_property(
            "LOADED_FROM_CACHE")
        predictor = OpenVinoPredictor(out, cpu_threads=1, cache_dir=str(tmp_path))
        assert predictor.compiled.get_property("LOADED_FROM_CACHE")
        assert predictor.compiled.get_property("INFERENCE_PRECISION_HINT").to_string() == "f32"
        assert predictor.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    else:
        predictor = OnnxPredictor(out)
    h, w = SIZES.get(name, (256, 256))
    image, mask = _batch(2, h, w)
    if name in ONNX_RUNTIME_FAILS and runtime == "onnxruntime":  # converts, but onnxruntime rejects one node
        with pytest.raises(Exception, match=ONNX_RUNTIME_FAILS[name]):
            predictor.infer(image, mask)
        return
    np.testing.assert_allclose(predictor.infer(image, mask), _eager(model, image, mask), atol=1e-4, rtol=0)
    # batch 1 at another H x W: the ONNX graph keeps N, H and W dynamic too
    image, mask = _batch(1, 2 * h, w, seed=1)
    np.testing.assert_allclose(predictor.infer(image, mask), _eager(model, image, mask), atol=1e-4, rtol=0)


class _LeakyNet(paddle.nn.Layer):
    """Leaky ReLUs as users write them: the functional form with two slopes and the layer's default."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act = paddle.nn.Linear(5, 5), paddle.nn.LeakyReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.fc(x)
        return self.act(paddle.nn.functional.leaky_relu(y, 0.2) * 3.0 - 1.0) + paddle.nn.functional.leaky_relu(x, 0.05)


def test_onnx_keeps_every_leaky_relu_slope(tmp_path):
    """paddle2onnx 2.1.0 writes garbage alphas (~1e-11) for Paddle 3's leaky_relu; the export restores them."""
    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    net = _LeakyNet()
    net.eval()
    paddle.jit.save(net, str(tmp_path / "model"), input_spec=[paddle.static.InputSpec([None, 5], "float32", "x")])
    path = export_onnx(str(tmp_path))
    alphas = sorted(a.f for n in onnx.load(path).graph.node if n.op_type == "LeakyRelu" for a in n.attribute)
    np.testing.assert_allclose(alphas, [0.01, 0.05, 0.2], rtol=1e-6)
    x = np.linspace(-3, 3, 20, dtype=np.float32).reshape(4, 5)
    (out,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(out, net(paddle.to_tensor(x)).numpy(), atol=1e-5, rtol=1e-6)


NO_OPENVINO = """
import sys
# Every installed distribution but OpenVINO's, as a plain path entry: openvino is not installed here.
sys.path[:0] = [sys.argv[1]]
# OpenCV's loader re-imports cv2 from its real folder; this is its switch for a package found elsewhere.
sys.OpenCV_REPLACE_SYS_PATH_0 = True
from ppinpaint.commands.infer import main
sys.exit(main(["--model-dir", sys.argv[2], "--backend", "openvino", "--image", "x.png", "--mask", "m.png",
               "--output", "o"]))
"""


def test_openvino_backend_without_openvino_is_one_message(tmp_path):
    """A Python where openvino is not installed (site-packages minus openvino*): exit code 2 and what to install."""
    import site

    packages = tmp_path / "site"
    packages.mkdir()
    for folder in site.getsitepackages():
        for entry in os.listdir(folder):
            if not entry.startswith("openvino") and not (packages / entry).exists():
                os.symlink(os.path.join(folder, entry), packages / entry)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "deploy.yml").write_text("task: inpainting\nsize_multiple: 8\nmin_size: 0\n")
    # -S: no site-packages (and no .pth files) but the filtered copy; PYTHONPATH finds this checkout.
    proc = subprocess.run([sys.executable, "-S", "-c", NO_OPENVINO, str(packages), str(tmp_path / "export")],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == ("error: the openvino backend needs openvino, which is not installed: "
                                   "pip install openvino (or use the paddle backend)")


def _predictors(out: str):
    """Every engine that runs an export folder here: Paddle Inference, and onnxruntime / OpenVINO when installed."""
    yield PaddlePredictor(out, device="cpu")
    for runtime, predictor in (("onnxruntime", OnnxPredictor), ("openvino", OpenVinoPredictor)):
        if importlib.util.find_spec("paddle2onnx") and importlib.util.find_spec(runtime):
            if not os.path.isfile(os.path.join(out, "model.onnx")):
                export_onnx(out)
            yield predictor(out)


@pytest.mark.parametrize("exported", ["deepfill_v1"], indirect=True)
def test_deepfill_odd_attention_grid_follows_float32(exported):
    """216 px wide: a 27-wide attention grid, where the mask's nearest-resize index round(13 * 53/26) is
    decided by float32 rounding (26; 27 in exact arithmetic, and in OpenVINO unless its divisions are kept
    divisions: OpenVinoPredictor marks them). Every engine follows eager."""
    _, model, out = exported
    image, mask = _batch(2, 64, 216)
    eager = _eager(model, image, mask)
    for predictor in _predictors(out):
        np.testing.assert_allclose(predictor.infer(image, mask), eager, atol=1e-4, rtol=0)


@pytest.mark.parametrize("exported", ["csa"], indirect=True)
def test_csa_export_fills_each_sample_from_its_own_mask(exported):
    """CSA's traced attention loop on every engine: a hole-free sample beside a scattered hole, a hole
    over the image border, and a batch without holes."""
    _, model, out = exported
    image, mask = _batch(2)
    mask[0] = 0
    # 16-pixel blocks: two-by-two blocks of the 32 x 32 attention level, scattered over the image.
    mask[1, 0] = np.kron(np.random.default_rng(3).random((16, 16)) < 0.25, np.ones((16, 16)))
    border = np.zeros_like(mask[:1])
    border[..., 150:, :100] = 1.0       # the bottom-left corner: the attention level's last rows
    for predictor in _predictors(out):
        np.testing.assert_allclose(predictor.infer(image, mask), _eager(model, image, mask), atol=1e-4, rtol=0)
        np.testing.assert_allclose(predictor.infer(image[1:], border), _eager(model, image[1:], border),
                                   atol=1e-4, rtol=0)
        # No hole anywhere: the loop's one no-op step, the input comes back.
        np.testing.assert_array_equal(predictor.infer(image, 0 * mask), image)


def test_export_and_infer_tools_match_predict(tmp_path):
    """tools/export.py then deploy/infer.py on a folder: the same pixels as predict_array (±1 rounding)."""
    config, opts = EXPORTABLE["rainnet"]
    paddle.seed(1)
    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
    weights = tmp_path / "w.pdparams"
    paddle.save(model.state_dict(), str(weights))
    rng = np.random.default_rng(2)
    for stem, (h, w) in {"a": (200, 300), "b": (256, 256)}.items():
        write_image(str(tmp_path / "img" / f"{stem}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        m = np.zeros((h, w), np.uint8)
        m[40:120, 60:160] = 255
        write_image(str(tmp_path / "msk" / f"{stem}_mask.png"), m)
    run = lambda script, *args: subprocess.run(  # noqa: E731
        [sys.executable, os.path.join(ROOT, script), *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    proc = run("tools/export.py", "-c", config, *sum((["-o", o] for o in opts), []), "--weights", weights,
               "--output", tmp_path / "export")
    assert proc.returncode == 0, proc.stderr
    proc = run("deploy/infer.py", "--model-dir", tmp_path / "export", "--image", tmp_path / "img",
               "--mask", tmp_path / "msk", "--output", tmp_path / "out", "--concat")
    assert proc.returncode == 0, proc.stderr
    for stem in ("a", "b"):
        got = read_image(str(tmp_path / "out" / f"{stem}.png")).astype(int)
        want = predict_array(model, str(tmp_path / "img" / f"{stem}.png"), str(tmp_path / "msk" / f"{stem}_mask.png"))
        assert got.shape == want.shape and np.abs(got - want).max() <= 1
        assert os.path.isfile(tmp_path / "out" / f"{stem}_concat.png")
    proc = run("deploy/infer.py", "--model-dir", tmp_path, "--image", tmp_path / "img", "--mask",
               tmp_path / "msk", "--output", tmp_path / "out2")
    assert proc.returncode == 2 and "no deploy.yml" in proc.stderr


LEGACY_SCRIPT = """
import sys, numpy as np, paddle
out_dir = sys.argv[1]
paddle.enable_static()
with paddle.pir_utils.OldIrGuard():
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        image = paddle.static.data("image", [None, 3, None, None], "float32")
        mask = paddle.static.data("mask", [None, 1, None, None], "float32")
        x = paddle.static.nn.conv2d(paddle.concat([image * (1 - mask), mask], axis=1), 8, 3, padding=1, act="relu")
        fill = paddle.static.nn.conv2d(x, 3, 3, padding=1, act="sigmoid")
        out = fill * mask + image * (1 - mask)
    exe = paddle.static.Executor(paddle.CPUPlace())
    exe.run(startup)
    paddle.static.save_inference_model(out_dir + "/model", [image, mask], [out], exe, program=main)
    rng = np.random.default_rng(0)
    img = rng.random((2, 3, 24, 40), dtype=np.float32)
    msk = (rng.random((2, 1, 24, 40)) > 0.5).astype(np.float32)
    ref, = exe.run(main, feed={"image": img, "mask": msk}, fetch_list=[out])
    np.savez(out_dir + "/ref.npz", image=img, mask=msk, out=ref)
"""


def test_legacy_pdmodel_loads(tmp_path):
    """A legacy ``model.pdmodel`` program (old IR, what Paddle 2 exports wrote) runs in PaddlePredictor."""
    proc = subprocess.run([sys.executable, "-c", LEGACY_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, FLAGS_enable_pir_api="0"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(tmp_path / "model.pdmodel") and not os.path.isfile(tmp_path / "model.json")
    with open(tmp_path / "deploy.yml", "w") as f:
        yaml.safe_dump({"task": "inpainting", "size_multiple": 1, "min_size": 0}, f)
    ref = np.load(tmp_path / "ref.npz")
    predictor = PaddlePredictor(str(tmp_path), device="cpu")
    np.testing.assert_allclose(predictor.infer(ref["image"], ref["mask"]), ref["out"], atol=1e-5, rtol=0)


class _PadNet(paddle.nn.Layer):
    """Constant padding as the traced DeepFill attention does it (4-D ``F.pad``: Paddle's pad3d), two values."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = paddle.nn.Linear(5, 5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.fc(x).reshape([-1, 1, 1, 5])
        return (paddle.nn.functional.pad(y, [1, 2, 0, 1], value=0.0)
                + paddle.nn.functional.pad(y, [2, 1, 1, 0], value=0.5))


def test_onnx_keeps_every_constant_pad_value(tmp_path):
    """paddle2onnx 2.1.0 writes memory noise as pad3d's value (seen: 1e-43, then 4e11 in the next export of
    the same graph); the export writes the program's values back."""
    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    net = _PadNet()
    net.eval()
    paddle.jit.save(net, str(tmp_path / "model"), input_spec=[paddle.static.InputSpec([None, 5], "float32", "x")])
    path = export_onnx(str(tmp_path))
    x = np.linspace(-3, 3, 20, dtype=np.float32).reshape(4, 5)
    (out,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(out, net(paddle.to_tensor(x)).numpy(), atol=1e-5, rtol=1e-6)
