"""Image files and 8-bit image geometry, without torch.

The one place that reads and writes image files: `read_image` (any supported
file -> HxWx3 uint8 RGB), `open_image` (the PIL image behind it, for callers
that need alpha or bit depth), `write_png`, `list_images` (which files in a
folder are images), and the prepared-set writer. Geometry is PIL bicubic on
uint8 arrays. LR images are made with PIL's antialiased bicubic resize, which
reproduces the benchmark LRbicx4 files at > 50 dB (BRIEF section 2).

Arrays are uint8 HxWx3 RGB (`*_u8`). This module imports numpy and PIL only, so
the prepare stage runs (and depends on) no torch code; tensors start in
`srgan.data`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from srgan.artifacts import atomic_path, write_json_atomic
from srgan.errors import SrganError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# PIL modes `pil_to_rgb_u8` reads. Gray modes come back with was_gray=True.
GRAY_MODES = ("1", "L", "LA", "La")
DEEP_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # more than 8 bits per sample
COLOUR_MODES = ("RGB", "RGBA", "RGBa", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")
SUPPORTED_MODES = GRAY_MODES + DEEP_GRAY_MODES + COLOUR_MODES

_EXIF_ORIENTATION = 0x0112


# ---------------------------------------------------------------- reading


def image_type_error(path: Path) -> str | None:
    """Why `path` is not a supported image file by its suffix, or None when it is."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return None
    what = f"{path.suffix} is" if path.suffix else "a file without a suffix is"
    names = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
    return f"{what} not a supported image type ({names})"


def list_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) directly in `folder`, each sorted by name.

    Image files are those with a suffix in IMAGE_SUFFIXES (any case). Names
    starting with '.' are in neither list: macOS '._x.png' resource forks,
    `atomic_path` temporaries of an interrupted run. Subfolders are not listed.
    """
    images, others = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        (images if image_type_error(path) is None else others).append(path)
    return images, others


def open_image(path: Path) -> Image.Image:
    """Open and fully decode an image file, upright (EXIF orientation applied).

    A multi-frame file (animated WebP, multi-page TIFF) gives its first frame,
    with a warning. Raises SrganError naming the file when it is missing,
    unreadable, or so large that PIL refuses it as a decompression bomb.
    """
    try:
        with Image.open(path) as img:
            # Counting frames seeks through the file, so count before decoding frame 0.
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                log.warning("%s has %d frames; only the first is used", path, frames)
            img.load()
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                return ImageOps.exif_transpose(img)
            return img  # leaving `with` closes the file only; the decoded pixels stay
    except FileNotFoundError:
        raise SrganError(f"image {path} not found") from None
    except Image.DecompressionBombError as e:
        raise SrganError(f"image {path} is too large to open safely: {e}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise SrganError(f"image {path} cannot be read (corrupt or truncated?): {e}") from None


def float_to_u8(img: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clamped) -> uint8 by floor(x * 255 + 0.5), computed in float64.

    Ties round up, as MATLAB's im2uint8 does. The project's one 8-bit rounding
    rule: `srgan.data.round_u8` (tensors) and `srgan.metrics.quantize_u8` use it too.
    """
    x = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    return np.floor(x * 255.0 + 0.5).astype(np.uint8)


def _gray_to_rgb(gray_u8: np.ndarray) -> np.ndarray:
    return np.repeat(gray_u8[:, :, None], 3, axis=2)


def pil_to_rgb_u8(img: Image.Image, name: str) -> tuple[np.ndarray, bool]:
    """Convert a PIL image to (HxWx3 uint8 RGB, was_gray).

    - Gray (1, L, LA, La): the gray value replicated to RGB; was_gray.
    - 16-bit and 32-bit gray (I;16*, I, F): scaled to 8 bit with `float_to_u8`
      (I;16* from 65535; I and F from 65535 when any value exceeds 255, else
      from 255, since PIL opens some 8-bit files as I); was_gray.
    - Alpha (RGBA, LA, PA, premultiplied RGBa/La) is dropped: SR models see
      colour only. Palette (P) images give their palette colours.
    - CMYK, YCbCr, LAB, HSV, RGBX: converted to RGB by PIL.
    Other modes raise SrganError naming `name`.
    """
    mode = img.mode
    if mode in DEEP_GRAY_MODES:
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0.0) > 255 else 255.0
        return _gray_to_rgb(float_to_u8(arr / top)), True
    if mode in GRAY_MODES:
        gray = img.convert("LA") if mode == "La" else img  # PIL converts La to LA only
        return _gray_to_rgb(np.array(gray.convert("L"), dtype=np.uint8)), True
    if mode not in COLOUR_MODES:
        supported = ", ".join(SUPPORTED_MODES)
        raise SrganError(f"image {name} has PIL mode {mode}, which is not supported ({supported})")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # transparent entries keep their palette colour
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    return np.array(rgb, dtype=np.uint8), False


