"""srgan.datasets.patches: the plan, the draws, and the two samplers (CPU loader, device) cutting the same patches.

The device sampler runs here with device = cpu: the same code that runs on a GPU, on the same
draws, checked against the CPU loader bit for bit, and the index maths against numpy.
"""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from torch.utils._python_dispatch import TorchDispatchMode

from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale, mod_crop
from srgan.core.tensors import to_u8
from srgan.datasets.patches import (
    DevicePatches,
    ImageStore,
    PatchDataset,
    PatchDraw,
    PatchPlan,
    PatchSpec,
    _columns,
    _round_u8,
    cut_patches,
    device_batches,
    draw_patch,
    fits_on_device,
    max_angle_deg,
    pack_draws,
)
from srgan.datasets.prepared import TrainImage

SCALE = 4
AUGMENTS = ["none", "flip_rot90", "rot10_hflip"]


def _train(name: str, hr_u8: np.ndarray) -> TrainImage:
    hr_u8 = mod_crop(np.ascontiguousarray(hr_u8), SCALE)
    return TrainImage(name, hr_u8, bicubic_downscale(hr_u8, SCALE))


def _photos() -> list[TrainImage]:
    """Three real photographs of different sizes (one gray, replicated)."""
    camera = np.repeat(skdata.camera()[100:236, 60:220, None], 3, axis=2)
    return [_train("astronaut", skdata.astronaut()[:200, :176]), _train("coffee", skdata.coffee()[:120, :164]),
            _train("camera", camera)]


def _u8(patches: torch.Tensor) -> np.ndarray:
    return np.stack([to_u8(p) for p in patches])


# ---------------------------------------------------------------- the two samplers agree


@pytest.mark.parametrize("per_epoch", [False, True], ids=["uniform", "per_epoch"])
@pytest.mark.parametrize("augment, rotation", [(a, "bicubic") for a in AUGMENTS] + [("rot10_hflip", "nearest_black")])
def test_device_sampler_on_the_cpu_cuts_the_cpu_loaders_patches(augment: str, rotation: str, per_epoch: bool) -> None:
    images = _photos()
    spec = PatchSpec(patch_px=48, scale=SCALE, augment=augment, seed=7, per_epoch=per_epoch, rotation=rotation)
    loader = PatchDataset(images, spec, length=64)
    device = DevicePatches(images, spec, torch.device("cpu"))
    items = [0, 1, 2, 5, 13, 21, 34, 55]
    lr_batch, hr_batch = device.batch(items)
    assert lr_batch.shape == (8, 3, 12, 12) and hr_batch.shape == (8, 3, 48, 48)
    for k, item in enumerate(items):
        lr_img, hr_img = loader[item]
        assert torch.equal(lr_img, lr_batch[k]) and torch.equal(hr_img, hr_batch[k]), item


# sha256[:16] of the draws (repr of the PatchDraw list) and of the patches (LR then HR float32 bytes, NCHW order)
# of items 0..23 (patch 48, seed 7, `_photos`), computed with the sampler as it was at dce678d, before draws
# were packed into one tensor per batch and patches came out NHWC: the patches of every profile are the same.
TODAYS_PATCHES = {
    ("none", "bicubic", False): ("27187952b16f281d", "9b948c3e0792e134"),
    ("none", "bicubic", True): ("ac6f2c9c48e3bdb2", "3289f82cf56460f8"),
    ("flip_rot90", "bicubic", False): ("f96a7c0cc338b7d6", "b1d2c7e783920323"),
    ("flip_rot90", "bicubic", True): ("828af7de0cd98302", "25aacefc53343c26"),
    ("rot10_hflip", "bicubic", False): ("a6150a436f7157d9", "f9e8f95382aabf59"),
    ("rot10_hflip", "bicubic", True): ("8f6b241223ef7847", "3dd1c4503907a6c3"),
    ("rot10_hflip", "nearest_black", False): ("0a75d492a55e00c2", "811bd424ec9b7a86"),
    ("rot10_hflip", "nearest_black", True): ("0e4f8cc1faf6939e", "12eabb41bbf9b6d1"),
}


