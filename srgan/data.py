"""Image I/O, PIL-bicubic LR generation, mod-crop, datasets and augmentation.

Arrays are uint8 HxWx3 RGB (`*_u8`); tensors are float32 RGB in [0, 1], CHW or
NCHW. Conversions between the two happen only here (and in `srgan.metrics`).
LR images are made with PIL's antialiased bicubic resize, which reproduces the
benchmark LRbicx4 files at > 50 dB (BRIEF section 2).
"""

from __future__ import annotations

import json
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset
from tqdm import tqdm

from srgan.artifacts import atomic_path, write_json_atomic
from srgan.errors import SrganError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# ---------------------------------------------------------------- image I/O


def pil_to_rgb_u8(img: Image.Image, name: str) -> tuple[np.ndarray, bool]:
    """Convert any PIL image to (HxWx3 uint8 RGB, was_gray).

    Grayscale (L, LA, 1), 16-bit/32-bit gray (I;16, I), palette (P) and
    RGBA/LA (alpha dropped: SR models see colour only) are handled; 16-bit
    values are scaled to 8 bit with rounding.
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), True
    if mode in ("1", "L", "LA"):
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), True
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if mode not in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        raise SrganError(f"image {name} has unsupported mode {mode}")
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), False


def read_image(path: Path) -> tuple[np.ndarray, bool]:
    """Read an image file as (HxWx3 uint8 RGB, was_gray); SrganError if unreadable."""
    try:
        with Image.open(path) as img:
            img.load()
            return pil_to_rgb_u8(img, str(path))
    except FileNotFoundError:
        raise SrganError(f"image {path} not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise SrganError(f"image {path} cannot be read (corrupt or truncated?): {e}") from None


def write_png(path: Path, img_u8: np.ndarray, gray: bool = False) -> None:
    """Write HxWx3 uint8 RGB as PNG atomically; `gray` stores one channel (mode L)."""
    img = Image.fromarray(img_u8[:, :, 0] if gray else img_u8, mode="L" if gray else "RGB")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def to_tensor(img_u8: np.ndarray) -> Tensor:
    """HxWx3 uint8 -> 3xHxW float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img_u8)).permute(2, 0, 1).float().div_(255.0)


def to_u8(img: Tensor) -> np.ndarray:
    """3xHxW (or 1x3xHxW) float in [0, 1] -> HxWx3 uint8, clamped and rounded."""
    if img.dim() == 4:
        img = img[0]
    return img.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


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
# LR/<name>.png (x scale smaller) and manifest.json listing the images.


@dataclass(frozen=True)
class EvalImage:
    name: str
    lr_u8: np.ndarray  # (h, w, 3)
    hr_u8: np.ndarray  # (h*scale, w*scale, 3)
    gray: bool  # the source file was grayscale: scored on its gray values


def write_prepared_set(
    out_dir: Path, images: list[tuple[str, np.ndarray, bool, np.ndarray | None]], scale: int, source: str
) -> dict:
    """Write a prepared set atomically from (name, hr_u8, gray, lr_u8 or None).

    HR is mod-cropped; LR is taken as given (checked against HR's size) or made
    by PIL bicubic. Returns the manifest.
    """
    if not images:
        raise SrganError(f"dataset for {out_dir} has no images")
    entries = []
    with atomic_path(out_dir) as tmp:
        for name, hr_u8, gray, lr_u8 in images:
            hr_u8 = mod_crop(hr_u8, scale)
            if hr_u8.shape[0] < scale or hr_u8.shape[1] < scale:
                raise SrganError(f"image {name} is smaller than the scale ({scale} px)")
            if lr_u8 is None:
                lr_u8 = bicubic_downscale(hr_u8, scale)
            elif lr_u8.shape[:2] != (hr_u8.shape[0] // scale, hr_u8.shape[1] // scale):
                raise SrganError(
                    f"LR image {name} is {lr_u8.shape[1]}x{lr_u8.shape[0]}, expected HR/{scale} = "
                    f"{hr_u8.shape[1] // scale}x{hr_u8.shape[0] // scale}"
                )
            write_png(tmp / "HR" / f"{name}.png", hr_u8, gray)
            write_png(tmp / "LR" / f"{name}.png", lr_u8, gray)
            entries.append({"name": name, "gray": gray, "hr_hw": list(hr_u8.shape[:2])})
        manifest = {"scale": scale, "source": source, "images": entries}
        write_json_atomic(tmp / "manifest.json", manifest)
    return manifest


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
