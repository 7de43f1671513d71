"""Images and files for `srgan upscale`: inputs, colour modes, output formats, atomic writes.

The tensor work is `srgan.inference.tiling.super_resolve_u8`; this module decides what
goes in (which files, which PIL modes) and what comes out (mode, format,
colour profile), and writes each result atomically.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from srgan.core.artifacts import atomic_path
from srgan.core.errors import SrganError
from srgan.core.images import (
    DEEP_GRAY_MODES,
    GRAY_MODES,
    IMAGE_SUFFIXES,
    image_type_error,
    list_images,
    open_image,
    pil_to_rgb_u8,
)
from srgan.core.runtime import Runtime
from srgan.inference.tiling import TileProgress, super_resolve_u8

log = logging.getLogger(__name__)

# Output suffix -> PIL format.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
# Input suffixes written in another format by default: GIF holds 256 colours at most, so an
# upscaled GIF becomes a PNG (--format picks another).
_DEFAULT_OUTPUT_SUFFIX = {".gif": ".png"}
_SAVE_OPTIONS = {
    "PNG": {},
    "JPEG": {"quality": 95},
    "WEBP": {"quality": 95},
    "TIFF": {"compression": "tiff_deflate"},
    "BMP": {},
}
# Input modes whose colours are RGB in the space of the file's colour profile (a palette's entries are RGB;
# RGBX and RGBa are RGB with padding or premultiplied alpha): the profile is kept for an RGB or RGBA output.
_RGB_FAMILY_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")


# ---------------------------------------------------------------- inputs


@dataclass
class UpscaleInputs:
    """What `collect_inputs` found: files to upscale, folder files passed over, unusable inputs."""

    files: list[Path] = field(default_factory=list)  # in the order given; a folder's files sorted
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file in an input folder, why)
    errors: list[str] = field(default_factory=list)  # one message per input that cannot be used


def collect_inputs(inputs: Sequence[Path]) -> UpscaleInputs:
    """Image files named in `inputs` or found directly in the folders named there.

    A folder contributes its supported image files (IMAGE_SUFFIXES, not
    recursive); its other files are listed as skipped, with the reason. Hidden
    files (names starting with '.', e.g. the temporaries of an interrupted run)
    are passed over silently. A named file that is missing or not a supported
    image type, or a folder without images, gives an error message naming it.
    """
    found = UpscaleInputs()
    for path in inputs:
        if path.is_dir():
            images, others = list_images(path)
            found.skipped += [(p, image_type_error(p) or "") for p in others]
            if not images:
                found.errors.append(f"folder {path} holds no {'/'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)} files")
            found.files += images
        elif path.is_file():
            why = image_type_error(path)
            if why is None:
                found.files.append(path)
            else:
                found.errors.append(f"{path}: {why}")
        else:
            found.errors.append(f"input {path} does not exist (no such file or folder)")
    return found


def lr_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image file from its header (no decoding), or None when it cannot be read:
    for progress bars that must know how much work is ahead before the first image is decoded."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


# ---------------------------------------------------------------- images


def upscale_image(
    model: nn.Module,
    img: Image.Image,
    runtime: Runtime,
    scale: int,
    tile_px: int,
    overlap_px: int = 16,
    name: str = "image",
    on_tile: TileProgress | None = None,
) -> Image.Image:
    """Upscale a PIL image by `scale`, keeping its kind of colour.

    - RGB: upscaled as is.
    - Grayscale (1, L, 16-bit I;16, 32-bit I/F): the gray value is replicated
      to RGB, upscaled, and the SR luma is returned as 8-bit L. Inputs with more
      than 8 bits come back as 8 bit (logged).
    - RGBA / LA: the colour is upscaled by the model; alpha is upscaled on its
      own with PIL bicubic and re-attached (RGBA / LA result).
    - Palette (P): converted to RGB, or RGBA when it has transparency.
    - Other modes (CMYK, YCbCr, ...): converted to RGB.
    The modes read are `srgan.core.images.SUPPORTED_MODES`. on_tile(done, all) is called after each tile.
    """
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    elif img.mode in ("RGBa", "La"):  # premultiplied alpha
        img = img.convert("RGBA" if img.mode == "RGBa" else "LA")
    if img.mode in DEEP_GRAY_MODES:
        log.warning("%s is %s (more than 8 bits); the result is written as 8-bit grayscale", name, img.mode)
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    rgb_u8, gray = pil_to_rgb_u8(img, name)
    sr_u8 = super_resolve_u8(model, rgb_u8, runtime, tile_px, overlap_px, gray=gray, scale=scale, on_tile=on_tile)
    out = Image.fromarray(sr_u8)  # (H, W) -> L, (H, W, 3) -> RGB
    if alpha is not None:
        out.putalpha(alpha.resize(out.size, Image.Resampling.BICUBIC))
    return out


def _fit_format(img: Image.Image, fmt: str, name: str) -> Image.Image:
    """Convert to a mode `fmt` can store; JPEG drops alpha with a warning."""
    if fmt == "JPEG" and img.mode in ("RGBA", "LA"):
        log.warning("%s: JPEG has no alpha channel; transparency is dropped", name)
        return img.convert("RGB" if img.mode == "RGBA" else "L")
    if fmt == "WEBP" and img.mode in ("L", "LA"):  # WebP stores colour only
        return img.convert("RGB" if img.mode == "L" else "RGBA")
    if fmt == "BMP" and img.mode == "LA":
        return img.convert("RGBA")
    return img


# ---------------------------------------------------------------- files


def check_output_folder(out_dir: Path) -> None:
    """SrganError, in one line, when `out_dir` cannot be the output folder: it is a file, or a file or an
    unwritable folder stands where it would be made. Checks without creating anything, so a command can say
    so before it loads a model."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SrganError(f"-o {out_dir} is a file; srgan upscale writes one image per input into a folder: give a "
                         "folder (it is created when missing)")
    existing = out_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SrganError(f"-o {out_dir}: {existing} is a file, so the folder cannot be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SrganError(f"-o {out_dir}: {existing} is not writable")


def output_path(in_path: Path, out_dir: Path, out_format: str | None) -> Path:
    """out_dir / input stem + the input's suffix (a GIF's: .png), or `.{out_format}` when given."""
    if out_format:
        suffix = f".{out_format.lower()}"
    else:
        suffix = _DEFAULT_OUTPUT_SUFFIX.get(in_path.suffix.lower(), in_path.suffix.lower())
    if suffix not in OUTPUT_FORMATS:
        what = suffix or "files without a suffix"
        raise SrganError(f"cannot write {what} ({in_path}); use --format png|jpg|webp|tiff")
    return out_dir / f"{in_path.stem}{suffix}"


def upscale_file(
    model: nn.Module,
    in_path: Path,
    out_path: Path,
    runtime: Runtime,
    scale: int,
    tile_px: int,
    overlap_px: int = 16,
    on_tile: TileProgress | None = None,
) -> tuple[int, int]:
    """Read `in_path`, `upscale_image` it and write `out_path` atomically (format from its suffix).

    Returns the output (width, height). Raises SrganError naming the file for
    an unsupported type, unreadable input, out-of-memory and write errors;
    nothing is left at `out_path` on failure.
    """
    why = image_type_error(in_path)
    if why is not None:
        raise SrganError(f"{in_path}: {why}")
    fmt = OUTPUT_FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise SrganError(f"cannot write {out_path}: unknown suffix; use one of {', '.join(OUTPUT_FORMATS)}")
    src = open_image(in_path)
    icc = src.info.get("icc_profile")
    in_family = ("gray" if src.mode in GRAY_MODES + DEEP_GRAY_MODES else "rgb" if src.mode in _RGB_FAMILY_MODES
                 else None)
    try:
        sr = upscale_image(model, src, runtime, scale, tile_px, overlap_px, name=str(in_path), on_tile=on_tile)
    except (torch.cuda.OutOfMemoryError, MemoryError):
        hint = f"use a smaller --tile than {tile_px}" if tile_px > 0 else "use --tile 256"
        raise SrganError(f"out of memory upscaling {in_path}; {hint}") from None
    sr = _fit_format(sr, fmt, str(in_path))
    options = dict(_SAVE_OPTIONS[fmt])
    out_family = "gray" if sr.mode in ("L", "LA") else "rgb"
    if icc and in_family == out_family:  # a profile only describes the colour space it came with
        options["icc_profile"] = icc
    try:
        with atomic_path(out_path) as tmp:
            sr.save(tmp, format=fmt, **options)
    except OSError as e:
        raise SrganError(f"cannot write {out_path} (from {in_path}): {e}") from None
    return sr.size



if __name__ == "__main__":
    raise SystemExit("error: srgan.inference.upscale is a library module, not a command: run `srgan upscale` "
                     "(or `python -m srgan upscale`)")
