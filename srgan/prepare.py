"""Building a prepared dataset folder from one `data.sets` source.

Sources:
- `skimage`: photographs shipped inside the scikit-image wheel (offline).
- `folder`: a local directory with HR/ and optionally LRbicx4/ (same file
  names); without LRbicx4/ the LR images are made with PIL bicubic.
- `download`: an archive URL (zip/tar), downloaded with resume, verified,
  extracted safely, then read like `folder` (the archive's HR/ and LRbicx4/
  folders, or its images when it has no HR/ folder, e.g. DIV2K).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from srgan.config import DatasetParams
from srgan.data import IMAGE_SUFFIXES, EvalImage, bicubic_downscale, mod_crop, read_image, write_prepared_set
from srgan.download import fetch_archive
from srgan.errors import SrganError

log = logging.getLogger(__name__)


def _skimage_loaders() -> dict[str, Callable[[], np.ndarray]]:
    import skimage.data as sd

    return {
        **{
            name: getattr(sd, name)
            for name in (
                "astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "colorwheel",
                "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page",
                "retina", "rocket", "text",
            )
        },
        "motorcycle_left": lambda: sd.stereo_motorcycle()[0],
        "motorcycle_right": lambda: sd.stereo_motorcycle()[1],
    }


def _skimage_images(names: tuple[str, ...]) -> list[tuple[str, np.ndarray, bool, None]]:
    loaders = _skimage_loaders()
    out = []
    for name in names:
        if name not in loaders:
            raise SrganError(f"unknown skimage image '{name}'; available: {', '.join(sorted(loaders))}")
        arr = np.asarray(loaders[name]())
        gray = arr.ndim == 2
        rgb = np.repeat(arr[:, :, None], 3, axis=2) if gray else arr[:, :, :3]
        out.append((name, np.ascontiguousarray(rgb, dtype=np.uint8), gray, None))
    return out


def _image_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}


def _folder_images(root: Path, names: tuple[str, ...]) -> list[tuple[str, np.ndarray, bool, np.ndarray | None]]:
    """Read root/HR (or root itself when it has no HR/) and optional root/LRbicx4."""
    if not root.is_dir():
        raise SrganError(f"dataset folder {root} does not exist")
    hr_dir = root / "HR" if (root / "HR").is_dir() else root
    lr_dir = root / "LRbicx4"
    hr_files = _image_files(hr_dir)
    if not hr_files:
        raise SrganError(f"dataset folder {hr_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if names:
        missing = [n for n in names if n not in hr_files]
        if missing:
            raise SrganError(f"dataset folder {hr_dir} has no image named '{missing[0]}'")
        hr_files = {n: hr_files[n] for n in names}
    lr_files = _image_files(lr_dir) if lr_dir.is_dir() else {}
    out = []
    for name, path in hr_files.items():
        hr_u8, gray = read_image(path)
        lr_u8 = read_image(lr_files[name])[0] if name in lr_files else None
        out.append((name, hr_u8, gray, lr_u8))
    return out


def prepare_dataset(ds: DatasetParams, scale: int, out_dir: Path, cache_dir: Path) -> dict:
    """Write the prepared set for one source to `out_dir`; returns its manifest.

    `cache_dir` holds downloaded archives and their extraction (kept between runs).
    """
    if ds.source == "skimage":
        images = _skimage_images(ds.images)
        source = "skimage.data"
    elif ds.source == "folder":
        images = _folder_images(Path(ds.path), ds.images)
        source = str(Path(ds.path).resolve())
    else:
        # One cache folder per URL: two sources whose archives share a file name never collide.
        url_dir = cache_dir / hashlib.sha256(ds.url.encode("utf-8")).hexdigest()[:16]
        extracted = url_dir / "extracted"
        seen = fetch_archive(ds.url, extracted, sha256=ds.sha256 or None, cache_dir=url_dir)
        root = extracted
        # Archives usually hold one top folder (e.g. DIV2K_train_HR/); descend into it.
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        while len(entries) == 1 and entries[0].is_dir() and not (root / "HR").is_dir():
            root = entries[0]
            entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        images = _folder_images(root, ds.images)
        source = f"{ds.url} sha256={seen}"
    log.info("prepared %d images from %s", len(images), source)
    return write_prepared_set(out_dir, images, scale, source)


def folder_eval_images(root: Path, scale: int) -> list[EvalImage]:
    """Evaluation pairs straight from a benchmark folder (HR mod-cropped; LR made if absent)."""
    out = []
    for name, hr_u8, gray, lr_u8 in _folder_images(root, ()):
        hr_u8 = mod_crop(hr_u8, scale)
        if lr_u8 is None:
            lr_u8 = bicubic_downscale(hr_u8, scale)
        elif lr_u8.shape[:2] != (hr_u8.shape[0] // scale, hr_u8.shape[1] // scale):
            raise SrganError(f"LR image {name} in {root} does not match its HR image at x{scale}")
        out.append(EvalImage(name, lr_u8, hr_u8, gray))
    return out