def read_image(path: Path) -> tuple[np.ndarray, bool]:
    """Read an image file as (HxWx3 uint8 RGB, was_gray); SrganError if it cannot be used.

    `open_image` (EXIF orientation, first frame), then `pil_to_rgb_u8`.
    """
    return pil_to_rgb_u8(open_image(path), str(path))


# ---------------------------------------------------------------- writing


def write_png(path: Path, img_u8: np.ndarray, gray: bool = False) -> None:
    """Write HxWx3 uint8 RGB as PNG atomically; `gray` stores one channel (mode L)."""
    img = Image.fromarray(img_u8[:, :, 0] if gray else img_u8, mode="L" if gray else "RGB")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


# ---------------------------------------------------------------- geometry


def mod_crop(img_u8: np.ndarray, scale: int) -> np.ndarray:
    """Crop bottom/right so height and width are multiples of `scale`."""
    h, w = img_u8.shape[:2]
    return img_u8[: h - h % scale, : w - w % scale]


def resize_bicubic(img_u8: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """PIL (antialiased) bicubic resize of an HxWx3 uint8 image to (height, width)."""
    out = Image.fromarray(img_u8).resize((size_hw[1], size_hw[0]), Image.Resampling.BICUBIC)
    return np.array(out, dtype=np.uint8)


def bicubic_downscale(hr_u8: np.ndarray, scale: int) -> np.ndarray:
    """LR image from a mod-cropped HR image by PIL bicubic; shape (H/scale, W/scale, 3)."""
    h, w = hr_u8.shape[:2]
    if h % scale or w % scale:
        raise SrganError(f"HR size {w}x{h} is not a multiple of scale {scale}; mod-crop it first")
    return resize_bicubic(hr_u8, (h // scale, w // scale))


def bicubic_upscale(lr_u8: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: PIL bicubic upscaling by `scale`."""
    h, w = lr_u8.shape[:2]
    return resize_bicubic(lr_u8, (h * scale, w * scale))


# ---------------------------------------------------------------- prepared sets

# A prepared set is a folder: HR/<name>.png (mod-cropped; grayscale stays mode L),
# LR/<name>.png (x scale smaller) and manifest.json listing the images. It is
# written here, where the prepare stage needs no torch; `srgan.data` reads it.


@dataclass(frozen=True)
class EvalImage:
    name: str
    lr_u8: np.ndarray  # (h, w, 3)
    hr_u8: np.ndarray  # (h*scale, w*scale, 3)
    gray: bool  # the source file was grayscale: scored on its gray values


def make_pair(name: str, hr_u8: np.ndarray, lr_u8: np.ndarray | None, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, LR): LR as given (checked against HR's size) or made by PIL bicubic."""
    hr_u8 = mod_crop(hr_u8, scale)
    if hr_u8.shape[0] < scale or hr_u8.shape[1] < scale:
        raise SrganError(f"image {name} is smaller than the scale ({scale} px)")
    if lr_u8 is None:
        return hr_u8, bicubic_downscale(hr_u8, scale)
    if lr_u8.shape[:2] != (hr_u8.shape[0] // scale, hr_u8.shape[1] // scale):
        raise SrganError(
            f"LR image {name} is {lr_u8.shape[1]}x{lr_u8.shape[0]}, expected HR/{scale} = "
            f"{hr_u8.shape[1] // scale}x{hr_u8.shape[0] // scale}"
        )
    return hr_u8, lr_u8


def _write_pair(folder: Path, item: tuple[str, np.ndarray, bool, np.ndarray | None], scale: int) -> dict:
    """Write one image's HR and LR files; returns its manifest entry."""
    name, hr_u8, gray, lr_u8 = item
    hr_u8, lr_u8 = make_pair(name, hr_u8, lr_u8, scale)
    write_png(folder / "HR" / f"{name}.png", hr_u8, gray)
    write_png(folder / "LR" / f"{name}.png", lr_u8, gray)
    return {"name": name, "gray": gray, "hr_hw": list(hr_u8.shape[:2])}


def write_prepared_set(
    out_dir: Path, images: Iterable[tuple[str, np.ndarray, bool, np.ndarray | None]], scale: int, source: str
) -> dict:
    """Write a prepared set atomically from (name, hr_u8, gray, lr_u8 or None) items.

    `images` is consumed one item at a time and each item is written before the
    next is drawn, so a generator that decodes on demand keeps about one image
    in memory. HR is mod-cropped; LR is taken as given (checked against HR's
    size) or made by PIL bicubic. The set is built in a temporary folder that
    replaces `out_dir` only when complete. Returns the manifest.
    """
    entries = []
    with atomic_path(out_dir) as tmp:
        for item in images:
            entries.append(_write_pair(tmp, item, scale))
            del item  # drop this image before the generator decodes the next
        if not entries:
            raise SrganError(f"dataset for {out_dir} has no images")
        manifest = {"scale": scale, "source": source, "images": entries}
        write_json_atomic(tmp / "manifest.json", manifest)
    return manifest
