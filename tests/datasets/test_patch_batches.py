"""srgan.datasets.patches: what a training process is fed (`patch_batches`, `loader_batches`, `device_batches`),
how a global batch is shared between processes (`_share`), and when the training set goes to the device
(`fits_on_device`, with a stand-in for CUDA's memory query).

Every batch is checked against patches cut by hand with numpy from the same draws (`draw_patch`).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler, SequentialSampler, Subset

import srgan.datasets.patches as patches_module
from srgan.core.errors import SrganError
from srgan.core.tensors import to_u8
from srgan.datasets.patches import (
    DevicePatches,
    ImageStore,
    PatchDataset,
    PatchPlan,
    PatchSpec,
    _share,
    device_batches,
    draw_patch,
    fits_on_device,
    loader_batches,
    pack_draws,
    patch_batches,
)
from srgan.datasets.prepared import TrainImage

SCALE, P = 4, 16
CPU, CUDA = torch.device("cpu"), torch.device("cuda", 1)
GIB = 2**30


def _images() -> list[TrainImage]:
    """Three random images of different sizes, their LR images random too (a crop of LR is what is checked)."""
    rng = np.random.default_rng(11)
    sizes = [(40, 48), (36, 44), (32, 52)]
    return [TrainImage(f"img{k}", rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                       rng.integers(0, 256, (h // SCALE, w // SCALE, 3), dtype=np.uint8))
            for k, (h, w) in enumerate(sizes)]


def _spec(augment: str = "flip_rot90", per_epoch: bool = False) -> PatchSpec:
    return PatchSpec(patch_px=P, scale=SCALE, augment=augment, seed=5, per_epoch=per_epoch)


def _by_hand(images: list[TrainImage], spec: PatchSpec, items: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) uint8 NHWC of the items: numpy crops of the drawn image, np.rot90 by the drawn turns, then mirrored."""
    sizes = [i.hr_u8.shape[:2] for i in images]
    lrs, hrs = [], []
    for item in items:
        d = draw_patch(item, sizes, spec)
        image, lr_px = images[d.image], P // SCALE
        hr = image.hr_u8[d.top : d.top + P, d.left : d.left + P]
        lr = image.lr_u8[d.top // SCALE : d.top // SCALE + lr_px, d.left // SCALE : d.left // SCALE + lr_px]
        hr, lr = np.rot90(hr, d.quarter_turns), np.rot90(lr, d.quarter_turns)
        hrs.append(hr[:, ::-1] if d.flip else hr)
        lrs.append(lr[:, ::-1] if d.flip else lr)
    return np.stack(lrs), np.stack(hrs)


def _u8(batch: torch.Tensor) -> np.ndarray:
    return np.stack([to_u8(patch) for patch in batch])


def _check_batches(batches, images, spec, expected_items: list[list[int]]) -> None:
    """The batches are exactly the hand-cut patches of expected_items, batch by batch, float32 in [0, 1]."""
    batches = list(batches)
    assert len(batches) == len(expected_items)
    for (lr, hr), items in zip(batches, expected_items, strict=True):
        n = len(items)
        assert lr.shape == (n, 3, P // SCALE, P // SCALE) and hr.shape == (n, 3, P, P)
        assert lr.dtype == hr.dtype == torch.float32
        lr_u8, hr_u8 = _by_hand(images, spec, items)
        np.testing.assert_array_equal(_u8(hr), hr_u8)
        np.testing.assert_array_equal(_u8(lr), lr_u8)
        assert torch.equal(hr, torch.from_numpy(np.ascontiguousarray(hr_u8)).permute(0, 3, 1, 2).float() / 255)


# ---------------------------------------------------------------- _share


@pytest.mark.parametrize(("batch_size", "micro_batches", "world_size", "share"),
                         [(8, 1, 1, 8), (8, 2, 2, 4), (8, 4, 2, 4), (12, 3, 2, 6), (6, 2, 3, 2), (7, 7, 1, 7)])
def test_each_process_takes_an_even_share_of_a_global_batch(batch_size, micro_batches, world_size, share) -> None:
    got = _share(batch_size, micro_batches, world_size)
    assert got == share and type(got) is int


@pytest.mark.parametrize(("batch_size", "micro_batches", "world_size"),
                         [(6, 1, 4), (9, 1, 2), (8, 3, 2), (8, 8, 2), (4, 1, 8)])
def test_a_batch_that_does_not_split_evenly_is_named_in_one_line(batch_size, micro_batches, world_size) -> None:
    """Either split failing alone: across processes (6 on 4, 9 on 2, 4 on 8), or a process's share into its
    micro-batches (4 into 3, 4 into 8)."""
    with pytest.raises(SrganError) as err:
        _share(batch_size, micro_batches, world_size)
    assert str(err.value) == (f"batch_size {batch_size} must split evenly into {world_size} process(es) x "
                              f"{micro_batches} micro-batch(es)")


@pytest.mark.parametrize(("batch_size", "micro_batches", "world_size"), [(6, 1, 4), (8, 3, 2)])
def test_patch_batches_refuses_an_uneven_split_before_building_anything(batch_size, micro_batches, world_size,
                                                                        monkeypatch) -> None:
    monkeypatch.setattr(patches_module, "PatchDataset", None)  # would fail if reached
    plan = PatchPlan("step", 3, batch_size, 3)
    with pytest.raises(SrganError) as err:
        patch_batches(_images(), _spec(), plan, 0, micro_batches=micro_batches, rank=0, world_size=world_size,
                      device=CPU, on_device=False, num_workers=0)
    assert str(err.value) == (f"batch_size {batch_size} must split evenly into {world_size} process(es) x "
                              f"{micro_batches} micro-batch(es)")


# ---------------------------------------------------------------- the CPU loader


@pytest.mark.parametrize("augment", ["none", "flip_rot90"])
@pytest.mark.parametrize("on_device", [False, True])
def test_the_cpu_loader_yields_the_remaining_batches_cut_as_by_hand(augment: str, on_device: bool, caplog) -> None:
    """Plan: 3 steps of 4 items; resumed after step 1, items 4..7 and 8..11 remain. On the CPU the loader cuts them
    whether or not the device sampler was asked for, and says nothing."""
    images, spec = _images(), _spec(augment)
    plan = PatchPlan("step", 3, 4, len(images))
    with caplog.at_level(logging.DEBUG, logger=patches_module.__name__):
        inputs = patch_batches(images, spec, plan, 1, micro_batches=2, rank=0, world_size=1, device=CPU,
                               on_device=on_device, num_workers=0)
    assert inputs.cut is None and caplog.records == []
    _check_batches(inputs.batches, images, spec, [[4, 5, 6, 7], [8, 9, 10, 11]])
    _check_batches(loader_batches(images, spec, plan, 1, 4, 0, 1, CPU, 0), images, spec, [[4, 5, 6, 7], [8, 9, 10, 11]])


@pytest.mark.parametrize("rank", [0, 1])
def test_each_process_of_two_gets_every_other_item_of_each_global_batch(rank: int) -> None:
    images, spec = _images(), _spec()
    plan = PatchPlan("step", 3, 4, len(images))
    expected = [[4 + rank, 6 + rank], [8 + rank, 10 + rank]]
    inputs = patch_batches(images, spec, plan, 1, micro_batches=1, rank=rank, world_size=2, device=CPU,
                           on_device=False, num_workers=0)
    assert inputs.cut is None
    _check_batches(inputs.batches, images, spec, expected)
    _check_batches(loader_batches(images, spec, plan, 1, 2, rank, 2, CPU, 0), images, spec, expected)


def test_a_per_epoch_plan_feeds_whole_batches_from_the_start_of_each_pass() -> None:
    """3 images at batch 2: one step per epoch, passes of 3 items, the last image of each pass sits out: items
    0, 1 then 3, 4 (a plan's `items`, not 0..3). Each pass draws its images in its own order."""
    images, spec = _images(), _spec("none", per_epoch=True)
    plan = PatchPlan("epoch", 2, 2, len(images))
    inputs = patch_batches(images, spec, plan, 0, micro_batches=1, rank=0, world_size=1, device=CPU,
                           on_device=False, num_workers=0)
    _check_batches(inputs.batches, images, spec, [[0, 1], [3, 4]])
    _check_batches(loader_batches(images, spec, plan, 1, 2, 0, 1, CPU, 0), images, spec, [[3, 4]])
    sizes = [i.hr_u8.shape[:2] for i in images]
    orders = [np.random.default_rng([spec.seed, epoch, 3]).permutation(3) for epoch in (0, 1)]
    assert [draw_patch(i, sizes, spec).image for i in (0, 1, 3, 4)] == [*orders[0][:2], *orders[1][:2]]


def test_the_loader_drops_a_last_partial_batch_on_every_process() -> None:
    """drop_last at both levels: 8 items in batches of 3 are 2 batches, not 3; 9 items over 2 processes are 4
    each (the sampler does not pad rank 1's share with a repeated item)."""
    images, spec = _images(), _spec()
    eight = list(loader_batches(images, spec, PatchPlan("step", 2, 4, 3), 0, 3, 0, 1, CPU, 0))
    _check_batches(eight, images, spec, [[0, 1, 2], [3, 4, 5]])
    nine = list(loader_batches(images, spec, PatchPlan("step", 3, 3, 3), 0, 1, 1, 2, CPU, 0))
    _check_batches(nine, images, spec, [[1], [3], [5], [7]])


def test_the_loaders_settings_on_the_cpu_one_process_no_workers() -> None:
    images, spec = _images(), _spec()
    plan = PatchPlan("epoch", 2, 2, len(images))
    loader = loader_batches(images, spec, plan, 1, 2, 0, 1, CPU, 0)
    assert (loader.batch_size, loader.drop_last, loader.num_workers) == (2, True, 0)
    assert loader.pin_memory is False and loader.persistent_workers is False
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(loader.dataset, Subset) and list(loader.dataset.indices) == [3, 4]
    dataset = loader.dataset.dataset
    assert isinstance(dataset, PatchDataset) and len(dataset) == plan.dataset_length == 6
    assert dataset.images is images and dataset.spec is spec


def test_the_loaders_settings_on_cuda_two_processes_one_worker() -> None:
    """Constructed only (this machine has no CUDA to pin to): pinned batches on CUDA, the worker kept between
    passes, and a DistributedSampler that keeps the plan's order for this rank."""
    images, spec = _images(), _spec()
    plan = PatchPlan("step", 3, 4, len(images))
    loader = loader_batches(images, spec, plan, 1, 2, 1, 2, CUDA, 1)
    assert (loader.batch_size, loader.drop_last, loader.num_workers) == (2, True, 1)
    assert loader.pin_memory is True and loader.persistent_workers is True
    sampler = loader.sampler
    assert isinstance(sampler, DistributedSampler)
    assert (sampler.num_replicas, sampler.rank, sampler.shuffle, sampler.drop_last) == (2, 1, False, True)
    assert list(loader.dataset.indices) == list(range(4, 12)) and list(sampler) == [1, 3, 5, 7]


# ---------------------------------------------------------------- the device route (CUDA stood in for)


class _FakeCuda:
    """torch.cuda.mem_get_info as a stand-in: (free, total) bytes, and the devices it was asked about."""

    def __init__(self, free: int, total: int) -> None:
        self.free, self.total, self.asked = free, total, []

    def __call__(self, device=None):  # noqa: ANN001
        self.asked.append(device)
        return self.free, self.total


class _DevicePatchesOnTheCpu:
    """DevicePatches as `patch_batches` builds them, for a CUDA device: records the arguments, cuts on the CPU."""

    def __init__(self) -> None:
        self.made: list[tuple] = []

    def __call__(self, images, spec, device):  # noqa: ANN001
        patches = DevicePatches(images, spec, CPU)
        self.made.append((images, spec, device, patches))
        return patches


@pytest.mark.parametrize("rank", [0, 1])
def test_on_cuda_a_set_that_fits_is_cut_on_the_device_from_packed_draws(rank: int, monkeypatch, caplog) -> None:
    images, spec = _images(), _spec()
    needed = ImageStore.nbytes_of(images)
    cuda = _FakeCuda(free=2 * needed, total=80 * GIB)
    monkeypatch.setattr(torch.cuda, "mem_get_info", cuda)
    factory = _DevicePatchesOnTheCpu()
    monkeypatch.setattr(patches_module, "DevicePatches", factory)
    plan = PatchPlan("step", 3, 4, len(images))
    with caplog.at_level(logging.DEBUG, logger=patches_module.__name__):
        inputs = patch_batches(images, spec, plan, 1, micro_batches=1, rank=rank, world_size=2, device=CUDA,
                               on_device=True, num_workers=0)
    assert cuda.asked == [CUDA]
    ((made_images, made_spec, made_device, patches),) = factory.made
    assert made_images is images and made_spec is spec and made_device == CUDA
    assert inputs.cut == patches.cut
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "patches cut on the device: training set 0.00 GiB (HR + LR, uint8) against 0.0 GiB free of "
                 "80.0 GiB on cuda:1")]
    batches = list(inputs.batches)
    sizes = [i.hr_u8.shape[:2] for i in images]
    expected = [[4 + rank, 6 + rank], [8 + rank, 10 + rank]]
    assert len(batches) == 2 and all(len(b) == 1 for b in batches)
    for (packed,), items in zip(batches, expected, strict=True):
        assert torch.equal(packed, pack_draws([draw_patch(i, sizes, spec) for i in items]))
    _check_batches([inputs.cut(packed) for (packed,) in batches], images, spec, expected)


