"""Hostile or mistaken input gets one message naming the key or file: predict never destroys input."""
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import paddle
import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine"))
import tiny_gan  # noqa: E402,F401

from ppinpaint.api import load_model  # noqa: E402
from ppinpaint.commands.infer import main as infer_main  # noqa: E402
from ppinpaint.commands.predict import main as predict_main  # noqa: E402
from ppinpaint.commands.train import main as train_main  # noqa: E402
from ppinpaint.config import Config, ConfigError  # noqa: E402
from ppinpaint.data.io import InputError, read_image, read_mask, set_max_image_pixels  # noqa: E402
from ppinpaint.export import ExportError, check_export_shape, read_deploy  # noqa: E402
from ppinpaint.predict import predict_paths  # noqa: E402
from ppinpaint.utils.weight_files import save_weights  # noqa: E402

CFG = {"model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                 "discriminator": {"type": "TinyCritic"}}}


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return load_model(CFG)


def write(path, array):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return str(path)


def photo(seed=0, size=(24, 32)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def hole(size=(24, 32)):
    mask = np.zeros(size, np.uint8)
    mask[4:12, 6:20] = 255
    return mask


# ---- predict never destroys input ----------------------------------------------------------------
def test_output_folder_equal_to_the_input_folder_is_refused_before_writing(tmp_path, model):
    image = write(tmp_path / "in" / "a.png", photo())
    mask = write(tmp_path / "m.png", hole())
    before = open(image, "rb").read()
    with pytest.raises(InputError, match=r"refusing to write .*a\.png: it is the input file"):
        predict_paths(model, str(tmp_path / "in"), mask, str(tmp_path / "in"))
    assert open(image, "rb").read() == before and os.listdir(tmp_path / "in") == ["a.png"]


def test_inputs_sharing_a_stem_get_distinct_results(tmp_path, model):
    write(tmp_path / "in" / "a.png", photo(1))
    write(tmp_path / "in" / "a.jpg", photo(2))
    write(tmp_path / "in" / "b.png", photo(3))
    report = predict_paths(model, str(tmp_path / "in"), write(tmp_path / "m.png", hole()), str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path / "out")) == ["a_jpg.png", "a_png.png", "b.png"]
    assert len(report.written) == 3 and report.exit_code == 0


def test_a_bad_file_is_skipped_counted_and_reflected_in_the_exit_status(tmp_path, model, capsys):
    write(tmp_path / "in" / "a.png", photo(1))
    (tmp_path / "in" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
    write(tmp_path / "in" / "c.png", photo(3))
    mask = write(tmp_path / "m.png", hole())
    weights = str(tmp_path / "w.safetensors")
    save_weights(weights, {k: {n: v.numpy() for n, v in sd.items()} for k, sd in model.state_dict().items()})
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump(CFG))
    code = predict_main(["-c", str(cfg), "--weights", weights, "--image", str(tmp_path / "in"), "--mask", mask,
                         "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1 and "wrote 2 result(s)" in out and "1 input(s) failed" in out and "b.png" in out
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "c.png"]


# ---- config values -----------------------------------------------------------------------------
@pytest.mark.parametrize("opt, key", [
    ("train.batch_size=0", "train.batch_size"), ("train.iters=abc", "train.iters"), ("train.iters=-5", "train.iters"),
    ("train.iters=2.5", "train.iters"), ("train.num_workers=-1", "train.num_workers"),
    ("eval.batch_size=0", "eval.batch_size"), ("predict.max_size=0", "predict.max_size"),
])
def test_bad_integer_values_name_the_key_and_the_option(tmp_path, opt, key):
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump(CFG))
    with pytest.raises(ConfigError, match=rf"{key} must be an integer.*-o {opt}"):
        Config(str(cfg), [opt])


def test_batch_size_zero_exits_with_a_message_instead_of_hanging(tmp_path, capsys):
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump(CFG))
    assert train_main(["-c", str(cfg), "-o", "train.batch_size=0", "--output", str(tmp_path / "run")]) == 2
    assert "train.batch_size must be an integer >= 1" in capsys.readouterr().err


def test_yaml_1_1_exponents_are_numbers(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump(CFG) + "optimizers:\n  generator: {type: Adam, nets: [generator], learning_rate: 2e-4}\n")
    c = Config(str(cfg), ["optimizers.generator.beta1=5e-1", "train.iters=1e3"])
    assert c["optimizers"]["generator"]["learning_rate"] == 2e-4 and c["optimizers"]["generator"]["beta1"] == 0.5
    assert c.section("train")["iters"] == 1000