@pytest.mark.parametrize("key", list(TODAYS_PATCHES), ids=lambda k: "-".join(map(str, k)))
def test_both_samplers_cut_the_patches_they_cut_before_draws_were_packed(key: tuple[str, str, bool]) -> None:
    augment, rotation, per_epoch = key
    images = _photos()
    spec = PatchSpec(patch_px=48, scale=SCALE, augment=augment, seed=7, per_epoch=per_epoch, rotation=rotation)
    items = list(range(24))
    draws = [draw_patch(i, [i.hr_u8.shape[:2] for i in images], spec) for i in items]
    lr_batch, hr_batch = DevicePatches(images, spec, torch.device("cpu")).batch(items)
    loader = PatchDataset(images, spec, length=24)
    lr_items, hr_items = (torch.stack(column) for column in zip(*(loader[i] for i in items)))

    def digest(lr_img: torch.Tensor, hr_img: torch.Tensor) -> str:
        data = lr_img.contiguous().numpy().tobytes() + hr_img.contiguous().numpy().tobytes()
        return hashlib.sha256(data).hexdigest()[:16]

    assert hashlib.sha256(repr(draws).encode()).hexdigest()[:16] == TODAYS_PATCHES[key][0]
    assert digest(lr_batch, hr_batch) == digest(lr_items, hr_items) == TODAYS_PATCHES[key][1]
    # NHWC in memory, as the networks train: the loop's Runtime.to_device has nothing to convert.
    assert lr_batch.is_contiguous(memory_format=torch.channels_last)
    assert hr_batch.is_contiguous(memory_format=torch.channels_last)


