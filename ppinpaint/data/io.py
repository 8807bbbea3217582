"""The image/mask input rules, applied once at the boundary (files and user arrays alike), and the
one way files are listed and paired by stem.

- RGBA -> RGB composited over white (a transparent pixel has no colour; white matches what
  image viewers show) with a warning; grayscale -> 3 channels; 16-bit -> 8-bit (>> 8).
- Masks of any channel count (the first channel is used; RGB masks are usually grey anyway),
  scaled to [0, 1] by their dtype's range, then binarized at 0.5 with an explicit threshold
  (never ``round``: half-way rounding differs between libraries) unless ``soft=True``.
- A file's EXIF orientation is applied (images and masks alike), so a mask drawn on the image as
  a viewer shows it lines up with it.
- A file whose header claims more than :func:`max_image_pixels` pixels is refused before it is
  decoded (``predict.max_image_pixels``, or the ``PPINPAINT_MAX_IMAGE_PIXELS`` environment variable).
- Unreadable files and image/mask size mismatches raise one :class:`InputError` naming the files.
"""
import glob
import io
import os
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..utils.pixels import to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
_max_pixels = {"value": None}
# EXIF orientation -> the numpy transform that shows the pixels upright (PIL's exif_transpose table).
_ORIENT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


class InputError(ValueError):
    """An input image or mask that cannot be used; the message names the file(s)."""


def _to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        return to_uint8(array)  # floats are taken as [0, 1]
    raise InputError(f"{what}: unsupported pixel type {array.dtype}")


def to_rgb_uint8(array: np.ndarray, what: str = "image") -> np.ndarray:
    """Any user image array (HxW, HxWx1/3/4; uint8/uint16/float in [0,1]) -> HxWx3 uint8 RGB."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return np.repeat(_to_uint8(array, what)[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InputError(f"{what}: expected HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[2] == 4:
        warnings.warn(f"{what} has an alpha channel: composited over white to RGB")
        rgba = array.astype(np.float32) / (65535.0 if array.dtype == np.uint16 else 255.0 if array.dtype == np.uint8 else 1.0)
        rgb = rgba[:, :, :3] * rgba[:, :, 3:] + (1.0 - rgba[:, :, 3:])
        return _to_uint8(rgb.astype(np.float32), what)
    return _to_uint8(array, what)


def to_mask(array: np.ndarray, soft: bool = False, what: str = "mask") -> np.ndarray:
    """Any user mask array -> HxW float32, 1 = hole/foreground; binarized at 0.5 unless ``soft``."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise InputError(f"{what}: expected HxW or HxWxC, got shape {array.shape}")
    if array.dtype == bool:
        mask = array.astype(np.float32)
    elif array.dtype == np.uint8:
        mask = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        mask = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        mask = np.clip(array.astype(np.float32), 0.0, 1.0)
    else:
        mask = np.clip(array.astype(np.float32), 0.0, 1.0)
    return mask if soft else (mask >= 0.5).astype(np.float32)


def set_max_image_pixels(pixels: Optional[int]) -> None:
    """The largest width x height a file may claim (None: the environment variable or the default)."""
    _max_pixels["value"] = None if pixels is None else int(pixels)


def max_image_pixels() -> int:
    """The current image-size cap in pixels."""
    if _max_pixels["value"] is not None:
        return _max_pixels["value"]
    env = os.environ.get("PPINPAINT_MAX_IMAGE_PIXELS", "")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise InputError(f"PPINPAINT_MAX_IMAGE_PIXELS={env!r} is not a number of pixels") from None
    return DEFAULT_MAX_IMAGE_PIXELS


