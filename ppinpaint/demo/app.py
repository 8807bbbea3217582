"""The Gradio page: Inpaint, Harmonize, and Remove-then-insert tabs over a :class:`ModelBank`."""
import atexit
import functools
import os
import shutil
import sys
import tempfile
import traceback
import uuid
from typing import Callable, Dict, List, Optional

import numpy as np

# Gradio reads this when it is imported: the demo never phones home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    import gradio as gr
except ImportError:  # an optional extra: say how to get it instead of a bare ImportError
    raise ImportError("the demo needs Gradio: pip install 'ppinpaint[demo]' (or pip install gradio)") from None

from ..data.io import read_image, read_image_alpha, read_mask, write_image
from ..highres import STRATEGIES
from .bank import ModelBank
from .images import editor_inputs, place

USER_ERRORS = (ValueError, OSError, KeyError)
KEEP_DOWNLOADS = 64   # result folders kept for download; older ones are removed


def page_errors(fn: Callable) -> Callable:
    """Any failure of ``fn`` becomes one readable message in the page (gr.Error), never a stack trace."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            print(f"demo: {msg}", file=sys.stderr)
            raise gr.Error(str(msg), print_exception=False) from None
        except Exception as e:  # the page gets one line; the server log keeps the traceback
            traceback.print_exc()
            raise gr.Error(f"internal error ({type(e).__name__}): {e}", print_exception=False) from None
    return wrapper


class Downloads:
    """Result files offered for download, in a private temporary folder holding the last few runs."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="ppinpaint-demo-")
        self._runs: List[str] = []
        atexit.register(shutil.rmtree, self.root, True)

    def save(self, images: Dict[str, np.ndarray]) -> List[str]:
        """Write ``{file name: RGB or mask array}`` as PNGs in a fresh folder; the paths."""
        folder = os.path.join(self.root, uuid.uuid4().hex[:12])
        paths = []
        for name, array in images.items():
            if array.ndim == 2:  # a {0,1} mask -> white hole on black
                array = np.repeat(_mask_view(array)[:, :, None], 3, axis=2)
            path = os.path.join(folder, name)
            write_image(path, array)
            paths.append(path)
        self._runs.append(folder)
        while len(self._runs) > KEEP_DOWNLOADS:
            shutil.rmtree(self._runs.pop(0), ignore_errors=True)
        return paths


def _upload(label: str, elem_id: str, reader: Callable[[str], object], **kwargs):
    """An image upload, the state holding it as the toolkit's input rules read it (as tools/predict.py
    reads files, not as Gradio's decoder does, so a bad file is one message naming it) and a line saying
    what was read."""
    with gr.Column(min_width=160):
        image = gr.Image(type="filepath", image_mode=None, format="png", sources=["upload"], label=label,
                         elem_id=elem_id, **kwargs)
        info = gr.Markdown("", elem_id=f"{elem_id}-info")
    state = gr.State(None)

    def read(payload):
        if not payload:
            return None, ""
        try:
            value = reader(payload["path"])
        except USER_ERRORS as e:
            gr.Warning(str(e).replace(payload["path"], payload.get("orig_name") or "the upload"))
            return None, "not usable"
        array, alpha = value if isinstance(value, tuple) else (value, None)
        return value, f"read: {array.shape[1]}×{array.shape[0]} px" + (", with alpha" if alpha is not None else "")

    # Raw payloads (preprocess=False): Gradio's own decoder never sees the file.
    image.change(read, image, [state, info], preprocess=False)
    return image, state


def _example_files(root: str) -> Dict[str, str]:
    """Photos scikit-image ships, and a cut-out cat with alpha, as files for the pages' examples."""
    import cv2

    from ..data.quickstart import bundled_photos

    folder = os.path.join(root, "examples")
    astronaut, coffee, cat = bundled_photos(("astronaut.png", "coffee.png", "chelsea.png"))
    cat = cat[20:260, 100:380]
    alpha = np.zeros(cat.shape[:2], np.uint8)
    cv2.ellipse(alpha, (140, 125), (120, 110), 0, 0, 360, 255, -1)
    files = {"astronaut": os.path.join(folder, "astronaut.png"), "coffee": os.path.join(folder, "coffee.png"),
             "cat": os.path.join(folder, "cat_cutout.png")}
    write_image(files["astronaut"], astronaut)
    write_image(files["coffee"], coffee)
    cv2.imwrite(files["cat"], cv2.cvtColor(np.dstack([cat, alpha]), cv2.COLOR_RGBA2BGRA))
    return files


def _mask_view(mask: np.ndarray) -> np.ndarray:
    """A {0,1} float mask as a grey image (255 = hole / foreground)."""
    return (mask * 255).astype(np.uint8)


def _model_choice(bank: ModelBank, task: str, elem_id: str) -> "gr.Dropdown":
    names = bank.names(task)
    return gr.Dropdown(names, value=names[0] if names else None, label="Model", elem_id=elem_id,
                       info=None if names else f"no {task} model loaded")


