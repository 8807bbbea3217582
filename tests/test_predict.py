import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "engine"))
import tiny_gan  # noqa: E402,F401

from ppinpaint.api import load_model  # noqa: E402
from ppinpaint.data.io import InputError, read_image, write_image  # noqa: E402
from ppinpaint.data.io import pair_files  # noqa: E402
from ppinpaint.predict import predict_array  # noqa: E402
from ppinpaint.utils.grid import GAP, HEADER  # noqa: E402

CFG = {"model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                 "discriminator": {"type": "TinyCritic"}}}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return load_model(CFG)


def test_any_size_keeps_size_and_known_pixels(model):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mask = np.zeros((37, 53), np.uint8)
    mask[5:20, 7:30] = 255
    out = predict_array(model, image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    assert not np.array_equal(out[mask > 0], image[mask > 0])
    np.testing.assert_array_equal(predict_array(model, image, np.zeros((37, 53))), image)  # empty mask
    with pytest.raises(InputError, match="must match"):
        predict_array(model, image, mask[:-1])


def test_soft_mask_blends_and_rgba_gray_inputs(model):
    image = np.full((16, 16, 4), 100, np.uint8)
    image[..., 3] = 255
    mask = np.full((16, 16), 0.25, np.float32)
    with pytest.warns(UserWarning, match="alpha"):
        hard = predict_array(model, image, mask)
    np.testing.assert_array_equal(hard, np.full((16, 16, 3), 100))  # 0.25 < 0.5: nothing to fill
    with pytest.warns(UserWarning):
        soft = predict_array(model, image, mask, soft_mask=True)
    assert soft.shape == (16, 16, 3)
    assert predict_array(model, np.full((9, 9), 30, np.uint8), np.ones((9, 9))).shape == (9, 9, 3)


def test_folder_pairing(tmp_path):
    for stem in ("a", "b"):
        write_image(str(tmp_path / "img" / f"{stem}.png"), np.zeros((8, 8, 3), np.uint8))
        write_image(str(tmp_path / "msk" / f"{stem}_mask.png"), np.zeros((8, 8, 3), np.uint8))
    pairs = pair_files(str(tmp_path / "img"), str(tmp_path / "msk"))
    assert [os.path.basename(m) for _, m in pairs] == ["a_mask.png", "b_mask.png"]
    single = pair_files(str(tmp_path / "img"), str(tmp_path / "msk" / "a_mask.png"))
    assert len(single) == 2
    os.remove(tmp_path / "msk" / "b_mask.png")
    with pytest.raises(InputError, match="no mask"):
        pair_files(str(tmp_path / "img"), str(tmp_path / "msk"))


def test_predict_tool_end_to_end(tmp_path, model):
    weights = tmp_path / "w.pdparams"
    paddle.save(model.state_dict(), str(weights))
    cfg = tmp_path / "tiny.yml"
    cfg.write_text("model: {type: TinyInpaintGAN, generator: {type: TinyGenerator}, discriminator: {type: TinyCritic}}\n")
    photo = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    write_image(str(tmp_path / "in" / "x.png"), photo)
    m = np.zeros((20, 30, 3), np.uint8)
    m[4:12, 4:20] = 255
    write_image(str(tmp_path / "x_mask.png"), m)
    script = ("import sys; sys.path[:0]=[{!r},{!r}]; import tiny_gan; from ppinpaint.commands.predict import main; "
              "sys.exit(main(sys.argv[1:]))").format(os.path.join(ROOT, "tests", "engine"), ROOT)
    proc = subprocess.run([sys.executable, "-c", script, "-c", str(cfg), "--weights", str(weights), "--image",
                           str(tmp_path / "in"), "--mask", str(tmp_path / "x_mask.png"), "--output",
                           str(tmp_path / "out"), "--concat"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = read_image(str(tmp_path / "out" / "x.png"))
    assert out.shape == photo.shape
    np.testing.assert_array_equal(out[m[..., 0] == 0], photo[m[..., 0] == 0])
    side = read_image(str(tmp_path / "out" / "x_concat.png"))
    assert side.shape == (HEADER + GAP + 20, 3 * 30 + 2 * GAP, 3)  # titled input | mask | output
    shown = side[HEADER + GAP:, :30]
    assert (shown[m[..., 0] > 0] == 255).all()  # the hole drawn white, as in every grid
    np.testing.assert_array_equal(shown[m[..., 0] == 0], photo[m[..., 0] == 0])
    np.testing.assert_array_equal(side[HEADER + GAP:, 2 * (30 + GAP):], out)
    bad = subprocess.run([sys.executable, "-c", script, "-c", str(cfg), "--weights", str(tmp_path / "none.pdparams"),
                          "--image", str(tmp_path / "in"), "--mask", str(tmp_path / "x_mask.png"), "--output",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "weights not found" in bad.stderr and "Traceback" not in bad.stderr
