"""Tests for srgan.inference.tiling: crossfade values, blend weights, strips, devices, clamping, scale.

Device bugs are invisible on the CPU, so some tests run the model on the `meta`
device (shapes only, no data): a tensor left on the CPU then meets a meta
tensor and raises, or shows up in a recorded `.device`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from srgan.core.runtime import Runtime
from srgan.inference import tiling
from srgan.inference.tiling import (
    _blend_weights,
    _crossfade,
    _iter_sr_strips,
    _LazyFloat,
    _model_scale,
    super_resolve_tiled,
    super_resolve_u8,
    tile_spans,
)

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
META = torch.device("meta")


class _RecordingRuntime(Runtime):
    """A Runtime that records the device of every tile handed to `to_device`."""

    def to_device(self, img: torch.Tensor) -> torch.Tensor:
        self.seen.append(img.device)
        return super().to_device(img)

    @property
    def seen(self) -> list:
        if "_seen" not in self.__dict__:
            object.__setattr__(self, "_seen", [])
        return self.__dict__["_seen"]


def _meta_runtime() -> _RecordingRuntime:
    return _RecordingRuntime(device=META, amp_dtype=None, channels_last=False)


class _Up(nn.Module):
    """Pixel replication by `scale` (pointwise, so tiling reproduces it exactly); records its inputs."""

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.devices: list[torch.device] = []
        self.inference: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.devices.append(x.device)
        self.inference.append(torch.is_inference_mode_enabled())
        return x.repeat_interleave(self.scale, dim=2).repeat_interleave(self.scale, dim=3)


class _NoScale(nn.Module):
    """A x4 model without a `scale` attribute."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)


class _ConstRGB(nn.Module):
    """A x4 'model' whose every SR pixel is the fixed colour `rgb` (values may lie outside [0, 1])."""

    scale = 4

    def __init__(self, rgb: tuple[float, float, float]) -> None:
        super().__init__()
        self.rgb = rgb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colour = torch.tensor(self.rgb, device=x.device)[None, :, None, None]
        return colour.expand(x.shape[0], 3, x.shape[2] * 4, x.shape[3] * 4).clone()


def _smoothstep_crossfade(t: np.ndarray) -> np.ndarray:
    """The documented window, written independently: 0 on the outer third, smoothstep, 1 on the inner third."""
    u = np.clip((t - 1 / 3) * 3, 0, 1)
    return np.maximum(3 * u**2 - 2 * u**3, 1e-6)


# ---------------------------------------------------------------- crossfade and weights