def test_base_must_be_paths(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("_base_: [1]\n" + yaml.safe_dump(CFG))
    with pytest.raises(ConfigError, match=r"c\.yml: _base_ must be a path or a list of paths"):
        Config(str(cfg))


# ---- image files -------------------------------------------------------------------------------
def png_claiming(width, height):
    """A valid PNG signature and IHDR claiming ``width`` x ``height``, with one tiny IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(50000, 50000))
    with pytest.raises(InputError, match=r"huge\.png is 50000x50000 = 2,500,000,000 pixels, more than the limit"):
        read_image(str(path))
    small = write(tmp_path / "small.png", photo())
    set_max_image_pixels(100)
    try:
        with pytest.raises(InputError, match="small.png is 32x24"):
            read_mask(small)
    finally:
        set_max_image_pixels(None)


def test_exif_orientation_is_applied_to_images_and_masks_alike(tmp_path):
    from PIL import Image

    pixels = photo(5, (16, 24))
    mask = np.zeros((16, 24), np.uint8)
    mask[:4, :6] = 255  # top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "a.jpg", exif=exif, quality=100)
    Image.fromarray(mask).save(tmp_path / "m.png", exif=exif)
    shown = np.asarray(Image.open(tmp_path / "m.png").transpose(Image.Transpose.ROTATE_270))
    got_mask = read_mask(str(tmp_path / "m.png"))
    assert got_mask.shape == (24, 16)
    np.testing.assert_array_equal(got_mask, (shown >= 128).astype(np.float32))
    assert read_image(str(tmp_path / "a.jpg")).shape == (24, 16, 3)


# ---- exported models ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ("{{{ not yaml", "not valid YAML"), ("- a list\n", "not a deploy.yml mapping"),
    ("task: inpainting\nsize_multiple: abc\nmin_size: 0\n", "size_multiple must be an integer"),
    ("task: painting\nsize_multiple: 8\nmin_size: 0\n", "task must be"),
])
def test_garbled_deploy_yml_is_one_message(tmp_path, capsys, text, problem):
    (tmp_path / "deploy.yml").write_text(text)
    with pytest.raises(ExportError, match=problem):
        read_deploy(str(tmp_path))
    code = infer_main(["--model-dir", str(tmp_path), "--image", "x.png", "--mask", "m.png", "--output", "o"])
    assert code == 2 and problem in capsys.readouterr().err


def test_export_size_the_model_cannot_take_is_refused():
    from ppinpaint.api import build_model

    rainnet = build_model("configs/rainnet/quickstart.yml", ["model.generator.ngf=8"])
    with pytest.raises(ExportError, match=r"--size 100 100: RainNet takes sides that are multiples of 256 .*--size 256 256"):
        check_export_shape(rainnet, None, (100, 100))
    check_export_shape(rainnet, None, (256, 512))


def test_onnx_backend_without_onnxruntime_is_one_message(tmp_path, monkeypatch, capsys):
    (tmp_path / "deploy.yml").write_text("task: inpainting\nsize_multiple: 8\nmin_size: 0\n")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as when it is not installed
    code = infer_main(["--model-dir", str(tmp_path), "--backend", "onnx", "--image", "x.png", "--mask", "m.png",
                       "--output", "o"])
    assert code == 2 and "the onnx backend needs onnxruntime, which is not installed" in capsys.readouterr().err


def test_damaged_program_or_parameters_are_one_message(tmp_path):
    import shutil

    from ppinpaint.export import export_model
    from ppinpaint.inference import PaddlePredictor

    export_model(load_model("configs/deepfill_v1/quickstart.yml", opts=["model.generator.cnum=4"]), str(tmp_path / "ok"))
    for name, content in (("model.json", b"{garbage"), ("model.pdiparams", bytes(range(256)) * 4)):
        bad = tmp_path / name
        shutil.copytree(tmp_path / "ok", bad)
        (bad / name).write_bytes(content)
        with pytest.raises(ExportError, match=rf"cannot load the exported model .*{name}.*re-export"):
            PaddlePredictor(str(bad), device="cpu")


@pytest.mark.parametrize("backend, module", [("onnx", "onnxruntime"), ("openvino", "openvino")])
def test_damaged_onnx_file_is_one_message(tmp_path, backend, module):
    from ppinpaint.inference import load_predictor

    pytest.importorskip(module)
    (tmp_path / "deploy.yml").write_text("task: inpainting\nsize_multiple: 8\nmin_size: 0\n")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07garbage" * 64)
    with pytest.raises(ExportError, match=r"cannot load .*model\.onnx: .*re-export with --onnx"):
        load_predictor(str(tmp_path), backend)


def test_a_result_written_twice_is_refused_before_writing(tmp_path, model):
    write(tmp_path / "in" / "a.png", photo(1))
    write(tmp_path / "in" / "a_concat.png", photo(2))  # its result would be a.png's side-by-side file
    with pytest.raises(InputError, match=r"two results would be written to .*a_concat\.png"):
        predict_paths(model, str(tmp_path / "in"), write(tmp_path / "m.png", hole()), str(tmp_path / "out"),
                      concat=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("opt, message", [
    ("model.generator.cnum=abc", r"model\.generator\.cnum must be an integer, got 'abc' \(set in -o model\.generator\.cnum=abc\)"),
    ("model.generator.cnum=2.5", r"model\.generator\.cnum must be an integer, got 2\.5"),
    ("model.generator.cnum=-4", r"model\.generator \(DeepFillV1Generator, set in .*\) cannot be built"),
])
def test_bad_constructor_values_name_the_key(opt, message):
    from ppinpaint.api import build_model

    with pytest.raises(ConfigError, match=message):
        build_model("configs/deepfill_v1/quickstart.yml", [opt])
    assert build_model("configs/deepfill_v1/quickstart.yml", ["model.generator.cnum=4e0"]).nets["generator"]
