"""The prepared-set folder layout, written and read here only.

A prepared set is a folder: `HR/<name>.png` (mod-cropped to a multiple of the
scale; grayscale stays mode L), `LR/<name>.png` (x scale smaller: the set's own
LR files, or PIL bicubic of HR) and `manifest.json` listing the images in order
(`{"scale", "source", "images": [{"name", "gray", "hr_hw"}]}`). The prepare
stages write it (`write_prepared_set`); training, evaluation and the report read
it (`load_eval_set`, `load_train_set`, `read_pair`). numpy and PIL only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from srgan.core.artifacts import atomic_path, read_json, write_json_atomic
from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale, mod_crop, read_image, write_png

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class EvalImage:
    """One (LR, HR) pair of an evaluation or validation set."""

    name: str
    lr_u8: np.ndarray  # (h, w, 3)
    hr_u8: np.ndarray  # (h*scale, w*scale, 3)
    gray: bool  # the source file was grayscale: scored on its gray values


@dataclass(frozen=True)
class TrainImage:
    """One training image: HR and its LR, both decoded once and kept in memory."""

    name: str
    hr_u8: np.ndarray  # (H, W, 3), H and W multiples of the scale
    lr_u8: np.ndarray  # (H/scale, W/scale, 3)


# ---------------------------------------------------------------- writing


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
        write_json_atomic(tmp / MANIFEST, manifest)
    return manifest


# ---------------------------------------------------------------- reading


def read_manifest(set_dir: Path, scale: int) -> dict:
    """The manifest of a prepared set made for `scale`; SrganError naming the folder otherwise."""
    if not (set_dir / MANIFEST).is_file():
        raise SrganError(f"prepared dataset {set_dir} has no {MANIFEST}; run the prepare stage (dvc repro)")
    manifest = read_json(set_dir / MANIFEST, "prepared set manifest")
    if manifest["scale"] != scale:
        raise SrganError(f"prepared dataset {set_dir} is x{manifest['scale']}, but data.scale is {scale}")
    return manifest


def image_names(set_dir: Path, scale: int) -> list[str]:
    """The set's image names in manifest order."""
    return [entry["name"] for entry in read_manifest(set_dir, scale)["images"]]


def read_pair(set_dir: Path, name: str, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 RGB of one image of a prepared set, checked to be a x`scale` pair."""
    hr_path = set_dir / "HR" / f"{name}.png"
    if not hr_path.is_file():
        raise SrganError(f"{hr_path} does not exist; name an image of the prepared set {set_dir}")
    hr_u8, _ = read_image(hr_path)
    lr_u8, _ = read_image(set_dir / "LR" / f"{name}.png")
    if hr_u8.shape[:2] != (lr_u8.shape[0] * scale, lr_u8.shape[1] * scale):
        raise SrganError(f"prepared image {set_dir}/{{HR,LR}}/{name}.png is not a x{scale} pair; re-run prepare")
    return hr_u8, lr_u8


def load_eval_set(set_dir: Path, scale: int) -> list[EvalImage]:
    """A prepared set's (LR, HR) pairs for evaluation or validation, in manifest order."""
    out = []
    for entry in read_manifest(set_dir, scale)["images"]:
        hr_u8, lr_u8 = read_pair(set_dir, entry["name"], scale)
        out.append(EvalImage(entry["name"], lr_u8, hr_u8, bool(entry["gray"])))
    return out


def centre_crop(item: EvalImage, crop_px: int, scale: int) -> EvalImage:
    """The centre `crop_px` x `crop_px` HR window of an evaluation pair and its LR window (the study
    validated SRGAN on 256-px centre crops); a side shorter than the crop is kept whole."""
    lr_h, lr_w = item.lr_u8.shape[:2]
    size_h, size_w = min(crop_px // scale, lr_h), min(crop_px // scale, lr_w)
    top, left = (lr_h - size_h) // 2, (lr_w - size_w) // 2
    lr_u8 = item.lr_u8[top : top + size_h, left : left + size_w]
    hr_u8 = item.hr_u8[top * scale : (top + size_h) * scale, left * scale : (left + size_w) * scale]
    return EvalImage(item.name, np.ascontiguousarray(lr_u8), np.ascontiguousarray(hr_u8), item.gray)


def load_train_set(set_dir: Path, scale: int) -> list[TrainImage]:
    """A prepared set's HR and LR images (RGB uint8; grayscale replicated) for training.

    Each file is decoded once, by a thread pool (PIL releases the GIL while it
    decodes PNG/JPEG), and returned in manifest order; the first unreadable
    image in that order raises its SrganError. Patches are then cut from these
    arrays instead of decoding a 2K image per sample. DataLoader workers started
    by fork (the Linux default) share the arrays copy-on-write: reading pixels
    copies no pages, so the set sits in memory once, not once per worker.
    """
    names = image_names(set_dir, scale)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(read_pair, set_dir, name, scale) for name in names]
        try:
            pairs = [
                future.result()
                for future in tqdm(futures, desc="load train images", unit="image", disable=len(futures) < 20)
            ]
        except BaseException:
            # Don't decode the rest of a large set only to throw it away.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [TrainImage(name, hr_u8, lr_u8) for name, (hr_u8, lr_u8) in zip(names, pairs)]
