import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


CASES = {  # config, tiny-width overrides, metrics its task reports
    "s2am": ("configs/s2am/quickstart.yml", [], {"mse", "fmse", "psnr", "composite:psnr"}),
    "deepfill_v1": ("configs/deepfill_v1/quickstart.yml",
                    ["model.generator.cnum=4", "model.local_discriminator.ndf=4", "model.global_discriminator.ndf=4"],
                    {"l1", "mse", "psnr", "ssim", "psnr_hole", "telea:psnr"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_quickstart_trains_evaluates_and_predicts(tmp_path, name):
    config, widths, keys = CASES[name]
    out = tmp_path / "qs"
    proc = subprocess.run([sys.executable, "tools/quickstart.py", "-c", config, "--output",
                           str(out), "-o", "train.iters=4", "train.visual_interval=2", "train.eval_interval=0",
                           "val_dataset.length=2", *widths], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "quickstart finished" in proc.stdout
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert keys <= set(metrics) and metrics["num_samples"] == 2
    assert (out / "predict" / "sample.png").exists() and (out / "predict" / "sample_concat.png").exists()
    assert (out / "images" / "train_iter_0000004.png").exists() and os.listdir(out / "vdl")
