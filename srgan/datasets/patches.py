"""Training patches: the sampling plan, the draws, and two samplers that cut the very same patches.

Item i of a run is a pure function of (seed, i): the same index gives the same patch
in any worker, process or sampler, so runs are reproducible, resumable and shard
cleanly across DDP ranks.

- `PatchPlan` maps optimiser steps to items; it is the one place that counts a run's
  steps (`steps`, or `epochs` passes over the images).
- `draw_patch` draws an item's image, place and augmentation on the host (numpy).
- `cut_patches` cuts a batch of draws from an `ImageStore` (the training HR and LR
  images as flat uint8 buffers on one device) with tensor indexing: crops, flips
  and quarter turns gather pixels; the study's 10-degree rotation samples HR
  bicubically (float64) and makes its LR from the rotated patch. A batch's draws
  travel as one packed tensor (`pack_draws`; `cut_packed` cuts from it).
- Two samplers, one result: `PatchDataset` (the CPU loader: one item at a time in
  DataLoader workers) and `DevicePatches` (the whole training set in GPU memory, a
  batch per call, no loader). `tests/datasets/test_patches.py` runs both on the CPU and
  checks that their patches are identical.

LR patches: for `none` and `flip_rot90` the LR patch is the matching crop of the
prepared LR image (PIL bicubic of the whole HR image, as at test time), so crops sit
on the LR grid (multiples of `scale`). For `rot10_hflip` it is the antialiased bicubic
downscale of the rotated HR patch (torch, float64, rounded to 8 bit; within 5 levels of
PIL's fixed-point bicubic at about 10 % of the pixels, measured in tests/datasets/test_patches.py).
The rotation is torch's bicubic `grid_sample` about the window's centre, turning the way
PIL's rotate does (1.0 level mean difference from PIL's, measured there too). float64 on
both samplers: a CPU and a GPU round the same values to the same 8-bit patch.
Patches come out as float32 RGB in [0, 1]: LR (N, 3, P/s, P/s), HR (N, 3, P, P), NHWC in
memory (channels_last), the layout the networks train in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from srgan.core.errors import SrganError
from srgan.datasets.prepared import TrainImage

log = logging.getLogger(__name__)

AUGMENTS = ("none", "flip_rot90", "rot10_hflip")
ROT10_MAX_DEG = 10.0
# Output pixels' bicubic taps reach 2 px past the rotated patch; the window keeps 3 px spare per side.
_ROT_MARGIN_PX = 6


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PatchPlan:
    """Which items each optimiser step draws, and how many steps a run has.

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
        """Items of steps start_step+1 .. total_steps, batch after batch (`batch_size` each)."""
        batch = self.batch_size
        start, end = start_step * batch, self.total_steps * batch
        if self.unit != "epoch":
            return range(start, end)
        used = self.steps_per_epoch * batch
        return [k // used * self._stride + k % used for k in range(start, end)]


# ---------------------------------------------------------------- the draws


@dataclass(frozen=True)
class PatchDraw:
    """Where one patch comes from and how it is turned (drawn on the host, applied by `cut_patches`)."""

    image: int  # index into the training images
    top: int  # HR px of the window's top-left corner: the crop (none, flip_rot90) or the rotation window
    left: int
    side: int  # the window's side in HR px (the patch side, or the rotation window's)
    quarter_turns: int  # 0..3 counter-clockwise turns by 90 degrees, as np.rot90 (flip_rot90)
    flip: bool  # left-right mirror, applied last
    angle_deg: float  # rotation about the window's centre (rot10_hflip); 0 otherwise


def rotation_window(patch_px: int, angle_deg: float) -> int:
    """Side in HR px of the square window that holds a patch rotated by `angle_deg` and its bicubic taps."""
    rad = math.radians(abs(angle_deg))
    return int(math.ceil(patch_px * (math.cos(rad) + math.sin(rad)))) + _ROT_MARGIN_PX


def max_angle_deg(patch_px: int, min_side_px: int) -> float:
    """The largest rotation whose window fits an image whose shorter side is `min_side_px` (at most 10)."""
    room = (min_side_px - _ROT_MARGIN_PX - 1) / (patch_px * math.sqrt(2.0))
    if room <= 1 / math.sqrt(2.0):
        return 0.0
    return min(ROT10_MAX_DEG, math.degrees(math.asin(min(room, 1.0))) - 45.0)


@dataclass(frozen=True)
class PatchSpec:
    """What every patch of a run shares."""

    patch_px: int  # HR side
    scale: int
    augment: str  # none | flip_rot90 | rot10_hflip
    seed: int
    per_epoch: bool  # images drawn once per pass (the plan's unit is "epoch"), else uniformly
    rotation: str = "bicubic"  # rot10_hflip: "bicubic" (ours) | "nearest_black" (the study's RandomRotation(10))

    @property
    def lr_px(self) -> int:
        return self.patch_px // self.scale


def check_images(images: Sequence[TrainImage], spec: PatchSpec) -> None:
    """Every image must hold a patch (HR and its LR); SrganError naming the first that does not."""
    if not images:
        raise SrganError("training set is empty")
    for image in images:
        height, width = image.hr_u8.shape[:2]
        if min(height, width) < spec.patch_px:
            raise SrganError(
                f"training image {image.name} is {width}x{height}, smaller than the {spec.patch_px} px patch; "
                "lower patch_px or remove the image")
        if image.lr_u8.shape[:2] != (height // spec.scale, width // spec.scale):
            raise SrganError(f"training image {image.name}: its LR image is not HR / {spec.scale}; re-run prepare")


def draw_patch(index: int, sizes_hw: Sequence[tuple[int, int]], spec: PatchSpec,
               epoch_orders: dict[int, np.ndarray] | None = None) -> PatchDraw:
    """The draw of item `index`: a pure function of (spec.seed, index) and the image sizes.

    Each item has its own generator, seeded with (seed, index): a generator shared by a batch or a run
    would make an item depend on the items drawn before it (its worker, rank, resume step). A draw
    costs about 30 us on the host (0.5 ms for a batch of 16; measured on a busy 2-core AMD EPYC), which
    a replayed CUDA-graph step hides: the host draws the next batch while the device trains on this one.
    epoch_orders: a cache of each pass's image order (per-epoch plans), filled as needed.
    """
    rng = np.random.default_rng([spec.seed, index])
    n = len(sizes_hw)
    if spec.per_epoch:
        epoch, position = divmod(index, n)
        orders = {} if epoch_orders is None else epoch_orders
        if epoch not in orders:
            orders[epoch] = np.random.default_rng([spec.seed, epoch, n]).permutation(n)
        image = int(orders[epoch][position])
    else:
        image = int(rng.integers(n))
    height, width = sizes_hw[image]
    p, s = spec.patch_px, spec.scale
    if spec.augment == "rot10_hflip" and spec.rotation == "nearest_black":
        # The study: RandomCrop(P) anywhere, RandomRotation(10) of that crop (nearest, black corners), flip.
        top, left = int(rng.integers(height - p + 1)), int(rng.integers(width - p + 1))
        angle = float(rng.uniform(-ROT10_MAX_DEG, ROT10_MAX_DEG))
        return PatchDraw(image, top, left, p, 0, bool(rng.integers(2)), angle)
    if spec.augment == "rot10_hflip":
        angle = float(rng.uniform(-1.0, 1.0)) * max_angle_deg(p, min(height, width))
        side = min(rotation_window(p, angle), height, width)
        if angle == 0.0:  # a plain crop: whole-pixel alignment, so the bicubic taps hit pixel centres
            side = p + 2 * ((side - p) // 2)
        top, left = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
        return PatchDraw(image, top, left, side, 0, bool(rng.integers(2)), angle)
    # On the LR grid, so that the LR patch is the matching crop of the prepared LR image.
    top = s * int(rng.integers((height - p) // s + 1))
    left = s * int(rng.integers((width - p) // s + 1))
    turns, flip = (int(rng.integers(4)), bool(rng.integers(2))) if spec.augment == "flip_rot90" else (0, False)
    return PatchDraw(image, top, left, p, turns, flip, 0.0)


# ---------------------------------------------------------------- cutting


@dataclass(frozen=True)
class ImageStore:
    """Training images as two flat uint8 buffers (HR, LR) on one device, with each image's place."""

    hr: Tensor  # (sum of H*W*3,) uint8: image k's HWC pixels from hr_offset[k]
    lr: Tensor  # (sum of h*w*3,) uint8
    hr_offset: Tensor  # (n,) int64
    lr_offset: Tensor  # (n,) int64
    height: Tensor  # (n,) int64, HR px
    width: Tensor  # (n,) int64, HR px
    sizes_hw: tuple[tuple[int, int], ...]  # HR (height, width) of each image, on the host
    scale: int

    @property
    def device(self) -> torch.device:
        return self.hr.device

    @property
    def nbytes(self) -> int:
        return self.hr.numel() + self.lr.numel()

    @staticmethod
    def nbytes_of(images: Sequence[TrainImage]) -> int:
        return sum(image.hr_u8.nbytes + image.lr_u8.nbytes for image in images)

    @classmethod
    def build(cls, images: Sequence[TrainImage], scale: int, device: torch.device | str = "cpu") -> ImageStore:
        """On the CPU, one image is a zero-copy view; several are copied into one buffer per device."""
        device = torch.device(device)
        sizes = tuple((int(i.hr_u8.shape[0]), int(i.hr_u8.shape[1])) for i in images)
        if len(images) == 1 and device.type == "cpu":
            hr = torch.from_numpy(np.ascontiguousarray(images[0].hr_u8).reshape(-1))
            lr = torch.from_numpy(np.ascontiguousarray(images[0].lr_u8).reshape(-1))
        else:
            hr = torch.empty(sum(i.hr_u8.size for i in images), dtype=torch.uint8, device=device)
            lr = torch.empty(sum(i.lr_u8.size for i in images), dtype=torch.uint8, device=device)
            for buffer, arrays in ((hr, [i.hr_u8 for i in images]), (lr, [i.lr_u8 for i in images])):
                at = 0
                for array in arrays:  # one image at a time: host memory stays at one image's copy
                    buffer[at : at + array.size].copy_(torch.from_numpy(np.ascontiguousarray(array).reshape(-1)))
                    at += array.size
        hr_sizes = torch.tensor([i.hr_u8.size for i in images], dtype=torch.int64)
        lr_sizes = torch.tensor([i.lr_u8.size for i in images], dtype=torch.int64)
        return cls(hr=hr, lr=lr, hr_offset=(torch.cumsum(hr_sizes, 0) - hr_sizes).to(device),
                   lr_offset=(torch.cumsum(lr_sizes, 0) - lr_sizes).to(device),
                   height=torch.tensor([h for h, _ in sizes], dtype=torch.int64, device=device),
                   width=torch.tensor([w for _, w in sizes], dtype=torch.int64, device=device),
                   sizes_hw=sizes, scale=scale)


# A batch of draws crosses to the device as one (B, 7) int64 table, the angle's float64 bits in its last
# column: one pinned host-to-device copy per step (it was one per column), and on CUDA a static input that a
# captured step can cut its patches from (`srgan.training.graphs`).
DRAW_COLUMNS = ("image", "top", "left", "side", "quarter_turns", "flip", "angle_deg")


def pack_draws(draws: Sequence[PatchDraw]) -> Tensor:
    """(B, 7) int64 host tensor of `draws`, columns as DRAW_COLUMNS (angle_deg: its float64 bits)."""
    table = np.empty((len(draws), len(DRAW_COLUMNS)), dtype=np.int64)
    table[:, :6] = [(d.image, d.top, d.left, d.side, d.quarter_turns, int(d.flip)) for d in draws]
    table[:, 6] = np.array([d.angle_deg for d in draws], dtype=np.float64).view(np.int64)
    return torch.from_numpy(table)


class _Columns(NamedTuple):
    """A packed batch's columns on the device, each (B, 1, 1) to broadcast over a patch's pixels."""

    image: Tensor  # int64
    top: Tensor  # int64, HR px
    left: Tensor
    side: Tensor
    quarter_turns: Tensor
    flip: Tensor  # bool
    angle_deg: Tensor  # float64


def _columns(packed: Tensor) -> _Columns:
    ints = [packed[:, k].view(-1, 1, 1) for k in range(5)]
    flip = packed[:, 5].view(-1, 1, 1) != 0
    return _Columns(*ints, flip, packed[:, 6].view(torch.float64).view(-1, 1, 1))


def _dihedral_source(size: int, turns: Tensor, flip: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """(row, col) in the crop of each output pixel of np.rot90(crop, turns), mirrored left-right when `flip`.

    turns, flip: (B, 1, 1). Returns two (B, size, size) int64 tensors.
    """
    y = torch.arange(size, device=device).view(1, -1, 1)
    x = torch.arange(size, device=device).view(1, 1, -1)
    x = torch.where(flip, size - 1 - x, x)
    last = size - 1
    row = torch.where(turns == 0, y, torch.where(turns == 1, x, torch.where(turns == 2, last - y, last - x)))
    col = torch.where(turns == 0, x, torch.where(turns == 1, last - y, torch.where(turns == 2, last - x, y)))
    return row.expand(-1, size, size), col.expand(-1, size, size)


def _gather(buffer: Tensor, offset: Tensor, width: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """Pixels (B, H, W, 3) uint8 at (row, col) of images given by their offset and width ((B, 1, 1) each)."""
    index = (offset + (row * width + col) * 3).unsqueeze(-1) + torch.arange(3, device=buffer.device)
    return buffer[index]


def _to_float(patch_u8: Tensor) -> Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32 in [0, 1], NHWC in memory (channels_last): the layout the
    networks train in, so the loop's `Runtime.to_device` has nothing left to convert."""
    return patch_u8.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last).float().div_(255.0)


def _cut_dihedral(store: ImageStore, draws: _Columns, spec: PatchSpec) -> tuple[Tensor, Tensor]:
    device, s = store.device, spec.scale
    image = draws.image.view(-1)
    top, left, turns, flip = draws.top, draws.left, draws.quarter_turns, draws.flip
    offset_hr, offset_lr = store.hr_offset[image].view(-1, 1, 1), store.lr_offset[image].view(-1, 1, 1)
    width = store.width[image].view(-1, 1, 1)
    row, col = _dihedral_source(spec.patch_px, turns, flip, device)
    hr = _gather(store.hr, offset_hr, width, top + row, left + col)
    row, col = _dihedral_source(spec.lr_px, turns, flip, device)
    lr = _gather(store.lr, offset_lr, width // s, top // s + row, left // s + col)
    return _to_float(lr), _to_float(hr)


def _round_u8(x: Tensor) -> Tensor:
    """[0, 255] float -> uint8, ties up (the project's rounding rule)."""
    return x.clamp(0, 255).add_(0.5).floor_().to(torch.uint8)


def _cut_rotated(store: ImageStore, draws: _Columns, spec: PatchSpec) -> tuple[Tensor, Tensor]:
    """The study's augmentation: HR rotated about the window's centre (bicubic, float64, rounded to 8 bit),
    LR its antialiased bicubic downscale (float64, rounded), then both mirrored when drawn so.

    Every item reads a window of the largest rotation's side around its centre (pixels past an
    image's border repeat it: a draw's own window keeps its bicubic taps inside the image), so
    one `grid_sample` serves the batch. rotation "nearest_black" (the study's code): the window
    is the crop itself, sampled nearest, and what turns in from outside it is black.
    """
    device, p = store.device, spec.patch_px
    nearest = spec.rotation == "nearest_black"  # the study's: the crop itself turns, its corners go black
    side = p if nearest else rotation_window(p, ROT10_MAX_DEG)
    image = draws.image.view(-1)
    offset, width = store.hr_offset[image].view(-1, 1, 1), store.width[image].view(-1, 1, 1)
    height = store.height[image].view(-1, 1, 1)
    side_f = draws.side.to(torch.float64)
    centre_y = draws.top.to(torch.float64) + side_f / 2
    centre_x = draws.left.to(torch.float64) + side_f / 2
    top, left = torch.floor(centre_y).long() - side // 2, torch.floor(centre_x).long() - side // 2
    span = torch.arange(side, device=device)
    rows = torch.minimum((top + span.view(1, -1, 1)).clamp(min=0), height - 1)
    cols = torch.minimum((left + span.view(1, 1, -1)).clamp(min=0), width - 1)
    window = _gather(store.hr, offset, width, rows, cols).permute(0, 3, 1, 2).to(torch.float64)  # (B, 3, S, S)
    # affine_grid maps the output's normalised coordinates to the window's (align_corners=False):
    # the output pixel at (dx, dy) px from the patch centre reads the window at the centre + R(angle) (dx, dy).
    angle = torch.deg2rad(draws.angle_deg.view(-1))
    cos, sin = torch.cos(angle) * p / side, torch.sin(angle) * p / side
    shift_x = 2 * (centre_x.view(-1) - left.view(-1)) / side - 1
    shift_y = 2 * (centre_y.view(-1) - top.view(-1)) / side - 1
    theta = torch.stack([torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)], dim=1)
    grid = F.affine_grid(theta, [image.shape[0], 3, p, p], align_corners=False)
    hr = F.grid_sample(window, grid, mode="nearest" if nearest else "bicubic",
                       padding_mode="zeros" if nearest else "border", align_corners=False)
    hr_u8 = _round_u8(hr)  # (B, 3, P, P)
    lr_u8 = _round_u8(F.interpolate(hr_u8.to(torch.float64), size=(spec.lr_px, spec.lr_px), mode="bicubic",
                                    antialias=True, align_corners=False))
    flip = draws.flip.view(-1, 1, 1, 1)
    hr_u8 = torch.where(flip, hr_u8.flip(3), hr_u8)
    lr_u8 = torch.where(flip, lr_u8.flip(3), lr_u8)
    return _to_float(lr_u8.permute(0, 2, 3, 1)), _to_float(hr_u8.permute(0, 2, 3, 1))


def cut_packed(store: ImageStore, packed: Tensor, spec: PatchSpec) -> tuple[Tensor, Tensor]:
    """(LR, HR) float32 patches (NHWC in memory) of a packed batch of draws (`pack_draws`), on the store's device.

    A host `packed` crosses in one non-blocking copy (pinned memory makes it asynchronous). Given on the
    device, the cut is device work alone, with fixed shapes and no host read: a CUDA graph can capture it
    (the training step does, `srgan.training.graphs`)."""
    draws = _columns(packed.to(store.device, non_blocking=True))
    if spec.augment == "rot10_hflip":
        return _cut_rotated(store, draws, spec)
    return _cut_dihedral(store, draws, spec)


def cut_patches(store: ImageStore, draws: Sequence[PatchDraw], spec: PatchSpec) -> tuple[Tensor, Tensor]:
    """(LR, HR) float32 patches of `draws` from `store`, on the store's device."""
    return cut_packed(store, pack_draws(draws), spec)


# ---------------------------------------------------------------- the two samplers


class PatchDataset(Dataset):
    """The CPU loader's dataset: item i -> (LR (3, P/s, P/s), HR (3, P, P)) float32, one at a time.

    Cuts from the image's own arrays (zero-copy views), so DataLoader workers started
    by fork share the training set copy-on-write.
    """

    def __init__(self, images: list[TrainImage], spec: PatchSpec, length: int) -> None:
        check_images(images, spec)
        self.images, self.spec, self.length = images, spec, length
        self.sizes_hw = tuple((int(i.hr_u8.shape[0]), int(i.hr_u8.shape[1])) for i in images)
        self._orders: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        draw = draw_patch(index, self.sizes_hw, self.spec, self._orders)
        store = ImageStore.build([self.images[draw.image]], self.spec.scale)
        local = PatchDraw(0, draw.top, draw.left, draw.side, draw.quarter_turns, draw.flip, draw.angle_deg)
        lr, hr = cut_patches(store, [local], self.spec)
        # Contiguous (C, H, W) items, so the loader's batches are NCHW as before and Runtime.to_device decides
        # their layout (channels_last or not) alone.
        return lr[0].contiguous(), hr[0].contiguous()


class DevicePatches:
    """The whole training set in device memory; a batch of patches per call, cut there (no loader).

    The draws are the CPU loader's (`draw_patch`), so the patches are the same. A batch is two halves:
    `draws` (host: the items' draws packed in one tensor, pinned on CUDA) and `cut` (device: one copy of
    that tensor, then indexing and resampling only), so a training step can take the packed draws as its
    input and cut its own patches inside its CUDA graph. `batch` does both.
    pin_memory: pin the packed draws (default: on CUDA), so that their copy does not wait for the host.
    """

    def __init__(self, images: list[TrainImage], spec: PatchSpec, device: torch.device,
                 pin_memory: bool | None = None) -> None:
        check_images(images, spec)
        self.spec = spec
        self.store = ImageStore.build(images, spec.scale, device)
        self.pin_memory = self.store.device.type == "cuda" if pin_memory is None else pin_memory
        self._orders: dict[int, np.ndarray] = {}

    def draws(self, items: Sequence[int]) -> Tensor:
        """The items' draws packed (`pack_draws`): (len(items), 7) int64 on the host, pinned if asked."""
        packed = pack_draws([draw_patch(i, self.store.sizes_hw, self.spec, self._orders) for i in items])
        return packed.pin_memory() if self.pin_memory else packed

    def cut(self, packed: Tensor) -> tuple[Tensor, Tensor]:
        """(LR, HR) patches of packed draws (`cut_packed`); graph-capturable when `packed` is on the device."""
        return cut_packed(self.store, packed, self.spec)

    def batch(self, items: Sequence[int]) -> tuple[Tensor, Tensor]:
        return self.cut(self.draws(items))


def fits_on_device(images: Sequence[TrainImage], device: torch.device, fraction: float = 0.5) -> tuple[bool, str]:
    """Whether the training set takes at most `fraction` of the device's free memory, and a line saying so."""
    needed = ImageStore.nbytes_of(images)
    if device.type != "cuda":
        return False, f"patches are cut by the CPU loader on a {device.type} device"
    free, total = torch.cuda.mem_get_info(device)
    line = (f"training set {needed / 2**30:.2f} GiB (HR + LR, uint8) against {free / 2**30:.1f} GiB free of "
            f"{total / 2**30:.1f} GiB on {device}")
    return needed <= fraction * free, line


def _share(batch_size: int, micro_batches: int, world_size: int) -> int:
    """Items of each global batch one process takes; SrganError when the batch does not split evenly."""
    per_process = batch_size // world_size
    if per_process * world_size != batch_size or per_process % micro_batches:
        raise SrganError(f"batch_size {batch_size} must split evenly into {world_size} process(es) x "
                         f"{micro_batches} micro-batch(es)")
    return per_process


@dataclass(frozen=True)
class StepInputs:
    """What a training loop feeds its steps. `batches` yields per step either the (LR, HR) patches (the CPU
    loader; `cut` is None) or a 1-tuple of the batch's packed draws, which `cut` turns into patches on the
    device (the device sampler, `DevicePatches.cut`): the training step cuts them itself, inside its CUDA
    graph when it is graphed."""

    batches: Iterable[tuple[Tensor, ...]]
    cut: Callable[[Tensor], tuple[Tensor, Tensor]] | None


def patch_batches(images: list[TrainImage], spec: PatchSpec, plan: PatchPlan, start_step: int, *,
                  micro_batches: int, rank: int, world_size: int, device: torch.device, on_device: bool,
                  num_workers: int) -> StepInputs:
    """This process's share of every remaining batch of the plan (steps start_step+1 ..).

    Process `rank` of `world_size` takes items rank, rank + world_size, ... of each global batch of
    `plan.batch_size` items (as DistributedSampler splits it). On CUDA with `on_device`, the patches
    are cut there (`DevicePatches`; the batches are packed draws and `cut` cuts them) when the training
    set takes at most half the free memory; otherwise by the CPU loader (`PatchDataset` in DataLoader
    workers; the batches are (LR, HR)), with one log line. The same patches either way.
    """
    per_process = _share(plan.batch_size, micro_batches, world_size)
    if on_device and device.type == "cuda":
        fits, line = fits_on_device(images, device)
        if fits:
            log.info("patches cut on the device: %s", line)
            patches = DevicePatches(images, spec, device)
            return StepInputs(device_draws(patches, plan, start_step, rank, world_size), patches.cut)
        log.warning("patches cut by the CPU loader: %s does not fit in half of it", line)
    return StepInputs(loader_batches(images, spec, plan, start_step, per_process, rank, world_size, device,
                                     num_workers), None)


def device_draws(patches: DevicePatches, plan: PatchPlan, start_step: int, rank: int,
                 world_size: int) -> Iterator[tuple[Tensor]]:
    """The packed draws (`DevicePatches.draws`) of this process's share of each remaining global batch."""
    items, batch_size = plan.items(start_step), plan.batch_size
    for start in range(0, len(items), batch_size):
        yield (patches.draws(items[start : start + batch_size][rank::world_size]),)


def device_batches(patches: DevicePatches, plan: PatchPlan, start_step: int, rank: int,
                   world_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches cut by the device sampler: this process's share of each remaining global batch, as (LR, HR)."""
    for (packed,) in device_draws(patches, plan, start_step, rank, world_size):
        yield patches.cut(packed)


def loader_batches(images: list[TrainImage], spec: PatchSpec, plan: PatchPlan, start_step: int, per_process: int,
                   rank: int, world_size: int, device: torch.device, num_workers: int) -> DataLoader:
    """Batches of the CPU loader: PatchDataset items in DataLoader workers, this process's share."""
    remaining = Subset(PatchDataset(images, spec, plan.dataset_length), plan.items(start_step))
    sampler = DistributedSampler(remaining, world_size, rank, shuffle=False, drop_last=True) if world_size > 1 else None
    return DataLoader(remaining, batch_size=per_process, sampler=sampler, shuffle=False, drop_last=True,
                      num_workers=num_workers, pin_memory=device.type == "cuda", persistent_workers=num_workers > 0)
