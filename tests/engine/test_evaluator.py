"""Evaluation with protocols, ratio bins, baselines and full-resolution harmonization."""
import numpy as np
import paddle
import pytest
from skimage.metrics import mean_squared_error

from ppinpaint.api import load_model
from ppinpaint.config import ConfigError
from ppinpaint.data.harmonize import HarmonizationDataset
from ppinpaint.data.quickstart import QuickstartInpainting, bundled_photos
from ppinpaint.data.synth import write_synthetic_set
from ppinpaint.engine.evaluator import build_metrics, evaluate

S2AM_TINY = ["model.generator.ngf=4", "model.generator.attention=none"]


@pytest.fixture(scope="module")
def s2am():
    paddle.seed(0)
    return load_model("configs/s2am/quickstart.yml", opts=S2AM_TINY)


def test_inpainting_evaluation_reports_hole_bins_and_telea():
    paddle.seed(0)
    model = load_model("configs/deepfill_v1/quickstart.yml",
                       opts=["model.generator.cnum=4", "model.local_discriminator.ndf=4",
                             "model.global_discriminator.ndf=4"])
    metrics = build_metrics([], "inpainting", protocol="deepfill_v1", bins=[0.0, 0.25, 1.0])
    results = evaluate(model, QuickstartInpainting(size=64, length=3), metrics, progress=False)
    assert {"l1", "l2", "tv", "telea:l1", "telea:tv"} <= set(results)
    bins = [k for k in results if k.endswith("/num_samples") and k.startswith("hole")]
    assert bins and sum(results[k] for k in bins) == 3


def test_unknown_protocol_names_the_key():
    with pytest.raises(ConfigError, match="eval .*unknown harmonization protocol 'dovenet'.*iharmony4"):
        build_metrics([], "harmonization", protocol="dovenet")
    with pytest.raises(ConfigError, match=r"eval.metrics\[0\].*edges"):
        build_metrics([{"type": "HarmonizationMetrics", "bins": [0.5, 0.1]}], "harmonization")


def test_full_resolution_harmonization_beside_256(tmp_path, s2am):
    write_synthetic_set(bundled_photos()[:2], str(tmp_path), count=2, size=300, test_fraction=1.0)
    dataset = HarmonizationDataset(str(tmp_path), split="test", size=256)
    metrics = build_metrics([], "harmonization", protocol="s2am")  # 8-bit levels exactly as read
    results = evaluate(s2am, dataset, metrics, progress=False, full_resolution=280,
                       highres={"strategy": "auto", "max_size": 1024, "margin": 64, "unrelated": 1})
    assert {"psnr", "composite:psnr", "full-res:psnr", "full-res composite:psnr",
            "full-res:Synthetic/psnr"} <= set(results)
    # the full-resolution baseline is the composite at the capped size (300 -> 280), scored by the protocol
    expected = []
    for i in range(2):
        item = dataset.original(i, 280)
        assert item["image"].shape == (280, 280, 3) and item["image"].dtype == np.uint8
        expected.append(mean_squared_error(item["image"].astype(np.float64), item["target"].astype(np.float64)))
    assert results["full-res composite:mse"] == pytest.approx(np.mean(expected), rel=1e-9)
    assert results["full-res:num_samples"] == 2


def test_full_resolution_needs_original_images(s2am):
    from ppinpaint.data.quickstart import QuickstartHarmonization

    with pytest.raises(ConfigError, match="full_resolution is for harmonization .* QuickstartHarmonization"):
        evaluate(s2am, QuickstartHarmonization(size=256, length=1), build_metrics([], "harmonization"),
                 progress=False, full_resolution=512)
