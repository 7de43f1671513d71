"""Peak memory of the prepare stage: a `folder` source of ~100 DIV2K-sized images.

Generates --images smooth random 2040x1356 RGB PNGs (DIV2K's usual size), one at
a time, into a temporary HR/ folder, then measures in fresh processes:

  imports       python + `import srgan.datasets.prepare` only (the floor under both others)
  decode_one    `read_image` of one generated PNG (one decoded image)
  prepare       `prepare_dataset` of the whole folder (HR mod-crop, bicubic LR, PNGs)

Each figure is the peak RSS (ru_maxrss of RUSAGE_CHILDREN) of a process that
ran only that measurement: a small wrapper process starts the work as its only
child, waits for it, and reports getrusage(RUSAGE_CHILDREN). Streaming holds
prepare's peak at about one image above `imports`, whatever the set size;
decoding the whole set first would need about --images x 8.3 MB more.

    python benchmarks/bench_prepare.py                  # 100 images, ~3 minutes on 2 cores
    python benchmarks/bench_prepare.py --images 20
    python benchmarks/bench_prepare.py --compare-ref HEAD   # the same run on srgan/ as committed at HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH_PX, HEIGHT_PX = 2040, 1356
REPO = Path(__file__).resolve().parents[1]

# Run by the measured child. argv: kind, folder, out_dir.
_CHILD = r"""
import inspect, sys, time
from pathlib import Path
kind, folder, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
import srgan.datasets.prepare
start = time.perf_counter()
if kind == "decode_one":
    from srgan.datasets.prepare import read_image
    img_u8, _ = read_image(sorted((folder / "HR").glob("*.png"))[0])
elif kind == "prepare":
    from srgan.core.config import DatasetParams
    ds = DatasetParams(source="folder", images=(), path=str(folder), url="", sha256="")
    args = (ds, 4, out_dir, out_dir.parent / "cache")
    if "name" in inspect.signature(srgan.datasets.prepare.prepare_dataset).parameters:
        args = ("bench",) + args
    srgan.datasets.prepare.prepare_dataset(*args)
print(time.perf_counter() - start)
print("torch" in sys.modules)
print(srgan.datasets.prepare.__file__)
"""

# The wrapper: the child above is its only child, so RUSAGE_CHILDREN is that child's peak.
_WRAPPER = r"""
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if proc.returncode:
    sys.exit(proc.stderr)
seconds, torch_loaded, module = proc.stdout.splitlines()[-3:]
print(json.dumps({"peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "seconds": float(seconds), "torch": torch_loaded == "True", "module": module}))
"""


def smooth_random_image(seed: int) -> np.ndarray:
    """An HxWx3 uint8 image of smooth random colour: a random 24x36 grid, bicubic-upsampled."""
    rng = np.random.default_rng(seed)
    grid = Image.fromarray(rng.integers(0, 256, (24, 36, 3), dtype=np.uint8))
    return np.asarray(grid.resize((WIDTH_PX, HEIGHT_PX), Image.Resampling.BICUBIC))


def measure(kind: str, folder: Path, out_dir: Path, pythonpath: Path) -> dict:
    """Run one measurement in a fresh wrapper + child; returns peak RSS (KiB), seconds, torch loaded."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    child = [sys.executable, "-c", _CHILD, kind, str(folder), str(out_dir)]
    # cwd: `python -c` puts the working folder first on sys.path.
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *child], capture_output=True, text=True, env=env,
                          cwd=pythonpath)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout)
    if not Path(result["module"]).is_relative_to(pythonpath):
        raise SystemExit(f"{kind} ran {result['module']}, not the code under {pythonpath}")
    return result


def export_ref(ref: str, dest: Path) -> Path:
    """srgan/ as committed at `ref`, extracted under dest (git archive: the checkout is untouched)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "srgan"], capture_output=True, check=True)
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100, help="generated 2040x1356 PNGs")
    parser.add_argument("--compare-ref", default="", help="also measure srgan/ at this git ref (e.g. HEAD)")
    args = parser.parse_args()

    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench_prepare_") as tmp:
        folder = Path(tmp) / "src"
        (folder / "HR").mkdir(parents=True)
        start = time.perf_counter()
        for i in range(args.images):  # one at a time: the generator itself stays small
            Image.fromarray(smooth_random_image(i)).save(folder / "HR" / f"{i:04d}.png", compress_level=1)
        files_mb = sum(p.stat().st_size for p in (folder / "HR").iterdir()) / 1e6
        print(f"generated {args.images} PNGs {WIDTH_PX}x{HEIGHT_PX} in {time.perf_counter() - start:.1f} s "
              f"({files_mb:.0f} MB on disk; decoded {WIDTH_PX * HEIGHT_PX * 3 / 2**20:.1f} MiB each, "
              f"{args.images * WIDTH_PX * HEIGHT_PX * 3 / 2**30:.2f} GiB for the set)")

        trees = {"working tree": REPO}
        if args.compare_ref:
            trees[args.compare_ref] = export_ref(args.compare_ref, Path(tmp) / "ref")
        print()
        print("| code | measurement | peak RSS (MiB) | above imports (MiB) | seconds | torch imported |")
        print("|---|---|---:|---:|---:|---|")
        for run, (label, tree) in enumerate(trees.items()):
            results = {}
            for kind in ("imports", "decode_one", "prepare"):
                results[kind] = measure(kind, folder, Path(tmp) / f"out{run}" / "prepared", tree)
            base = results["imports"]["peak_rss_kib"]
            for kind, r in results.items():
                above = "" if kind == "imports" else f"{(r['peak_rss_kib'] - base) / 1024:.0f}"
                print(f"| {label} | {kind} | {r['peak_rss_kib'] / 1024:.0f} | {above} | {r['seconds']:.1f} | "
                      f"{'yes' if r['torch'] else 'no'} |")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; peak RSS is ru_maxrss (KiB on Linux) of "
          f"each measurement's process, from RUSAGE_CHILDREN of a wrapper that ran only it")


if __name__ == "__main__":
    main()