class _HostTensors(TorchDispatchMode):
    """Counts the tensors made from host data (torch.tensor, torch.from_numpy: aten.lift_fresh)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.count += func is torch.ops.aten.lift_fresh.default
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("augment", AUGMENTS)
def test_a_batch_of_draws_crosses_to_the_device_in_one_pinned_copy(augment: str, monkeypatch) -> None:
    """Each step of the device sampler makes one host tensor (the packed draws: it was one per column, 5 to 7)
    and pins it once; the cut itself makes none, so on CUDA it is device work a graph can capture."""
    pinned = []

    def pin(self: torch.Tensor) -> torch.Tensor:  # this CPU cannot pin: count, and hand a copy back as CUDA would
        pinned.append((tuple(self.shape), self.dtype))
        return self.clone()

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    images = _photos()
    spec = PatchSpec(patch_px=48, scale=SCALE, augment=augment, seed=7, per_epoch=False)
    patches = DevicePatches(images, spec, torch.device("cpu"), pin_memory=True)
    plan = PatchPlan(unit="step", length=5, batch_size=4, num_images=len(images))
    with _HostTensors() as host:
        batches = list(device_batches(patches, plan, 0, 0, 1))
    assert len(batches) == 5 and host.count == 5 and pinned == [((4, 7), torch.int64)] * 5
    packed = patches.draws([0, 1, 2, 3])
    with _HostTensors() as host:
        lr_img, hr_img = patches.cut(packed)
    assert host.count == 0 and torch.equal(hr_img, batches[0][1]) and torch.equal(lr_img, batches[0][0])
    assert not DevicePatches(images, spec, torch.device("cpu")).pin_memory  # pinned by default on CUDA only


def test_each_pass_of_a_per_epoch_plan_draws_every_image_once() -> None:
    images = _photos()
    spec = PatchSpec(48, SCALE, "none", seed=3, per_epoch=True)
    sizes = [i.hr_u8.shape[:2] for i in images]
    passes = [[draw_patch(e * 3 + k, sizes, spec).image for k in range(3)] for e in range(4)]
    assert all(sorted(p) == [0, 1, 2] for p in passes)
    assert len({tuple(p) for p in passes}) > 1  # a fresh order per pass


def test_draws_depend_only_on_seed_and_index() -> None:
    sizes = [(200, 176), (120, 164)]
    spec = PatchSpec(48, SCALE, "flip_rot90", seed=1, per_epoch=False)
    assert draw_patch(9, sizes, spec) == draw_patch(9, sizes, spec)
    assert any(draw_patch(i, sizes, spec) != draw_patch(i, sizes, PatchSpec(48, SCALE, "flip_rot90", 2, False))
               for i in range(8))


# ---------------------------------------------------------------- what a patch is


def test_crops_sit_on_the_lr_grid_and_lr_is_the_prepared_lr_crop() -> None:
    images = _photos()
    spec = PatchSpec(48, SCALE, "none", seed=0, per_epoch=False)
    sizes = [i.hr_u8.shape[:2] for i in images]
    store = ImageStore.build(images, SCALE)
    for index in range(20):
        draw = draw_patch(index, sizes, spec)
        assert draw.top % SCALE == 0 and draw.left % SCALE == 0
        lr_img, hr_img = cut_patches(store, [draw], spec)
        image = images[draw.image]
        hr_crop = image.hr_u8[draw.top : draw.top + 48, draw.left : draw.left + 48]
        np.testing.assert_array_equal(to_u8(hr_img[0]), hr_crop)
        t, left = draw.top // SCALE, draw.left // SCALE
        np.testing.assert_array_equal(to_u8(lr_img[0]), image.lr_u8[t : t + 12, left : left + 12])


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_dihedral_indexing_is_numpys_rot90_then_mirror(turns: int, flip: bool) -> None:
    image = _photos()[0]
    store = ImageStore.build([image], SCALE)
    spec = PatchSpec(48, SCALE, "flip_rot90", seed=0, per_epoch=False)
    draw = PatchDraw(image=0, top=32, left=16, side=48, quarter_turns=turns, flip=flip, angle_deg=0.0)
    lr_img, hr_img = cut_patches(store, [draw], spec)
    for got, source in ((hr_img, image.hr_u8[32:80, 16:64]), (lr_img, image.lr_u8[8:20, 4:16])):
        expected = np.rot90(source, turns)
        expected = expected[:, ::-1] if flip else expected
        np.testing.assert_array_equal(to_u8(got[0]), expected)


def test_rot10_matches_pil_rotation_of_the_window_and_its_lr_pil_bicubic() -> None:
    """The rotated HR patch against PIL's bicubic rotation of the same window (a different cubic and
    edge rule, so not equal: measured), and its LR against PIL's bicubic downscale of our HR patch."""
    image = _train("astronaut", skdata.astronaut())
    store = ImageStore.build([image], SCALE)
    spec = PatchSpec(96, SCALE, "rot10_hflip", seed=0, per_epoch=False)
    hr_diffs, lr_max, lr_share = [], 0, []
    for index in range(12):
        draw = draw_patch(index, [image.hr_u8.shape[:2]], spec)
        draw = PatchDraw(0, draw.top, draw.left, draw.side, 0, False, draw.angle_deg)
        lr_img, hr_img = cut_patches(store, [draw], spec)
        ours_hr, ours_lr = to_u8(hr_img[0]).astype(int), to_u8(lr_img[0]).astype(int)
        if (draw.side - 96) % 2 == 0:  # PIL's window centre then falls on ours
            window = Image.fromarray(image.hr_u8[draw.top : draw.top + draw.side, draw.left : draw.left + draw.side])
            rotated = np.asarray(window.rotate(draw.angle_deg, resample=Image.Resampling.BICUBIC)).astype(int)
            off = (draw.side - 96) // 2
            hr_diffs.append(np.abs(rotated[off : off + 96, off : off + 96] - ours_hr).mean())
        pil_lr = bicubic_downscale(ours_hr.astype(np.uint8), SCALE).astype(int)
        lr_max = max(lr_max, int(np.abs(pil_lr - ours_lr).max()))
        lr_share.append((pil_lr != ours_lr).mean())
    # Measured on these 12 draws: about 1.0 level mean difference from PIL's rotation (torch's cubic
    # has a = -0.75, PIL's -0.5); the LR within 5 levels of PIL's fixed-point bicubic, at about 10 % of
    # the pixels (torch computes in float64).
    assert hr_diffs and max(hr_diffs) < 2.0, hr_diffs
    assert lr_max <= 6 and np.mean(lr_share) < 0.15, (lr_max, lr_share)


@pytest.mark.parametrize("rotation", ["bicubic", "nearest_black"])
def test_a_flipped_rot10_patch_flips_hr_and_lr_together(rotation: str) -> None:
    """With the mirror drawn, the LR patch is still the downscale of its HR patch (PIL bicubic, an independent
    resampler): an LR left unflipped would be the mirror image of the HR's downscale."""
    image = _train("astronaut", skdata.astronaut())
    store = ImageStore.build([image], SCALE)
    spec = PatchSpec(96, SCALE, "rot10_hflip", seed=0, per_epoch=False, rotation=rotation)
    flipped = 0
    for index in range(24):
        draw = draw_patch(index, [image.hr_u8.shape[:2]], spec)
        flipped += draw.flip
        lr_img, hr_img = cut_patches(store, [draw], spec)
        ours_lr = to_u8(lr_img[0]).astype(int)
        pil_lr = bicubic_downscale(to_u8(hr_img[0]), SCALE).astype(int)
        assert np.abs(pil_lr - ours_lr).mean() < 1.0, (index, draw.flip, np.abs(pil_lr - ours_lr).mean())
    assert 6 <= flipped <= 18  # both kinds of draw were checked