def test_on_cuda_a_set_that_does_not_fit_goes_to_the_cpu_loader_with_a_warning(monkeypatch, caplog) -> None:
    """One byte short of twice the set: the CPU loader (pinned for CUDA, this process's share, the workers asked
    for), and one warning line."""
    images, spec = _images(), _spec()
    needed = ImageStore.nbytes_of(images)
    cuda = _FakeCuda(free=2 * needed - 1, total=16 * GIB)
    monkeypatch.setattr(torch.cuda, "mem_get_info", cuda)
    monkeypatch.setattr(patches_module, "DevicePatches", None)  # would fail if reached
    plan = PatchPlan("step", 3, 4, len(images))
    with caplog.at_level(logging.DEBUG, logger=patches_module.__name__):
        inputs = patch_batches(images, spec, plan, 1, micro_batches=2, rank=1, world_size=2, device=CUDA,
                               on_device=True, num_workers=1)
    assert cuda.asked == [CUDA] and inputs.cut is None
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "patches cut by the CPU loader: training set 0.00 GiB (HR + LR, uint8) against 0.0 GiB free of "
                    "16.0 GiB on cuda:1 does not fit in half of it")]
    loader = inputs.batches
    assert (loader.batch_size, loader.num_workers, loader.pin_memory, loader.persistent_workers) == (2, 1, True, True)
    assert (loader.sampler.num_replicas, loader.sampler.rank) == (2, 1)
    assert list(loader.dataset.indices) == list(range(4, 12))
    assert loader.dataset.dataset.images is images and loader.dataset.dataset.spec is spec


