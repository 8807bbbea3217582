"""Prediction on real images: the shared pre/post-processing and the folder runner.

``predict_array`` is the one implementation of the input rules around any :class:`Predictor`'s
batched ``infer`` (an eager model, or an exported one from :mod:`ppinpaint.inference`):
pad to the network's size multiple (reflect), run, crop back, paste the known pixels back
exactly, keep the input's size; an empty mask returns the input unchanged.
"""
import collections
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np
import paddle
from tqdm import tqdm

from .data.io import InputError, file_stem, load_pair, pair_files, read_image, read_mask, write_image
from .highres import paste_known, run_strategy
from .utils.grid import mask_tile, show_hole, titled_grid
from .utils.pixels import to_uint8


def _pad_amounts(size: int, multiple: int, minimum: int) -> int:
    target = max(size, minimum)
    return (-target) % multiple + (target - size) if multiple > 1 else target - size


def _pad(array: np.ndarray, ph: int, pw: int) -> np.ndarray:
    if not ph and not pw:
        return array
    pads = [(0, ph), (0, pw)] + [(0, 0)] * (array.ndim - 2)
    # Reflection gives the convolutions natural context; it needs a pad smaller than the side.
    mode = "reflect" if ph < array.shape[0] and pw < array.shape[1] else "symmetric"
    return np.pad(array, pads, mode=mode)


@runtime_checkable
class Predictor(Protocol):
    """What prediction needs of a model: the eager method object (``BaseModel``) and the exported
    predictors (:mod:`ppinpaint.inference`) are both one."""

    task: str             # "inpainting" | "harmonization"
    size_multiple: int    # inputs are padded to a multiple of this and cropped back
    min_size: int         # smallest side the network accepts (0: any)

    def infer(self, image: Any, mask: Any) -> Any:
        """[N,3,H,W] image in [0,1] + [N,1,H,W] mask (1 = hole/foreground) -> [N,3,H,W] in [0,1]."""


def _predict_once(model: Predictor, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One network pass on a checked uint8 image and float mask: pad, infer, crop back, paste known pixels."""
    h, w = mask.shape
    multiple, minimum = int(model.size_multiple), int(model.min_size)
    ph, pw = _pad_amounts(h, multiple, minimum), _pad_amounts(w, multiple, minimum)
    img = _pad(image, ph, pw).astype(np.float32) / 255.0
    msk = np.pad(mask, [(0, ph), (0, pw)])  # padding is known context, never hole
    out = model.infer(paddle.to_tensor(img.transpose(2, 0, 1)[None].copy()),
                      paddle.to_tensor(msk[None, None].copy()))
    out = np.asarray(out.numpy() if hasattr(out, "numpy") else out)[0].transpose(1, 2, 0)[:h, :w]
    return paste_known(image, to_uint8(out), mask)


def predict_array(model: Predictor, image: np.ndarray, mask: np.ndarray, soft_mask: bool = False, strategy: str = "auto",
                  max_size: int = 1024, margin: int = 64) -> np.ndarray:
    """HxWx3 RGB image (any dtype/channels the input rules accept) + HxW mask -> HxWx3 uint8.

    ``strategy`` (``auto`` | ``full`` | ``crop`` | ``resize``), ``max_size`` and ``margin`` choose how
    a large image is processed (:mod:`ppinpaint.highres`); images within ``max_size``^2 pixels run whole.
    """
    image, mask = load_pair(image, mask, soft=soft_mask)
    if not mask.any():
        return image.copy()
    return run_strategy(lambda img, m: _predict_once(model, img, m), image, mask, strategy,
                        int(max_size), int(margin), model.task, int(model.min_size), soft_mask,
                        int(model.size_multiple))


@dataclass
class PredictReport:
    """What a folder run did: the results written and the inputs skipped, with the reason."""

    output: str
    written: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the console, plus one line per skipped input."""
        lines = [f"wrote {len(self.written)} result(s) to {self.output}"
                 + (f"; {len(self.failed)} input(s) failed" if self.failed else "")]
        return "\n".join(lines + [f"  failed: {reason}" for _, reason in self.failed])

    @property
    def exit_code(self) -> int:
        """0: all written; 1: some inputs failed; 2: every input failed."""
        return 0 if not self.failed else 2 if not self.written else 1


def output_names(images: Sequence[str]) -> Dict[str, str]:
    """``<stem>`` per input image, or ``<stem>_<ext>`` for every input whose stem another input shares
    (``a.jpg`` and ``a.png`` -> ``a_jpg``, ``a_png``), so no result replaces another."""
    stems = collections.Counter(file_stem(p) for p in images)
    names = {}
    for p in images:
        stem, ext = os.path.splitext(os.path.basename(p))
        names[p] = f"{stem}_{ext.lstrip('.').lower()}" if stems[stem] > 1 else stem
    return names


def _check_targets(pairs: List[Tuple[str, str]], targets: List[str]) -> None:
    """Refuse, before anything is written, an output that is an input file or is written twice."""
    twice = [t for t, n in collections.Counter(os.path.realpath(t) for t in targets).items() if n > 1]
    if twice:
        raise InputError(f"two results would be written to {twice[0]} (an input named like another input's "
                         "_concat result); rename it or drop --concat")
    inputs = {os.path.realpath(p): p for pair in pairs for p in pair}
    for target in targets:
        if os.path.realpath(target) in inputs:
            raise InputError(f"refusing to write {target}: it is the input file {inputs[os.path.realpath(target)]}; "
                             "choose another --output folder")


def predict_paths(model: Predictor, image: str, mask: str, output: str, concat: bool = False,
                  soft_mask: bool = False, **strategy) -> PredictReport:
    """Run on one image+mask or on folders; writes ``<stem>.png`` (and ``<stem>_concat.png``).

    ``strategy`` holds ``predict_array``'s large-image options (strategy, max_size, margin). An
    input that cannot be read or processed is reported in the result and skipped; no output ever
    replaces an input file or another input's result.
    """
    pairs = pair_files(image, mask)
    names = output_names([p for p, _ in pairs])
    targets = [os.path.join(output, names[p] + suffix) for p, _ in pairs
               for suffix in ((".png", "_concat.png") if concat else (".png",))]
    _check_targets(pairs, targets)
    report = PredictReport(output)
    # A compiled model names its engine in the bar too (eager models and exported predictors have none).
    engine = getattr(model, "engine", None)
    for img_path, mask_path in tqdm(pairs, desc=f"predict ({engine})" if engine else "predict"):
        try:
            result = predict_array(model, img_path, mask_path, soft_mask=soft_mask, **strategy)
        except (InputError, ValueError) as e:
            report.failed.append((img_path, str(e)))
            continue
        path = os.path.join(output, names[img_path] + ".png")
        write_image(path, result)
        report.written.append(path)
        if concat:
            src, m = read_image(img_path), read_mask(mask_path, soft=soft_mask)
            shown = src if model.task == "harmonization" else show_hole(src, m[:, :, None])
            write_image(os.path.join(output, names[img_path] + "_concat.png"),
                        titled_grid([[shown], [mask_tile(m)], [result]], ["input", "mask", "output"]))
    return report
