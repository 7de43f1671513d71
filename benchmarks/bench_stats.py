"""Calibration of the comparison (`srgan.report.stats`) on simulated scores with a known truth.

Simulates the crossed seed × image design of `srgan.report.calibration` — an offset per training run
(seed sd 0.05, 0.15 or 0.5 dB), a per-image difficulty shared by A and B (image sd 1 dB), a seed ×
image term (0.1 dB); paired (A and B of one seed share the seed, their offsets correlate 0.5) and not
paired (other seeds) — over seeds 1, 2, 3, 5, 10 × images 3, 5, 14, 19, 100, with no true difference
(null cells: any verdict is false) and with a true 0.3 dB shift (coverage of the 95 % interval). Then
the same with a true difference that varies from image to image (sd 0.3 dB), judged once about the
benchmark's images (images fixed, the report's default) and once about all images (images random),
and a family of null variants against one baseline with and without Holm's correction.

Targets: false verdicts ≤ 5 % within 2 binomial SE in every null cell; coverage ≥ 95 % within 2 SE
in every shift cell. An exact test misses that in 2.3 % of cells by chance, so a cell off target is
simulated again with 10× the reps on a fresh stream, and that run alone decides (`confirm`).

    python benchmarks/bench_stats.py                 # 4000 data sets per cell: about 15 s
    python benchmarks/bench_stats.py --reps 20000 --json /tmp/calibration.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from srgan.report.calibration import (
    Cell,
    Design,
    calibration_grid,
    confirm,
    family_error_rate,
    misses,
    run_grid,
)
from srgan.report.stats import RANDOM

SEEDS = (1, 2, 3, 5, 10)
IMAGES = (3, 5, 14, 19, 100)
SEED_SDS = (0.05, 0.15, 0.5)
SHIFT = 0.3


def _percent(cell: Cell, confirmed: dict[Design, Cell]) -> str:
    """'4.9', or the coverage; '–' without an interval; an off-target first run: '6.1 → 5.0' (its confirmation)."""
    value = cell.verdict_rate if cell.design.shift == 0.0 else cell.coverage
    if math.isnan(value):
        return "–"
    text = f"{100 * value:.1f}"
    if cell.design in confirmed:
        again = confirmed[cell.design]
        text += f" → {100 * (again.verdict_rate if cell.design.shift == 0.0 else again.coverage):.1f}"
        text += "" if again.on_target else " ✘"
    return text


def _table(cells: list[Cell], confirmed: dict[Design, Cell], shift: float, images: tuple[int, ...]) -> list[str]:
    title = "false verdicts, %" if shift == 0.0 else "coverage of the true shift, %"
    lines = [f"| design | seed sd (dB) | seeds | {' | '.join(f'{i} images' for i in images)} |",
             "|---|---|---|" + "---|" * len(images)]
    by_key = {(c.design.paired, c.design.seed_sd, c.design.seeds, c.design.images): c
              for c in cells if c.design.shift == shift}
    for paired in (True, False):
        for sd in sorted({k[1] for k in by_key}):
            for seeds in sorted({k[2] for k in by_key}):
                row = [by_key.get((paired, sd, seeds, i)) for i in images]
                if not any(row):
                    continue
                values = [_percent(c, confirmed) if c else "" for c in row]
                lines.append(f"| {'paired' if paired else 'not paired'} | {sd} | {seeds} | {' | '.join(values)} |")
    return [f"**{title}**", "", *lines, ""]


def _summary(cells: list[Cell], confirmed: dict[Design, Cell]) -> list[str]:
    """Per seeds × images: the worst false-verdict rate and the worst coverage over the pairing designs and seed
    spreads (a confirmed cell by its confirmation)."""
    def final(cell: Cell) -> Cell:
        return confirmed.get(cell.design, cell)

    images = sorted({c.design.images for c in cells})
    lines = ["| seeds | " + " | ".join(f"{i} images" for i in images) + " |", "|---|" + "---|" * len(images)]
    for seeds in sorted({c.design.seeds for c in cells}):
        row = []
        for i in images:
            mine = [final(c) for c in cells if c.design.seeds == seeds and c.design.images == i]
            false = max(c.verdict_rate for c in mine if c.design.shift == 0.0)
            coverage = [c.coverage for c in mine if c.design.shift != 0.0 and c.intervals]
            row.append(f"{100 * false:.1f} / " + (f"{100 * min(coverage):.1f}" if coverage else "no interval"))
        lines.append(f"| {seeds} | " + " | ".join(row) + " |")
    return lines


def _block(name: str, designs: list[Design], reps: int, seed: int) -> tuple[list[str], list[Cell], list[Cell]]:
    cells = run_grid(designs, reps, seed)
    again = confirm(cells, seed=seed + 1000)
    confirmed = {c.design: c for c in again}
    images = tuple(sorted({d.images for d in designs}))
    lines = [f"### {name}", ""]
    for shift in sorted({d.shift for d in designs}):
        lines += _table(cells, confirmed, shift, images)
    first, still = misses(cells), misses(again)
    lines.append(f"{len(cells)} cells; off target at {reps} data sets each: {len(first)}; confirmed off target at "
                 f"{10 * reps}: {len(still)}.")
    return [*lines, ""], cells, again


def run(reps: int, seed: int = 0) -> dict:
    """Every block of the benchmark: markdown lines and the cells, as plain data."""
    start = time.perf_counter()
    lines = [f"Binomial SE at {reps} data sets per cell: {100 * math.sqrt(0.05 * 0.95 / reps):.2f} percentage "
             "points (at 5 % and at 95 %). A cell off target shows its confirmation after →; ✘: still off.", ""]
    blocks = {}
    grid = calibration_grid(SEEDS, IMAGES, SEED_SDS, shifts=(0.0, SHIFT))
    blocks["fixed"] = _block("The benchmark's images (images fixed: the report and srgan compare)", grid, reps, seed)
    varying = calibration_grid((2, 3, 5, 10), (3, 19, 100), (0.15,), shifts=(0.0, SHIFT), effect_sd=0.3)
    blocks["fixed_varying"] = _block("A true difference that varies by image (sd 0.3 dB), about these images",
                                     varying, reps, seed + 1)
    blocks["random"] = _block("The same, about all images (images random: `srgan compare --images random`)",
                              [replace(d, images_mode=RANDOM) for d in varying], reps, seed + 2)
    fixed_cells, fixed_again = blocks["fixed"][1], blocks["fixed"][2]
    lines += ["### Summary: the worst cell over pairing and seed spread (false verdicts % / coverage %)", "",
              *_summary(fixed_cells, {c.design: c for c in fixed_again}), ""]
    for block_lines, _, _ in blocks.values():
        lines += block_lines
    family_reps = 10 * reps
    family_se = math.sqrt(0.05 * 0.95 / family_reps)
    family_lines = ["### A family: k null variants against one baseline (3 seeds × 14 images, paired, seed sd "
                    f"0.15 dB; {family_reps} data sets, SE {100 * family_se:.2f} points)", "",
                    "| variants | any false verdict, Holm % | each alone, no correction % |", "|---|---|---|"]
    family = []
    rng = np.random.default_rng(seed + 3)
    for k in (2, 4, 10):
        design = Design(seeds=3, images=14, seed_sd=0.15, paired=True)
        holm_rate = family_error_rate(design, k, family_reps, rng)
        raw_rate = family_error_rate(design, k, family_reps, rng, correct=False)
        family.append({"variants": k, "holm": holm_rate, "uncorrected": raw_rate})
        family_lines.append(f"| {k} | {100 * holm_rate:.1f} | {100 * raw_rate:.1f} |")
    lines += [*family_lines, ""]
    seconds = time.perf_counter() - start
    lines.append(f"{sum(len(b[1]) for b in blocks.values())} cells, {reps} data sets each, in {seconds:.1f} s.")
    on_target = (all(not misses(again) for _, _, again in blocks.values())
                 and all(f["holm"] <= 0.05 + 2 * family_se for f in family))
    return {"lines": lines, "on_target": on_target, "seconds": seconds,
            "cells": {name: [{**asdict(c.design), "verdict_rate": c.verdict_rate, "coverage": c.coverage,
                              "reps": c.reps} for c in b[1]] for name, b in blocks.items()},
            "family": family}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=4000, help="simulated data sets per cell (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--json", type=Path, help="also write every cell as JSON here")
    args = parser.parse_args(argv)
    result = run(args.reps, args.seed)
    print("\n".join(result["lines"]))
    print(f"\nEvery cell on target: {'yes' if result['on_target'] else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in result.items() if k != "lines"}, indent=1) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
