import numpy as np
import pytest

from ppinpaint.data.harmonize import HarmonizationDataset, triplet_paths
from ppinpaint.data.inpaint import InpaintingDataset
from ppinpaint.data.io import write_image
from ppinpaint.data.masks import CenterMask
from ppinpaint.data.quickstart import QuickstartHarmonization, QuickstartInpainting, bundled_photos
from ppinpaint.data.synth import write_synthetic_set


def test_quickstart_items_are_seeded_and_well_formed():
    ds = QuickstartInpainting(size=64, length=6)
    a, b = ds[(2, 11)], ds[(2, 11)]
    np.testing.assert_array_equal(a["image"], b["image"])
    assert a["image"].shape == (3, 64, 64) and a["image"].dtype == np.float32 and 0 <= a["image"].min()
    assert a["mask"].shape == (1, 64, 64) and a["mask"].sum() > 0 and a["bbox"].shape == (4,)
    assert not np.array_equal(ds[(2, 12)]["mask"], a["mask"]) or not np.array_equal(ds[(2, 12)]["image"], a["image"])
    h = QuickstartHarmonization(size=64, length=4)[1]
    fg = h["mask"][0] > 0.5
    np.testing.assert_array_equal(h["image"][:, ~fg], h["target"][:, ~fg])  # background untouched
    assert np.abs(h["image"][:, fg] - h["target"][:, fg]).mean() > 0.01   # foreground perturbed
    with pytest.raises(IndexError):
        ds[6]


def test_synthetic_set_reads_back_through_the_iharmony4_loader(tmp_path):
    photos = bundled_photos()[:2]
    names = write_synthetic_set(photos, str(tmp_path), name="HSynth", count=5, size=64, test_fraction=0.4)
    assert len(names) == 5
    test = HarmonizationDataset(str(tmp_path), split="test", size=64)
    train = HarmonizationDataset(str(tmp_path), subsets=["HSynth"], split="train", size=64)
    assert len(test) == 2 and len(train) == 3
    item = train[0]
    assert item["subset"] == "HSynth" and item["image"].shape == (3, 64, 64)
    fg = item["mask"][0] > 0.5
    np.testing.assert_array_equal(item["image"][:, ~fg], item["target"][:, ~fg])


def test_iharmony4_names_including_day2night(tmp_path):
    comp, mask, real = triplet_paths("/d/Hday2night", "d90000001-10_1_2.jpg")
    assert mask.endswith("masks/d90000001-10_1.png") and real.endswith("real_images/d90000001-10.jpg")
    assert comp.endswith("composite_images/d90000001-10_1_2.jpg")
    with pytest.raises(ValueError, match="not an iHarmony4"):
        triplet_paths("/d/HCOCO", "plain.jpg")
    with pytest.raises(FileNotFoundError, match="HCOCO_train.txt"):
        HarmonizationDataset(str(tmp_path), subsets=["HCOCO"])


def test_inpainting_folder_with_mask_folder_and_generator(tmp_path):
    for i in range(3):
        write_image(str(tmp_path / "img" / f"{i}.jpg"), np.full((40, 50, 3), 60 * i, np.uint8))
    m = np.zeros((40, 50, 3), np.uint8)
    m[10:20, 10:30] = 255
    write_image(str(tmp_path / "masks" / "m.png"), m)
    ds = InpaintingDataset(str(tmp_path / "img"), mask_dir=str(tmp_path / "masks"), size=32, resize="resize")
    item = ds[1]
    assert item["image"].shape == (3, 32, 32) and item["mask"].sum() > 0
    ds2 = InpaintingDataset(str(tmp_path / "img"), mask=CenterMask(size=8), size=32, resize="center_crop")
    assert ds2[0]["mask"].sum() == 64
    with pytest.raises(ValueError, match="needs a 'mask'"):
        InpaintingDataset(str(tmp_path / "img"))


def test_make_synthetic_tool(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "tools/make_synthetic.py", "--output", str(tmp_path), "--count", "5",
                           "--size", "32"], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(HarmonizationDataset(str(tmp_path), split="train", size=32)) == 4
    again = subprocess.run([sys.executable, "tools/make_synthetic.py", "--output", str(tmp_path), "--count", "5",
                            "--size", "32"], cwd=root, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    assert len(HarmonizationDataset(str(tmp_path), split="train", size=32)) == 4  # rewritten, not appended


def test_crop_policy_keeps_the_native_scale():
    # DeepFill's official loaders crop a size x size window without rescaling (smaller images: upscaled).
    from ppinpaint.data.transforms import crop_box

    rng = np.random.default_rng(0)
    boxes = [crop_box(300, 500, 256, "crop", rng) for _ in range(50)]
    assert all(side == 256 and 0 <= t <= 44 and 0 <= l <= 244 for t, l, side in boxes)
    assert len({(t, l) for t, l, _ in boxes}) > 10
    assert crop_box(200, 400, 256, "crop", rng)[2] == 200
    assert {crop_box(300, 500, 256, "random_crop", rng)[2] for _ in range(20)} != {256}   # scale augmentation
