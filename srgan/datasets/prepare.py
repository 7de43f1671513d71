"""Building a prepared dataset folder from one data source (`data.train`, `data.valid` or `data.test.<set>`).

Sources:
- `skimage`: photographs shipped inside the scikit-image wheel (offline).
- `folder`: a local directory with HR/ and optionally LRbicx4/ (same file
  names); without LRbicx4/ the LR images are made with PIL bicubic.
- `download`: an archive URL (zip/tar), downloaded with resume, verified,
  extracted safely, then read like `folder` (the archive's HR/ and LRbicx4/
  folders, or its images when it has no HR/ folder, e.g. DIV2K).

Images are decoded and written one at a time, so memory stays at about one
image whatever the size of the set (DIV2K train: 800 2K images). Known
benchmark sets are checked by count when all their images are asked for.
Hidden files ('.'-names, e.g. macOS '._x.png' forks) and `__MACOSX/` folders
are ignored. This module needs no torch (see `srgan.core.images`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import numpy as np
from tqdm import tqdm

from srgan.core.config import DatasetParams
from srgan.core.errors import SrganError
from srgan.core.images import IMAGE_SUFFIXES, list_images, read_image
from srgan.datasets.download import fetch_archive
from srgan.datasets.prepared import EvalImage, make_pair, write_prepared_set

log = logging.getLogger(__name__)

# Known sets -> number of HR images in the full set. A set is recognised by its
# name ("train", "valid" or its key in data.test; any case) or by its archive's name (DIV2K_train_HR.zip).
KNOWN_SET_SIZES = {
    "set5": 5,
    "set14": 14,
    "bsd100": 100,
    "urban100": 100,
    "div2k_train": 800,
    "div2k_valid": 100,
}
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")

# (name, HR file, LR file or None) of one image in a source folder.
SourceFile = tuple[str, Path, Path | None]
# (name, hr_u8, gray, lr_u8 or None), what `write_prepared_set` takes.
SourceImage = tuple[str, np.ndarray, bool, np.ndarray | None]


def _ignored(name: str) -> bool:
    """Hidden entries and macOS archive metadata, which never hold set images."""
    return name.startswith(".") or name == "__MACOSX"


def known_set(name: str, url: str = "") -> str | None:
    """The KNOWN_SET_SIZES key for a dataset, from its name, else its archive's name; None if unknown."""
    if name.lower() in KNOWN_SET_SIZES:
        return name.lower()
    archive = PurePosixPath(unquote(urlparse(url).path)).name.lower() if url else ""
    for suffix in _ARCHIVE_SUFFIXES:
        if archive.endswith(suffix):
            key = archive.removesuffix(suffix).removesuffix("_hr")
            return key if key in KNOWN_SET_SIZES else None
    return None


# ---------------------------------------------------------------- skimage


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


def _load_skimage(name: str, loader: Callable[[], np.ndarray]) -> SourceImage:
    arr = np.asarray(loader())
    gray = arr.ndim == 2
    rgb = np.repeat(arr[:, :, None], 3, axis=2) if gray else arr[:, :, :3]
    return name, np.ascontiguousarray(rgb, dtype=np.uint8), gray, None


def _skimage_images(names: tuple[str, ...]) -> Iterator[SourceImage]:
    """Checks every name first, then returns a generator that loads one image per step."""
    loaders = _skimage_loaders()
    for name in names:
        if name not in loaders:
            raise SrganError(f"unknown skimage image '{name}'; available: {', '.join(sorted(loaders))}")
    return (_load_skimage(name, loaders[name]) for name in names)


# ---------------------------------------------------------------- folders


def _images_by_name(folder: Path) -> dict[str, Path]:
    """Image files in `folder` by stem; other files are logged as skipped."""
    files, others = list_images(folder)
    if others:
        shown = ", ".join(p.name for p in others[:5]) + (", ..." if len(others) > 5 else "")
        log.info("%s: skipped %d files that are not images (%s)", folder, len(others), shown)
    by_name: dict[str, Path] = {}
    for path in files:
        if path.stem in by_name:
            raise SrganError(
                f"dataset folder {folder} has two images named '{path.stem}' ({by_name[path.stem].name}, "
                f"{path.name}); keep one"
            )
        by_name[path.stem] = path
    return by_name