def _inpaint_controls(bank: ModelBank, prefix: str) -> Dict[str, object]:
    """Photo editor with brush/eraser/undo/clear, optional mask upload, model and large-image options."""
    c = {"editor": gr.ImageEditor(
        type="numpy", image_mode="RGBA", format="png", sources=["upload", "clipboard"], layers=False,
        transforms=[], label="Photo: brush over what to remove (size, eraser, undo, clear in the toolbars)",
        brush=gr.Brush(default_size=24, colors=[("#ff2020", 0.6)], color_mode="fixed"),
        eraser=gr.Eraser(default_size=24), elem_id=f"{prefix}-editor")}
    c["mask_upload"], c["mask"] = _upload("…or upload a mask (white = hole; added to the brush)",
                                          f"{prefix}-mask-upload",
                                          read_mask, height=160)
    c["model"] = _model_choice(bank, "inpainting", f"{prefix}-model")
    with gr.Accordion("Large images", open=False):
        c["strategy"] = gr.Radio(list(STRATEGIES), value="auto", label="Strategy",
                                 info="auto: whole image up to the size budget, else crops around each hole")
        with gr.Row():
            c["max_size"] = gr.Number(1024, precision=0, minimum=64, label="Size budget (px per side)")
            c["margin"] = gr.Number(64, precision=0, minimum=0, label="Crop margin (px)")
    return c


def _placement_controls(bank: ModelBank, prefix: str) -> Dict[str, object]:
    """Foreground (alpha or mask), its position and scale, the raw composite and the harmonization model."""
    c = {}
    with gr.Row():
        c["fg_upload"], c["foreground"] = _upload("Foreground (PNG with alpha, or add its mask)",
                                                  f"{prefix}-foreground", read_image_alpha)
        c["fg_mask_upload"], c["fg_mask"] = _upload("Foreground mask (optional, white = object)",
                                                    f"{prefix}-fg-mask", read_mask)
    with gr.Row():
        c["x"] = gr.Slider(0, 1, 0.5, step=0.01, label="Centre x", elem_id=f"{prefix}-x")
        c["y"] = gr.Slider(0, 1, 0.5, step=0.01, label="Centre y", elem_id=f"{prefix}-y")
        c["scale"] = gr.Slider(0.05, 1.5, 0.5, step=0.01, label="Scale (of the background's shorter side)",
                               elem_id=f"{prefix}-scale")
    with gr.Row():
        c["composite"] = gr.Image(format="png", interactive=False, label="Raw composite (click to move the object)",
                                  elem_id=f"{prefix}-composite")
        c["mask_view"] = gr.Image(format="png", image_mode="L", interactive=False, label="Foreground mask",
                                  elem_id=f"{prefix}-mask")
    c["model"] = _model_choice(bank, "harmonization", f"{prefix}-model")
    return c


def _outputs(prefix: str, what: str) -> Dict[str, object]:
    """Before/after slider, the result itself, downloads and the run report."""
    return {"compare": gr.ImageSlider(format="png", label=f"Before / after ({what})", elem_id=f"{prefix}-compare"),
            "result": gr.Image(format="png", interactive=False, label="Result", elem_id=f"{prefix}-result"),
            "files": gr.File(file_count="multiple", label="Download", elem_id=f"{prefix}-files"),
            "status": gr.Textbox(label="Run", interactive=False, elem_id=f"{prefix}-status")}


