"""Tests for srgan.inference: BN folding, tiling, the uint8 path and its rounding, checkpoint loading."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch import nn

from srgan.core.artifacts import save_checkpoint
from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale, mod_crop
from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor, to_u8
from srgan.inference.folding import (
    fold_batchnorm,
    load_for_inference,
    prepare_for_inference,
)
from srgan.inference.generator import load_generator, save_generator, super_resolve
from srgan.inference.tiling import (
    _blend_weights,
    super_resolve_tiled,
    super_resolve_u8,
    tile_spans,
)
from srgan.nets.srresnet import SRResNet
from srgan.scoring.metrics import quantize_u8

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _randomize_batchnorm(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running stats and affine terms, so folding has something to fold."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=gen) * 2 - 1)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen) - 0.5)


class _NearestUp(nn.Module):
    """A pointwise x4 'model': tiling must reproduce it exactly (weights sum to 1)."""

    scale = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=4, mode="nearest")


@pytest.fixture(scope="module")
def trained_tiny() -> SRResNet:
    """SRResNet(4 blocks, 16 channels) after 40 Adam steps of MSE on skimage patches (~2 s).

    Briefly trained rather than random-init: its BN running stats and features
    are those of a model that has seen images, which is what tiling error
    depends on. Returned in eval mode. Trained on one thread: on a shared 2-core
    machine, two OpenMP threads contending with other work ran 10x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_tiny()
    finally:
        torch.set_num_threads(threads)


def _train_tiny() -> SRResNet:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = [skdata.astronaut(), skdata.chelsea(), skdata.coffee()]
    model = SRResNet(scale=4, num_blocks=4, channels=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(40):
        lr_batch, hr_batch = [], []
        for _ in range(8):
            img = images[rng.integers(len(images))]
            top, left = rng.integers(img.shape[0] - 48), rng.integers(img.shape[1] - 48)
            patch = np.ascontiguousarray(img[top : top + 48, left : left + 48])
            hr_batch.append(to_tensor(patch))
            lr_batch.append(to_tensor(bicubic_downscale(patch, 4)))
        loss = nn.functional.mse_loss(model(torch.stack(lr_batch)), torch.stack(hr_batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


# ---------------------------------------------------------------- BN folding


def test_fold_batchnorm_matches_eval_model():
    model = SRResNet(scale=4, num_blocks=3, channels=8)
    _randomize_batchnorm(model)
    model.eval()
    folded = fold_batchnorm(model)
    lr_img = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, got = model(lr_img), folded(lr_img)
    assert (got - expected).abs().max().item() < 1e-4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.Identity) for m in folded.modules()) == 2 * 3 + 1
    # The original keeps its BNs and its output.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 2 * 3 + 1
    with torch.inference_mode():
        assert torch.equal(model(lr_img), expected)


def test_fold_batchnorm_rejects_other_modules():
    with pytest.raises(TypeError):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 3, kernel_size=1), nn.BatchNorm2d(3)))


def test_prepare_for_inference_is_frozen_eval_and_equal():
    model = SRResNet(scale=4, num_blocks=2, channels=8)
    _randomize_batchnorm(model, seed=3)
    model.train()  # prepare_for_inference must switch to running stats itself
    fast = prepare_for_inference(model, CPU)
    assert not fast.training and all(not p.requires_grad for p in fast.parameters())
    assert fast.head[0].weight.is_contiguous(memory_format=torch.channels_last)
    lr_img = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = model.eval()(lr_img).clamp(0, 1)
    got = super_resolve(fast, lr_img, CPU)
    assert got.is_contiguous() and (got - expected).abs().max().item() < 1e-4


# ---------------------------------------------------------------- tiling geometry


@pytest.mark.parametrize("length_px", [1, 15, 16, 17, 37, 53, 100, 257])
@pytest.mark.parametrize(("tile_px", "overlap_px"), [(16, 4), (16, 0), (32, 16), (8, 7)])
def test_tile_spans_cover_with_overlap(length_px, tile_px, overlap_px):
    spans = tile_spans(length_px, tile_px, overlap_px)
    assert spans[0][0] == 0 and spans[-1][1] == length_px
    assert all(stop - start == min(tile_px, length_px) for start, stop in spans)
    for (_, prev_stop), (start, _) in zip(spans, spans[1:]):
        assert prev_stop - start >= overlap_px


@pytest.mark.parametrize(("tile_px", "overlap_px"), [(0, 0), (16, 16), (16, -1)])
def test_tile_spans_reject_bad_settings(tile_px, overlap_px):
    with pytest.raises(SrganError):
        tile_spans(40, tile_px, overlap_px)