def test_every_lr_grid_position_can_be_drawn() -> None:
    """Crop tops and lefts range over every LR-grid position, the last included; an image exactly as tall as
    the patch (allowed) has the one position 0."""
    spec = PatchSpec(48, SCALE, "none", seed=0, per_epoch=False)
    sizes = [(48 + 2 * SCALE, 48 + 3 * SCALE), (48, 48)]
    seen: dict[int, set[tuple[int, int]]] = {0: set(), 1: set()}
    for index in range(400):
        draw = draw_patch(index, sizes, spec)
        seen[draw.image].add((draw.top, draw.left))
    assert {t for t, _ in seen[0]} == {0, SCALE, 2 * SCALE}
    assert {left for _, left in seen[0]} == {0, SCALE, 2 * SCALE, 3 * SCALE}
    assert seen[1] == {(0, 0)}


def test_rot10_rotates_and_never_pads() -> None:
    stripes = np.zeros((200, 200, 3), dtype=np.uint8)
    stripes[::8] = 255
    spec = PatchSpec(48, SCALE, "rot10_hflip", seed=0, per_epoch=False)
    loader = PatchDataset([_train("stripes", stripes)], spec, length=10)
    rows_constant = [all(np.ptp(row) == 0 for row in to_u8(loader[i][1])[:, :, 0]) for i in range(10)]
    assert not all(rows_constant)  # the stripes tilt
    for side in (48, 52, 56, 80):  # white images near the patch size: any padding would show as black
        white = np.full((side, side + 4, 3), 255, dtype=np.uint8)
        loader = PatchDataset([_train("white", white)], PatchSpec(48, SCALE, "rot10_hflip", 0, False), length=20)
        for i in range(20):
            lr_img, hr_img = loader[i]
            assert hr_img.shape == (3, 48, 48) and float(hr_img.min()) == 1.0 and float(lr_img.min()) == 1.0, side


def test_max_angle_shrinks_for_small_images() -> None:
    assert max_angle_deg(128, 2040) == 10.0
    assert 0.0 < max_angle_deg(128, 150) < 10.0
    assert max_angle_deg(128, 128) == 0.0


# ---------------------------------------------------------------- the plan and errors


def test_plan_counts_steps_and_items() -> None:
    plan = PatchPlan(unit="epoch", length=3, batch_size=4, num_images=10)
    assert plan.steps_per_epoch == 2 and plan.total_steps == 6  # 10 images at batch 4: 2 full batches
    items = list(plan.items(0))
    assert len(items) == 24 and items[:8] == list(range(8)) and items[8:16] == list(range(10, 18))
    assert list(plan.items(2)) == items[8:]  # a resumed run continues where it stopped
    assert PatchPlan("step", 7, 16, 3).total_steps == 7


def test_bad_training_sets_are_named() -> None:
    spec = PatchSpec(64, SCALE, "none", 0, False)
    with pytest.raises(SrganError, match="empty"):
        PatchDataset([], spec, 4)
    small = _train("small_one", np.zeros((64, 32, 3), np.uint8))
    with pytest.raises(SrganError, match="small_one"):
        DevicePatches([_photos()[0], small], spec, torch.device("cpu"))


