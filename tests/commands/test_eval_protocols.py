"""``ppinpaint eval --protocol`` and ``ppinpaint eval-folders --iharmony4``: one command each."""
import csv
import json
import os

import numpy as np
import paddle

from ppinpaint.api import load_model
from ppinpaint.cli import main
from ppinpaint.data.harmonize import HarmonizationDataset
from ppinpaint.data.io import write_image
from ppinpaint.data.quickstart import bundled_photos
from ppinpaint.data.synth import write_synthetic_set

TINY = ["model.generator.ngf=4", "model.generator.attention=none", "val_dataset.length=2"]


def test_eval_protocol_bins_and_baseline(tmp_path, capsys):
    paddle.seed(0)
    weights = tmp_path / "w.pdparams"
    paddle.save(load_model("configs/s2am/quickstart.yml", opts=TINY).state_dict(), str(weights))
    args = ["eval", "-c", "configs/s2am/quickstart.yml", "-o", *TINY, "--weights", str(weights)]
    assert main(args + ["--protocol", "rainnet", "--bins", "0", "0.2", "1", "--output", str(tmp_path / "a")]) == 0
    table = capsys.readouterr().out
    assert "protocol rainnet v1 (junleen/RainNet evaluate.py)" in table and "composite" in table
    data = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert data["protocol"]["name"] == "rainnet" and data["bins"]["edges"] == [0.0, 0.2, 1.0]
    assert {"psnr", "mse", "composite:psnr"} <= set(data) and "fmse" not in data
    assert any(k.startswith(("fg0-20pct/", "fg20-100pct/")) for k in data)
    from visualdl import LogReader

    all_tags = LogReader(file_path=str(next((tmp_path / "a" / "vdl").iterdir()))).get_tags()
    tags = all_tags["scalar"]
    assert "eval/psnr" in tags and "eval/composite:psnr" in tags and any("fg0-20pct" in t for t in tags)
    grids = sorted(os.listdir(tmp_path / "a" / "images"))  # the result grids are in VisualDL too
    assert grids and {f"eval/{g[:-4]}" for g in grids} == set(all_tags["image"])
    rows = list(csv.DictReader(open(tmp_path / "a" / "per_image.csv")))
    assert len(rows) == 2 and {"name", "ratio", "psnr", "composite:psnr"} <= set(rows[0])
    assert main(args + ["--protocol", "deepfill_v1", "--output", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown harmonization protocol 'deepfill_v1'" in err


def test_eval_folders_iharmony4_leaderboard_command(tmp_path, capsys):
    root, pred = tmp_path / "ihd", tmp_path / "results"
    write_synthetic_set(bundled_photos()[:2], str(root), count=2, size=64, test_fraction=1.0)
    dataset = HarmonizationDataset(str(root), split="test", size=64)
    for i, (_, name) in enumerate(dataset.items):
        target = np.floor(dataset[i]["target"].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
        write_image(str(pred / name.replace(".png", ".jpg")), target)  # a perfect method, saved as JPEG
    out = tmp_path / "out"
    assert main(["eval-folders", "--pred", str(pred), "--iharmony4", str(root), "--protocol", "iharmony4",
                 "--size", "64", "--output", str(out), "--no-progress"]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"]["follows"].startswith("bcmi/Image-Harmonization-Dataset-iHarmony4 DoveNet/test.py")
    assert data["num_samples"] == 2 and data["mse"] < data["composite:mse"]
    assert (out / "vdl").is_dir() and (out / "per_image.csv").is_file()
    capsys.readouterr()
    assert main(["eval-folders", "--pred", str(pred), "--protocol", "fmse", "--no-progress"]) == 2
    assert "give --gt" in capsys.readouterr().err