def _header(data: bytes, path: str):
    """(width, height, EXIF orientation) from the file's header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own bomb warning: our cap is checked below
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(io.BytesIO(data)) as im:
                    width, height = im.size
                    try:
                        orientation = im.getexif().get(0x0112, 1)
                    except (OSError, ValueError, SyntaxError, EOFError, TypeError, KeyError):
                        orientation = 1  # damaged metadata: the decoder decides about the pixels
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except UnidentifiedImageError:
        raise InputError(f"cannot read {path}: not an image file or corrupt (unknown format)") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError) as e:
        raise InputError(f"cannot read {path}: not an image file or corrupt ({e})") from None
    return width, height, orientation if orientation in _ORIENT else 1


def _read(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if not data.size:
        raise InputError(f"cannot read {path}: empty file")
    width, height, orientation = _header(data.tobytes(), path)
    cap = max_image_pixels()
    if width * height > cap:
        raise InputError(f"{path} is {width}x{height} = {width * height:,} pixels, more than the limit of "
                         f"{cap:,} (predict.max_image_pixels or PPINPAINT_MAX_IMAGE_PIXELS raise it)")
    try:
        array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise InputError(f"cannot read {path}: {str(e).strip().splitlines()[-1]}") from None
    if array is None:
        raise InputError(f"cannot read {path}: not an image file or corrupt")
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if orientation != 1:
        array = np.ascontiguousarray(_ORIENT[orientation](array))
    return array


def read_image(path: str) -> np.ndarray:
    """An image file -> HxWx3 uint8 RGB, following the rules above."""
    return to_rgb_uint8(_read(path), what=path)


def read_mask(path: str, soft: bool = False) -> np.ndarray:
    """A mask file -> HxW float32 (1 = hole/foreground), following the rules above."""
    return to_mask(_read(path), soft=soft, what=path)


def read_image_alpha(path: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """An image file -> (HxWx3 uint8 RGB, HxW uint8 alpha or None when the file has no alpha channel)."""
    array = _read(path)
    if array.ndim == 3 and array.shape[2] == 4:
        return to_rgb_uint8(array[:, :, :3], what=path), _to_uint8(array[:, :, 3], path)
    return to_rgb_uint8(array, what=path), None


def check_pair(image: np.ndarray, mask: np.ndarray, image_name: str = "image", mask_name: str = "mask") -> None:
    """One clear error when an image and its mask differ in size."""
    if image.shape[:2] != mask.shape[:2]:
        raise InputError(f"{image_name} is {image.shape[1]}x{image.shape[0]} but {mask_name} is "
                         f"{mask.shape[1]}x{mask.shape[0]} (width x height); they must match")


def load_pair(image: Union[str, np.ndarray], mask: Union[str, np.ndarray], soft: bool = False,
              names: Optional[tuple] = None):
    """(HxWx3 uint8, HxW float32) from paths or arrays, checked to match."""
    img_name = image if isinstance(image, str) else (names[0] if names else "image")
    msk_name = mask if isinstance(mask, str) else (names[1] if names else "mask")
    img = read_image(image) if isinstance(image, str) else to_rgb_uint8(image, img_name)
    msk = read_mask(mask, soft) if isinstance(mask, str) else to_mask(mask, soft, msk_name)
    check_pair(img, msk, img_name, msk_name)
    return img, msk


def write_image(path: str, rgb: np.ndarray) -> None:
    """Write an HxWx3 uint8 RGB image (format from the extension), creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ok, buf = cv2.imencode(os.path.splitext(path)[1] or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"cannot encode {path}")
    buf.tofile(path)


def list_images(path: str, recursive: bool = False, file_list: Optional[str] = None) -> List[str]:
    """The image files of a folder (sorted; ``recursive``: with its subfolders), the one file given, or
    the files ``file_list`` names relative to ``path``; an :class:`InputError` when there are none."""
    if file_list:
        with open(file_list, encoding="utf-8") as f:
            files = [os.path.join(path, line.strip()) for line in f if line.strip()]
    elif os.path.isdir(path):
        pattern = os.path.join(path, "**", "*") if recursive else os.path.join(path, "*")
        files = sorted(p for p in glob.glob(pattern, recursive=recursive) if p.lower().endswith(IMAGE_EXTENSIONS))
    elif os.path.isfile(path):
        return [path]
    else:
        raise InputError(f"not found: {path}")
    if not files:
        raise InputError(f"no images in {file_list or path}")
    return files


def file_stem(path: str, strip: Sequence[str] = ()) -> str:
    """A file's name without folder and extension, and without the first of ``strip`` it ends with."""
    stem = os.path.splitext(os.path.basename(path))[0]
    for suffix in strip:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem


def pair_by_stem(files: List[str], folder: str, what: str, of: str,
                 strip: Sequence[str] = ()) -> List[Tuple[str, str]]:
    """Each of ``files`` with the image in ``folder`` of the same stem (``strip``: suffixes those may
    carry); one error, naming up to five, for the ``files`` without a match."""
    others = {file_stem(p, strip): p for p in list_images(folder)}
    pairs, missing = [], []
    for p in files:
        stem = file_stem(p)
        (pairs.append((p, others[stem])) if stem in others else missing.append(os.path.basename(p)))
    if missing:
        raise InputError(f"no {what} in {folder} for {len(missing)} {of}(s): {missing[:5]}")
    return pairs


def pair_files(image: str, mask: str) -> List[Tuple[str, str]]:
    """(image, mask) pairs: one file each; a folder of images with one mask file for all; or two
    folders paired by file stem (``x.png`` with ``x.png``, ``x_mask.png`` or ``x-mask.png``)."""
    images = list_images(image)
    if not os.path.isdir(mask):
        list_images(mask)
        return [(p, mask) for p in images]
    return pair_by_stem(images, mask, "mask", "image", strip=("_mask", "-mask"))
