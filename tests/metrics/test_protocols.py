"""Golden values: each protocol on fixed small triples equals the official script's computation,
rewritten here from its definition (skimage where the official script calls it)."""
import csv
import json
import os

import cv2
import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from ppinpaint.metrics.harmonize import HarmonizationMetrics
from ppinpaint.metrics.inpaint import InpaintingMetrics
from ppinpaint.metrics.means import RatioBins
from ppinpaint.metrics.protocols import PIX2PIX_ROUND_TRIP, PROTOCOLS, get_protocol
from ppinpaint.metrics.report import format_table, split_key, write_report

H, W = 12, 16


def triple(seed: int = 0, fg: tuple = (slice(2, 8), slice(3, 11))):
    """A fixed (output, target, mask, input): the output float32 in [0, 1] as a model emits it, the
    target as its 8-bit file, the input an 8-bit composite divided by 255 as a loader gives it."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, (1, 3, H, W)).astype(np.uint8)
    output = np.clip(target / 255.0 + rng.normal(0, 0.06, target.shape), 0, 1).astype(np.float32)
    mask = np.zeros((1, 1, H, W), np.float32)
    mask[0, 0][fg] = 1.0
    image = (np.clip(target + 51.0 * mask, 0, 255).astype(np.uint8) / np.float32(255.0)).astype(np.float32)
    return output, target, mask, image


def hwc(x):
    return x[0].transpose(1, 2, 0)


def unit(x):
    """HWC float64 in [0, 1]."""
    return hwc(x).astype(np.float64) / (255.0 if x.dtype == np.uint8 else 1.0)


def u8(x):
    """The 8-bit levels of a loaded image (uint8, or divided by 255)."""
    return hwc(x) if x.dtype == np.uint8 else np.rint(hwc(x).astype(np.float64) * 255).astype(np.uint8)


def tensor2im(x):
    """pix2pix's ``tensor2im`` on a network output in [0, 1]: float32 x 255 cast to uint8 (truncation)."""
    return (hwc(x).astype(np.float32) * np.float32(255.0)).astype(np.uint8)


def pix2pix_loaded(x):
    """An 8-bit image through DoveNet's / RainNet's loader (ToTensor, Normalize(0.5, 0.5)) and then
    ``tensor2im`` ((t + 1) / 2 * 255, cast to uint8), all in float32 as torch and numpy compute it."""
    t = (u8(x).astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    return ((t + np.float32(1.0)) / np.float32(2.0) * np.float32(255.0)).astype(np.uint8)


def one(metric_cls, protocol, output, target, mask, image):
    m = metric_cls(protocol=protocol)
    m.update(output, target, mask, image=image)
    return m.result()


@pytest.mark.parametrize("seed", [0, 1])
def test_iharmony4_is_dovenet_test_py(seed):
    output, target, mask, image = triple(seed)
    r = one(HarmonizationMetrics, "iharmony4", output, target, mask, image)
    out = np.array(tensor2im(output), dtype=np.float32)
    real = np.array(pix2pix_loaded(target), dtype=np.float32)
    assert r["mse"] == pytest.approx(mean_squared_error(out, real), rel=1e-9)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(real, out, data_range=out.max() - out.min()), rel=1e-9)
    # evaluation.py: mse(comp*mask, real*mask) * 256*256 / fore_area, at this image's H*W
    m = mask[0, 0][:, :, None]
    assert r["fmse"] == pytest.approx(mean_squared_error(out * m, real * m) * H * W / m.sum(), rel=1e-9)


def test_s2am_composites_then_quantises():
    output, target, mask, image = triple(2)
    r = one(HarmonizationMetrics, "s2am", output, target, mask, image)
    m = mask[0].transpose(1, 2, 0)
    comp = hwc(image) * (1 - m) + hwc(output) * m  # torch float32 on [0, 1]
    out = np.clip(comp * np.float32(255), 0, 255).astype(np.uint8)
    tgt = np.clip((u8(target) / np.float32(255.0)) * np.float32(255), 0, 255).astype(np.uint8)
    assert r["mse"] == pytest.approx(mean_squared_error(out, tgt), rel=1e-9)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(tgt, out, data_range=int(out.max()) - int(out.min())),
                                      rel=1e-9)
    with pytest.raises(ValueError, match="s2am protocol composites"):
        HarmonizationMetrics(protocol="s2am").update(output, target, mask)