def test_on_cuda_without_on_device_the_cpu_loader_cuts_and_memory_is_not_asked(monkeypatch, caplog) -> None:
    images, spec = _images(), _spec()
    cuda = _FakeCuda(free=80 * GIB, total=80 * GIB)
    monkeypatch.setattr(torch.cuda, "mem_get_info", cuda)
    plan = PatchPlan("step", 3, 4, len(images))
    with caplog.at_level(logging.DEBUG, logger=patches_module.__name__):
        inputs = patch_batches(images, spec, plan, 2, micro_batches=1, rank=0, world_size=1, device=CUDA,
                               on_device=False, num_workers=0)
    assert cuda.asked == [] and caplog.records == [] and inputs.cut is None
    assert inputs.batches.pin_memory is True and list(inputs.batches.dataset.indices) == list(range(8, 12))


@pytest.mark.parametrize("rank", [0, 1])
def test_device_batches_cut_this_processs_share_of_each_remaining_batch(rank: int) -> None:
    images, spec = _images(), _spec()
    plan = PatchPlan("step", 3, 4, len(images))
    patches = DevicePatches(images, spec, CPU)
    share = [[4 + rank, 6 + rank], [8 + rank, 10 + rank]]
    _check_batches(device_batches(patches, plan, 1, rank, 2), images, spec, share)
    _check_batches(device_batches(patches, plan, 0, 0, 1), images, spec, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])