def test_crossfade_pinned_at_its_thirds():
    overlap = 12
    dist = torch.tensor([0.0, 4.0, 4.8, 6.0, 7.2, 8.0, 12.0], dtype=torch.float64)
    # d/o = 0, 1/3 (context: the floor), 0.4 (u=0.2: 0.104), 0.5 (0.5), 0.6 (u=0.8: 0.896), 2/3 and 1 (own: 1).
    expected = [1e-6, 1e-6, 0.104, 0.5, 0.896, 1.0, 1.0]
    np.testing.assert_allclose(_crossfade(dist, overlap).numpy(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("length_px", "tile_px", "overlap_px", "scale"), [(28, 16, 4, 4), (37, 16, 5, 3), (53, 16, 7, 1)]
)
def test_blend_weights_match_an_independent_float64_computation(length_px, tile_px, overlap_px, scale):
    spans = tile_spans(length_px, tile_px, overlap_px)
    raw = []
    for i, (start, stop) in enumerate(spans):
        centres = np.arange(start * scale, stop * scale, dtype=np.float64) + 0.5
        w = np.ones_like(centres)
        if i > 0:
            w = np.minimum(w, _smoothstep_crossfade((centres - start * scale) / ((spans[i - 1][1] - start) * scale)))
        if i < len(spans) - 1:
            w = np.minimum(w, _smoothstep_crossfade((stop * scale - centres) / ((stop - spans[i + 1][0]) * scale)))
        raw.append(w)
    norm = np.zeros(length_px * scale)
    for (start, stop), w in zip(spans, raw):
        norm[start * scale : stop * scale] += w
    got = _blend_weights(spans, scale)
    for (start, stop), w, g in zip(spans, raw, got):
        assert g.dtype == torch.float32
        # Computed in float64 and rounded once: equal to the float32 of the exact value, bit for bit.
        np.testing.assert_array_equal(g.numpy(), (w / norm[start * scale : stop * scale]).astype(np.float32))


# ---------------------------------------------------------------- strips


def _strips(model, lr_img, runtime, tile_px, overlap_px, scale):
    return [(top, strip) for top, strip in _iter_sr_strips(model, lr_img, runtime, tile_px, overlap_px, scale)]


def test_strips_stay_on_the_runtime_device():
    # 40x20 LR, tile 16 / overlap 4: 3 x 2 tiles. The model runs on meta; any weight or strip
    # buffer made on the CPU either raises when it meets a meta tile or comes out on the CPU.
    runtime = _meta_runtime()
    model = _Up(4)
    strips = _strips(model, torch.rand(2, 3, 40, 20), runtime, 16, 4, 4)
    assert [strip.device for _, strip in strips] == [META] * 3
    assert model.devices == [META] * 6


def test_strips_partition_the_sr_rows_in_order():
    lr_img = torch.rand(1, 3, 40, 20, generator=torch.Generator().manual_seed(0))
    strips = _strips(_Up(2), lr_img, CPU, 16, 4, 2)
    tops = [top for top, _ in strips]
    stops = [top + strip.shape[2] for top, strip in strips]
    assert tops[0] == 0 and tops[1:] == stops[:-1] and stops[-1] == 80
    whole = torch.cat([strip for _, strip in strips], dim=2)
    torch.testing.assert_close(whole, _Up(2)(lr_img), rtol=0, atol=1e-6)


def test_strip_buffer_spans_one_tile_row():
    # Memory bound: the strip buffer never holds more than one tile row of SR rows.
    n, width, tile_px, scale = 1, 20, 16, 2
    bound = n * 3 * (tile_px * scale) * (width * scale) * 4  # float32 bytes
    strips = _strips(_Up(scale), torch.rand(n, 3, 40, width), CPU, tile_px, 4, scale)
    assert len(strips) == 3
    assert all(strip.untyped_storage().nbytes() <= bound for _, strip in strips)


def test_tile_rows_that_advance_by_one_sr_row():
    # Spans (0,8),(1,9),(2,10) at scale 1: the strip grows by exactly one row per tile row.
    lr_img = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    tiled = super_resolve_tiled(_Up(1), lr_img, CPU, tile_px=8, overlap_px=7)
    torch.testing.assert_close(tiled, lr_img, rtol=0, atol=1e-6)


def test_a_model_of_the_wrong_scale_is_named():
    class _Twice(_Up):
        scale = 4

        def forward(self, x):
            return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    with pytest.raises(RuntimeError) as err:
        super_resolve_tiled(_Twice(), torch.rand(1, 3, 4, 5), CPU, tile_px=8, overlap_px=2)
    assert str(err.value) == "model output (8, 10) is not x4 of its input tile"


# ---------------------------------------------------------------- scale


def test_model_scale_without_an_attribute_is_named():
    with pytest.raises(TypeError) as err:
        _model_scale(_NoScale(), None)
    assert str(err.value) == "_NoScale has no integer `scale`; pass scale= to the tiled functions"


@pytest.mark.parametrize("bad", [0, -1])
def test_model_scale_below_one_is_rejected(bad):
    model = _Up(4)
    model.scale = bad
    with pytest.raises(TypeError, match="has no integer `scale`"):
        _model_scale(model, None)


def test_scale_one_is_accepted():
    assert _model_scale(_Up(1), None) == 1
    lr_img = torch.rand(1, 3, 6, 7)
    torch.testing.assert_close(super_resolve_tiled(_Up(1), lr_img, CPU, tile_px=4, overlap_px=1), lr_img)


def test_scale_argument_serves_a_model_without_one():
    lr_img = torch.rand(1, 3, 6, 7)
    got = super_resolve_tiled(_NoScale(), lr_img, CPU, tile_px=4, overlap_px=1, scale=4)
    torch.testing.assert_close(got, _NoScale()(lr_img))


# ---------------------------------------------------------------- tensor path: clamping, inference mode


def test_tiled_result_is_clamped_to_the_unit_range():
    got = super_resolve_tiled(_ConstRGB((-0.5, 1.5, 0.25)), torch.zeros(1, 3, 6, 7), CPU, tile_px=4, overlap_px=1)
    assert got.shape == (1, 3, 24, 28)
    assert torch.equal(got[0, 0], torch.zeros(24, 28))
    assert torch.equal(got[0, 1], torch.ones(24, 28))
    torch.testing.assert_close(got[0, 2], torch.full((24, 28), 0.25))


def test_tiled_runs_the_model_in_inference_mode():
    model = _Up(4)
    got = super_resolve_tiled(model, torch.rand(1, 3, 6, 7, requires_grad=True), CPU, tile_px=4, overlap_px=1)
    assert not got.requires_grad and model.inference and all(model.inference)


# ---------------------------------------------------------------- uint8 path


def test_u8_default_overlap_is_16():
    seen = []
    super_resolve_u8(_Up(4), np.zeros((48, 48, 3), np.uint8), CPU, tile_px=32, on_tile=lambda d, t: seen.append(t))
    per_side = len(tile_spans(48, 32, 16))
    assert per_side == 2 and seen == [per_side**2] * per_side**2  # overlap 17 would need 3 per side


def test_u8_tile_of_one_px_is_tiled():
    seen = []
    lr_u8 = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    got = super_resolve_u8(_Up(1), lr_u8, CPU, tile_px=1, overlap_px=0, on_tile=lambda d, t: seen.append(t))
    assert seen == [6] * 6
    np.testing.assert_array_equal(got, lr_u8)


def test_u8_whole_image_of_one_px():
    got = super_resolve_u8(_Up(4), np.full((1, 1, 3), 200, np.uint8), CPU, tile_px=0)
    np.testing.assert_array_equal(got, np.full((4, 4, 3), 200, np.uint8))


def test_u8_gray_clamps_each_channel_before_the_luma():
    # RGB (2, 0, 0) clamps to (1, 0, 0): luma 0.299 -> 76; unclamped it would be 0.598 -> 152.
    got = super_resolve_u8(_ConstRGB((2.0, 0.0, 0.0)), np.zeros((3, 5, 3), np.uint8), CPU, tile_px=0, gray=True)
    np.testing.assert_array_equal(got, np.full((12, 20), 76, np.uint8))


def test_u8_keeps_tiles_and_luma_on_the_device(monkeypatch):
    # The model runs on meta; round_u8 is replaced by one that records its input's device and
    # returns CPU zeros, since meta tensors hold no data to copy back.
    rounded = []

    def fake_round_u8(img):
        rounded.append(img.device)
        return torch.zeros(img.shape, dtype=torch.uint8)

    monkeypatch.setattr(tiling, "round_u8", fake_round_u8)
    runtime, model = _meta_runtime(), _Up(4)
    got = super_resolve_u8(model, np.zeros((10, 9, 3), np.uint8), runtime, tile_px=6, overlap_px=2, gray=True)
    assert got.shape == (40, 36)
    assert rounded == [META] * 2
    # Tiles leave _LazyFloat already on the device (as float) and reach the model there.
    assert runtime.seen == [META] * 4 and model.devices == [META] * 4


def test_lazy_float_slices_as_float_on_its_device():
    img = torch.arange(2 * 3 * 4 * 5, dtype=torch.uint8).reshape(2, 3, 4, 5)
    lazy = _LazyFloat(img, META)
    assert lazy.shape == (2, 3, 4, 5)
    tile = lazy[:, :, 1:3, 2:5]
    assert tile.device == META and tile.dtype == torch.float32 and tile.shape == (2, 3, 2, 3)
    cpu_tile = _LazyFloat(img, torch.device("cpu"))[:, :, 1:3, 2:5]
    torch.testing.assert_close(cpu_tile, img[:, :, 1:3, 2:5].double().div(255).float(), rtol=0, atol=0)