def test_rainnet_is_evaluate_py_with_its_csv_ratio(tmp_path):
    output, target, mask, image = triple(3)
    m = HarmonizationMetrics(protocol="rainnet")
    m.update(output, target, mask, image=image, names=["a.jpg"])
    r = m.result()
    pred, real = tensor2im(output), pix2pix_loaded(target)
    assert r["mse"] == pytest.approx(mean_squared_error(pred, real), rel=1e-9)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(pred, real), rel=1e-9)  # uint8: peak 255
    write_report(r, str(tmp_path), [m])
    row = next(csv.DictReader(open(tmp_path / "per_image.csv")))
    assert row["name"] == "a.jpg" and float(row["ratio"]) == pytest.approx(mask.mean())


def test_fmse_protocol_is_idih_metrics_with_cdtnet_fpsnr():
    output, target, mask, image = triple(4)
    r = one(HarmonizationMetrics, "fmse", output, target, mask, image)
    pred, gt = unit(output) * 255, unit(target) * 255
    msk = mask[0, 0]
    diff = msk[:, :, None] * (pred - gt) ** 2
    fmse = diff.sum() / (3 * msk.sum() + 1e-6)
    mse = ((pred - gt) ** 2).mean()
    assert r["mse"] == pytest.approx(mse, rel=1e-6) and r["fmse"] == pytest.approx(fmse, rel=1e-6)
    assert r["psnr"] == pytest.approx(10 * np.log10(gt.max() ** 2 / (mse + 1e-6)), rel=1e-6)
    assert r["fpsnr"] == pytest.approx(10 * np.log10(gt.max() ** 2 / (fmse + 1e-6)), rel=1e-6)


def test_deepfill_v1_percentages():
    output, target, mask, image = triple(5)
    r = one(InpaintingMetrics, "deepfill_v1", output, target, mask, image)
    o, t = unit(output), unit(target)
    # tf.image.total_variation: sum of |neighbour differences| down and across, all channels
    tv = sum(abs(o[i + 1, j, c] - o[i, j, c]) for i in range(H - 1) for j in range(W) for c in range(3)) + \
        sum(abs(o[i, j + 1, c] - o[i, j, c]) for i in range(H) for j in range(W - 1) for c in range(3))
    assert r["l1"] == pytest.approx(100 * np.abs(o - t).mean(), rel=1e-9)
    assert r["l2"] == pytest.approx(100 * ((o - t) ** 2).mean(), rel=1e-9)
    assert r["tv"] == pytest.approx(100 * tv / o.size, rel=1e-9)


