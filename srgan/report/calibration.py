"""How often the comparison of `srgan.report.stats` errs, measured on simulated scores with a known truth.

The simulated per-image scores follow a crossed seed × image design, in the metric's unit (dB):

    score[model, seed, image] = image[i] + effect[i] (A only) + shift (A only)
                                + offset[model, seed] + noise[model, seed, image]

- image ~ N(0, image_sd): how hard a test image is, shared by A and B;
- offset ~ N(0, seed_sd): what one training run adds to every image (a seed that lands well);
  when A and B are paired by seed, their offsets of one seed correlate by `seed_corr` (they share
  the initialisation and the patch draws);
- noise ~ N(0, interaction_sd): a run's image-by-image luck (seed × image);
- effect ~ N(0, effect_sd): the true A − B differs from image to image. With images=FIXED the
  truth is the mean over *these* images, so the effects are centred on them; with images=RANDOM
  they are not (the truth is the mean over all images);
- shift: the true A − B (0 in a null cell).

`simulate` scores `reps` such data sets with `srgan.report.stats.seed_test`, `t_interval` and
`has_verdict` — the code the report and `srgan compare` run — and counts verdicts (any verdict in
a null cell is a false one) and intervals that hold the truth. `calibration_grid` is the grid of
`benchmarks/bench_stats.py`; `misses` lists the cells off target.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product

import numpy as np

from srgan.report.stats import ALPHA, CONFIDENCE, FIXED, has_verdict, holm, seed_test, t_interval


@dataclass(frozen=True)
class Design:
    """One cell of the simulation: sizes, spreads (in the metric's unit) and the truth."""

    seeds: int  # per model
    images: int
    seed_sd: float  # sd of a training run's offset
    paired: bool  # A's seed s paired with B's seed s (else B ran other seeds)
    shift: float = 0.0  # true A − B
    image_sd: float = 1.0
    interaction_sd: float = 0.1
    seed_corr: float = 0.5  # correlation of A's and B's offsets of one seed when paired
    effect_sd: float = 0.0
    images_mode: str = FIXED  # FIXED | RANDOM: what the truth and the interval are about


# A method under calibration: (grid_a (R, S, I), grid_b (R, S', I), design) -> (ci_low, ci_high, verdict) of
# shape (R,); the interval NaN where it gives none.
Method = Callable[[np.ndarray, np.ndarray, Design], tuple[np.ndarray, np.ndarray, np.ndarray]]


def seed_level_method(grid_a: np.ndarray, grid_b: np.ndarray, design: Design) -> tuple[np.ndarray, ...]:
    """The project's comparison (`srgan.report.stats`), on a batch of simulated grids."""
    low, high, p = t_interval(seed_test(grid_a, grid_b, paired=design.paired, images=design.images_mode))
    return low, high, has_verdict(low, high, p)


def simulate_grids(design: Design, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(grid_a, grid_b), each (reps, seeds, images), drawn as the module docstring says."""
    grids_a, grid_b = _draw(design, reps, rng, variants=1)
    return grids_a[0], grid_b


def _draw(design: Design, reps: int, rng: np.random.Generator, variants: int) -> tuple[np.ndarray, np.ndarray]:
    """grid_b (reps, seeds, images) and grids_a (variants, reps, seeds, images): several variants A compared
    with the one baseline B, each with its own effects, offsets and noise, the images shared."""
    shape = (variants, reps, design.seeds, design.images)
    image = rng.normal(0.0, design.image_sd, (reps, 1, design.images))
    effect = rng.normal(0.0, design.effect_sd, (variants, reps, 1, design.images))
    if design.images_mode == FIXED:
        effect = effect - effect.mean(axis=-1, keepdims=True)
    own_b = rng.normal(0.0, 1.0, (reps, design.seeds, 1))
    own_a = rng.normal(0.0, 1.0, (variants, reps, design.seeds, 1))
    if design.paired:  # correlated offsets: A's = corr * B's + sqrt(1 - corr²) * its own
        own_a = design.seed_corr * own_b + math.sqrt(1.0 - design.seed_corr**2) * own_a
    grid_a = (image + effect + design.shift + design.seed_sd * own_a
              + rng.normal(0.0, design.interaction_sd, shape))
    grid_b = image + design.seed_sd * own_b + rng.normal(0.0, design.interaction_sd, shape[1:])
    return grid_a, grid_b


@dataclass(frozen=True)
class Cell:
    """What one design gave: the share of runs with a verdict, and the coverage of the interval."""

    design: Design
    reps: int
    verdict_rate: float  # share of data sets with a verdict (better or worse)
    coverage: float  # share of intervals that hold the truth; NaN when the method gives none
    intervals: int  # data sets that got an interval

    @property
    def verdict_se(self) -> float:
        """Binomial standard error of the verdict rate at the nominal level (ALPHA)."""
        return math.sqrt(ALPHA * (1 - ALPHA) / self.reps)

    @property
    def coverage_se(self) -> float:
        """Binomial standard error of the coverage at the nominal level (CONFIDENCE)."""
        return math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / max(self.intervals, 1))

    @property
    def on_target(self) -> bool:
        """Null cells: verdicts at most ALPHA + 2 SE; shift cells: coverage at least CONFIDENCE − 2 SE (or no
        interval at all, which is what one seed gets)."""
        if self.design.shift == 0.0:
            return self.verdict_rate <= ALPHA + 2 * self.verdict_se
        return self.intervals == 0 or self.coverage >= CONFIDENCE - 2 * self.coverage_se


def simulate(design: Design, reps: int, rng: np.random.Generator, method: Method = seed_level_method) -> Cell:
    """Score `reps` simulated data sets of `design` with `method`."""
    grid_a, grid_b = simulate_grids(design, reps, rng)
    low, high, verdict = method(grid_a, grid_b, design)
    has_interval = np.isfinite(low) & np.isfinite(high)
    intervals = int(has_interval.sum())
    covered = has_interval & (low <= design.shift) & (design.shift <= high)
    coverage = covered.sum() / intervals if intervals else math.nan
    return Cell(design, reps, float(np.mean(verdict)), float(coverage), intervals)


def calibration_grid(seeds: Iterable[int] = (1, 2, 3, 5, 10), images: Iterable[int] = (3, 5, 14, 19, 100),
                     seed_sds: Iterable[float] = (0.05, 0.15, 0.5), shifts: Iterable[float] = (0.0, 0.3),
                     modes: Iterable[str] = (FIXED,), effect_sd: float = 0.0) -> list[Design]:
    """Every combination, paired and not paired."""
    return [Design(seeds=s, images=i, seed_sd=sd, paired=paired, shift=shift, effect_sd=effect_sd, images_mode=mode)
            for mode, paired, shift, sd, s, i in product(modes, (True, False), shifts, seed_sds, seeds, images)]


def run_grid(designs: Iterable[Design], reps: int, seed: int = 0, method: Method = seed_level_method) -> list[Cell]:
    """Each design simulated with its own stream of one seeded generator (the same seed, the same cells)."""
    streams = np.random.SeedSequence(seed)
    designs = list(designs)
    return [simulate(d, reps, np.random.default_rng(child), method)
            for d, child in zip(designs, streams.spawn(len(designs)))]


def misses(cells: Iterable[Cell]) -> list[Cell]:
    """The cells off target (see `Cell.on_target`)."""
    return [c for c in cells if not c.on_target]


def confirm(cells: Iterable[Cell], factor: int = 10, seed: int = 1, method: Method = seed_level_method) -> list[Cell]:
    """Each cell off target simulated again, `factor` times the reps, on a fresh stream.

    An exactly calibrated test lands above ALPHA + 2 SE in 2.3 % of cells by chance (a grid of 300 cells
    has a few such); a fresh, larger run tells chance (back on target) from a miscalibrated method (off
    target again, with a smaller SE). The confirmation alone decides: the first run is not pooled in."""
    off = misses(cells)
    return run_grid([c.design for c in off], off[0].reps * factor if off else 0, seed, method) if off else []


def family_error_rate(design: Design, family: int, reps: int, rng: np.random.Generator, *,
                      correct: bool = True) -> float:
    """Share of data sets in which a family of `family` variants, each compared with one shared baseline B,
    gets any verdict after Holm's correction (the report's rule within a family; correct=False: each
    comparison alone). With design.shift = 0 every verdict is a false one."""
    grids_a, grid_b = _draw(design, reps, rng, variants=family)
    low, high, p = t_interval(seed_test(grids_a, grid_b, paired=design.paired, images=design.images_mode))
    # (family, reps) -> families along the last axis, as holm() takes them
    low, high, p = low.T, high.T, p.T
    return float(has_verdict(low, high, holm(p) if correct else p).any(axis=-1).mean())


if __name__ == "__main__":
    raise SystemExit("error: srgan.report.calibration is a library module, not a command: run "
                     "`python benchmarks/bench_stats.py`")
