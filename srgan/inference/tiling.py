"""Super-resolving large images in tiles that are blended without seams.

Tensors are float32 RGB in [0, 1], NCHW; `*_u8` arrays are uint8 HxWx3 (or HxW
for gray). Two layers, each usable alone:

- `super_resolve_tiled`: tensor in, tensor out (evaluation with `evaluate.tile_px`).
- `super_resolve_u8`: uint8 array in, uint8 array out, tiled and streaming, so
  the only full-size buffer is the 8-bit result (`srgan upscale`, for images
  too large to hold as float SR tensors).

Image files, colour modes and output formats are in `srgan.inference.upscale`;
whole images in `srgan.inference.generator`.

Tiling: the LR image is cut into tiles of `tile_px` LR pixels that overlap by at
least `overlap_px`; each tile is upscaled alone and the SR tiles are blended with
separable weights normalised to sum to 1 at every pixel. Across an overlap the
outer third of each tile is context only (weight ~0: the tile's zero padding
shows there) and the middle third is a smoothstep crossfade, so there are no
seams. SRResNet's receptive field reaches about 40 LR px (16 blocks) to each
side, so a tiled result still differs slightly from the whole-image one near
tile borders: with `overlap_px=16`, at most a few 8-bit levels at isolated
pixels and about 65 dB PSNR against the whole-image result for a trained model
(tests/inference/test_infer.py); tile_px=0 gives the exact result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.core.images import BT601_LUMA
from srgan.core.runtime import Runtime
from srgan.core.tensors import round_u8


def _check_tiling(tile_px: int, overlap_px: int) -> None:
    if tile_px < 1:
        raise SrganError(f"tile size must be >= 1 LR px, got {tile_px}")
    if not 0 <= overlap_px < tile_px:
        raise SrganError(f"tile overlap must be in [0, tile size {tile_px}) LR px, got {overlap_px}")


def tile_spans(length_px: int, tile_px: int, overlap_px: int) -> list[tuple[int, int]]:
    """[start, stop) LR spans covering 0..length_px with tiles of tile_px px.

    Consecutive tiles overlap by at least overlap_px; the starts are spread
    evenly, so the last tile ends exactly at the image border and no tile needs
    padding. A side shorter than tile_px is one span.
    """
    _check_tiling(tile_px, overlap_px)
    if length_px <= tile_px:
        return [(0, length_px)]
    count = -(-(length_px - overlap_px) // (tile_px - overlap_px))  # ceil
    room = length_px - tile_px
    return [(i * room // (count - 1), i * room // (count - 1) + tile_px) for i in range(count)]


def _crossfade(dist_sr: Tensor, overlap_sr: int) -> Tensor:
    """Weight of a tile at `dist_sr` SR px from its edge, inside an overlap of overlap_sr SR px.

    The outer third of the overlap is context only (weight ~0): the tile's zero
    padding still shows there. Across the middle third the weight rises with a
    smoothstep (continuous slope, so no visible kink); the inner third is the
    tile's own (1). The neighbour's weight mirrors this. Measured against the
    whole-image result (900-step paper-size SRResNet, 80x112 LR, tile 48,
    overlap 16): this window 2.6/255 max, 65.5 dB; a quarter of context 2.6/255,
    64.6 dB; a linear ramp over the whole overlap 4.0/255, 57.1 dB.
    """
    u = ((dist_sr / overlap_sr - 1 / 3) * 3).clamp(0, 1)
    # The floor keeps every pixel's weight sum positive whatever the span layout.
    return (u * u * (3 - 2 * u)).clamp_min(1e-6)


def _blend_weights(spans: list[tuple[int, int]], scale: int) -> list[Tensor]:
    """Per-span 1-D SR weights: `_crossfade` across each overlap, normalised to sum to 1.

    Image borders get no ramp. Normalising the 1-D weights makes the 2-D
    products wy[:, None] * wx[None, :] a partition of unity over the tile grid.
    """
    total = spans[-1][1] * scale
    weights = []
    for i, (start, stop) in enumerate(spans):
        pos = torch.arange(start * scale, stop * scale, dtype=torch.float64) + 0.5  # pixel centres
        w = torch.ones_like(pos)
        if i > 0:
            w = torch.minimum(w, _crossfade(pos - start * scale, (spans[i - 1][1] - start) * scale))
        if i < len(spans) - 1:
            w = torch.minimum(w, _crossfade(stop * scale - pos, (stop - spans[i + 1][0]) * scale))
        weights.append(w)
    norm = torch.zeros(total, dtype=torch.float64)
    for (start, stop), w in zip(spans, weights):
        norm[start * scale : stop * scale] += w
    return [(w / norm[start * scale : stop * scale]).float() for (start, stop), w in zip(spans, weights)]


# on_tile(tiles done, tiles in all) is called after each tile: progress for long images.
TileProgress = Callable[[int, int], None]


def _iter_sr_strips(
    model: nn.Module, lr_img: Tensor, runtime: Runtime, tile_px: int, overlap_px: int, scale: int,
    on_tile: TileProgress | None = None,
) -> Iterator[tuple[int, Tensor]]:
    """Yield (first SR row, finished strip (N, 3, rows, scale*w), float32 on the device, unclamped).

    lr_img: (N, 3, h, w) float in [0, 1], or a `_LazyFloat` that slices like one.
    on_tile: called after each tile with (tiles done, tiles in all).

    Tiles are run one tile row at a time and blended into a strip buffer that
    spans one tile row; rows no later tile touches are yielded and dropped, so
    memory is bounded by one strip plus one tile's activations.
    """
    n, _, height, width = lr_img.shape
    row_spans = tile_spans(height, tile_px, overlap_px)
    col_spans = tile_spans(width, tile_px, overlap_px)
    device = runtime.device
    row_weights = [w.to(device) for w in _blend_weights(row_spans, scale)]
    col_weights = [w.to(device) for w in _blend_weights(col_spans, scale)]
    strip = torch.zeros(n, 3, 0, width * scale, device=device)
    strip_top = 0  # SR row of strip[:, :, 0]
    done_tiles, all_tiles = 0, len(row_spans) * len(col_spans)
    for r, (y0, y1) in enumerate(row_spans):
        grow = y1 * scale - (strip_top + strip.shape[2])
        if grow > 0:
            strip = torch.cat([strip, strip.new_zeros(n, 3, grow, width * scale)], dim=2)
        rows = slice(y0 * scale - strip_top, y1 * scale - strip_top)
        for c, (x0, x1) in enumerate(col_spans):
            with runtime.autocast():
                sr_tile = model(runtime.to_device(lr_img[:, :, y0:y1, x0:x1]))
            if sr_tile.shape[-2:] != ((y1 - y0) * scale, (x1 - x0) * scale):
                raise RuntimeError(f"model output {tuple(sr_tile.shape[-2:])} is not x{scale} of its input tile")
            weight = row_weights[r][:, None] * col_weights[c][None, :]
            strip[:, :, rows, x0 * scale : x1 * scale] += sr_tile.float() * weight
            done_tiles += 1
            if on_tile is not None:
                on_tile(done_tiles, all_tiles)
        done = row_spans[r + 1][0] * scale if r + 1 < len(row_spans) else height * scale
        yield strip_top, strip[:, :, : done - strip_top]
        strip = strip[:, :, done - strip_top :]
        strip_top = done


def _model_scale(model: nn.Module, scale: int | None) -> int:
    scale = scale if scale is not None else getattr(model, "scale", None)
    if not isinstance(scale, int) or scale < 1:
        raise TypeError(f"{type(model).__name__} has no integer `scale`; pass scale= to the tiled functions")
    return scale


def super_resolve_tiled(
    model: nn.Module, lr_img: Tensor, runtime: Runtime, tile_px: int, overlap_px: int, scale: int | None = None
) -> Tensor:
    """Tiled `srgan.inference.generator.super_resolve`: (N, 3, h, w) LR in [0, 1] -> (N, 3, s*h, s*w) float32 CPU in [0, 1].

    tile_px: tile side in LR pixels; overlap_px: minimum overlap of neighbouring
    tiles (LR px), crossfaded in the overlaps. scale defaults to `model.scale`.
    Holds the full float result on the CPU; for very large images use
    `super_resolve_u8`, whose only full-size buffer is 8-bit.
    """
    with torch.inference_mode():
        scale = _model_scale(model, scale)
        n, _, height, width = lr_img.shape
        out = torch.empty(n, 3, height * scale, width * scale)
        for top, strip in _iter_sr_strips(model, lr_img, runtime, tile_px, overlap_px, scale):
            out[:, :, top : top + strip.shape[2]] = strip.clamp(0, 1).cpu()
        return out


def super_resolve_u8(
    model: nn.Module,
    lr_u8: np.ndarray,
    runtime: Runtime,
    tile_px: int,
    overlap_px: int = 16,
    gray: bool = False,
    scale: int | None = None,
    on_tile: TileProgress | None = None,
) -> np.ndarray:
    """Upscale an HxWx3 uint8 RGB image -> (s*H, s*W, 3) uint8, or (s*H, s*W) luma when `gray`.

    Tiled and streaming: finished SR rows are rounded to 8 bit on the device
    (`srgan.core.tensors.round_u8`, ties up) and written into the preallocated result,
    which is the only full-size buffer. tile_px <= 0 runs the image as a single tile. gray: the input is a
    gray image replicated to RGB; the result is the BT.601 luma of the SR image. on_tile(done, all)
    is called after each tile.
    """
    with torch.inference_mode():
        scale = _model_scale(model, scale)
        height, width = lr_u8.shape[:2]
        if tile_px <= 0:
            tile_px, overlap_px = max(height, width), 0
        lr_img = torch.from_numpy(np.ascontiguousarray(lr_u8)).permute(2, 0, 1)[None]
        out = np.empty((height * scale, width * scale) if gray else (height * scale, width * scale, 3), dtype=np.uint8)
        luma = torch.tensor(BT601_LUMA, device=runtime.device)[:, None, None]
        lazy = _LazyFloat(lr_img, runtime.device)
        for top, strip in _iter_sr_strips(model, lazy, runtime, tile_px, overlap_px, scale, on_tile):
            strip = strip[0].clamp_(0, 1)
            if gray:
                strip = (strip * luma).sum(dim=0)
            strip_u8 = round_u8(strip)
            if not gray:
                strip_u8 = strip_u8.permute(1, 2, 0)
            out[top : top + strip_u8.shape[0]] = strip_u8.cpu().numpy()
        return out


class _LazyFloat:
    """A uint8 NCHW image whose slices come out as float [0, 1] on `device`.

    Keeps a large LR image at 1 byte per value instead of 4, and sends tiles to
    the device as bytes (a quarter of the transfer) before converting them.
    """

    def __init__(self, img_u8: Tensor, device: torch.device) -> None:
        self.img_u8 = img_u8
        self.device = device
        self.shape = img_u8.shape

    def __getitem__(self, index: tuple) -> Tensor:
        return self.img_u8[index].to(self.device).float().div_(255.0)