def build_app(bank: ModelBank) -> "gr.Blocks":
    """The demo page for ``bank``'s models (not launched)."""
    downloads = Downloads()
    examples = _example_files(downloads.root)

    @page_errors
    def inpaint(editor, uploaded_mask, model, strategy, max_size, margin):
        image, mask = editor_inputs(editor, uploaded_mask)
        result, report = bank.run(model, image, mask, strategy, max_size, margin)
        files = downloads.save({"result.png": result, "mask.png": mask})
        return (image, result), result, _mask_view(mask), files, report

    @page_errors
    def compose(background, foreground, fg_mask, x, y, scale):
        if background is None or foreground is None:
            return None, None
        composite, mask = place(background, foreground, fg_mask, x, y, scale)
        return composite, _mask_view(mask)

    @page_errors
    def move(background, evt: gr.SelectData):
        if background is None:
            return gr.update(), gr.update()
        h, w = np.asarray(background).shape[:2]
        return round(evt.index[0] / w, 2), round(evt.index[1] / h, 2)

    @page_errors
    def harmonize(background, foreground, fg_mask, x, y, scale, model):
        composite, mask = place(background, foreground, fg_mask, x, y, scale)
        result, report = bank.run(model, composite, mask)
        files = downloads.save({"composite.png": composite, "mask.png": mask, "result.png": result})
        return (composite, result), result, files, report

    @page_errors
    def remove(editor, uploaded_mask, model, strategy, max_size, margin):
        image, mask = editor_inputs(editor, uploaded_mask)
        result, report = bank.run(model, image, mask, strategy, max_size, margin)
        return result, report

    def wire_placement(background, c: Dict[str, object], out: Dict[str, object]) -> None:
        inputs = [background, c["foreground"], c["fg_mask"], c["x"], c["y"], c["scale"]]
        gr.on([background.change, c["foreground"].change, c["fg_mask"].change, c["x"].release, c["y"].release,
               c["scale"].release], compose, inputs, [c["composite"], c["mask_view"]])
        c["composite"].select(move, [background], [c["x"], c["y"]]).then(
            compose, inputs, [c["composite"], c["mask_view"]])
        out["run"].click(harmonize, inputs + [c["model"]],
                         [out["compare"], out["result"], out["files"], out["status"]])

    # Gradio's own upload cache is swept too (hourly, files older than an hour): disk stays bounded.
    with gr.Blocks(title="ppinpaint demo", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown("# ppinpaint demo\nDeepFill v1 and CSA inpainting, RainNet and S²AM harmonization, "
                    "run by the toolkit's own prediction path on this machine.")
        if bank.random:
            gr.Markdown(f"**Random weights** ({len(bank.random)} of {len(bank.models)} models): started without "
                        "weights, these are the quickstart configs at random initialisation; their output is noise. "
                        "Give trained or converted weights with `ppinpaint demo --weights RUN_FOLDER` or "
                        "`--weights CONFIG=WEIGHTS` (see README).", elem_id="random-note")

        with gr.Tab("Inpaint", elem_id="tab-inpaint"):
            with gr.Row():
                with gr.Column():
                    ic = _inpaint_controls(bank, "inpaint")
                    run_inpaint = gr.Button("Inpaint", variant="primary", elem_id="inpaint-run")
                    gr.Examples([[examples["astronaut"]], [examples["coffee"]]], [ic["editor"]], label="Photos")
                with gr.Column():
                    io = _outputs("inpaint", "photo / result")
                    io["mask_view"] = gr.Image(format="png", image_mode="L", interactive=False, height=160,
                                               label="Mask used", elem_id="inpaint-mask")
            run_inpaint.click(inpaint, [ic[k] for k in ("editor", "mask", "model", "strategy", "max_size", "margin")],
                              [io["compare"], io["result"], io["mask_view"], io["files"], io["status"]])

        with gr.Tab("Harmonize", elem_id="tab-harmonize"):
            with gr.Row():
                with gr.Column():
                    bg_upload, background = _upload("Background", "harmonize-background", read_image)
                    hc = _placement_controls(bank, "harmonize")
                    ho = {"run": gr.Button("Harmonize", variant="primary", elem_id="harmonize-run")}
                    gr.Examples([[examples["coffee"], examples["cat"]], [examples["astronaut"], examples["cat"]]],
                                [bg_upload, hc["fg_upload"]], label="Background and foreground")
                with gr.Column():
                    ho.update(_outputs("harmonize", "composite / result"))
            wire_placement(background, hc, ho)

        with gr.Tab("Remove, then insert", elem_id="tab-remove"):
            gr.Markdown("1. Brush over an object and remove it. 2. Paste another object on the cleaned photo and "
                        "harmonize it.")
            with gr.Row():
                with gr.Column():
                    rc = _inpaint_controls(bank, "remove")
                    run_remove = gr.Button("1. Remove", variant="primary", elem_id="remove-run")
                    gr.Examples([[examples["coffee"]]], [rc["editor"]], label="Photo")
                with gr.Column():
                    cleaned = gr.Image(type="numpy", image_mode="RGB", format="png", interactive=False,
                                       label="After removal (the background of step 2)", elem_id="remove-cleaned")
                    removed_status = gr.Textbox(label="Run", interactive=False, elem_id="remove-status")
            run_remove.click(remove, [rc[k] for k in ("editor", "mask", "model", "strategy", "max_size", "margin")],
                             [cleaned, removed_status])
            with gr.Row():
                with gr.Column():
                    pc = _placement_controls(bank, "insert")
                    po = {"run": gr.Button("2. Insert and harmonize", variant="primary", elem_id="insert-run")}
                    gr.Examples([[examples["cat"]]], [pc["fg_upload"]], label="Foreground", elem_id="insert-examples")
                with gr.Column():
                    po.update(_outputs("insert", "composite / result"))
            wire_placement(cleaned, pc, po)
    return app


def launch(bank: ModelBank, host: str = "127.0.0.1", port: Optional[int] = None, share: bool = False,
           max_file_size: str = "50mb", block: bool = True) -> "gr.Blocks":
    """Build and serve the page; runs are queued one at a time per button and the bank serialises models."""
    app = build_app(bank)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=share, max_file_size=max_file_size,
               prevent_thread_lock=not block, show_error=True, footer_links=["gradio"], quiet=not block)
    return app