@pytest.mark.parametrize(("length_px", "tile_px", "overlap_px", "spans"), [
    (16, 16, 4, [(0, 16)]),  # a side exactly one tile: one span
    (17, 16, 4, [(0, 16), (1, 17)]),  # one pixel more: two
    (28, 16, 4, [(0, 16), (12, 28)]),  # two tiles overlapping by exactly overlap_px
    (29, 16, 4, [(0, 16), (6, 22), (13, 29)]),  # one pixel more: three, starts spread evenly (0, 13 / 2, 13)
    (3, 1, 0, [(0, 1), (1, 2), (2, 3)]),  # the smallest tile, no overlap
    (10, 8, 7, [(0, 8), (1, 9), (2, 10)]),  # the largest overlap: tile - 1
])
def test_tile_spans_pinned_at_their_thresholds(length_px, tile_px, overlap_px, spans):
    assert tile_spans(length_px, tile_px, overlap_px) == spans


@pytest.mark.parametrize(("tile_px", "overlap_px", "message"), [
    (0, 0, "tile size must be >= 1 LR px, got 0"),
    (16, 16, "tile overlap must be in [0, tile size 16) LR px, got 16"),
    (16, -1, "tile overlap must be in [0, tile size 16) LR px, got -1"),
])
def test_tile_settings_just_outside_their_range_are_one_line_each(tile_px, overlap_px, message):
    with pytest.raises(SrganError) as err:
        tile_spans(40, tile_px, overlap_px)
    assert str(err.value) == message


@pytest.mark.parametrize("length_px", [37, 53, 200])
def test_blend_weights_sum_to_one(length_px):
    spans = tile_spans(length_px, 16, 4)
    total = torch.zeros(length_px * 4, dtype=torch.float64)
    for (start, stop), w in zip(spans, _blend_weights(spans, 4)):
        assert torch.all(w >= 0) and w.shape == ((stop - start) * 4,)
        total[start * 4 : stop * 4] += w
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)


def test_tiling_covers_odd_sizes_exactly():
    # 37x53 LR with 16 px tiles: partial grid on both axes. A pointwise model
    # makes tiling exact, so every SR pixel must be covered with total weight 1.
    lr_img = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    tiled = super_resolve_tiled(_NearestUp(), lr_img, CPU, tile_px=16, overlap_px=4)
    assert tiled.shape == (2, 3, 148, 212)
    assert (tiled - _NearestUp()(lr_img)).abs().max().item() < 1e-6
    model = SRResNet(scale=4, num_blocks=1, channels=4).eval()
    sr_img = super_resolve_tiled(model, lr_img[:1], CPU, tile_px=16, overlap_px=4)
    assert sr_img.shape == (1, 3, 148, 212) and torch.isfinite(sr_img).all()


def test_tile_larger_than_image_is_the_whole_image(trained_tiny):
    lr_img = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    assert torch.equal(
        super_resolve_tiled(trained_tiny, lr_img, CPU, tile_px=64, overlap_px=16), super_resolve(trained_tiny, lr_img, CPU)
    )


def test_tiled_matches_untiled_for_a_trained_model(trained_tiny):
    # 80x112 LR with tile 48 / overlap 16: spans (0,48),(32,80) x (0,48),(32,80),(64,112),
    # so every overlap is exactly 16 LR px. Measured here: max 2.44/255, 64.9 dB
    # (a 900-step paper-size SRResNet: 2.61/255, 65.5 dB; random init: 0.45/255).
    # The worst pixels sit where a tile seam meets the image border. Tolerance:
    # max < 4/255 (about 1.5x the measured worst case, a few 8-bit levels at
    # isolated pixels), PSNR > 55 dB, and under 2% of values off by more than 1/255
    # (measured 0.5%).
    hr_u8 = mod_crop(skdata.rocket()[:320, :448], 4)
    lr_img = to_tensor(bicubic_downscale(hr_u8, 4))[None]
    fast = prepare_for_inference(trained_tiny, CPU)
    whole = super_resolve(fast, lr_img, CPU)
    tiled = super_resolve_tiled(fast, lr_img, CPU, tile_px=48, overlap_px=16)
    diff = (tiled - whole).abs()
    psnr_db = -10 * math.log10(diff.pow(2).mean().item())
    assert diff.max().item() < 4 / 255
    assert psnr_db > 55
    assert (diff > 1 / 255).float().mean().item() < 0.02


# ---------------------------------------------------------------- uint8 path and colour


