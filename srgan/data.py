"""Tensors at the image edge, prepared-set loading, and training patches.

Arrays are uint8 HxWx3 RGB (`*_u8`); tensors are float32 RGB in [0, 1], CHW or
NCHW. Conversions between the two happen only here (and in `srgan.metrics`),
with the project's one 8-bit rounding rule (`round_u8`). Image files, geometry
and the prepared-set writer live in `srgan.images`, which needs no torch.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from tqdm import tqdm

from srgan.errors import SrganError
from srgan.images import EvalImage, bicubic_downscale, read_image

# ---------------------------------------------------------------- tensors


def to_tensor(img_u8: np.ndarray) -> Tensor:
    """HxWx3 uint8 -> 3xHxW float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img_u8)).permute(2, 0, 1).float().div_(255.0)


def round_u8(img: Tensor) -> Tensor:
    """Float in [0, 1] (clamped), any shape and device -> uint8 of the same shape.

    floor(x * 255 + 0.5) in float64: ties round up, as MATLAB's im2uint8,
    `srgan.metrics.quantize_u8` and `srgan.images.float_to_u8` do (torch.round
    would send ties to the even integer). float64 because x * 255 rounded to
    float32 can land a value just below a tie on it.
    """
    # copy=True: the in-place steps below must never write into the caller's tensor.
    return img.detach().to(torch.float64, copy=True).clamp_(0, 1).mul_(255.0).add_(0.5).floor_().to(torch.uint8)


def to_u8(img: Tensor) -> np.ndarray:
    """3xHxW (or 1x3xHxW) float in [0, 1] -> HxWx3 uint8, clamped and rounded by `round_u8`."""
    if img.dim() == 4:
        img = img[0]
    return round_u8(img).permute(1, 2, 0).cpu().numpy()


# ---------------------------------------------------------------- prepared sets

# The folder layout (HR/, LR/, manifest.json) is described in `srgan.images`.


def _read_manifest(set_dir: Path) -> dict:
    path = set_dir / "manifest.json"
    if not path.is_file():
        raise SrganError(f"prepared dataset {set_dir} has no manifest.json; run the prepare stage (dvc repro)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_eval_set(set_dir: Path, scale: int) -> list[EvalImage]:
    """Load a prepared set's (LR, HR) pairs for evaluation."""
    manifest = _read_manifest(set_dir)
    if manifest["scale"] != scale:
        raise SrganError(f"prepared dataset {set_dir} is x{manifest['scale']}, but data.scale is {scale}")
    out = []
    for entry in manifest["images"]:
        hr_u8, _ = read_image(set_dir / "HR" / f"{entry['name']}.png")
        lr_u8, _ = read_image(set_dir / "LR" / f"{entry['name']}.png")
        out.append(EvalImage(entry["name"], lr_u8, hr_u8, bool(entry["gray"])))
    return out


def load_hr_images(set_dir: Path) -> list[tuple[str, np.ndarray]]:
    """Load a prepared set's HR images (RGB uint8; grayscale replicated) for training.

    Each file is decoded once, by a thread pool (PIL releases the GIL while it
    decodes PNG/JPEG), and returned in manifest order; the first unreadable
    image in that order raises its SrganError. `PatchDataset` then cuts patches
    from these arrays instead of decoding a 2K image per sample. DataLoader
    workers started by fork (the Linux default) share the arrays copy-on-write:
    reading pixels copies no pages, so the set sits in memory once, not once
    per worker.
    """
    manifest = _read_manifest(set_dir)
    names = [e["name"] for e in manifest["images"]]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(read_image, set_dir / "HR" / f"{name}.png") for name in names]
        try:
            images = [
                future.result()[0]
                for future in tqdm(futures, desc="load train images", unit="image", disable=len(futures) < 20)
            ]
        except BaseException:
            # Don't decode the rest of a large set only to throw it away.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return list(zip(names, images))


# ---------------------------------------------------------------- training patches