@pytest.mark.parametrize("augment", AUGMENTS)
def test_an_image_exactly_the_patch_size_is_the_patch(augment: str) -> None:
    """At the threshold: a 64x64 image and a 64 px patch. Both samplers take it; every patch is the whole image
    (mirrored or turned by flip_rot90 and rot10_hflip's flip: no room for a rotation or a shift)."""
    rng = np.random.default_rng(0)
    image = _train("exact", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    spec = PatchSpec(64, SCALE, augment, 0, False)
    variants = {np.rot90(np.fliplr(image.hr_u8) if f else image.hr_u8, k).tobytes() for k in range(4) for f in (0, 1)}
    loader = PatchDataset([image], spec, length=8)
    for i in range(8):
        lr_img, hr_img = loader[i]
        assert tuple(hr_img.shape) == (3, 64, 64) and tuple(lr_img.shape) == (3, 16, 16)
        assert to_u8(hr_img).tobytes() in variants
        if augment == "none":
            assert np.array_equal(to_u8(hr_img), image.hr_u8) and np.array_equal(to_u8(lr_img), image.lr_u8)
    lr_img, hr_img = DevicePatches([image], spec, torch.device("cpu")).batch(range(4))
    assert tuple(hr_img.shape) == (4, 3, 64, 64) and all(hr.tobytes() in variants for hr in _u8(hr_img))


@pytest.mark.parametrize(("height", "width"), [(63, 80), (80, 63)])
def test_an_image_one_pixel_smaller_than_the_patch_is_named_in_one_line(height: int, width: int) -> None:
    hr_u8 = np.zeros((height, width, 3), np.uint8)
    small = TrainImage("small_one", hr_u8, np.zeros((height // SCALE, width // SCALE, 3), np.uint8))
    spec = PatchSpec(64, SCALE, "none", 0, False)
    for sampler in (lambda: PatchDataset([small], spec, 4), lambda: DevicePatches([small], spec, torch.device("cpu"))):
        with pytest.raises(SrganError) as err:
            sampler()
        assert str(err.value) == (f"training image small_one is {width}x{height}, smaller than the 64 px patch; "
                                  "lower patch_px or remove the image")


@pytest.mark.parametrize("patch_px", [48, 96, 128])
def test_max_angle_at_the_threshold_of_a_rotated_window(patch_px: int) -> None:
    """A shorter side of patch + 7 px (margin 6 and one) holds exactly the unrotated window: no rotation, 0.0
    exactly (not asin's -7e-15); one pixel more allows a positive angle whose window (side p (cos + sin) of
    it, rounded up, and the 6 px margin) still fits."""
    assert max_angle_deg(patch_px, patch_px + 7) == 0.0
    angle = max_angle_deg(patch_px, patch_px + 8)
    assert 0.0 < angle and math.ceil(patch_px * (math.cos(math.radians(angle)) + math.sin(math.radians(angle)))) + 6 \
        <= patch_px + 8


def test_device_sampling_needs_cuda_and_room() -> None:
    fits, line = fits_on_device(_photos(), torch.device("cpu"))
    assert not fits and "CPU loader" in line
    assert ImageStore.nbytes_of(_photos()) == sum(i.hr_u8.nbytes + i.lr_u8.nbytes for i in _photos())
    # DIV2K train, 800 images of about 2040x1356: HR + LR.
    assert math.isclose(800 * 2040 * 1356 * 3 * (1 + 1 / 16) / 2**30, 6.57, abs_tol=0.01)


def test_the_studys_rotation_turns_the_crop_itself_with_black_corners() -> None:
    """`study_code.rotation: nearest_black`: torchvision's RandomRotation(10) of the crop (nearest, fill 0)."""
    white = np.full((120, 120, 3), 255, dtype=np.uint8)
    spec = PatchSpec(48, SCALE, "rot10_hflip", seed=0, per_epoch=False, rotation="nearest_black")
    loader = PatchDataset([_train("white", white)], spec, length=12)
    corners = []
    for i in range(12):
        draw = draw_patch(i, [(120, 120)], spec)
        hr = to_u8(loader[i][1])
        assert set(np.unique(hr)) <= {0, 255}  # nearest: no new values
        corners.append(hr[0, 0, 0] == 0 or hr[0, -1, 0] == 0)
        assert (hr[24, 24] == 255).all() and abs(draw.angle_deg) <= 10 and draw.side == 48
    assert sum(corners) >= 10  # nearly every draw turns black in at a corner (|angle| > ~1.2 degrees)


# ---------------------------------------------------------------- pinned against numpy, at the thresholds


def _random_image(name: str, height: int, width: int, seed: int = 0) -> TrainImage:
    """Random HR and an independent random LR of HR // SCALE: a crop of either is checked by position alone."""
    rng = np.random.default_rng(seed)
    return TrainImage(name, rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                      rng.integers(0, 256, (height // SCALE, width // SCALE, 3), dtype=np.uint8))


def test_a_step_plan_resumed_after_a_step_starts_at_that_steps_first_item() -> None:
    plan = PatchPlan("step", 3, 4, 5)
    assert list(plan.items(1)) == list(range(4, 12)) and list(plan.items(3)) == []
    assert plan.dataset_length == 12


def test_every_check_of_a_training_set_names_it_in_full() -> None:
    spec = PatchSpec(16, SCALE, "none", 0, False)
    for sampler in (lambda images: PatchDataset(images, spec, 4),
                    lambda images: DevicePatches(images, spec, torch.device("cpu"))):
        with pytest.raises(SrganError) as err:
            sampler([])
        assert str(err.value) == "training set is empty"
        good = _random_image("good", 32, 32)
        bad = TrainImage("bad_lr", good.hr_u8, good.lr_u8[:7])
        with pytest.raises(SrganError) as err:
            sampler([good, bad])
        assert str(err.value) == "training image bad_lr: its LR image is not HR / 4; re-run prepare"


def test_an_hr_image_not_a_multiple_of_the_scale_takes_the_lr_of_its_whole_lr_pixels() -> None:
    """66x70 HR (16.5 x 17.5 LR pixels) with a 16x17 LR image is accepted, and its patches cut as by hand."""
    image = _random_image("odd", 66, 70)
    assert image.lr_u8.shape == (16, 17, 3)
    spec = PatchSpec(16, SCALE, "none", 0, False)
    loader = PatchDataset([image], spec, 6)
    for index in range(6):
        draw = draw_patch(index, [(66, 70)], spec)
        lr_img, hr_img = loader[index]
        np.testing.assert_array_equal(to_u8(hr_img), image.hr_u8[draw.top : draw.top + 16, draw.left : draw.left + 16])
        t, left = draw.top // SCALE, draw.left // SCALE
        np.testing.assert_array_equal(to_u8(lr_img), image.lr_u8[t : t + 4, left : left + 4])


def test_a_per_epoch_draw_fills_and_reads_the_callers_order_cache() -> None:
    spec = PatchSpec(16, SCALE, "none", seed=4, per_epoch=True)
    sizes = [(32, 32)] * 3
    orders: dict[int, np.ndarray] = {}
    images = [draw_patch(i, sizes, spec, orders).image for i in range(6)]
    expected = [np.random.default_rng([4, epoch, 3]).permutation(3) for epoch in (0, 1)]
    assert sorted(orders) == [0, 1] and all(np.array_equal(orders[e], expected[e]) for e in (0, 1))
    assert images == [*expected[0], *expected[1]]
    given = {0: np.array([2, 0, 1])}  # an order the cache already holds is the one drawn from
    assert [draw_patch(i, sizes, spec, given).image for i in range(3)] == [2, 0, 1] and list(given) == [0]


def test_each_sampler_builds_a_passs_image_order_once(monkeypatch) -> None:
    """Six items of two passes over 3 images: two order generators (seeded (seed, epoch, n)), however the items
    are asked for (the loader one at a time, the device sampler in two calls); a draw's own generator is (seed, i)."""
    built: list[int] = []
    real = np.random.default_rng

    def counting(seed=None):  # noqa: ANN001
        if isinstance(seed, list) and len(seed) == 3:
            built.append(seed[1])
        return real(seed)

    monkeypatch.setattr(np.random, "default_rng", counting)
    images = [_random_image(f"img{k}", 32, 36, seed=k) for k in range(3)]
    spec = PatchSpec(16, SCALE, "none", seed=4, per_epoch=True)
    loader = PatchDataset(images, spec, 6)
    for index in range(6):
        loader[index]
    assert built == [0, 1]
    built.clear()
    device = DevicePatches(images, spec, torch.device("cpu"))
    device.draws(range(3))
    device.draws(range(6))
    assert built == [0, 1]


@pytest.mark.parametrize(("height", "width", "side"), [(120, 50, 50), (50, 120, 50), (53, 60, 52), (54, 54, 54),
                                                      (52, 52, 52), (55, 200, 54)])
def test_rot10_without_room_to_turn_crops_a_window_of_whole_pixels_each_side(height, width, side) -> None:
    """Images up to patch + 7 px (48 px patch) allow no angle: the window is the patch and the largest even margin
    that fits the shorter side (at most 3 px a side), and the patch is the crop at its centre, exactly."""
    spec = PatchSpec(48, SCALE, "rot10_hflip", 0, False)
    image = _random_image("tight", height, width)
    store = ImageStore.build([image], SCALE)
    tops, lefts = set(), set()
    for index in range(40):
        draw = draw_patch(index, [(height, width)], spec)
        assert draw.angle_deg == 0.0 and draw.side == side and type(draw.side) is int
        tops.add(draw.top)
        lefts.add(draw.left)
        _, hr_img = cut_patches(store, [PatchDraw(0, draw.top, draw.left, draw.side, 0, False, 0.0)], spec)
        off = (side - 48) // 2
        crop = image.hr_u8[draw.top + off : draw.top + off + 48, draw.left + off : draw.left + off + 48]
        np.testing.assert_array_equal(to_u8(hr_img[0]), crop)
    assert tops <= set(range(height - side + 1)) and lefts <= set(range(width - side + 1))


def test_a_store_of_two_images_holds_both_back_to_back() -> None:
    images = [_random_image("a", 20, 24, seed=1), _random_image("b", 16, 28, seed=2)]
    store = ImageStore.build(images, SCALE)
    assert torch.equal(store.hr, torch.from_numpy(np.concatenate([i.hr_u8.reshape(-1) for i in images])))
    assert torch.equal(store.lr, torch.from_numpy(np.concatenate([i.lr_u8.reshape(-1) for i in images])))
    assert store.hr_offset.tolist() == [0, 20 * 24 * 3] and store.lr_offset.tolist() == [0, 5 * 6 * 3]
    assert store.height.tolist() == [20, 16] and store.width.tolist() == [24, 28]
    assert store.sizes_hw == ((20, 24), (16, 28)) and store.scale == SCALE and store.nbytes == 1440 + 1344 + 90 + 84
    assert [t.dtype for t in (store.hr, store.lr, store.hr_offset, store.lr_offset, store.height, store.width)] == \
        [torch.uint8] * 2 + [torch.int64] * 4
    assert not np.shares_memory(store.hr.numpy(), images[0].hr_u8)
    spec = PatchSpec(8, SCALE, "none", 0, False)
    lr_img, hr_img = cut_patches(store, [PatchDraw(1, 4, 12, 8, 0, False, 0.0)], spec)
    np.testing.assert_array_equal(to_u8(hr_img[0]), images[1].hr_u8[4:12, 12:20])
    np.testing.assert_array_equal(to_u8(lr_img[0]), images[1].lr_u8[1:3, 3:5])


def test_a_store_of_one_image_on_the_cpu_is_a_view_of_it() -> None:
    image = _random_image("one", 20, 24)
    store = ImageStore.build([image], SCALE)
    assert np.shares_memory(store.hr.numpy(), image.hr_u8) and np.shares_memory(store.lr.numpy(), image.lr_u8)
    assert store.hr.shape == (20 * 24 * 3,) and store.lr.shape == (5 * 6 * 3,) and store.scale == SCALE


@pytest.mark.parametrize("count", [1, 2])
def test_a_store_on_another_device_holds_every_tensor_there(count: int) -> None:
    """The meta device stands for CUDA: buffers, offsets and sizes all on it, uint8 and int64."""
    images = [_random_image(f"img{k}", 20, 24, seed=k) for k in range(count)]
    store = ImageStore.build(images, SCALE, "meta")
    tensors = (store.hr, store.lr, store.hr_offset, store.lr_offset, store.height, store.width)
    assert [t.device.type for t in tensors] == ["meta"] * 6 and store.device == torch.device("meta")
    assert [t.dtype for t in tensors] == [torch.uint8] * 2 + [torch.int64] * 4
    assert [tuple(t.shape) for t in tensors] == [(count * 1440,), (count * 90,)] + [(count,)] * 4
    assert store.scale == SCALE


class _Copies(TorchDispatchMode):
    """Records (device, non_blocking) of every tensor copy to a device (aten._to_copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[tuple[str, bool]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and kwargs.get("device") is not None:
            self.copies.append((kwargs["device"].type, bool(kwargs.get("non_blocking"))))
        return func(*args, **kwargs)


@pytest.mark.parametrize("augment, rotation", [(a, "bicubic") for a in AUGMENTS] + [("rot10_hflip", "nearest_black")])
def test_the_device_sampler_cuts_on_its_device_alone(augment: str, rotation: str) -> None:
    """On another device than the host (meta stands for CUDA), the packed draws cross in one non-blocking copy and
    every step of the cut runs there (a host tensor in the cut would fail): patches float32, NHWC, on it. Not pinned
    by default off CUDA."""
    images = [_random_image(f"img{k}", 64, 72, seed=k) for k in range(2)]
    spec = PatchSpec(32, SCALE, augment, seed=1, per_epoch=False, rotation=rotation)
    patches = DevicePatches(images, spec, torch.device("meta"))
    assert patches.pin_memory is False and patches.store.device.type == "meta" and patches.store.scale == SCALE
    packed = patches.draws(range(5))
    assert packed.device.type == "cpu" and packed.shape == (5, 7)
    with _Copies() as copies:
        lr_img, hr_img = patches.cut(packed)
    assert copies.copies == [("meta", True)]
    assert (lr_img.device.type, hr_img.device.type) == ("meta", "meta")
    assert lr_img.shape == (5, 3, 8, 8) and hr_img.shape == (5, 3, 32, 32)
    assert lr_img.dtype == hr_img.dtype == torch.float32
    assert lr_img.is_contiguous(memory_format=torch.channels_last)
    assert hr_img.is_contiguous(memory_format=torch.channels_last)


def test_the_device_sampler_pins_its_draws_by_default_on_cuda(monkeypatch) -> None:
    """A store that says it is on CUDA (this machine has none): the draws are pinned unless told otherwise."""
    monkeypatch.setattr(ImageStore, "device", property(lambda self: torch.device("cuda", 0)))
    images = [_random_image("img", 32, 32)]
    spec = PatchSpec(16, SCALE, "none", 0, False)
    assert DevicePatches(images, spec, torch.device("cpu")).pin_memory is True
    assert DevicePatches(images, spec, torch.device("cpu"), pin_memory=False).pin_memory is False


def test_packed_draws_keep_every_column_and_the_angles_float64_bits() -> None:
    """An angle given as an int (10) packs as 10.0 degrees; each column unpacks as (B, 1, 1)."""
    draws = [PatchDraw(1, 8, 12, 52, 3, True, 10), PatchDraw(0, 4, 0, 48, 1, False, 0)]
    packed = pack_draws(draws)
    assert packed.dtype == torch.int64 and packed.shape == (2, 7)
    assert packed[:, :6].tolist() == [[1, 8, 12, 52, 3, 1], [0, 4, 0, 48, 1, 0]]
    assert packed[:, 6].tolist() == np.array([10.0, 0.0]).view(np.int64).tolist()
    columns = _columns(packed)
    assert [tuple(c.shape) for c in columns] == [(2, 1, 1)] * 7
    assert [c.dtype for c in columns] == [torch.int64] * 5 + [torch.bool, torch.float64]
    assert columns.angle_deg.view(-1).tolist() == [10.0, 0.0] and columns.flip.view(-1).tolist() == [True, False]
    angles = [-9.87654321, 1e-300, 7.5]
    mixed = pack_draws([PatchDraw(0, 0, 0, 48, 0, False, a) for a in angles])
    assert _columns(mixed).angle_deg.view(-1).tolist() == angles


def test_rounding_to_8_bit_clamps_and_sends_ties_up() -> None:
    x = torch.tensor([-3.0, 0.0, 0.49999, 0.5, 1.5, 2.5, 127.5, 254.49, 254.5, 255.0, 300.0], dtype=torch.float64)
    got = _round_u8(x.clone())
    assert got.dtype == torch.uint8 and got.tolist() == [0, 0, 0, 1, 2, 3, 128, 254, 255, 255, 255]


@pytest.mark.parametrize("rotation", ["bicubic", "nearest_black"])
def test_a_rotated_cut_warns_nothing(rotation: str) -> None:
    """Every resampler is told its corner rule: torch warns once per process on a default one (log noise)."""
    image = _random_image("img", 96, 96)
    spec = PatchSpec(48, SCALE, "rot10_hflip", 0, False, rotation=rotation)
    draws = [draw_patch(i, [(96, 96)], spec) for i in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cut_patches(ImageStore.build([image], SCALE), draws, spec)


def test_the_rotation_geometry_is_float64_under_any_default_dtype() -> None:
    """A window of odd side 515 has its centre on a half pixel (257.5 past its corner): under a bfloat16 default a
    geometry computed in the default dtype would put it at 258. The patches are the float32 default's."""
    image = _random_image("big", 560, 560)
    store = ImageStore.build([image], SCALE)
    spec = PatchSpec(16, SCALE, "rot10_hflip", 0, False)
    draws = [PatchDraw(0, 20, 24, 515, 0, False, 3.0), PatchDraw(0, 1, 3, 515, 0, True, -7.25)]
    expected = cut_patches(store, draws, spec)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        got = cut_patches(store, draws, spec)
    finally:
        torch.set_default_dtype(default)
    assert all(torch.equal(a, b) and a.dtype == torch.float32 for a, b in zip(got, expected, strict=True))
