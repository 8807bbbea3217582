"""FID and LPIPS against pytorch-fid 0.3.0 and lpips 0.1.4 (tests/data/metrics/*/meta.json says how).

Weights: the parity recipe over the official state_dict keys (no weights are stored), except the
LPIPS lin layers, which are the lpips package's real calibration files in their torch format.
Every test goes through the converter, as a user's files would.
"""
import functools
import json
import os
import sys
import tempfile

import numpy as np
import paddle
import pytest

from parity import official_state
from ppinpaint.commands.eval import main as eval_main
from ppinpaint.convert.run import convert_file
from ppinpaint.engine.evaluator import build_metrics, evaluate
from ppinpaint.metrics.perceptual import FID, LPIPS, MetricWeightsError, frechet_distance, statistics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine"))
import tiny_gan  # noqa: E402,F401

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "metrics")


def case(folder: str, name: str) -> dict:
    return dict(np.load(os.path.join(DATA, folder, f"case_{name}.npz")))


def unit(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255.0)


@functools.lru_cache(maxsize=None)
def source_npz(folder: str) -> str:
    """The recipe weights of ``folder`` written as an .npz in the official layout (a converter source)."""
    path = os.path.join(tempfile.mkdtemp(prefix="ppinpaint_metric_"), f"{folder}.npz")
    np.savez(path, **official_state(os.path.join("metrics", folder)))
    return path


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory):
    dst = str(tmp_path_factory.mktemp("fid") / "fid_inception.pdparams")
    report = convert_file("fid_inception", [source_npz("fid_inception")], dst)
    assert report["fid_inception"]["tensors"] == 94 * 5  # conv weight + 4 BN tensors per BasicConv2d
    return dst


def lpips_weights(net: str, tmp_path) -> str:
    dst = str(tmp_path / f"lpips_{net}.pdparams")
    # the real calibration file first: the converter recognises each source by its keys
    convert_file("lpips", [os.path.join(DATA, f"lpips_{net}", f"{net}_lin_v0.1.pth"), source_npz(f"lpips_{net}")], dst)
    return dst


@pytest.mark.parametrize("dims", [64, 192, 768, 2048])
def test_inception_features_match_pytorch_fid(fid_weights, dims):
    ref = case("fid_inception", "fid")
    got = FID(weights=fid_weights, dims=dims, batch_size=4).activations(unit(ref["in/images"]))
    want = ref[f"out/act{dims}"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, np.abs(want).max()), rtol=0)


def test_frechet_distance_matches_pytorch_fid():
    ref = case("fid_inception", "fid")
    b = statistics(ref["in/fd_b"])
    for name, a in (("ab", ref["in/fd_a"]), ("cb", ref["in/fd_c"])):  # cb: singular, the eps path
        s = statistics(a)
        assert frechet_distance(s["mu"], s["sigma"], b["mu"], b["sigma"]) == pytest.approx(
            float(ref[f"out/fd_{name}"]), rel=1e-6)


def test_fid_metric_over_batches_and_with_reference_stats(fid_weights, tmp_path):
    ref = case("fid_inception", "fid")
    images = unit(ref["in/images"])
    act = ref["out/act64"].astype(np.float64)  # 64-d keeps sqrtm cheap; the 2048-d path is the same code
    fake, real = statistics(act[:3]), statistics(act[3:])
    want = frechet_distance(fake["mu"], fake["sigma"], real["mu"], real["sigma"])
    metric = FID(weights=fid_weights, dims=64)
    for i in range(3):  # one image per update: statistics over everything seen, not per batch
        metric.update(images[i:i + 1], images[3 + i:4 + i], np.zeros((1, 1, 96, 128), np.float32))
    assert metric.result()["fid"] == pytest.approx(want, rel=1e-4)
    stats = tmp_path / "real_stats.npz"
    np.savez(stats, mu=real["mu"], sigma=real["sigma"])
    with_ref = FID(weights=fid_weights, dims=64, ref_stats=str(stats))
    with_ref.update(images[:3], images[:3] * 0, None)  # targets are not used with reference statistics
    assert with_ref.result()["fid"] == pytest.approx(want, rel=1e-4)
    metric.reset()
    metric.update(images[:1], images[:1], None)
    assert np.isnan(metric.result()["fid"])  # one image has no covariance
    with pytest.raises(MetricWeightsError, match="64-d"):
        FID(weights=fid_weights, dims=192, ref_stats=str(stats))


