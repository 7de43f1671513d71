"""Differences with their noise: spreads over training seeds, and comparisons of two training
configurations in which the training seed is the unit of replication.

Input is the long per-image table: one row per (model, seed, checkpoint, set, image) with the
metric columns of `srgan.scoring.evaluate` (a table without `seed` is one seed, 0).

- `seed_summary` / `seed_spreads`: mean ± sample standard deviation (ddof=1) over seeds of a
  model's per-seed set means. NaN and ±inf are skipped (a gray image has no chroma_ratio); `n`
  counts what was used; with one seed the standard deviation is NaN and `format_spread` shows
  the mean alone.
- `paired_difference`: A − B of one metric, a 95 % interval and a verdict about the two
  *configurations* (not the two runs). Two training runs of one configuration differ by an
  amount that every test image shares, so test images cannot stand in for replicates: the
  unit is the seed. Each seed's mean over the test images is one number per run, and
      paired by seed (A and B ran the same seeds: a variant and its baseline of one seed share
      their initialisation and patch draws): Student t on the per-seed differences, seeds − 1
      degrees of freedom;
      not paired (the seed lists differ): Welch's t on the two models' per-seed means.
  The test images are the fixed benchmark (images=FIXED): the interval is about the mean over
  *these* images, the question a benchmark table asks. images=RANDOM treats them as a sample of
  images as well, and adds the image-to-image spread of the difference (a crossed seed × image
  design; the variance is a sum of mean squares, which overstates it by the seed × image term,
  and its degrees of freedom are Satterthwaite's). Both are calibrated by simulation in
  `srgan.report.calibration` (`benchmarks/bench_stats.py`; docs/experiments.md has the table).
- One seed on either side: no verdict ("one seed: cannot be separated from training noise").
  What can be said is about the two runs only: the per-image t interval of their difference
  and on how many images A's run is better (`runs_ci_low`, `runs_ci_high`, `images_a_better`).
- A verdict (`better` / `worse`) needs the interval to exclude 0 and, in a family of
  comparisons (`holm`), the Holm-adjusted p below 0.05; every `indistinguishable` carries its
  `reason`. chroma_ratio is best at 1: its compared quantity is |ratio − 1| (lower is better).
- Planning: from the spread of the per-seed differences measured here, `seeds_needed` says how
  many seeds would detect the metric's planning difference (`Metric.planning_diff` in
  `srgan.core.metric_table`: 0.10 dB of PSNR) at 80 % power, and `detectable` what difference the
  seeds at hand detect at 80 % power.
- An image whose metric is NaN/inf in any seed of A or B is left out and counted (`n_dropped`), so
  every seed's mean covers the same images.

Pure numpy/scipy/pandas; imports nothing of srgan but `srgan.core.errors` and the metric table
(`srgan.core.metric_table`: each metric's label, unit, decimals, direction and planning difference).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from srgan.core.errors import SrganError
from srgan.core.metric_table import CLOSER_TO_1, METRICS, Metric, metric_info

BETTER, WORSE, INDISTINGUISHABLE = "better", "worse", "indistinguishable"
FIXED, RANDOM = "fixed", "random"  # the test images: the fixed benchmark, or a sample of images too
ALL_SETS = "all sets"  # the `set` of a comparison pooled over every set
ALPHA = 0.05  # two-sided level of a verdict (after Holm within a family); 1 - 0.95 would be 0.050000000000000044
CONFIDENCE = 1.0 - ALPHA  # of the t intervals: 0.95 exactly
POWER = 0.80  # of the planning figures
MAX_SEEDS = 1000  # seeds_needed beyond this is reported as more than it

# Why a comparison has no verdict (PairedDifference.reason).
ONE_SEED = "one seed: cannot be separated from training noise; add seeds"
ONE_SEED_SIDE = "one side has one seed: its training noise cannot be measured; add seeds"
ONE_IMAGE = "one image: the image-to-image spread cannot be measured"
HOLDS_ZERO = "the interval holds 0"
NOT_AFTER_HOLM = "not significant after Holm's correction"


# ---------------------------------------------------------------- spreads over seeds


@dataclass(frozen=True)
class Spread:
    """A metric over seeds: mean, sample standard deviation (ddof=1; NaN when n < 2), seeds used."""

    mean: float
    std: float
    n: int


def seed_summary(values_by_seed: Iterable[float]) -> Spread:
    """Spread of one value per seed (e.g. each seed's set-mean PSNR-Y in dB); NaN/inf skipped."""
    values = np.asarray(list(values_by_seed), dtype=np.float64)
    values = values[np.isfinite(values)]
    n = int(values.size)
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n >= 2 else math.nan
    return Spread(mean, std, n)


def format_spread(spread: Spread, decimals: int) -> str:
    """'28.45 ± 0.16'; the mean alone ('28.27') from one seed; '–' when no seed had a value."""
    if spread.n == 0 or not math.isfinite(spread.mean):
        return "–"
    if not math.isfinite(spread.std):
        return f"{spread.mean:.{decimals}f}"
    return f"{spread.mean:.{decimals}f} ± {spread.std:.{decimals}f}"


def _with_seed(table: pd.DataFrame) -> pd.DataFrame:
    return table if "seed" in table.columns else table.assign(seed=0)


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SrganError(f"{what} has no column '{missing[0]}'; pass the per-image table with the columns "
                         f"{', '.join(columns)}")


def _metric_keys(table: pd.DataFrame, metrics: Sequence[str] | None, what: str) -> list[str]:
    """The requested metrics (each known and a column of `table`), or every METRICS column it has."""
    if metrics is None:
        return [k for k in METRICS if k in table.columns]
    for key in metrics:
        metric_info(key)
    _require(table, metrics, what)
    return list(metrics)


def seed_spreads(per_image: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of each model's set means, per (model, checkpoint, set) and metric.

    per_image: rows (model, [seed], checkpoint, set, image, metric columns...). Each seed's set
    mean skips NaN images (as `srgan.scoring.evaluate.summarize` does). Returns columns model,
    checkpoint, set, metric, mean, std, n_seeds, in the table's order of first appearance.
    """
    _require(per_image, ("model", "checkpoint", "set", "image"), "the per-image table")
    keys = _metric_keys(per_image, metrics, "the per-image table")
    table = _with_seed(per_image)
    set_means = table.groupby(["model", "checkpoint", "set", "seed"], sort=False)[keys].mean()
    rows = []
    for (model, checkpoint, set_name), by_seed in set_means.groupby(level=[0, 1, 2], sort=False):
        for key in keys:
            spread = seed_summary(by_seed[key].to_numpy(dtype=np.float64))
            rows.append({"model": model, "checkpoint": checkpoint, "set": set_name, "metric": key,
                         "mean": spread.mean, "std": spread.std, "n_seeds": spread.n})
    return pd.DataFrame(rows, columns=["model", "checkpoint", "set", "metric", "mean", "std", "n_seeds"])


# ---------------------------------------------------------------- the seed-level test (arrays)


@dataclass(frozen=True)
class SeedTest:
    """A − B with its standard error and degrees of freedom, per leading index of the grids.

    Arrays of the grids' leading shape (a single comparison: 0-d). se is 0 where every seed gave
    the same difference; df is NaN where the design gives no test (one seed, or one image with
    images=RANDOM)."""

    mean_diff: np.ndarray
    se: np.ndarray
    df: np.ndarray


def _satterthwaite(parts: Sequence[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(se, df) of a sum of independent variance estimates, each (variance of the mean, its df)."""
    total = sum(v for v, _ in parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = total**2 / sum(v**2 / d for v, d in parts)
    return np.sqrt(total), df


def seed_test(grid_a: np.ndarray, grid_b: np.ndarray, *, paired: bool, images: str = FIXED) -> SeedTest:
    """The seed-level t of A − B (rules in the module docstring).

    grid_a: (..., seeds_a, images), grid_b: (..., seeds_b, images): finite values of the compared
    quantity, the same image in the same column, any leading (batch) shape. paired: seed row k of
    A is seed row k of B (then seeds_a == seeds_b). images: FIXED or RANDOM.
    """
    if images not in (FIXED, RANDOM):
        raise SrganError(f"images must be '{FIXED}' or '{RANDOM}', got '{images}'")
    grid_a, grid_b = np.asarray(grid_a, dtype=np.float64), np.asarray(grid_b, dtype=np.float64)
    seeds_a, n_images = grid_a.shape[-2:]
    seeds_b = grid_b.shape[-2]
    if paired and seeds_a != seeds_b:
        raise SrganError(f"a paired comparison needs the same seeds on both sides, got {seeds_a} and {seeds_b}")
    lead = np.broadcast_shapes(grid_a.shape[:-2], grid_b.shape[:-2])
    nan = np.full(lead, np.nan)
    mean_diff = grid_a.mean(axis=(-2, -1)) - grid_b.mean(axis=(-2, -1))
    if min(seeds_a, seeds_b) < 2 or (images == RANDOM and n_images < 2):
        return SeedTest(mean_diff, nan, nan)
    if paired:
        diff = grid_a - grid_b
        per_seed = diff.mean(axis=-1)  # (..., seeds)
        parts = [(per_seed.var(axis=-1, ddof=1) / seeds_a, seeds_a - 1)]
        if images == RANDOM:
            parts.append((diff.mean(axis=-2).var(axis=-1, ddof=1) / n_images, n_images - 1))
    else:
        mean_a, mean_b = grid_a.mean(axis=-1), grid_b.mean(axis=-1)  # each seed's mean over the images
        parts = [(mean_a.var(axis=-1, ddof=1) / seeds_a, seeds_a - 1),
                 (mean_b.var(axis=-1, ddof=1) / seeds_b, seeds_b - 1)]
        if images == RANDOM:
            per_image = grid_a.mean(axis=-2) - grid_b.mean(axis=-2)
            parts.append((per_image.var(axis=-1, ddof=1) / n_images, n_images - 1))
    se, df = _satterthwaite(parts)
    if images == RANDOM:
        # Satterthwaite's df rests on the estimated parts: with 2 seeds (1 df) and many images it reads a small
        # seed part as a large df and the interval runs narrow (12 % false verdicts in simulation). The
        # smallest df of the parts is conservative.
        df = np.full(np.shape(se), float(min(d for _, d in parts)))
    # every seed gave the same difference: the df of the design (the interval is a point anyway)
    df = np.where(se > 0, df, float(parts[0][1]))
    return SeedTest(mean_diff, se, df)


def t_interval(test: SeedTest, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, two-sided p) of the t interval around mean_diff; NaN where test.df is NaN.
    A zero standard error gives the point interval and p = 0 (p = 1 when the difference is 0)."""
    mean, se, df = np.asarray(test.mean_diff), np.asarray(test.se), np.asarray(test.df)
    quantile = scipy_stats.t.ppf(0.5 + confidence / 2, df)
    half = quantile * se
    with np.errstate(invalid="ignore", divide="ignore"):
        t_stat = np.abs(mean) / se
    p = 2.0 * scipy_stats.t.sf(t_stat, df)
    p = np.where((se == 0) & np.isfinite(df), np.where(mean == 0, 1.0, 0.0), p)
    return mean - half, mean + half, p


# ---------------------------------------------------------------- planning


def _power(n: np.ndarray, effect: float, paired: bool, alpha: float) -> np.ndarray:
    """Power of the two-sided t test with n seeds (per model when not paired) for effect = diff / sd."""
    if paired:
        df, nc = n - 1, effect * np.sqrt(n)
    else:
        df, nc = 2 * n - 2, effect / np.sqrt(2.0 / n)
    crit = scipy_stats.t.ppf(1 - alpha / 2, df)
    # The lower tail P(T < -crit | nc) as P(T > crit | -nc): scipy's nct.cdf(-crit, df, nc) is NaN for some large
    # nc (1 df, nc 8 to 55), which would read as not enough seeds (seeds_needed) or enough (detectable).
    return scipy_stats.nct.sf(crit, df, nc) + scipy_stats.nct.sf(crit, df, -nc)


def seeds_needed(seed_sd: float, difference: float, *, paired: bool = True, power: float = POWER,
                 alpha: float = ALPHA) -> int | None:
    """Seeds (per model) for a two-sided t test at `alpha` to detect `difference` with `power`.

    seed_sd: the standard deviation of the per-seed differences (paired) or of each model's per-seed
    means (not paired), in the metric's unit. None when it is unknown (NaN: one seed) or more than
    MAX_SEEDS would be needed; at least 2 (a t test needs them)."""
    if not math.isfinite(seed_sd) or difference <= 0:
        return None
    if seed_sd == 0:
        return 2
    n = np.arange(2, MAX_SEEDS + 1, dtype=np.float64)
    enough = np.nonzero(_power(n, difference / seed_sd, paired, alpha) >= power)[0]
    return int(n[enough[0]]) if enough.size else None


def detectable(seed_sd: float, seeds: int, *, paired: bool = True, power: float = POWER,
               alpha: float = ALPHA) -> float:
    """The smallest difference a t test with `seeds` seeds detects with `power` (NaN with < 2 seeds)."""
    if not math.isfinite(seed_sd) or seeds < 2:
        return math.nan
    if seed_sd == 0:
        return 0.0
    low, high = 0.0, seed_sd
    while _power(np.float64(seeds), high / seed_sd, paired, alpha) < power:
        high *= 2
    for _ in range(60):  # bisection to ~1e-18 of seed_sd
        mid = (low + high) / 2
        low, high = (mid, high) if _power(np.float64(seeds), mid / seed_sd, paired, alpha) < power else (low, mid)
    return high


# ---------------------------------------------------------------- Holm


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of a family along the last axis (any leading shape).

    NaN entries are not tests: they stay NaN and do not count in the family's size."""
    p = np.asarray(p_values, dtype=np.float64)
    tested = np.isfinite(p)
    size = tested.sum(axis=-1, keepdims=True)
    order = np.argsort(np.where(tested, p, np.inf), axis=-1, kind="stable")  # the untested last
    ranked = np.take_along_axis(np.where(tested, p, 1.0), order, axis=-1)
    rank = np.arange(p.shape[-1])
    steps = np.minimum(1.0, np.maximum(size - rank, 1) * ranked)
    adjusted = np.empty_like(steps)
    np.put_along_axis(adjusted, order, np.maximum.accumulate(steps, axis=-1), axis=-1)
    return np.where(tested, adjusted, np.nan)


# ---------------------------------------------------------------- comparisons of tables


@dataclass(frozen=True)
class PairedDifference:
    """A − B of one metric, seeds as the unit (see the module docstring); for chroma_ratio every
    number is about |ratio − 1|."""

    metric: str
    higher_is_better: bool  # of the compared quantity
    n_images: int  # test images used
    n_dropped: int  # images left out: the metric is NaN/inf in some seed of A or B
    seeds_a: int
    seeds_b: int
    seed_paired: bool  # A's and B's seed lists are equal and seed s is paired with seed s
    images: str  # FIXED | RANDOM: what the interval is about
    mean_diff: float  # A − B, in the metric's unit (mean over seeds of each seed's mean over images)
    ci_low: float  # 95 % t interval over seeds; NaN without a test (one seed)
    ci_high: float
    df: float  # its degrees of freedom (seeds − 1 when paired, Welch's otherwise)
    p_value: float  # two-sided, of this comparison alone; NaN without a test
    p_holm: float  # Holm-adjusted within its family; equal to p_value for a lone comparison
    family_size: int  # comparisons with a test in that family (1 for a lone comparison)
    verdict: str  # BETTER | WORSE | INDISTINGUISHABLE: A compared with B
    reason: str  # why INDISTINGUISHABLE ('' with a verdict)
    seed_sd: float  # sd of the per-seed differences (paired) or pooled sd of per-seed means; NaN: one seed
    seeds_needed: float  # seeds to detect the metric's planning_diff at 80 % power; NaN unknown or > MAX_SEEDS
    detectable_diff: float  # what these seeds detect at 80 % power; NaN with one seed
    runs_ci_low: float  # these runs only: 95 % t interval of A − B over images (seeds fixed); NaN with 1 image
    runs_ci_high: float
    images_a_better: int  # images on which A's mean over its seeds is better than B's


def _values(table: pd.DataFrame, key: str, name: str) -> pd.Series:
    """The compared quantity of `key` indexed by (seed, set, image), sorted; duplicates are an error."""
    _require(table, ("set", "image", key), f"the per-image table of {name}")
    table = _with_seed(table)
    if table.empty:
        raise SrganError(f"the per-image table of {name} has no rows; evaluate it first")
    index = pd.MultiIndex.from_arrays(
        [table["seed"].astype(np.int64), table["set"].astype(str), table["image"].astype(str)],
        names=["seed", "set", "image"])
    values = pd.Series(pd.to_numeric(table[key], errors="coerce").to_numpy(dtype=np.float64), index=index)
    if index.has_duplicates:
        seed, set_name, image = index[index.duplicated()][0]
        raise SrganError(f"the per-image table of {name} has two rows for seed {seed}, {set_name}/{image}; "
                         "keep one checkpoint and one row per image and seed")
    if METRICS[key].better == CLOSER_TO_1:
        values = (values - 1.0).abs()
    return values.sort_index()


def _grid(values: pd.Series, name: str) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """(seeds, images) matrix of one model; every seed must hold the same images."""
    grid = values.unstack(["set", "image"])
    seeds = [int(s) for s in grid.index]
    images = [(str(s), str(i)) for s, i in grid.columns]
    present = values.index.droplevel("seed")
    for seed in seeds:
        have = set(present[values.index.get_level_values("seed") == seed])
        lacking = [img for img in images if img not in have]
        if lacking:
            raise SrganError(f"the per-image table of {name} has no row for seed {seed}, "
                             f"{lacking[0][0]}/{lacking[0][1]}, which its other seeds have; "
                             "evaluate every seed on the same sets")
    return grid.to_numpy(dtype=np.float64), seeds, images


def _same_images(images_a: list[tuple[str, str]], images_b: list[tuple[str, str]], names: tuple[str, str]) -> None:
    for these, those, (this, other) in ((images_a, images_b, names), (images_b, images_a, names[::-1])):
        lacking = sorted(set(these) - set(those))
        if lacking:
            raise SrganError(f"{other} has no row for {lacking[0][0]}/{lacking[0][1]}, which {this} has; "
                             "evaluate both models on the same sets")


def _seed_sd(grid_a: np.ndarray, grid_b: np.ndarray, paired: bool) -> float:
    """The spread a planning figure rests on: sd of per-seed differences, or pooled sd of per-seed means.
    A spread at the level of float rounding (seeds that differ by exactly the same amount) is 0."""
    if paired:
        per_seed = (grid_a - grid_b).mean(axis=1)
        if per_seed.size < 2:
            return math.nan
        sd, scale = float(per_seed.std(ddof=1)), float(np.abs(per_seed).max())
    else:
        mean_a, mean_b = grid_a.mean(axis=1), grid_b.mean(axis=1)
        if mean_a.size < 2 and mean_b.size < 2:
            return math.nan
        squares = ((mean_a - mean_a.mean()) ** 2).sum() + ((mean_b - mean_b.mean()) ** 2).sum()
        sd = float(math.sqrt(squares / (mean_a.size + mean_b.size - 2)))
        scale = float(max(np.abs(mean_a).max(), np.abs(mean_b).max()))
    return 0.0 if sd <= 1e-12 * max(scale, 1.0) else sd


def has_verdict(ci_low, ci_high, p_holm):
    """Whether a comparison earns a verdict: its interval excludes 0 and its (Holm-adjusted) p is below
    ALPHA. Works on floats and on arrays alike (`srgan.report.calibration` calls it on arrays)."""
    return np.isfinite(p_holm) & (p_holm < ALPHA) & ((ci_low > 0.0) | (ci_high < 0.0))


def _decide(diff: PairedDifference) -> PairedDifference:
    """Verdict and reason from the interval and the Holm-adjusted p."""
    if not math.isfinite(diff.p_value):
        if diff.seeds_a < 2 and diff.seeds_b < 2:
            reason = ONE_SEED
        elif min(diff.seeds_a, diff.seeds_b) < 2:
            reason = ONE_SEED_SIDE
        else:
            reason = ONE_IMAGE
        return replace(diff, verdict=INDISTINGUISHABLE, reason=reason)
    if not has_verdict(diff.ci_low, diff.ci_high, diff.p_holm):
        holds_zero = diff.ci_low <= 0.0 <= diff.ci_high
        return replace(diff, verdict=INDISTINGUISHABLE, reason=HOLDS_ZERO if holds_zero else NOT_AFTER_HOLM)
    a_higher = diff.ci_low > 0.0
    return replace(diff, verdict=BETTER if a_higher == diff.higher_is_better else WORSE, reason="")


def _runs_interval(per_image: np.ndarray) -> tuple[float, float]:
    """95 % t interval of the mean of per-image differences (images - 1 df): about these runs only."""
    if per_image.size < 2:
        return math.nan, math.nan
    test = SeedTest(np.float64(per_image.mean()), np.float64(per_image.std(ddof=1) / math.sqrt(per_image.size)),
                    np.float64(per_image.size - 1))
    low, high, _ = t_interval(test)
    return float(low), float(high)


def paired_difference(table_a: pd.DataFrame, table_b: pd.DataFrame, metric: str = "psnr_y_db", *,
                      images: str = FIXED, names: tuple[str, str] = ("A", "B")) -> PairedDifference:
    """A − B of `metric`, the seed as the unit (rules in the module docstring).

    table_a, table_b: per-image rows of one model at one checkpoint each, columns [seed], set,
    image and `metric`; row order does not matter. names: how errors call the two tables.
    The result is a lone comparison (p_holm = p_value); `holm_adjusted` adjusts a family.
    """
    info = metric_info(metric)
    a, b = _values(table_a, metric, names[0]), _values(table_b, metric, names[1])
    grid_a, seeds_a, images_a = _grid(a, names[0])
    grid_b, seeds_b, images_b = _grid(b, names[1])
    _same_images(images_a, images_b, names)
    grid_b = grid_b[:, [images_b.index(img) for img in images_a]]
    keep = np.isfinite(grid_a).all(axis=0) & np.isfinite(grid_b).all(axis=0)
    if not keep.any():
        raise SrganError(f"{names[0]} and {names[1]} share no image with a finite {metric} in every seed")
    grid_a, grid_b = grid_a[:, keep], grid_b[:, keep]
    paired = seeds_a == seeds_b
    test = seed_test(grid_a, grid_b, paired=paired, images=images)
    low, high, p = (float(x) for x in t_interval(test))

    per_image = grid_a.mean(axis=0) - grid_b.mean(axis=0)  # these runs: each image's mean over seeds
    runs_low, runs_high = _runs_interval(per_image)
    a_better = per_image > 0 if info.higher_is_better else per_image < 0

    seed_sd = _seed_sd(grid_a, grid_b, paired)
    needed = seeds_needed(seed_sd, info.planning_diff, paired=paired)
    diff = PairedDifference(
        metric=metric, higher_is_better=info.higher_is_better, n_images=int(keep.sum()),
        n_dropped=int((~keep).sum()), seeds_a=len(seeds_a), seeds_b=len(seeds_b), seed_paired=paired,
        images=images, mean_diff=float(test.mean_diff), ci_low=low, ci_high=high, df=float(test.df),
        p_value=p, p_holm=p, family_size=1 if math.isfinite(p) else 0, verdict=INDISTINGUISHABLE, reason="",
        seed_sd=seed_sd, seeds_needed=math.nan if needed is None else float(needed),
        detectable_diff=detectable(seed_sd, min(len(seeds_a), len(seeds_b)), paired=paired),
        runs_ci_low=runs_low, runs_ci_high=runs_high, images_a_better=int(a_better.sum()))
    return _decide(diff)


def holm_adjusted(family: Sequence[PairedDifference]) -> list[PairedDifference]:
    """The family's differences with Holm-adjusted p, family size, and verdicts decided again."""
    adjusted = holm([d.p_value for d in family])
    size = sum(math.isfinite(d.p_value) for d in family)
    return [_decide(replace(d, p_holm=float(p), family_size=size if math.isfinite(d.p_value) else 0))
            for d, p in zip(family, adjusted)]


# ---------------------------------------------------------------- numbers and sentences


def _decimals(values: Sequence[float], decimals: int) -> int:
    """`decimals`, or more until no non-zero value reads as zero (a −0.0047 never prints as 0.00)."""
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    while finite and decimals < 8 and any(round(v, decimals) == 0 for v in finite):
        decimals += 1
    return decimals


def _number(x: float, decimals: int, signed: bool = False) -> str:
    """x to `decimals` with a typographic minus ('+' too when signed); exactly 0 has no sign."""
    if x == 0:
        return f"{0:.{decimals}f}"
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    return text.replace("-", "−")


def _range(low: float, high: float, decimals: int) -> str:
    """'0.12 to 0.50', '−0.21 to 0.11' (signed bounds, A − B)."""
    return f"{_number(low, decimals)} to {_number(high, decimals)}"


def _p(p_value: float) -> str:
    """'0.004', '< 0.001'."""
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def _p_is(p_value: float) -> str:
    """'= 0.004', '< 0.001': what follows 'p ' in a sentence."""
    return _p(p_value) if p_value < 0.001 else f"= {_p(p_value)}"


def _seeds(diff: PairedDifference) -> str:
    if not diff.seed_paired:
        return f"{diff.seeds_a} vs {diff.seeds_b} seeds, not paired"
    return f"{diff.seeds_a} seed{'s' if diff.seeds_a != 1 else ''}, paired"


def _counts(diff: PairedDifference) -> str:
    counts = f"{diff.n_images} image{'s' if diff.n_images != 1 else ''} × {_seeds(diff)}"
    if diff.n_dropped:
        counts += f"; {diff.n_dropped} image{'s' if diff.n_dropped != 1 else ''} without a value left out"
    return counts


def _unit(info: Metric) -> str:
    """What follows a value or difference in a sentence: ' dB'; ' in |ratio − 1|' for a metric best at 1 (its
    compared quantity); '' for a unitless score."""
    if info.better == CLOSER_TO_1:
        return " in |ratio − 1|"
    return f" {info.unit}" if info.unit else ""


def _digits(diff: PairedDifference) -> int:
    """Decimals of a comparison's estimate and interval: the metric's, or more for a tiny non-zero one."""
    return _decimals([diff.mean_diff, diff.ci_low, diff.ci_high], metric_info(diff.metric).decimals)


def estimate_text(diff: PairedDifference) -> str:
    """A − B with its signed 95 % interval: '−0.03 dB (95 % CI −0.05 to −0.01)'; one seed: the estimate alone."""
    info = metric_info(diff.metric)
    suffix = _unit(info)
    digits = _digits(diff)
    text = f"{_number(diff.mean_diff, digits, signed=True)}{suffix}"
    if math.isfinite(diff.ci_low):
        text += f" (95 % CI {_range(diff.ci_low, diff.ci_high, digits)})"
    return text


def planning_text(diff: PairedDifference) -> str:
    """'0.10 dB at 80 % power: about 7 seeds (per-seed differences spread 0.08 dB; 3 seeds detect 0.21 dB)'."""
    info = metric_info(diff.metric)
    suffix = _unit(info)
    target = f"{_number(info.planning_diff, _decimals([info.planning_diff], info.decimals))}{suffix}"
    if not math.isfinite(diff.seed_sd):
        return f"{target} at 80 % power: unknown until two seeds of each measure the seed spread"
    seeds = "more than 1000 seeds" if math.isnan(diff.seeds_needed) else f"about {int(diff.seeds_needed)} seeds"
    digits = _decimals([diff.seed_sd, diff.detectable_diff], info.decimals)
    spread = "per-seed differences" if diff.seed_paired else "per-seed means"
    fewest = min(diff.seeds_a, diff.seeds_b)
    if math.isfinite(diff.detectable_diff):
        detects = f"{fewest} seeds detect {_number(diff.detectable_diff, digits)}{suffix}"
    else:  # the spread comes from the other side: one seed of a side gives its comparison no degrees of freedom
        detects = f"with {fewest} seed on one side no difference is detectable"
    return f"{target} at 80 % power: {seeds} ({spread} spread {_number(diff.seed_sd, digits)}{suffix}; {detects})"


def runs_text(diff: PairedDifference, estimate: bool = True) -> str:
    """What can be said of these runs alone: 'these runs only: A − B −4.94 dB, 95 % CI over the 3 images
    −7.21 to −2.67; A better on 0 of 3 images' (estimate=False: without the 'A − B …' part)."""
    info = metric_info(diff.metric)
    suffix = _unit(info)
    digits = _decimals([diff.mean_diff, diff.runs_ci_low, diff.runs_ci_high], info.decimals)
    parts = [f"A − B {_number(diff.mean_diff, digits, signed=True)}{suffix}"] if estimate else []
    if math.isfinite(diff.runs_ci_low):
        parts.append(f"95 % CI over the {diff.n_images} images {_range(diff.runs_ci_low, diff.runs_ci_high, digits)}")
    head = "these runs only: " + ", ".join(parts) + ("; " if parts else "")
    return f"{head}A better on {diff.images_a_better} of {diff.n_images} images"


def verdict_sentence(diff: PairedDifference) -> str:
    """One sentence, A − B signed throughout:
    'A − B = −0.31 dB (95 % CI −0.50 to −0.12; p = 0.004, Holm p = 0.012 of 5; 12 images × 3 seeds,
    paired): A is worse', or '…: not distinguishable — the interval holds 0', or with one seed
    '… : no verdict — one seed: cannot be separated …; these runs only: …'."""
    head = f"A − B = {estimate_text(diff)}"
    if not math.isfinite(diff.p_value):
        return f"{head} ({_counts(diff)}): no verdict — {diff.reason}; {runs_text(diff, estimate=False)}"
    test = f"p {_p_is(diff.p_value)}"
    if diff.family_size > 1:
        test += f", Holm p {_p_is(diff.p_holm)} of {diff.family_size}"
    body = f"{head}; {test}; {_counts(diff)}"
    if diff.verdict == INDISTINGUISHABLE:
        return f"{body}: not distinguishable — {diff.reason}"
    return f"{body}: A is {diff.verdict}"


MARKS = {BETTER: "✔", WORSE: "✘"}  # a table cell's verdict
REASON_MARKS = {ONE_SEED: "· 1 seed", ONE_SEED_SIDE: "· 1 seed", ONE_IMAGE: "· 1 image", HOLDS_ZERO: "·",
                NOT_AFTER_HOLM: "· Holm"}


def difference_cell(diff: PairedDifference) -> str:
    """A table cell: A − B with its 95 % interval and a mark: '−0.31 (−0.50 to −0.12) ✘' (✔ A better, ✘ A
    worse, · the interval holds 0, '· Holm' not significant after Holm's correction, '· 1 seed' no test)."""
    digits = _digits(diff)
    interval = f" ({_range(diff.ci_low, diff.ci_high, digits)})" if math.isfinite(diff.ci_low) else ""
    mark = MARKS.get(diff.verdict) or REASON_MARKS[diff.reason]
    return f"{_number(diff.mean_diff, digits, signed=True)}{interval} {mark}"


# ---------------------------------------------------------------- tables of comparisons


def _by_set(rows_a: pd.DataFrame, rows_b: pd.DataFrame, metric: str, images: str,
            names: tuple[str, str]) -> list[tuple[str, PairedDifference]]:
    """(set, difference) for each set of A (in its order), then ALL_SETS pooled over them."""
    # The pooled comparison first: it checks that both tables hold the same units.
    pooled = paired_difference(rows_a, rows_b, metric, images=images, names=names)
    sets_a, sets_b = rows_a["set"].astype(str), rows_b["set"].astype(str)
    out = [(set_name, paired_difference(rows_a[sets_a == set_name], rows_b[sets_b == set_name], metric,
                                        images=images, names=names))
           for set_name in dict.fromkeys(sets_a)]
    return [*out, (ALL_SETS, pooled)]


def _has_values(rows: pd.DataFrame, key: str) -> bool:
    return bool(np.isfinite(pd.to_numeric(rows[key], errors="coerce").to_numpy(dtype=np.float64)).any())


FAMILY = ["experiment", "checkpoint", "metric", "set"]  # a Holm family: one metric × checkpoint × experiment, per set


def compare_pairs(per_image: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str] | None = None,
                  *, images: str = FIXED) -> pd.DataFrame:
    """One row per (pair, checkpoint, set, metric): A − B as a PairedDifference, plus its sentence.

    per_image: the long table (model, [seed], checkpoint, set, image, metric columns...).
    pairs: (A, B) model keys ('srresnet/vgg19_5_4', 'srresnet/mse'); each pair is compared at the
    checkpoint labels both models have (in A's order), per set and pooled (set ALL_SETS), on
    every metric both have values of (all METRICS columns present unless `metrics` is given).
    Holm's correction runs within each family (FAMILY: the experiment is the part of A's key
    before '/'). Columns: a, b, checkpoint, set, the PairedDifference fields, sentence.
    """
    _require(per_image, ("model", "checkpoint", "set", "image"), "the per-image table")
    keys = _metric_keys(per_image, metrics, "the per-image table")
    models = set(per_image["model"])
    found: list[tuple[dict[str, str], PairedDifference]] = []
    for a, b in pairs:
        for name in (a, b):
            if name not in models:
                raise SrganError(f"model '{name}' has no rows in the per-image table; "
                                 f"it holds {', '.join(sorted(map(str, models)))}")
        table_a, table_b = per_image[per_image["model"] == a], per_image[per_image["model"] == b]
        labels_b = set(table_b["checkpoint"].astype(str))
        labels = [c for c in dict.fromkeys(table_a["checkpoint"].astype(str)) if c in labels_b]
        if not labels:
            raise SrganError(f"models '{a}' and '{b}' share no checkpoint label; compare models of one experiment")
        for label in labels:
            rows_a = table_a[table_a["checkpoint"].astype(str) == label]
            rows_b = table_b[table_b["checkpoint"].astype(str) == label]
            for key in keys:
                if not (_has_values(rows_a, key) and _has_values(rows_b, key)):
                    continue  # e.g. LPIPS where its weights were unavailable
                for set_name, diff in _by_set(rows_a, rows_b, key, images, (f"{a}@{label}", f"{b}@{label}")):
                    found.append(({"a": a, "b": b, "checkpoint": label, "set": set_name}, diff))
    families: dict[tuple[str, ...], list[int]] = {}
    for i, (where, diff) in enumerate(found):
        families.setdefault((where["a"].split("/")[0], where["checkpoint"], diff.metric, where["set"]), []).append(i)
    adjusted: list[PairedDifference | None] = [None] * len(found)
    for members in families.values():
        for i, diff in zip(members, holm_adjusted([found[i][1] for i in members])):
            adjusted[i] = diff
    rows = [{**where, **asdict(diff), "sentence": verdict_sentence(diff)}
            for (where, _), diff in zip(found, adjusted)]
    columns = ["a", "b", "checkpoint", "set", *PairedDifference.__dataclass_fields__, "sentence"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Comparison:
    """What `srgan compare A B` shows: one PairedDifference per set and pooled, and as text."""

    rows: pd.DataFrame  # set, PairedDifference fields, sentence
    text: str


def _one_checkpoint(table: pd.DataFrame, label: str | None, name: str) -> pd.DataFrame:
    if "checkpoint" not in table.columns:
        if label is not None:
            raise SrganError(f"the per-image table of {name} has no checkpoint column to pick '{label}' from")
        return table
    labels = list(dict.fromkeys(table["checkpoint"].astype(str)))
    if label is None:
        if len(labels) > 1:
            raise SrganError(f"the per-image table of {name} holds the checkpoints {', '.join(labels)}; "
                             "name the one to compare")
        return table
    if label not in labels:
        raise SrganError(f"the per-image table of {name} has no checkpoint '{label}'; it has {', '.join(labels)}")
    return table[table["checkpoint"].astype(str) == label]


def _verdict_word(diff: PairedDifference) -> str:
    if diff.verdict != INDISTINGUISHABLE:
        return f"A {diff.verdict}"
    return {ONE_SEED: "none: one seed", ONE_SEED_SIDE: "none: one seed on a side", ONE_IMAGE: "none: one image",
            HOLDS_ZERO: "none: CI holds 0", NOT_AFTER_HOLM: "none: Holm"}[diff.reason]


def compare_models(table_a: pd.DataFrame, table_b: pd.DataFrame, metric: str = "psnr_y_db", *,
                   checkpoint_a: str | None = None, checkpoint_b: str | None = None,
                   names: tuple[str, str] = ("A", "B"), images: str = FIXED) -> Comparison:
    """A − B of one metric, seeds as the unit, per set of A and over all sets (each a lone comparison).

    table_a, table_b: the per-image rows of each model ([seed], [checkpoint], set, image,
    metrics); a table holding several checkpoints needs checkpoint_a / checkpoint_b.
    names: the models' names in the text and in errors. The text: a header, a table, the reason of
    every comparison without a verdict, what can be said of the runs alone, and the planning figure.
    """
    info = metric_info(metric)
    rows_a = _one_checkpoint(table_a, checkpoint_a, names[0])
    rows_b = _one_checkpoint(table_b, checkpoint_b, names[1])
    diffs = _by_set(rows_a, rows_b, metric, images, names)
    rows = pd.DataFrame([{"set": s, **asdict(d), "sentence": verdict_sentence(d)} for s, d in diffs])
    shown = pd.DataFrame({
        "set": [s for s, _ in diffs],
        "images": [d.n_images for _, d in diffs],
        "seeds": [f"{d.seeds_a}" if d.seed_paired else f"{d.seeds_a} vs {d.seeds_b}" for _, d in diffs],
        "A − B": [_number(d.mean_diff, _digits(d), signed=True) for _, d in diffs],
        "95 % CI": [_range(d.ci_low, d.ci_high, _digits(d)) if math.isfinite(d.ci_low) else "–" for _, d in diffs],
        "p": [_p(d.p_value) if math.isfinite(d.p_value) else "–" for _, d in diffs],
        "verdict": [_verdict_word(d) for _, d in diffs],
    })
    quantity = f"|{info.label} − 1|" if info.better == CLOSER_TO_1 else info.label
    unit = f" ({info.unit})" if info.unit else ""
    better = "higher" if info.higher_is_better else "lower"
    pooled = diffs[-1][1]
    design = ("paired by seed: t on the per-seed differences" if pooled.seed_paired
              else "seeds not paired: Welch's t on the per-seed means")
    scope = "test images fixed" if images == FIXED else "test images a sample too"
    lines = [f"{quantity}{unit}, A − B ({better} is better): A = {names[0]}, B = {names[1]}",
             f"{design} over the images; {scope}; 95 % CI",
             shown.to_string(index=False)]
    if not math.isfinite(pooled.p_value):
        lines.append(f"No verdict: {pooled.reason}. The {ALL_SETS} row, {runs_text(pooled)}.")
    elif pooled.verdict == INDISTINGUISHABLE:
        lines.append(f"No verdict ({ALL_SETS}): {pooled.reason}.")
    lines.append(f"Planning ({ALL_SETS}): {planning_text(pooled)}.")
    return Comparison(rows, "\n".join(lines))
