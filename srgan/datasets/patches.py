"""Training patches: the sampling plan (which items each step draws) and the patch dataset.

Item i of a run is a pure function of (seed, i): the same index gives the same
patch in any worker or process, so runs are reproducible, resumable and shard
cleanly across DDP ranks. `PatchPlan` maps optimiser steps to items, and is the
one place that counts a run's steps (`steps` or `epochs` passes over the images).
Patches are float32 RGB in [0, 1]: (3, p, p) HR and (3, p/scale, p/scale) LR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale
from srgan.core.tensors import to_tensor
from srgan.datasets.prepared import TrainImage


@dataclass(frozen=True)
class PatchPlan:
    """Which PatchDataset items each optimiser step draws, and how many steps a run has.

    unit "step": `length` steps of `batch_size` items, items 0, 1, 2, ... in order.
    unit "epoch": `length` passes; pass k is items [k*n, (k+1)*n) of the n images
    (each image once, in a fresh order per pass, as the study's epochs). An epoch
    takes `steps_per_epoch` whole batches from the start of a fresh pass; images
    that do not fill a last batch sit that epoch out, as with drop_last.
    """

    unit: str  # "step" | "epoch" (TrainParams.unit)
    length: int  # the run's length in its unit
    batch_size: int  # global batch
    num_images: int  # training images

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.num_images // self.batch_size)

    @property
    def steps_per_unit(self) -> int:
        """Optimiser steps in one unit: an epoch's, or 1."""
        return self.steps_per_epoch if self.unit == "epoch" else 1

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the whole run."""
        return self.length * self.steps_per_unit

    @property
    def per_epoch(self) -> bool:
        return self.unit == "epoch"

    @property
    def dataset_length(self) -> int:
        """Items of the PatchDataset the plan indexes into."""
        if self.unit != "epoch":
            return self.total_steps * self.batch_size
        return self.length * self._stride

    @property
    def _stride(self) -> int:
        used = self.steps_per_epoch * self.batch_size
        return -(-used // self.num_images) * self.num_images  # items per epoch, rounded up to whole passes

    def items(self, start_step: int) -> Sequence[int]:
        """Dataset items of steps start_step+1 .. total_steps, batch after batch."""
        batch = self.batch_size
        start, end = start_step * batch, self.total_steps * batch
        if self.unit != "epoch":
            return range(start, end)
        used = self.steps_per_epoch * batch
        return [k // used * self._stride + k % used for k in range(start, end)]


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

    Item i is a pure function of (seed, i). Images are drawn uniformly at random,
    or with `per_epoch=True` each image once per pass (item i belongs to pass
    i // len(images), in a fresh random order per pass; the study's epochs).
    Returns (lr_img (3, p/scale, p/scale), hr_img (3, p, p)) float32 in [0, 1];
    LR is the PIL bicubic x`scale` downscale of the HR patch.
    """

    def __init__(
        self,
        images: list[TrainImage],
        patch_px: int,
        scale: int,
        augment: str,
        length: int,
        seed: int,
        per_epoch: bool = False,
    ) -> None:
        if not images:
            raise SrganError("training set is empty")
        for image in images:
            height, width = image.hr_u8.shape[:2]
            if min(height, width) < patch_px:
                raise SrganError(
                    f"training image {image.name} is {width}x{height}, smaller than the "
                    f"{patch_px} px patch; lower patch_px or remove the image"
                )
        self.images = [image.hr_u8 for image in images]
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
