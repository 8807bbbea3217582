import json

import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from ppinpaint.data.quickstart import bundled_photos
from ppinpaint.metrics.inpaint import InpaintingMetrics
from ppinpaint.metrics.report import format_table, write_report


def pair(seed=0, size=64):
    photo = bundled_photos()[seed][:size, :size].astype(np.float32) / 255.0
    noisy = np.clip(photo + np.random.default_rng(seed).normal(0, 0.05, photo.shape), 0, 1).astype(np.float32)
    mask = np.zeros((1, size, size), np.float32)
    mask[:, 16:40, 20:50] = 1
    return noisy.transpose(2, 0, 1)[None], photo.transpose(2, 0, 1)[None], mask[None]


def test_inpainting_metrics_match_skimage():
    out, tgt, mask = pair()
    m = InpaintingMetrics()
    m.update(out, tgt, mask)
    r = m.result()
    o, t = out[0].transpose(1, 2, 0).astype(np.float64), tgt[0].transpose(1, 2, 0).astype(np.float64)
    assert r["mse"] == pytest.approx(mean_squared_error(t, o), rel=1e-6)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(t, o, data_range=1.0), rel=1e-6)
    ref_ssim = structural_similarity(t * 255, o * 255, data_range=255, channel_axis=2, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert r["ssim"] == pytest.approx(ref_ssim, rel=1e-6)
    hole = mask[0, 0] > 0.5
    assert r["l1_hole"] == pytest.approx(np.abs(o - t)[hole].mean(), rel=1e-6)
    assert r["l1"] == pytest.approx(np.abs(o - t).mean(), rel=1e-6)


def test_report_files_and_table(tmp_path):
    results = {"mse": 1.5, "fmse": 3.0, "HCOCO/mse": 1.0, "HCOCO/fmse": 2.0, "HCOCO/num_samples": 3.0,
               "composite:mse": 4.0, "num_samples": 4.0}
    write_report(results, str(tmp_path))
    assert json.loads((tmp_path / "metrics.json").read_text())["fmse"] == 3.0
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "run,group,num_samples,fmse,mse"
    assert lines[1] == "model,all,4.0,3.0,1.5" and lines[2] == "model,HCOCO,3.0,2.0,1.0"
    assert lines[3] == "composite,all,4.0,,4.0"
    table = format_table(results)
    assert "HCOCO" in table and "composite" in table and table.splitlines()[1].split()[:3] == ["model", "all", "4"]
