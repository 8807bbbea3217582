"""Large-image strategies: the crop planner, strategy choice, and real models on a 2048x1536 photo."""
import cv2
import numpy as np
import paddle
import pytest

import ppinpaint
from ppinpaint.highres import choose, plan_crops
from ppinpaint.commands.predict import main as predict_main
from ppinpaint.predict import predict_array


class Recorder:
    """A real model whose ``infer`` calls are recorded (sizes the network actually saw)."""

    def __init__(self, model):
        self.model, self.shapes = model, []
        self.task, self.size_multiple, self.min_size = model.task, model.size_multiple, model.min_size

    def infer(self, image, mask):
        self.shapes.append(tuple(image.shape[2:]))
        return self.model.infer(image, mask)


@pytest.fixture(scope="module")
def deepfill():
    paddle.seed(0)
    return ppinpaint.build_model({"model": {"type": "DeepFillV1",
                                            "generator": {"type": "DeepFillV1Generator", "cnum": 4}}}).eval()


def _photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def test_planner_merges_overlaps_grows_and_clamps():
    mask = np.zeros((400, 600), np.uint8)
    mask[10:20, 10:30] = 1          # near the top-left border
    mask[30:40, 40:50] = 1          # overlaps the first once margins are added
    mask[300:320, 500:598] = 1      # far away, touching the right border
    boxes = plan_crops(mask, margin=16)
    assert boxes == [(0, 0, 56, 66), (284, 484, 336, 600)]
    for top, left, bottom, right in boxes:
        assert 0 <= top < bottom <= 400 and 0 <= left < right <= 600
    # A network minimum grows each crop (inside the image) instead of padding it.
    grown = plan_crops(mask, margin=16, min_size=128)
    assert all(b - t >= 128 and r - l >= 128 for t, l, b, r in grown)
    assert plan_crops(np.zeros((8, 8)), margin=4) == []


def test_planner_fits_crops_to_the_network_multiple():
    mask = np.zeros((700, 1000), np.uint8)
    mask[100:150, 100:400] = 1      # 50 x 300 (+ margins): 82 x 332 -> 256 x 512, clamped at the top-left
    mask[600:690, 900:990] = 1      # bottom-right corner: shifted inside the image
    boxes = plan_crops(mask, margin=16, min_size=256, multiple=256)
    assert boxes == [(0, 0, 256, 512), (444, 744, 700, 1000)]
    # Two holes whose fitted crops overlap become one crop, refitted to the multiple.
    near = np.zeros((700, 1000), np.uint8)
    near[300:320, 100:120] = near[300:320, 300:320] = 1
    (top, left, bottom, right), = plan_crops(near, margin=8, min_size=256, multiple=256)
    assert (top, left, bottom, right) == (182, 0, 438, 512)   # (0, 256) and (182, 438) wide: union 438 -> 512
    # An image smaller than the multiple: the crop is the whole side, the network pads the rest.
    assert plan_crops(np.ones((100, 120)), margin=4, min_size=256, multiple=256) == [(0, 0, 100, 120)]


def test_auto_picks_by_size_and_task():
    assert choose("auto", (1000, 1000), 1024, "inpainting") == "full"
    assert choose("auto", (1536, 2048), 1024, "inpainting") == "crop"
    assert choose("auto", (1536, 2048), 1024, "harmonization") == "resize"
    assert choose("resize", (10, 10), 1024, "inpainting") == "resize"
    # The budget counts the padded size the network runs at: 1030 pads to 1280 with a 256 multiple.
    assert choose("auto", (1030, 1000), 1024, "inpainting") == "full"
    assert choose("auto", (1030, 1000), 1024, "inpainting", multiple=256, min_size=256) == "crop"
    with pytest.raises(ValueError, match="strategy"):
        choose("tiles", (10, 10), 1024, "inpainting")


def test_large_photo_runs_per_hole_with_known_pixels_exact(deepfill):
    image = _photo(1536, 2048)
    mask = np.zeros((1536, 2048), np.uint8)
    for top, left in ((100, 150), (800, 1200), (1400, 1900)):
        mask[top:top + 60, left:left + 90] = 255
    mask[0:30, 2000:2048] = 255      # a hole on the border
    model = Recorder(deepfill)
    out = predict_array(model, image, mask, max_size=512, margin=32)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - image[mask > 0]).max() > 0
    # Four crops, none near full size: memory follows the holes, not the photo.
    assert len(model.shapes) == 4 and max(h * w for h, w in model.shapes) <= 256 * 256


