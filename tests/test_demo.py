"""The demo: its image helpers and model bank, the CLI's errors, and the page driven in a real headless
Chromium (Debian's, through its own chromedriver: nothing is downloaded)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

import cv2
import numpy as np
import pytest

from ppinpaint import cli
from ppinpaint.data.io import InputError, write_image
from ppinpaint.data.quickstart import bundled_photos
from ppinpaint.demo.bank import ModelBank, ModelSpec, QUICKSTART, quickstart_specs, read_model_list, spec_from_arg
from ppinpaint.demo.images import brush_mask, editor_inputs, place
from ppinpaint.engine.checkpoint import MODEL_FILE
from ppinpaint.utils import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Gradio 6.31's queue calls pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")
ARTIFACTS = os.environ.get("PPINPAINT_TEST_ARTIFACTS", os.path.join(ROOT, "test-artifacts", "demo"))


def _quickstart(*names):
    return [s for s in quickstart_specs() if s.name.split(" (")[0] in names]


@pytest.fixture(scope="module")
def bank():
    import paddle

    paddle.seed(0)
    return ModelBank(_quickstart("DeepFill v1", "RainNet"))


# ---- image helpers ---------------------------------------------------------------------------------

def test_brush_layers_and_uploaded_mask_unite():
    photo = np.full((20, 30, 4), 255, np.uint8)
    layer = np.zeros((20, 30, 4), np.uint8)
    layer[2:5, 3:9, 3] = 40                      # a soft brush edge still counts
    uploaded = np.zeros((20, 30), np.uint8)
    uploaded[10:12, 20:25] = 255
    image, mask = editor_inputs({"background": photo, "layers": [layer]}, uploaded)
    assert image.shape == (20, 30, 3) and mask.sum() == 18 + 10
    with pytest.raises(InputError, match="must match"):
        editor_inputs({"background": photo, "layers": [layer]}, uploaded[:-1])
    with pytest.raises(InputError, match="empty"):
        editor_inputs({"background": photo, "layers": [np.zeros_like(layer)]}, None)
    with pytest.raises(InputError, match="upload a photo"):
        editor_inputs({"background": None, "layers": []}, None)
    with pytest.raises(InputError, match="brush layer is 30x10"):
        brush_mask([layer[:10]], (20, 30))


def test_place_scales_centres_and_keeps_background():
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
    fg = np.zeros((40, 40, 4), np.uint8)
    fg[..., :3] = 200
    fg[10:30, 5:25, 3] = 255                     # the object: a 20x20 opaque square inside transparency
    fg = (fg[..., :3], fg[..., 3])
    composite, mask = place(bg, fg, None, 0.25, 0.5, 0.5)
    ys, xs = np.nonzero(mask)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (50, 50)   # 0.5 x the shorter side 100
    assert abs(xs.mean() - 50) <= 1 and abs(ys.mean() - 50) <= 1
    np.testing.assert_array_equal(composite[mask == 0], bg[mask == 0])
    assert (composite[mask == 1] == 200).all()
    # An uploaded mask wins over alpha; at the border the object is cut, not shifted.
    own = np.zeros((40, 40), np.uint8)
    own[:, :20] = 255
    _, cut = place(bg, fg, own, 0.0, 0.0, 0.5)
    assert cut.sum() == 25 * 13 and cut[:25, :13].all()     # 50x25 centred on the corner
    with pytest.raises(InputError, match="its mask"):
        place(bg, fg, own[:-1], 0.5, 0.5, 0.5)
    with pytest.raises(InputError, match="outside"):
        place(bg, fg, None, 3.0, 3.0, 0.2)
    with pytest.raises(InputError, match="empty"):
        place(bg, (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)), None, 0.5, 0.5, 0.5)


# ---- model list and bank ---------------------------------------------------------------------------

def test_model_list_and_weights_args(tmp_path):
    listing = tmp_path / "models.yml"
    listing.write_text("- {config: a.yml, weights: w.pdparams, name: Mine}\n- {config: /abs/b.yml}\n")
    specs = read_model_list(str(listing))
    assert specs[0] == ModelSpec(str(tmp_path / "a.yml"), str(tmp_path / "w.pdparams"), "Mine")
    assert specs[1].label == "b" and specs[1].weights is None
    listing.write_text("- {config: a.yml, wieghts: w.pdparams}\n")
    with pytest.raises(ValueError, match="unknown key.*wieghts"):
        read_model_list(str(listing))
    listing.write_text("config: a.yml\n")
    with pytest.raises(ValueError, match="non-empty list"):
        read_model_list(str(listing))
    assert spec_from_arg("c.yml=w.pdparams") == ModelSpec("c.yml", "w.pdparams")
    run = tmp_path / "run"
    (run / "checkpoints" / "best").mkdir(parents=True)
    (run / "checkpoints" / "best" / MODEL_FILE).write_bytes(b"")
    (run / "config.yml").write_text("{}")
    assert spec_from_arg(str(run)) == ModelSpec(str(run / "config.yml"), str(run))
    listing.write_text(f"- {{weights: {run}/checkpoints, name: Run}}\n")
    assert read_model_list(str(listing)) == [ModelSpec(str(run / "config.yml"), str(run / "checkpoints"), "Run")]
    (tmp_path / "w.pdparams").write_bytes(b"")
    with pytest.raises(ValueError, match="not inside a training run"):
        spec_from_arg(str(tmp_path / "w.pdparams"))
    with pytest.raises(FileNotFoundError, match="no weights"):
        spec_from_arg(str(tmp_path))
    assert len(quickstart_specs()) == len(QUICKSTART)


def test_bank_serves_concurrent_runs_in_turn(bank):
    image = bundled_photos(("astronaut.png",))[0][::8, ::8][:64, :64].copy()
    mask = np.zeros((64, 64), np.float32)
    mask[20:40, 16:48] = 1
    name = bank.names("inpainting")[0]
    expected, report = bank.run(name, image, mask)
    assert "engine eager" in report and "strategy auto → full" in report
    assert f"threads {runtime.thread_count()} " in report     # what Paddle's math was set to use
    np.testing.assert_array_equal(expected[mask == 0], image[mask == 0])
    results, errors = [None] * 4, []

    def click(i):
        try:
            results[i] = bank.run(name, image, mask)[0]
        except Exception as e:  # noqa: BLE001 (collected and asserted below)
            errors.append(e)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r, expected)
    assert bank.names("harmonization") == ["RainNet (quickstart, random weights)"]
    with pytest.raises(ValueError, match="unknown model"):
        bank.run("nope", image, mask)


def test_bank_runs_given_weights_compiled(tmp_path, monkeypatch):
    import paddle

    from ppinpaint.api import load_model
    from ppinpaint.utils.weight_files import save_weights

    monkeypatch.setenv("PPINPAINT_CACHE", str(tmp_path / "cache"))
    config = os.path.join(ROOT, "configs", "rainnet", "quickstart.yml")
    paddle.seed(1)
    weights = str(tmp_path / "rainnet.safetensors")
    save_weights(weights, {"generator": load_model(config).nets["generator"].state_dict()})
    compiled = ModelBank([ModelSpec(config, weights, "RainNet")], engine="paddle")
    eager = ModelBank([ModelSpec(config, weights, "RainNet")], engine="eager")
    image = np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    mask = np.zeros((96, 160), np.float32)
    mask[30:70, 40:100] = 1
    result, report = compiled.run("RainNet", image, mask)
    assert "engine paddle" in report
    np.testing.assert_array_equal(result[mask == 0], image[mask == 0])
    # The compiled graph is checked against eager to 1e-4 on [0,1]: at most one 8-bit level apart.
    assert np.abs(result.astype(int) - eager.run("RainNet", image, mask)[0].astype(int)).max() <= 1


def test_cli_errors_are_one_line(tmp_path, capsys):
    for args, message in ((["--weights", str(tmp_path)], "no weights at"),
                          (["--models", str(tmp_path / "none.yml")], "cannot read the model list"),
                          (["--weights", f"{ROOT}/configs/rainnet/quickstart.yml={tmp_path}/w.pdparams"],
                           "model 'quickstart · w.pdparams': weights not found")):
        assert cli.main(["demo", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert "demo" in subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--help"],
                                    capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT)).stdout


def test_aistudio_entry_serves_every_method():
    import runpy

    import gradio

    entry = runpy.run_path(os.path.join(ROOT, "aistudio", "app", "app.gradio.py"))   # builds, does not launch
    assert isinstance(entry["demo"], gradio.Blocks)
    bank = entry["bank"]
    assert sorted(bank.random) == sorted(bank.models) and len(bank.models) == len(QUICKSTART)
    image = np.random.default_rng(0).integers(0, 256, (200, 240, 3), dtype=np.uint8)
    mask = np.zeros((200, 240), np.float32)
    mask[60:120, 80:160] = 1
    for name in bank.models:           # DeepFill v1, CSA, RainNet, S²AM, mask-free S²AM
        result, _ = bank.run(name, image, mask)
        np.testing.assert_array_equal(result[mask == 0], image[mask == 0])
        assert (result[mask == 1] != image[mask == 1]).any(), name


# ---- the page in a real browser --------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page(bank, tmp_path_factory):
    if not (os.path.isfile(CHROMIUM) and os.path.isfile(CHROMEDRIVER)):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); CI installs them")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    os.environ["SE_OFFLINE"] = "true"   # selenium-manager never downloads a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from ppinpaint.demo.app import launch

    port = _free_port()
    app = launch(bank, port=port, block=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.get(f"http://127.0.0.1:{port}/")
    os.makedirs(ARTIFACTS, exist_ok=True)
    files = tmp_path_factory.mktemp("inputs")
    try:
        yield driver, files
    finally:
        driver.quit()
        app.close()
        shutil.rmtree(profile, ignore_errors=True)


def _find(driver, css, timeout=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _read_back(driver, elem_id) -> np.ndarray:
    """The RGB image an output component shows, fetched from the server as the browser got it."""
    src = _find(driver, f"#{elem_id} img").get_attribute("src")
    data = urllib.request.urlopen(src, timeout=30).read()
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _wait_status(driver, elem_id):
    from selenium.webdriver.support.ui import WebDriverWait

    box = _find(driver, f"#{elem_id} textarea")
    WebDriverWait(driver, 60).until(lambda d: box.get_attribute("value"))
    return box.get_attribute("value")


def _open_tab(driver, tab):
    _find(driver, f"#{tab}-button").click()


def _upload(driver, elem_id, path, expect="read:"):
    """Upload ``path`` and wait until the server has read it (the line under the upload says so)."""
    from selenium.webdriver.support.ui import WebDriverWait

    _find(driver, f"#{elem_id} input[type=file]").send_keys(path)
    info = driver.find_elements("css selector", f"#{elem_id}-info")
    if info:
        WebDriverWait(driver, 60).until(lambda d: expect in info[0].text)


def _stroke(driver, prefix, zoom, dx=-40, length=80):
    """Press, drag horizontally through the canvas centre, release: a brush stroke by mouse events
    (``zoom``: the editor's zoom before the photo was uploaded)."""
    import time

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # The editor shows the photo: its upload prompt is gone and its zoom fits the photo.
    WebDriverWait(driver, 60).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"#{prefix}-editor .empty")
                                    and d.find_element(By.CSS_SELECTOR, f"#{prefix}-editor .zoom-number").text != zoom)
    time.sleep(1.0)
    canvas = driver.find_elements(By.CSS_SELECTOR, f"#{prefix}-editor canvas")[-1]
    chain = ActionChains(driver).move_to_element_with_offset(canvas, dx, 0).click_and_hold()
    for _ in range(length // 10):
        chain.move_by_offset(10, 0)
    chain.release().perform()
    time.sleep(1.5)   # the editor turns the stroke into its layer image before the next click reads it


def _wait_toast(driver, text):
    """Wait for an error message containing ``text``; the page shows no stack trace."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: any(text in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast-body")))
    assert "Traceback" not in driver.page_source


def _check_known_pixels(before, after, mask):
    hole = mask > 127
    assert hole.sum() > 50
    np.testing.assert_array_equal(after[~hole], before[~hole])
    assert (after[hole] != before[hole]).any(axis=-1).mean() > 0.5


def test_inpaint_tab_in_browser(page):
    driver, files = page
    photo = np.ascontiguousarray(cv2.resize(bundled_photos(("astronaut.png",))[0], (128, 128),
                                            interpolation=cv2.INTER_AREA))
    write_image(str(files / "photo.png"), photo)
    zoom = _find(driver, "#inpaint-editor .zoom-number").text
    _upload(driver, "inpaint-editor", str(files / "photo.png"))
    _stroke(driver, "inpaint", zoom)
    _find(driver, "#inpaint-run").click()
    status = _wait_status(driver, "inpaint-status")
    assert "engine eager" in status and "device" in status and "threads" in status
    result, mask = _read_back(driver, "inpaint-result"), _read_back(driver, "inpaint-mask")[:, :, 0]
    _check_known_pixels(photo, result, mask)
    ys, xs = np.nonzero(mask > 127)
    assert abs(ys.mean() - 64) < 16 and xs.min() < 64 < xs.max()     # where the mouse drew: across the centre
    driver.save_screenshot(os.path.join(ARTIFACTS, "inpaint.png"))
    # Nothing the page loaded came from anywhere but the demo itself (no CDN, no analytics).
    origin = driver.current_url.rstrip("/")
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and [u for u in loaded if not u.startswith((origin, "data:", "blob:"))] == []

    # A mask of another size is one readable message in the page, not a stack trace.
    write_image(str(files / "small_mask.png"), np.full((50, 60, 3), 255, np.uint8))
    _upload(driver, "inpaint-mask-upload", str(files / "small_mask.png"))
    _find(driver, "#inpaint-run").click()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _wait_toast(driver, "must match")


def _harmonization_inputs(files):
    bg = cv2.resize(bundled_photos(("coffee.png",))[0], (256, 256), interpolation=cv2.INTER_AREA)
    cat = cv2.resize(bundled_photos(("chelsea.png",))[0], (96, 96), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((96, 96), np.uint8)
    cv2.ellipse(alpha, (48, 48), (40, 30), 0, 0, 360, 255, -1)
    fg = np.dstack([cat, alpha])
    cv2.imwrite(str(files / "fg.png"), cv2.cvtColor(fg, cv2.COLOR_RGBA2BGRA))
    write_image(str(files / "bg.png"), bg)
    return bg


def test_harmonize_tab_in_browser(page):
    from selenium.webdriver.support.ui import WebDriverWait

    driver, files = page
    bg = _harmonization_inputs(files)
    _open_tab(driver, "tab-harmonize")
    (files / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 50)
    _upload(driver, "harmonize-background", str(files / "corrupt.png"), expect="not usable")
    _upload(driver, "harmonize-foreground", str(files / "fg.png"))
    _wait_toast(driver, "cannot read corrupt.png")
    _upload(driver, "harmonize-background", str(files / "bg.png"))
    composite_img = _find(driver, "#harmonize-composite img")
    # Clicking the raw composite moves the object there.
    from selenium.webdriver.common.action_chains import ActionChains

    left = -composite_img.size["width"] // 4
    ActionChains(driver).move_to_element_with_offset(composite_img, left, 0).click().perform()
    x = _find(driver, "#harmonize-x input[type=number]")
    WebDriverWait(driver, 30).until(lambda d: float(x.get_attribute("value")) < 0.4)
    _find(driver, "#harmonize-run").click()
    assert "engine eager" in _wait_status(driver, "harmonize-status")
    composite, mask = _read_back(driver, "harmonize-composite"), _read_back(driver, "harmonize-mask")[:, :, 0]
    result = _read_back(driver, "harmonize-result")
    np.testing.assert_array_equal(composite[mask < 128], bg[mask < 128])
    _check_known_pixels(composite, result, mask)
    assert np.nonzero(mask)[1].mean() < 110   # moved left of the centre (128) by the click
    driver.save_screenshot(os.path.join(ARTIFACTS, "harmonize.png"))


def test_remove_then_insert_in_browser(page):
    driver, files = page
    _open_tab(driver, "tab-remove")
    bg = _harmonization_inputs(files)
    zoom = _find(driver, "#remove-editor .zoom-number").text
    _upload(driver, "remove-editor", str(files / "bg.png"))
    _stroke(driver, "remove", zoom)
    _find(driver, "#remove-run").click()
    assert "DeepFill" in _wait_status(driver, "remove-status")
    cleaned = _read_back(driver, "remove-cleaned")
    changed = (cleaned != bg).any(axis=-1)
    assert 50 < changed.sum() < changed.size // 4
    _find(driver, "#insert-examples button.gallery-item").click()    # the page's own example: a cut-out cat with alpha
    _find(driver, "#insert-composite img")
    _find(driver, "#insert-run").click()
    assert "RainNet" in _wait_status(driver, "insert-status")
    composite, mask = _read_back(driver, "insert-composite"), _read_back(driver, "insert-mask")[:, :, 0]
    np.testing.assert_array_equal(composite[mask < 128], cleaned[mask < 128])
    _check_known_pixels(composite, _read_back(driver, "insert-result"), mask)
    driver.save_screenshot(os.path.join(ARTIFACTS, "remove_then_insert.png"))
