"""NIQE speed: seconds per image of `srgan.scoring.niqe.niqe_y` (numpy/scipy, CPU).

Times NIQE (Y channel, 4 px shaved, as the evaluation scores x4 SR output) of
scikit-image's `astronaut()` (a 512x512 RGB photo that ships with the package)
--runs times after one warm-up call, and prints the median seconds per image
and the spread. When ../shared/data exists it does the same for Set14
`baboon.png` HR (500x480) and `ppt3.png` HR (529x656, Set14's largest), so the
figure also covers the image sizes the pipeline scores. Also reports the time
of the first call in the process (loading the pristine model and building the
shape grid), which every later call reuses.

    python benchmarks/bench_niqe.py             # 10 runs per image
    python benchmarks/bench_niqe.py --runs 30

Measured when this was written (median, 2-core CPU shared with other jobs;
two runs): astronaut 512x512 0.13-0.14 s, baboon 500x480 0.08-0.12 s, ppt3
529x656 0.10-0.16 s; first call 0.12-0.18 s. Target: <= 1 s per 512x512 image.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from srgan.scoring.niqe import niqe_y

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAVE_PX = 4


def _time_runs(img_u8: np.ndarray, runs: int) -> tuple[float, list[float]]:
    """NIQE of img_u8 and the wall time of each of `runs` calls, in seconds."""
    niqe_y(img_u8, shave_px=SHAVE_PX)  # warm-up: caches, page faults
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        score = niqe_y(img_u8, shave_px=SHAVE_PX)
        times.append(time.perf_counter() - start)
    return score, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed calls per image")
    args = parser.parse_args()

    images = {"astronaut 512x512": skdata.astronaut()}
    for name in ("baboon", "ppt3"):
        path = SHARED_DATA / "Set14" / "HR" / f"{name}.png"
        if path.is_file():
            img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
            images[f"Set14 {name} {img.shape[1]}x{img.shape[0]}"] = img
    if len(images) == 1:
        print(f"({SHARED_DATA} absent: Set14 sizes skipped)")

    start = time.perf_counter()
    niqe_y(images["astronaut 512x512"], shave_px=SHAVE_PX)
    print(f"first call in the process (loads the model): {time.perf_counter() - start:.3f} s\n")

    print(f"| image | NIQE (Y, shave {SHAVE_PX}) | median s/image | min | max |")
    print("|---|---|---|---|---|")
    for name, img in images.items():
        score, times = _time_runs(img, args.runs)
        print(f"| {name} | {score:.4f} | {statistics.median(times):.3f} | "
              f"{min(times):.3f} | {max(times):.3f} |")


if __name__ == "__main__":
    main()
