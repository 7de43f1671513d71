"""Training-patch throughput: decode a 2K PNG per sample vs decode once, crop from memory.

Generates --images synthetic 2040x1356 RGB PNGs (DIV2K's usual size) with
photo-like content (1/f colour noise, gradients, hard-edged shapes, sensor-like
grain), so that PNG compression (about half the raw size, ~4.5 MB each) and
hence decode cost resemble real photos. They are written as a prepared set
with `write_prepared_set` in a temporary directory, then two loaders make
128-px x4 training patches with the study's `rot10_hflip` augmentation:

  decode_every_sample  the content-loss study's approach: __getitem__ opens the
                       PNGs with PIL, decodes all of them, and cuts one patch
  decode_once          ours: `load_train_set` once (its cost is reported
                       separately), then `PatchDataset` crops from the arrays

Both draw item i with `draw_patch` (seed, i) and cut it with `cut_patches`, so
they produce identical patches (the script checks this); they differ only in
where the pixels come from. Both go
through `DataLoader(batch_size=16, num_workers=--workers)`. Each round builds a
fresh loader per variant (taking turns, and alternating which goes first, so
drift of a shared machine hits both alike), discards the first batch (worker
start-up) and times the next --batches (decode_every_sample) or --batches-ours
batches (decode_once needs more to give a stable time). Reports patches/s over
all rounds as a markdown table with the ratio, the per-round rates, and the
one-time decode of `load_train_set` next to a sequential `read_image` loop.

    python benchmarks/bench_loader.py                 # 8 images, 2 workers, ~1 minute on 2 cores
    python benchmarks/bench_loader.py --workers 4 --images 16
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from srgan.core.images import read_image
from srgan.datasets.patches import ImageStore, PatchDataset, PatchSpec, cut_patches, draw_patch
from srgan.datasets.prepared import TrainImage, load_train_set, write_prepared_set

WIDTH_PX, HEIGHT_PX = 2040, 1356
PATCH_PX, SCALE, BATCH_SIZE, AUGMENT = 128, 4, 16, "rot10_hflip"


def synthetic_photo(height_px: int, width_px: int, seed: int) -> np.ndarray:
    """An HxWx3 uint8 image whose PNG compresses like a photo (~0.55 of raw), not like a test card."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height_px, width_px, 3), np.float32)
    # 1/f-like colour noise: octaves of random fields, bicubic-upsampled, amplitude falling per octave.
    amp = 60.0
    for cells in (3, 6, 12, 24, 48, 96, 192, 384):
        rows = cells * height_px // width_px + 1
        field = rng.normal(0, 1, (rows, cells, 1)) * np.array([1.0, 0.9, 0.8]) + rng.normal(0, 0.35, (rows, cells, 3))
        for c in range(3):
            plane = Image.fromarray(field[:, :, c].astype(np.float32), mode="F")
            out[:, :, c] += amp * np.asarray(plane.resize((width_px, height_px), Image.Resampling.BICUBIC))
        amp *= 0.6
    yy, xx = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    out += rng.uniform(-40, 40, 3) * (yy / height_px)[..., None] + rng.uniform(-40, 40, 3) * (xx / width_px)[..., None]
    out += rng.uniform(90, 160, 3)
    img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(25):  # hard edges, like object boundaries
        x0, y0 = int(rng.integers(width_px)), int(rng.integers(height_px))
        box = (x0, y0, x0 + int(rng.integers(20, 400)), y0 + int(rng.integers(20, 400)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.integers(2) else draw.rectangle)(box, fill=colour)
    arr = np.asarray(img).astype(np.float32)
    # Grain: what keeps real photos from compressing to a fraction of this.
    arr += rng.normal(0, 3.0, (height_px, width_px, 1)) + rng.normal(0, 1.5, (height_px, width_px, 3))
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


class DecodeEverySample(Dataset):
    """The study's loader: every item decodes a whole HR PNG (and its LR) to cut one patch.

    Same draws (`draw_patch`) and cutting (`cut_patches`) as `PatchDataset`, so item i
    is the same patch in both.
    """

    def __init__(self, hr_paths: list[Path], spec: PatchSpec, length: int) -> None:
        self.hr_paths, self.spec, self.length = hr_paths, spec, length
        self.sizes_hw = [(HEIGHT_PX, WIDTH_PX)] * len(hr_paths)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        draw = draw_patch(index, self.sizes_hw, self.spec)
        path = self.hr_paths[draw.image]
        # The full-image decodes, once per sample.
        image = TrainImage(path.stem, read_image(path)[0], read_image(path.parent.parent / "LR" / path.name)[0])
        store = ImageStore.build([image], self.spec.scale)
        lr, hr = cut_patches(store, [dataclasses.replace(draw, image=0)], self.spec)
        return lr[0], hr[0]


def time_loader(dataset: Dataset, workers: int, batches: int) -> float:
    """Seconds for `batches` batches after a discarded warm-up batch (worker start-up)."""
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=False, num_workers=workers)
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    elapsed = time.perf_counter() - start
    del it  # shuts the workers down before the other variant runs
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for both loaders")
    parser.add_argument("--images", type=int, default=8, help="synthetic 2040x1356 PNGs to generate")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per loader")
    parser.add_argument("--batches", type=int, default=24, help="timed batches per round, decode_every_sample")
    parser.add_argument("--batches-ours", type=int, default=120, help="timed batches per round, decode_once")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        set_dir = Path(tmp) / "train"
        start = time.perf_counter()
        images = ((f"{i:04d}", synthetic_photo(HEIGHT_PX, WIDTH_PX, args.seed + i), False, None)
                  for i in range(args.images))  # made and written one at a time
        manifest = write_prepared_set(set_dir, images, SCALE, source="synthetic")
        hr_paths = [set_dir / "HR" / f"{e['name']}.png" for e in manifest["images"]]
        sizes_mb = [p.stat().st_size / 1e6 for p in hr_paths]
        raw_mb = WIDTH_PX * HEIGHT_PX * 3 / 1e6
        print(f"generated {args.images} HR PNGs {WIDTH_PX}x{HEIGHT_PX} in {time.perf_counter() - start:.1f} s: "
              f"{min(sizes_mb):.2f}-{max(sizes_mb):.2f} MB each (mean {np.mean(sizes_mb):.2f} MB, "
              f"{np.mean(sizes_mb) / raw_mb:.2f} of the {raw_mb:.1f} MB raw)")

        start = time.perf_counter()
        for path in hr_paths:
            read_image(path)
        sequential_s = time.perf_counter() - start
        start = time.perf_counter()
        hr_images = load_train_set(set_dir, SCALE)
        decode_once_s = time.perf_counter() - start

        def spec(seed: int) -> PatchSpec:
            return PatchSpec(patch_px=PATCH_PX, scale=SCALE, augment=AUGMENT, seed=seed, per_epoch=False)

        def ours(seed: int, batches: int) -> Dataset:
            return PatchDataset(hr_images, spec(seed), length=(batches + 1) * BATCH_SIZE)

        def study(seed: int, batches: int) -> Dataset:
            return DecodeEverySample(hr_paths, spec(seed), length=(batches + 1) * BATCH_SIZE)

        same = all(torch.equal(a, b) for i in range(4) for a, b in zip(ours(args.seed, 1)[i], study(args.seed, 1)[i]))
        print(f"identical patches from both loaders (items 0-3): {'yes' if same else 'NO'}")

        variants = {"decode_every_sample": (study, args.batches), "decode_once": (ours, args.batches_ours)}
        seconds = {name: [] for name in variants}
        for r in range(args.rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in order:
                make, batches = variants[name]
                seconds[name].append(time_loader(make(args.seed + r, batches), args.workers, batches))

    rates = {}
    for name, (_, batches) in variants.items():
        rates[name] = args.rounds * batches * BATCH_SIZE / sum(seconds[name])
    base = rates["decode_every_sample"]
    print()
    print(f"128-px x4 patches, {AUGMENT}, batch {BATCH_SIZE}, {args.images} images {WIDTH_PX}x{HEIGHT_PX}, "
          f"{args.rounds} alternating rounds")
    print()
    print("| loader | workers | timed batches | patches/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, (_, batches) in variants.items():
        print(f"| {name} | {args.workers} | {args.rounds} x {batches} | {rates[name]:.1f} | {rates[name] / base:.1f}x |")
    print()
    for name, (_, batches) in variants.items():
        per_round = ", ".join(f"{batches * BATCH_SIZE / s:.1f}" for s in seconds[name])
        print(f"{name} per round (patches/s): {per_round}")
    print(f"one-time decode, load_train_set ({min(8, os.cpu_count() or 1)} threads): {decode_once_s:.2f} s "
          f"for {args.images} images (sequential read_image: {sequential_s:.2f} s); "
          f"= {decode_once_s * base:.0f} patches of decode_every_sample")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