# ---------------------------------------------------------------- fits_on_device


def _sized_images() -> list[TrainImage]:
    """HR 8x12 and 12x16, LR a quarter on each side: 8*12*3 + 2*3*3 + 12*16*3 + 3*4*3 = 918 bytes."""
    return [TrainImage("a", np.zeros((8, 12, 3), np.uint8), np.zeros((2, 3, 3), np.uint8)),
            TrainImage("b", np.zeros((12, 16, 3), np.uint8), np.zeros((3, 4, 3), np.uint8))]


def test_fits_on_device_at_half_the_free_memory_exactly(monkeypatch) -> None:
    """918 bytes fit in half of 1836 free bytes (at the threshold), not in half of 1835; with fraction 1.0 in 918,
    not in 917."""
    images = _sized_images()
    assert ImageStore.nbytes_of(images) == 918
    cuda = _FakeCuda(free=1836, total=4096)
    monkeypatch.setattr(torch.cuda, "mem_get_info", cuda)
    assert fits_on_device(images, CUDA)[0] is True
    cuda.free = 1835
    assert fits_on_device(images, CUDA)[0] is False
    cuda.free = 918
    assert fits_on_device(images, CUDA, fraction=1.0)[0] is True and fits_on_device(images, CUDA)[0] is False
    cuda.free = 917
    assert fits_on_device(images, CUDA, fraction=1.0)[0] is False
    assert cuda.asked == [CUDA] * 5