def _scan_folder(root: Path, names: tuple[str, ...]) -> tuple[Path, list[SourceFile]]:
    """(HR folder, its images) for root/HR (or root itself when it has no HR/) and optional root/LRbicx4.

    `names` selects images by file stem; () takes them all, sorted by name.
    Nothing is decoded here.
    """
    if not root.is_dir():
        raise SrganError(f"dataset folder {root} is a file, not a folder" if root.exists()
                         else f"dataset folder {root} does not exist")
    hr_dir = root / "HR" if (root / "HR").is_dir() else root
    lr_dir = root / "LRbicx4"
    hr_files = _images_by_name(hr_dir)
    if not hr_files:
        raise SrganError(f"dataset folder {hr_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    missing = [n for n in names if n not in hr_files]
    if missing:
        raise SrganError(f"dataset folder {hr_dir} has no image named '{missing[0]}'")
    lr_files = _images_by_name(lr_dir) if lr_dir.is_dir() else {}
    return hr_dir, [(name, hr_files[name], lr_files.get(name)) for name in (names or hr_files)]


def _read_source_image(name: str, hr_path: Path, lr_path: Path | None) -> SourceImage:
    hr_u8, gray = read_image(hr_path)
    lr_u8 = read_image(lr_path)[0] if lr_path is not None else None
    return name, hr_u8, gray, lr_u8


def _read_images(files: list[SourceFile], label: str) -> Iterator[SourceImage]:
    """Decode one image per step; the generator itself keeps no image between steps."""
    with tqdm(total=len(files), desc=f"prepare {label}", unit="image", disable=len(files) < 20) as bar:
        for name, hr_path, lr_path in files:
            yield _read_source_image(name, hr_path, lr_path)
            bar.update()


def _archive_root(extracted: Path) -> Path:
    """The folder of an extracted archive that holds the set.

    Archives usually hold one top folder (e.g. DIV2K_train_HR/); descend into
    it, ignoring hidden entries and the `__MACOSX/` folder macOS zips add.
    """
    root = extracted
    while not (root / "HR").is_dir():
        entries = [p for p in root.iterdir() if not _ignored(p.name)]
        if len(entries) != 1 or not entries[0].is_dir():
            break
        root = entries[0]
    return root


def _check_count(name: str, ds: DatasetParams, where: str, hr_dir: Path, found: int) -> None:
    """A known set, asked for in full, must have its published number of HR images."""
    key = known_set(name, ds.url if ds.source == "download" else "")
    if key is None or ds.images:
        return
    expected = KNOWN_SET_SIZES[key]
    if found != expected:
        label = name if key == name.lower() else f"{name} ({key} by its archive name)"
        raise SrganError(
            f"{label} from {where}: expected {expected} HR images, found {found} in {hr_dir}; "
            f"check that the source holds the whole set and nothing else"
        )


# ---------------------------------------------------------------- entry points


def prepare_dataset(name: str, ds: DatasetParams, scale: int, out_dir: Path, cache_dir: Path) -> dict:
    """Write the prepared set `name` ("train", "valid" or its key in data.test) from its source to `out_dir`; returns its manifest.

    `cache_dir` holds downloaded archives and their extraction (kept between
    runs). Images are read and written one at a time; `out_dir` appears only
    when the whole set is written.
    """
    if ds.source == "skimage":
        images = _skimage_images(ds.images)
        source = "skimage.data"
    else:
        if ds.source == "folder":
            root, where = Path(ds.path), f"folder {ds.path}"
            source = str(root.resolve())
        else:
            # One cache folder per URL: two sources whose archives share a file name never collide.
            url_dir = cache_dir / hashlib.sha256(ds.url.encode("utf-8")).hexdigest()[:16]
            extracted = url_dir / "extracted"
            seen = fetch_archive(ds.url, extracted, sha256=ds.sha256 or None, cache_dir=url_dir)
            root, where = _archive_root(extracted), ds.url
            source = f"{ds.url} sha256={seen}"
        hr_dir, files = _scan_folder(root, ds.images)
        _check_count(name, ds, where, hr_dir, len(files))
        images = _read_images(files, name)
    manifest = write_prepared_set(out_dir, images, scale, source)
    log.info("prepared %d images of %s from %s", len(manifest["images"]), name, source)
    return manifest


def folder_eval_images(root: Path, scale: int) -> list[EvalImage]:
    """Evaluation pairs straight from a benchmark folder (HR mod-cropped; LR made if absent)."""
    out = []
    for name, hr_path, lr_path in _scan_folder(root, ())[1]:
        _, hr_u8, gray, lr_u8 = _read_source_image(name, hr_path, lr_path)
        hr_u8, lr_u8 = make_pair(name, hr_u8, lr_u8, scale)
        out.append(EvalImage(name, lr_u8, hr_u8, gray))
    return out
