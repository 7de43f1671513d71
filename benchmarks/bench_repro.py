"""Time a whole `dvc repro` of the committed profile in a fresh clone, stage by stage, beside this machine's
`bench_train.py` SRResNet steps/s (2-core machines differ by up to 4x, so a wall time means little alone).

usage: python benchmarks/bench_repro.py [--clone DIR] [--keep] [--json FILE] [-- extra `dvc repro` args]

Clones the repository's HEAD into DIR (default: a temporary folder), runs the bench (3 steps x 2 rounds),
then `dvc repro` there, timing each stage from DVC's "Running stage" lines, and prints a table: stage,
seconds, share; groups (prepare, SRResNet-MSE, the other SRResNets, the SRGANs, the evaluations, report);
the total; and the total scaled to 0.45 steps/s (the machine the README's figures come from): total x
(steps/s here / 0.45). Nothing in the repository is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_STEPS_PER_S = 0.45
GROUPS = (("prepare", r"^prepare"), ("train SRResNet-MSE", r"^train_srresnet_mse@"),
          ("train SRResNet variants", r"^train_srresnet@"), ("train SRGANs", r"^train_srgan"),
          ("evaluate", r"^evaluate"), ("report", r"^report$"))


def bench_steps_per_s() -> float:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--steps", "3", "--rounds",
                          "2"], capture_output=True, text=True, check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("| srresnet | eager fp32"))
    return float(row.split("|")[3])


def timed_repro(clone: Path, extra: list[str]) -> tuple[list[tuple[str, float]], float]:
    """[(stage, seconds)] in run order and the whole command's seconds."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *extra], cwd=clone, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stages: list[tuple[str, float]] = []
    current, since = None, start
    for line in proc.stdout:
        match = re.match(r"Running stage '([^']+)'", line)
        if match:
            now = time.perf_counter()
            if current is not None:
                stages.append((current, now - since))
            current, since = match.group(1), now
    if proc.wait() != 0:
        raise SystemExit(f"dvc repro failed in {clone} (exit {proc.returncode})")
    end = time.perf_counter()
    if current is not None:
        stages.append((current, end - since))
    return stages, end - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", type=Path, help="where to clone (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("extra", nargs="*", help="arguments for dvc repro (after --)")
    args = parser.parse_args(argv)
    holder = None if args.clone else tempfile.TemporaryDirectory(prefix="bench_repro_")
    clone = args.clone or Path(holder.name) / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    steps_per_s = bench_steps_per_s()
    stages, total = timed_repro(clone, args.extra)
    print(f"bench_train.py SRResNet: {steps_per_s:.2f} steps/s\n")
    print("| stage | s | share |\n|---|---:|---:|")
    for name, seconds in stages:
        print(f"| {name} | {seconds:.1f} | {100 * seconds / total:.0f} % |")
    groups = {group: sum(s for name, s in stages if re.search(pattern, name)) for group, pattern in GROUPS}
    print("\n| group | s | share |\n|---|---:|---:|")
    for group, seconds in groups.items():
        print(f"| {group} | {seconds:.1f} | {100 * seconds / total:.0f} % |")
    scaled = total * steps_per_s / REFERENCE_STEPS_PER_S
    print(f"\ntotal {total:.0f} s here; at {REFERENCE_STEPS_PER_S} steps/s about {scaled:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"steps_per_s": steps_per_s, "total_s": total, "scaled_s": scaled,
                                         "stages": stages, "groups": groups}, indent=2) + "\n")
    if holder is not None and not args.keep:
        holder.cleanup()


if __name__ == "__main__":
    main()
