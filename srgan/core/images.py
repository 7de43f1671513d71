"""Image files, 8-bit values and image geometry, without torch.

The one place that reads and writes image files: `read_image` (any supported
file -> HxWx3 uint8 RGB), `open_image` (the PIL image behind it, for callers
that need alpha or bit depth), `write_png`, `list_images` (which files in a
folder are images). The project's one 8-bit rounding rule (`float_to_u8`) and
its luma weights (`BT601_LUMA`, `BT601_Y`) are defined here. Geometry is PIL
bicubic on uint8 arrays. LR images are made with PIL's antialiased bicubic
resize, which reproduces the benchmark LRbicx4 files at > 50 dB (53.3 dB mean on Set5, 51.8 dB on Set14).

Arrays are uint8 HxWx3 RGB (`*_u8`). This module imports numpy and PIL only, so
the prepare stages run (and depend on) no torch code; tensors start in
`srgan.core.tensors`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from srgan.core.artifacts import atomic_path
from srgan.core.errors import SrganError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")

# BT.601 luma. Full range, as PIL's convert("L") computes it: gray = 0.299 R + 0.587 G + 0.114 B
# (scoring images that were gray in their file, and the gray output of `srgan upscale`).
BT601_LUMA = (0.299, 0.587, 0.114)
# Studio range, as MATLAB's rgb2ycbcr (the paper protocol, NIQE): Y = 16 + (65.481 R + 128.553 G
# + 24.966 B) / 255 for R, G, B in [0, 255].
BT601_Y = (65.481, 128.553, 24.966)
BT601_Y_OFFSET = 16.0

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

    A multi-frame file (animated GIF or WebP, multi-page TIFF) gives its first
    frame, and the log says so. Raises SrganError naming the file when it is missing,
    unreadable, or so large that PIL refuses it as a decompression bomb.
    """
    try:
        with Image.open(path) as img:
            # Counting frames seeks through the file, so count before decoding frame 0.
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                log.warning("%s has %d frames (an animation or a multi-page file); only the first is used",
                            path, frames)
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
    rule: `srgan.core.tensors.round_u8` applies it to tensors.
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
