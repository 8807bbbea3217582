import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quickstart_trains_evaluates_and_predicts(tmp_path):
    out = tmp_path / "qs"
    proc = subprocess.run([sys.executable, "tools/quickstart.py", "-c", "configs/s2am/quickstart.yml", "--output",
                           str(out), "-o", "train.iters=4", "train.visual_interval=2", "train.eval_interval=0",
                           "val_dataset.length=2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "quickstart finished" in proc.stdout
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert {"mse", "fmse", "psnr", "fpsnr", "ssim"} <= set(metrics) and metrics["num_samples"] == 2
    assert (out / "predict" / "sample.png").exists() and (out / "predict" / "sample_concat.png").exists()
    assert (out / "images" / "train_iter_0000004.png").exists() and os.listdir(out / "vdl")