@pytest.mark.parametrize("strategy", ["full", "crop", "resize"])
def test_each_strategy_on_an_odd_size(deepfill, strategy):
    image = _photo(301, 437, seed=1)
    mask = np.zeros((301, 437), np.uint8)
    mask[100:102, 20:400] = 255       # a thin scratch must survive the downscale
    model = Recorder(deepfill)
    out = predict_array(model, image, mask, strategy=strategy, max_size=128, margin=16)
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    largest = max(max(s) for s in model.shapes)
    # full runs the whole image; crop's one crop is wider than max_size, so it is resized too
    assert (largest <= 128 + 8) == (strategy != "full")
    assert np.array_equal(predict_array(model, image, np.zeros_like(mask), strategy=strategy), image)


@pytest.fixture(scope="module")
def rainnet():
    paddle.seed(0)
    return ppinpaint.build_model({"model": {"type": "RainNet", "generator": {"type": "RainNetGenerator", "ngf": 4}}}).eval()


def test_harmonization_resize_adds_the_foreground_change(rainnet):
    model = Recorder(rainnet)
    image = _photo(600, 520, seed=2)
    mask = np.zeros((600, 520), np.uint8)
    mask[200:420, 150:380] = 255
    out = predict_array(model, image, mask, max_size=256)       # auto -> resize for harmonization
    assert model.shapes == [(256, 256)]
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    # The full-resolution detail stays: the output minus the input is smooth (an upscaled change),
    # while the photo's own pixel noise is not (a plain resize-and-paste would have blurred it away).
    diff = out.astype(np.float32) - image
    inside = (slice(220, 400), slice(170, 360))
    assert np.abs(diff[inside]).max() > 0
    detail = cv2.Laplacian(image.astype(np.float32), cv2.CV_32F)[inside].std()
    assert cv2.Laplacian(diff, cv2.CV_32F)[inside].std() < 0.25 * detail


def test_crops_respect_a_256_multiple_with_a_real_harmonization_model(rainnet):
    model = Recorder(rainnet)
    image = _photo(600, 900, seed=3)
    mask = np.zeros((600, 900), np.uint8)
    mask[20:120, 30:200] = 255           # top-left, touching no border
    mask[500:600, 700:760] = 255         # touches the bottom border
    out = predict_array(model, image, mask, strategy="crop", margin=16)
    assert model.shapes == [(256, 256), (256, 256)]      # each crop exactly the network's size: no padding
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - image[mask > 0]).max() > 0


def test_cli_strategy_flags(tmp_path, deepfill):
    from ppinpaint.data.io import read_image, write_image

    paddle.save(deepfill.state_dict(), str(tmp_path / "w.pdparams"))
    image = _photo(200, 300)
    mask = np.zeros((200, 300), np.uint8)
    mask[50:80, 60:120] = 255
    write_image(str(tmp_path / "a.png"), image)
    write_image(str(tmp_path / "a_mask.png"), mask)
    cfg = tmp_path / "c.yml"
    cfg.write_text("model: {type: DeepFillV1, generator: {type: DeepFillV1Generator, cnum: 4}}\n"
                   "predict: {strategy: full}\n")
    assert predict_main(["-c", str(cfg), "--weights", str(tmp_path / "w.pdparams"), "--image", str(tmp_path / "a.png"),
                         "--mask", str(tmp_path / "a_mask.png"), "--output", str(tmp_path / "out"),
                         "--strategy", "crop", "--margin", "8"]) == 0
    out = read_image(str(tmp_path / "out" / "a.png"))
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    # IOPaint's spellings set the same options: a resize limit of 64 runs the hole's crop downscaled.
    assert predict_main(["-c", str(cfg), "--weights", str(tmp_path / "w.pdparams"), "--image", str(tmp_path / "a.png"),
                         "--mask", str(tmp_path / "a_mask.png"), "--output", str(tmp_path / "out2"),
                         "--strategy", "crop", "--crop-margin", "40", "--resize-limit", "64"]) == 0
    out2 = read_image(str(tmp_path / "out2" / "a.png"))
    np.testing.assert_array_equal(out2[mask == 0], image[mask == 0])
    assert not np.array_equal(out2, out)
    with pytest.raises(SystemExit):
        predict_main(["-c", str(cfg), "--weights", "w", "--image", "a", "--mask", "m", "--output", "o",
                      "--strategy", "tiles"])