def test_fits_on_device_says_the_sizes_in_gib(monkeypatch) -> None:
    """A 4096x4096 HR image (48 MiB) and its 1024x1024 LR (3 MiB): 0.0498 GiB, shown as 0.05; 3 GiB free of 80."""
    big = TrainImage("big", np.zeros((4096, 4096, 3), np.uint8), np.zeros((1024, 1024, 3), np.uint8))
    monkeypatch.setattr(torch.cuda, "mem_get_info", _FakeCuda(free=3 * GIB, total=80 * GIB))
    assert fits_on_device([big], CUDA) == (
        True, "training set 0.05 GiB (HR + LR, uint8) against 3.0 GiB free of 80.0 GiB on cuda:1")
    assert fits_on_device([big], torch.device("cuda")) == (
        True, "training set 0.05 GiB (HR + LR, uint8) against 3.0 GiB free of 80.0 GiB on cuda")


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_fits_on_device_off_cuda_never_asks_cuda(device: str, monkeypatch) -> None:
    cuda = _FakeCuda(free=80 * GIB, total=80 * GIB)
    monkeypatch.setattr(torch.cuda, "mem_get_info", cuda)
    assert fits_on_device(_sized_images(), torch.device(device)) == (
        False, f"patches are cut by the CPU loader on a {device} device")
    assert cuda.asked == []