def test_super_resolve_u8_equals_tensor_path(trained_tiny):
    lr_u8 = (np.random.default_rng(0).random((30, 41, 3)) * 255).astype(np.uint8)
    expected = to_u8(super_resolve_tiled(trained_tiny, to_tensor(lr_u8)[None], CPU, 16, 4))
    got = super_resolve_u8(trained_tiny, lr_u8, CPU, tile_px=16, overlap_px=4)
    assert got.dtype == np.uint8 and got.shape == (120, 164, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # rounding order only
    gray = super_resolve_u8(trained_tiny, lr_u8, CPU, tile_px=0, gray=True)
    assert gray.shape == (120, 164)


class _Constant(nn.Module):
    """A x4 'model' whose output is a fixed SR image, whatever the LR input."""

    scale = 4

    def __init__(self, sr_img: torch.Tensor) -> None:
        super().__init__()
        self.sr_img = sr_img

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sr_img[:, :, : x.shape[2] * 4, : x.shape[3] * 4].expand(x.shape[0], -1, -1, -1)


def test_super_resolve_u8_rounds_ties_like_metrics_and_to_u8():
    # SR values (k + 0.5) / 255 and neighbours, as float32 (what a model returns).
    ties = (torch.arange(256, dtype=torch.float64) + 0.5) / 255
    values = torch.stack([ties, ties + 1e-7, ties - 1e-7]).float()  # (3, 256)
    sr_img = values.view(1, 3, 16, 16)
    got = super_resolve_u8(_Constant(sr_img), np.zeros((4, 4, 3), np.uint8), CPU, tile_px=0)
    expected = quantize_u8(sr_img).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, to_u8(sr_img))


# ---------------------------------------------------------------- loading


def _save_tiny(path: Path, scale: int = 4) -> None:
    save_generator(path, SRResNet(scale=scale, num_blocks=2, channels=8), experiment="srresnet", variant="mse")


def test_load_for_inference_checks_scale(tmp_path):
    _save_tiny(tmp_path / "x2.pt", scale=2)
    with pytest.raises(SrganError, match=r"x2\.pt is a x2 model, but scale 4"):
        load_for_inference(tmp_path / "x2.pt", 4, CPU)
    model, record = load_for_inference(tmp_path / "x2.pt", 2, CPU)
    assert (record.experiment, record.architecture.scale) == ("srresnet", 2)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize(("shared_bn", "conv_bias"), [(False, True), (True, False)])
def test_a_checkpoint_rebuilds_the_architecture_its_record_names(tmp_path, shared_bn, conv_bias):
    """No guessing from the weights' names: the study's shared-BN, bias-free generator comes back as itself."""
    torch.manual_seed(0)
    model = SRResNet(num_blocks=3, channels=8, shared_bn=shared_bn, conv_bias=conv_bias).eval()
    _randomize_batchnorm(model)
    save_generator(tmp_path / "g.pt", model, experiment="srgan", variant="mse", step=7)
    loaded, record = load_generator(tmp_path / "g.pt", 4, CPU)
    assert (record.architecture.shared_bn, record.architecture.conv_bias, record.step) == (shared_bn, conv_bias, 7)
    x = torch.rand(1, 3, 10, 10)
    assert torch.equal(loaded(x), model(x))


def test_a_checkpoint_without_a_record_is_named(tmp_path):
    save_checkpoint(tmp_path / "old.pt", {"model": SRResNet(num_blocks=1, channels=8).state_dict(), "scale": 4})
    with pytest.raises(SrganError, match=r"old\.pt has no generator record"):
        load_generator(tmp_path / "old.pt", 4, CPU)


@pytest.mark.parametrize(("where", "field"), [
    (("step",), "step"),
    (("valid_psnr_y_db",), "valid_psnr_y_db"),
    (("architecture",), "architecture"),
    (("architecture", "scale"), "scale"),
])
def test_a_checkpoint_record_missing_a_field_names_the_checkpoint_and_the_field(tmp_path, where, field):
    """What evaluation, the report and `srgan upscale` load (load_generator, load_for_inference): a record
    written by another version that lacks a field gives one line naming the checkpoint and the field."""
    _save_tiny(tmp_path / "g.pt")
    ckpt = torch.load(tmp_path / "g.pt", weights_only=True)
    inner = ckpt["record"]
    for key in where[:-1]:
        inner = inner[key]
    del inner[where[-1]]
    save_checkpoint(tmp_path / "g.pt", ckpt)
    for load in (load_generator, load_for_inference):
        with pytest.raises(SrganError) as info:
            load(tmp_path / "g.pt", 4, CPU)
        message = str(info.value)
        assert "\n" not in message and f"'{field}'" in message
        assert message.startswith(f"checkpoint {tmp_path / 'g.pt'} has a generator record this version cannot read (")
        assert message.endswith("); rerun the stage that trains it")


def test_tiling_reports_each_tile_once_in_order():
    """`srgan upscale` shows a bar per tile: the callback sees every tile, counted up to the true total."""
    lr_u8 = (np.random.default_rng(0).random((23, 37, 3)) * 255).astype(np.uint8)
    seen: list[tuple[int, int]] = []
    super_resolve_u8(_NearestUp(), lr_u8, CPU, tile_px=10, overlap_px=2, on_tile=lambda d, t: seen.append((d, t)))
    total = len(tile_spans(23, 10, 2)) * len(tile_spans(37, 10, 2))
    assert total == 15 and seen == [(k, total) for k in range(1, total + 1)]
    seen.clear()
    super_resolve_u8(_NearestUp(), lr_u8, CPU, tile_px=0, on_tile=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 1)]  # the whole image: one tile