def test_pixel_protocol_matches_skimage():
    output, target, mask, image = triple(6, fg=(slice(0, 12), slice(0, 8)))
    r = one(InpaintingMetrics, "pixel", output, target, mask, image)
    o, t = unit(output), unit(target)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(t, o, data_range=1.0), rel=1e-9)
    ref = structural_similarity(t * 255, o * 255, data_range=255, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert r["ssim"] == pytest.approx(ref, rel=1e-9)
    hole = mask[0, 0] > 0.5
    assert r["mse_hole"] == pytest.approx(((o - t) ** 2)[hole].mean(), rel=1e-9)


def test_conventions_drift_on_one_triple():
    """The README's statement: on this triple (output spanning 0-200), the PSNR of the same pixels
    differs by 20*log10(255/200) = 2.11 dB between peak 255 (rainnet) and the output's range
    (iharmony4), and truncation vs float (fmse) moves the MSE too."""
    rng = np.random.default_rng(7)
    target = rng.integers(0, 201, (1, 3, H, W)).astype(np.uint8)
    target[0, :, 0, 0], target[0, :, 0, 1] = 0, 200
    output = (target / 255.0).astype(np.float32)
    output[0, :, 4:8, 4:8] = np.clip(output[0, :, 4:8, 4:8] + 0.05, 0, 200 / 255.0)
    mask = np.zeros((1, 1, H, W), np.float32)
    mask[0, 0, 2:10, 2:10] = 1.0
    rows = {p: one(HarmonizationMetrics, p, output, target, mask, output) for p in ("iharmony4", "rainnet", "fmse")}
    drift = rows["rainnet"]["psnr"] - rows["iharmony4"]["psnr"]
    assert drift == pytest.approx(20 * np.log10(255 / 200), rel=1e-9) and round(drift, 2) == 2.11
    assert rows["iharmony4"]["mse"] == rows["rainnet"]["mse"]
    assert rows["fmse"]["mse"] != pytest.approx(rows["rainnet"]["mse"], rel=1e-3)


def test_protocol_names_tasks_and_versions():
    assert {"iharmony4", "s2am", "rainnet", "fmse", "deepfill_v1", "pixel"} <= set(PROTOCOLS)
    assert all(p.version >= 1 and p.follows for p in PROTOCOLS.values())
    with pytest.raises(ValueError, match="choose one of fmse, iharmony4, rainnet, s2am"):
        get_protocol("deepfill_v1", "harmonization")
    assert HarmonizationMetrics().protocol.name == "iharmony4" and InpaintingMetrics().protocol.name == "pixel"
    # the docs' statement: the pix2pix loader's float32 round trip loses 63 of the 256 levels, by one
    lost = PIX2PIX_ROUND_TRIP != np.arange(256)
    assert lost.sum() == 63 and np.all(np.arange(256)[lost] - PIX2PIX_ROUND_TRIP[lost] == 1)


def test_ratio_bins_and_grouped_means():
    bins = RatioBins((0.0, 0.05, 0.15, 1.0), "fg")
    assert bins.labels == ["fg0-5pct", "fg5-15pct", "fg15-100pct"]
    labels = [bins.label(x) for x in (0.0, 0.0499, 0.05, 0.15, 1.0)]
    assert labels == ["fg0-5pct", "fg0-5pct", "fg5-15pct", "fg15-100pct", "fg15-100pct"]
    assert RatioBins((0.0, 0.1, 0.2), "hole").label(0.5) is None
    with pytest.raises(ValueError, match="increasing"):
        RatioBins((0.1, 0.05), "fg")
    m = HarmonizationMetrics(protocol="rainnet")
    scores = []
    for seed, subset, fg in ((0, "HCOCO", (slice(0, 2), slice(0, 4))), (1, "HCOCO", (slice(0, 12), slice(0, 8))),
                             (2, "HFlickr", (slice(0, 12), slice(0, 6)))):
        output, target, mask, image = triple(seed, fg)
        m.update(output, target, mask, subsets=[subset], image=image)
        scores.append(peak_signal_noise_ratio(tensor2im(output), pix2pix_loaded(target)))
    r = m.result()
    assert r["fg0-5pct/num_samples"] == 1 and r["fg15-100pct/num_samples"] == 2 and "fg5-15pct/psnr" not in r
    assert r["fg15-100pct/psnr"] == pytest.approx(np.mean(scores[1:]), rel=1e-9)
    assert r["HCOCO fg15-100pct/psnr"] == pytest.approx(scores[1], rel=1e-9)
    assert r["psnr"] == pytest.approx(np.mean(scores), rel=1e-9)  # over images, not over group means


def test_baselines_composite_and_telea():
    output, target, mask, image = triple(8)
    r = one(HarmonizationMetrics, "rainnet", output, target, mask, image)
    assert r["composite:psnr"] == pytest.approx(
        peak_signal_noise_ratio(pix2pix_loaded(image), pix2pix_loaded(target)), rel=1e-9)
    r = one(InpaintingMetrics, "pixel", output, target, mask, image)
    telea = cv2.inpaint(u8(image), mask[0, 0].astype(np.uint8), 3,
                        cv2.INPAINT_TELEA).astype(np.float64) / 255
    assert r["telea:psnr"] == pytest.approx(peak_signal_noise_ratio(unit(target), telea,
                                                                    data_range=1.0), rel=1e-9)
    assert "composite:psnr" not in one(HarmonizationMetrics, None, output, target, mask, None)
    no_base = HarmonizationMetrics(baseline=False)
    no_base.update(output, target, mask, image=image)
    assert not any(k.startswith("composite:") for k in no_base.result())


def test_report_records_protocol_runs_and_groups(tmp_path):
    output, target, mask, image = triple(9)
    m = HarmonizationMetrics()
    m.update(output, target, mask, subsets=["HCOCO"], image=image)
    results = {**m.result(), "num_samples": 1.0}
    write_report(results, str(tmp_path), [m])
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["protocol"]["name"] == "iharmony4" and data["protocol"]["version"] == 1
    assert data["bins"]["edges"] == [0.0, 0.05, 0.15, 1.0] and data["baseline"] == "composite"
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    groups = [(r["run"], r["group"]) for r in rows]
    assert groups[:3] == [("model", "all"), ("model", "HCOCO"), ("model", "fg15-100pct")]
    assert ("composite", "all") in groups
    table = format_table(results, [m])
    assert table.startswith("protocol iharmony4 v1") and "composite" in table
    assert split_key("full-res composite:HCOCO fg0-5pct/psnr") == ("full-res composite", "HCOCO fg0-5pct", "psnr")
    assert split_key("psnr") == ("model", "all", "psnr")


def test_iharmony4_results_folder(tmp_path):
    """A results folder named by composite, scored against the test split, per subset."""
    from ppinpaint.data.harmonize import HarmonizationDataset
    from ppinpaint.data.io import InputError, write_image
    from ppinpaint.data.quickstart import bundled_photos
    from ppinpaint.data.synth import write_synthetic_set
    from ppinpaint.metrics.folders import evaluate_iharmony4

    root, pred = tmp_path / "ihd", tmp_path / "results"
    write_synthetic_set(bundled_photos()[:2], str(root), count=3, size=80, test_fraction=1.0)
    dataset = HarmonizationDataset(str(root), split="test", size=64)
    for i, (_, name) in enumerate(dataset.items):
        write_image(str(pred / (name.rsplit(".", 1)[0] + ".png")),
                    np.floor(dataset[i]["image"].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    # fmse: no loader round trip, so a result file equal to the composite scores as the composite does
    m = HarmonizationMetrics(protocol="fmse")
    r = evaluate_iharmony4(str(pred), str(root), [m], size=64, progress=False)
    assert r["num_samples"] == 3 and r["Synthetic/num_samples"] == 3
    for key in ("mse", "psnr", "fmse", "fpsnr", "Synthetic/psnr"):
        assert r[key] == pytest.approx(r["composite:" + key], rel=1e-9)
    with pytest.raises(InputError, match="compares at 80x80"):
        evaluate_iharmony4(str(pred), str(root), [m], size=0, progress=False)
    os.remove(next(pred.iterdir()))
    with pytest.raises(InputError, match="no result in .* for 1 test composite"):
        evaluate_iharmony4(str(pred), str(root), [m], size=64, progress=False)


def test_quickstart_composites_drift_as_the_docs_say():
    """docs/metrics.md and the README quote these three numbers for the same 16 composites."""
    from ppinpaint.data.quickstart import QuickstartHarmonization

    data = QuickstartHarmonization(size=256, length=16)
    items = [data[i] for i in range(len(data))]
    psnr = {}
    for protocol in ("iharmony4", "rainnet", "fmse"):
        m = HarmonizationMetrics(protocol=protocol)
        for item in items:
            m.update(item["image"][None], item["target"][None], item["mask"][None], image=item["image"][None])
        psnr[protocol] = round(m.result()["composite:psnr"], 2)
    assert psnr == {"iharmony4": 25.05, "rainnet": 25.20, "fmse": 24.97}