def test_fid_reads_the_original_file_format_directly():
    ref = case("fid_inception", "fid")
    got = FID(weights=source_npz("fid_inception"), dims=64).activations(unit(ref["in/images"][:2]))
    np.testing.assert_allclose(got, ref["out/act64"][:2], atol=1e-4)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_matches_the_lpips_package(net, tmp_path):
    ref = case(f"lpips_{net}", "lpips")
    a, b = unit(ref["in/a"]), unit(ref["in/b"])
    metric = LPIPS(weights=lpips_weights(net, tmp_path), batch_size=2)
    np.testing.assert_allclose(metric.distances(a, b), ref["out/lpips"], atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(metric.distances(a, a), 0.0, atol=1e-7)
    metric.update(a, b, None, subsets=["x", "x", "y"])
    result = metric.result()
    assert result["lpips"] == pytest.approx(float(ref["out/lpips"].mean()), rel=1e-4)
    assert result["y/lpips"] == pytest.approx(float(ref["out/lpips"][2]), rel=1e-4)


def test_lpips_from_the_two_original_files(tmp_path):
    ref = case("lpips_alex", "lpips")
    backbone = tmp_path / "alexnet.npz"  # torchvision's file also holds the classifier, which LPIPS does not use
    np.savez(backbone, **official_state(os.path.join("metrics", "lpips_alex")),
             **{"classifier.6.weight": np.zeros((1000, 4096), np.float32)})
    metric = LPIPS(weights=[str(backbone), os.path.join(DATA, "lpips_alex", "alex_lin_v0.1.pth")])
    np.testing.assert_allclose(metric.distances(unit(ref["in/a"]), unit(ref["in/b"])), ref["out/lpips"], atol=1e-5)


def test_missing_or_wrong_weights_are_one_clear_error(tmp_path, fid_weights):
    for build in (FID, LPIPS):
        with pytest.raises(MetricWeightsError, match="never downloads"):
            build()
        with pytest.raises(MetricWeightsError, match="not found"):
            build(weights=str(tmp_path / "nothing.pdparams"))
    with pytest.raises(MetricWeightsError, match="holds no 'lpips' weights"):
        LPIPS(weights=fid_weights)
    with pytest.raises(MetricWeightsError, match="no backbone given"):
        LPIPS(weights=os.path.join(DATA, "lpips_alex", "alex_lin_v0.1.pth"))
    with pytest.raises(MetricWeightsError, match="not pytorch-fid's FID Inception"):
        FID(weights=source_npz("lpips_vgg"))
    with pytest.raises(MetricWeightsError, match="mis-shaped|problem"):
        LPIPS(weights=[source_npz("lpips_vgg"), os.path.join(DATA, "lpips_alex", "alex_lin_v0.1.pth")])


def test_evaluation_reports_fid_and_lpips(tmp_path, fid_weights):
    from ppinpaint.api import load_model
    from ppinpaint.data.quickstart import QuickstartInpainting

    paddle.seed(0)
    model = load_model({"model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                                  "discriminator": {"type": "TinyCritic"}}})
    metrics = build_metrics(["InpaintingMetrics", {"type": "FID", "weights": fid_weights, "dims": 64},
                             {"type": "LPIPS", "weights": lpips_weights("alex", tmp_path)}], "inpainting")
    results = evaluate(model, QuickstartInpainting(size=64, length=3), metrics, batch_size=2, progress=False)
    assert {"psnr", "fid", "lpips"} <= set(results) and results["fid"] > 0 and results["lpips"] > 0


def test_eval_tool_without_weights_says_how_to_get_them(tmp_path, capsys):
    config = tmp_path / "eval.yml"
    config.write_text("model: {type: TinyInpaintGAN, generator: {type: TinyGenerator}, "
                      "discriminator: {type: TinyCritic}}\nval_dataset: {type: QuickstartInpainting, size: 32, length: 2}\n"
                      "eval: {metrics: [InpaintingMetrics, {type: LPIPS}]}\n")
    assert eval_main(["-c", str(config), "--weights", str(tmp_path / "unused.pdparams")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "never downloads" in err and "convert_weights.py lpips" in err


def test_eval_folders_tool(tmp_path, fid_weights, capsys):
    from ppinpaint.cli import main
    from ppinpaint.data.io import write_image
    from ppinpaint.data.quickstart import bundled_photos
    from ppinpaint.metrics.inpaint import InpaintingMetrics

    photos = [p[:48, :64] for p in bundled_photos()[:3]]
    rng = np.random.default_rng(0)
    inpaint = InpaintingMetrics()
    for i, gt in enumerate(photos):
        hole = np.zeros((48, 64), np.uint8)
        hole[10:30, 5 + 10 * i:40] = 255
        result = np.where(hole[..., None] > 0, rng.integers(0, 256, gt.shape), gt).astype(np.uint8)
        write_image(str(tmp_path / "gt" / f"im{i}.jpg"), gt)  # stems pair, extensions may differ
        write_image(str(tmp_path / "pred" / f"im{i}.png"), result)
        write_image(str(tmp_path / "mask" / f"im{i}_mask.png"), np.stack([hole] * 3, -1))
        inpaint.update(result.transpose(2, 0, 1)[None] / 255.0, _read_back(tmp_path / "gt" / f"im{i}.jpg"),
                       (hole > 0)[None, None].astype(np.float32))
    stats = tmp_path / "gt_stats.npz"
    assert main(["eval-folders", "--gt", str(tmp_path / "gt"), "--fid-weights", fid_weights, "--fid-dims", "64",
                 "--save-fid-stats", str(stats), "--no-progress"]) == 0
    args = ["eval-folders", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--no-progress",
            "--fid-weights", fid_weights, "--fid-dims", "64"]
    assert main(args + ["--mask", str(tmp_path / "mask"), "--lpips-weights", lpips_weights("alex", tmp_path),
                        "--output", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    for key, value in inpaint.result().items():
        assert report[key] == pytest.approx(value, rel=1e-6), key
    assert report["num_samples"] == 3 and report["lpips"] > 0
    assert main(args + ["--fid-stats", str(stats)]) == 0  # same statistics as --gt gives
    assert "fid" in capsys.readouterr().out
    os.remove(tmp_path / "gt" / "im2.jpg")
    assert main(args) == 2
    assert "no ground truth" in capsys.readouterr().err


def _read_back(path) -> np.ndarray:
    from ppinpaint.data.io import read_image

    return read_image(str(path)).transpose(2, 0, 1)[None] / 255.0