def _augment_dihedral(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the 8 flips/rotations by 90 degrees."""
    k = int(rng.integers(4))
    patch = np.rot90(patch, k)
    if rng.integers(2):
        patch = patch[:, ::-1]
    return patch


def _crop_rotated(img_u8: np.ndarray, patch_px: int, rng: np.random.Generator) -> np.ndarray:
    """The study's augmentation: random rotation in [-10, 10] degrees, then h-flip with p=0.5.

    A window large enough to hold the rotated patch is cut, rotated with bicubic
    interpolation and centre-cropped, so no padding enters the patch.
    """
    h, w = img_u8.shape[:2]
    angle = float(rng.uniform(-10.0, 10.0))
    # An image too small for a 10-degree window gets a proportionally smaller angle:
    # the rotated patch's bounding box, patch_px * (cos + sin), must fit with a margin.
    room = (min(h, w) - 3) / (patch_px * math.sqrt(2.0))
    max_deg = math.degrees(math.asin(min(room, 1.0))) - 45.0 if room > 0 else 0.0
    if max_deg < 10.0:
        angle *= max(max_deg, 0.0) / 10.0
    rad = math.radians(abs(angle))
    side = int(math.ceil(patch_px * (math.cos(rad) + math.sin(rad)))) + 2
    side = min(side, h, w)
    top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    window = Image.fromarray(img_u8[top : top + side, left : left + side])
    window = window.rotate(angle, resample=Image.Resampling.BICUBIC)
    off = (side - patch_px) // 2
    patch = np.asarray(window, dtype=np.uint8)[off : off + patch_px, off : off + patch_px]
    if rng.integers(2):
        patch = patch[:, ::-1]
    return patch


class PatchDataset(Dataset):
    """Random (LR, HR) training patches from in-memory HR images.

    Item i is a pure function of (seed, i): the same index gives the same patch
    in any worker or process, so runs are reproducible, resumable and shard
    cleanly across DDP ranks. Images are drawn uniformly at random, or with
    `per_epoch=True` each image once per pass (item i belongs to pass
    i // len(images), in a fresh random order per pass; the study's epochs).
    Returns (lr_img (3, p/scale, p/scale), hr_img (3, p, p)) float32 in [0, 1];
    LR is the PIL bicubic x`scale` downscale of the HR patch.
    """

    def __init__(
        self,
        images: list[tuple[str, np.ndarray]],
        patch_px: int,
        scale: int,
        augment: str,
        length: int,
        seed: int,
        per_epoch: bool = False,
    ) -> None:
        if not images:
            raise SrganError("training set is empty")
        for name, img in images:
            if min(img.shape[:2]) < patch_px:
                raise SrganError(
                    f"training image {name} is {img.shape[1]}x{img.shape[0]}, smaller than the "
                    f"{patch_px} px patch; lower patch_px or remove the image"
                )
        self.images = [img for _, img in images]
        self.patch_px, self.scale, self.augment = patch_px, scale, augment
        self.length, self.seed, self.per_epoch = length, seed, per_epoch

    def _image_index(self, index: int, rng: np.random.Generator) -> int:
        n = len(self.images)
        if not self.per_epoch:
            return int(rng.integers(n))
        epoch, position = divmod(index, n)
        return int(np.random.default_rng([self.seed, epoch, n]).permutation(n)[position])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        rng = np.random.default_rng([self.seed, index])
        img = self.images[self._image_index(index, rng)]
        if self.augment == "rot10_hflip":
            patch = _crop_rotated(img, self.patch_px, rng)
        else:
            h, w = img.shape[:2]
            top = int(rng.integers(h - self.patch_px + 1))
            left = int(rng.integers(w - self.patch_px + 1))
            patch = img[top : top + self.patch_px, left : left + self.patch_px]
            if self.augment == "flip_rot90":
                patch = _augment_dihedral(patch, rng)
        patch = np.ascontiguousarray(patch)
        return to_tensor(bicubic_downscale(patch, self.scale)), to_tensor(patch)
