"""Differences with their noise: spreads over training seeds, and paired comparisons of two models.

Input is the long per-image table: one row per (model, seed, checkpoint, set, image) with the
metric columns of `srgan.scoring.evaluate` (a table without `seed` is one seed, 0).

- `seed_summary` / `seed_spreads`: mean ± sample standard deviation (ddof=1) over seeds of a
  model's per-seed set means. NaN and ±inf are skipped everywhere (a gray image has no
  chroma_ratio; a metric may be missing for one image or seed); `n` counts what was used, and
  with one seed the standard deviation is NaN and `format_spread` shows the mean alone.
- `paired_difference`: A − B of one metric on the same test images, with a 95 % interval and a
  verdict. Pairing: when A and B hold the same seed list, a unit is (seed, set, image) and A's
  seed s is paired with B's seed s (a variant and its baseline trained from the same seed share
  its initialisation and patch draws, so pairing removes that shared noise). When the seed lists
  differ, the unit is (set, image) and each model's value is its mean over its own seeds. Both
  tables must hold the same units: a row in one and not the other is an `SrganError`, never a
  silent drop; a unit whose metric is NaN/inf in A or B is left out and counted (`n_dropped`).
- The interval: a seeded percentile bootstrap (default 10 000 resamples) of the mean difference
  that resamples test images *and* seeds (Owen's pigeonhole bootstrap for a crossed design): each
  resample draws images with replacement (shared by A and B) and seeds with replacement (the
  same draw for both when paired by seed, independent draws when not). Resampling images alone
  would treat the seeds as fixed and miss the seed spread (0.3 dB for SRResNet-MSE at 300
  steps), which is the noise this module exists to show; with 3 seeds the seed part is coarse
  and somewhat narrow, with 1 seed the interval covers image-to-image noise only (the
  sentences say how many seeds). Fewer than 2 images give no interval.
- The verdict: `better` / `worse` when the interval excludes 0 (direction by the metric's
  `better`) and there are at least `MIN_UNITS_FOR_VERDICT` units, else `indistinguishable`.
  The Wilcoxon signed-rank p (two-sided) is computed over the per-image differences (each
  image's mean over seeds), since the (seed, image) pairs of one image are not independent; it
  says whether the images agree on the sign for these seeds, and does not see seed noise, so it
  never decides the verdict.
- chroma_ratio is best at 1: its paired quantity is |ratio − 1| (lower is better), not the ratio.

Pure numpy/scipy/pandas; imports nothing of srgan but `srgan.core.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from srgan.core.errors import SrganError

HIGHER, LOWER, CLOSER_TO_1 = "higher", "lower", "closer_to_1"
BETTER, WORSE, INDISTINGUISHABLE = "better", "worse", "indistinguishable"
ALL_SETS = "all sets"  # the `set` of a comparison pooled over every set
RESAMPLES = 10_000
CONFIDENCE = 0.95
MIN_IMAGES = 2  # an interval needs at least two images to resample
# A verdict needs at least 6 units (seed x image pairs; images when the seeds are not paired): with 5,
# even a sign test that every unit agrees with gives p = 2 / 2**5 = 0.0625, yet the percentile
# bootstrap of 3 images that agree on the sign always excludes 0 (it spans little more than their
# range), which 3 coin flips do 1 time in 4.
MIN_UNITS_FOR_VERDICT = 6


@dataclass(frozen=True)
class Metric:
    """How one per-image metric reads: its short name, unit, decimals and which way is better."""

    label: str  # short name, as in the report's table rows ("PSNR-Y")
    unit: str  # written after a difference in sentences ("dB"; "" for unitless)
    decimals: int  # as in the report's tables (srgan.report.tables.METRIC_ROWS)
    better: str  # HIGHER | LOWER | CLOSER_TO_1

    @property
    def higher_is_better(self) -> bool:
        """For the paired quantity: |x − 1| when `better` is CLOSER_TO_1, so lower is better."""
        return self.better == HIGHER


# The metric columns of srgan.scoring.evaluate; direction as its docstring states.
METRICS = {
    "psnr_y_db": Metric("PSNR-Y", "dB", 2, HIGHER),
    "ssim_y": Metric("SSIM-Y", "", 4, HIGHER),
    "psnr_rgb_db": Metric("PSNR-RGB", "dB", 2, HIGHER),
    "ms_ssim_rgb": Metric("MS-SSIM", "", 4, HIGHER),
    "niqe_y": Metric("NIQE-Y", "", 3, LOWER),
    "lpips_alex": Metric("LPIPS-Alex", "", 4, LOWER),
    "chroma_ratio": Metric("chroma ratio", "in |ratio − 1|", 3, CLOSER_TO_1),
    "delta_e00": Metric("ΔE2000", "", 2, LOWER),
}


def metric_info(key: str) -> Metric:
    """METRICS[key], or an SrganError naming the known metrics."""
    if key not in METRICS:
        raise SrganError(f"unknown metric '{key}'; choose one of {', '.join(METRICS)}")
    return METRICS[key]


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


# ---------------------------------------------------------------- paired differences


@dataclass(frozen=True)
class PairedDifference:
    """A − B of one metric over paired test units, with its 95 % bootstrap interval and verdict.

    For chroma_ratio every number is about |ratio − 1| (see the module docstring).
    """

    metric: str
    higher_is_better: bool  # of the paired quantity
    n_pairs: int  # units used: (seed, image) pairs when paired by seed, else images
    n_images: int  # distinct (set, image) with at least one pair
    seeds_a: int
    seeds_b: int
    seed_paired: bool  # A's and B's seed lists are equal and seed s is paired with seed s
    n_dropped: int  # units left out because the metric is NaN/inf in A or B
    mean_diff: float  # A − B, in the metric's unit
    ci_low: float  # 95 % percentile bootstrap interval of mean_diff; NaN with < 2 images
    ci_high: float
    p_value: float  # Wilcoxon signed-rank, two-sided, over per-image differences; 1 if all are 0
    verdict: str  # BETTER | WORSE | INDISTINGUISHABLE: A compared with B


def _values(table: pd.DataFrame, key: str, name: str) -> pd.Series:
    """The paired quantity of `key` indexed by (seed, set, image), sorted; duplicates are an error."""
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


def _multinomial_counts(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """(resamples, n) counts of drawing n of n items with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def _wilcoxon_p(per_image: np.ndarray) -> float:
    nonzero = per_image[per_image != 0.0]
    if nonzero.size == 0:
        return 1.0
    return float(wilcoxon(nonzero, alternative="two-sided").pvalue)


def _verdict(ci_low: float, ci_high: float, higher_is_better: bool, units: int) -> str:
    if units < MIN_UNITS_FOR_VERDICT:
        return INDISTINGUISHABLE
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)) or ci_low <= 0.0 <= ci_high:
        return INDISTINGUISHABLE
    a_higher = ci_low > 0.0
    return BETTER if a_higher == higher_is_better else WORSE


def paired_difference(table_a: pd.DataFrame, table_b: pd.DataFrame, metric: str = "psnr_y_db", *,
                      resamples: int = RESAMPLES, bootstrap_seed: int = 0,
                      names: tuple[str, str] = ("A", "B")) -> PairedDifference:
    """A − B of `metric` over the test units both tables hold (rules in the module docstring).

    table_a, table_b: per-image rows of one model at one checkpoint each, columns [seed], set,
    image and `metric`; row order does not matter. The same inputs, `resamples` and
    `bootstrap_seed` give the same numbers. names: how errors call the two tables.
    """
    info = metric_info(metric)
    if resamples < 1:
        raise SrganError(f"resamples must be at least 1, got {resamples}")
    a, b = _values(table_a, metric, names[0]), _values(table_b, metric, names[1])
    grid_a, seeds_a, images_a = _grid(a, names[0])
    grid_b, seeds_b, images_b = _grid(b, names[1])
    _same_images(images_a, images_b, names)
    order = [images_b.index(img) for img in images_a]
    grid_b = grid_b[:, order]
    seed_paired = seeds_a == seeds_b
    rng = np.random.default_rng(bootstrap_seed)

    if seed_paired:
        diff = grid_a - grid_b  # (seeds, images)
        valid = np.isfinite(diff)
        keep = valid.any(axis=0)
        diff, valid = diff[:, keep], valid[:, keep]
        n_dropped = int(keep.size * len(seeds_a) - valid.sum())
        n_pairs, n_images = int(valid.sum()), int(keep.sum())
        if n_pairs == 0:
            raise SrganError(f"{names[0]} and {names[1]} share no image with a finite {metric}")
        filled = np.where(valid, diff, 0.0)
        mean_diff = float(filled.sum() / valid.sum())
        per_image = filled.sum(axis=0) / valid.sum(axis=0)
        ci = (math.nan, math.nan)
        if n_images >= MIN_IMAGES:
            seed_w = _multinomial_counts(rng, len(seeds_a), resamples)  # (R, seeds)
            image_w = _multinomial_counts(rng, n_images, resamples)  # (R, images)
            num = ((seed_w @ filled) * image_w).sum(axis=1)
            den = ((seed_w @ valid.astype(np.float64)) * image_w).sum(axis=1)
            ci = _interval(num, den)
    else:
        valid_a, valid_b = np.isfinite(grid_a), np.isfinite(grid_b)
        mean_a = _masked_mean(grid_a, valid_a)
        mean_b = _masked_mean(grid_b, valid_b)
        per_image = mean_a - mean_b
        keep = np.isfinite(per_image)
        n_dropped = int((~keep).sum())
        n_pairs = n_images = int(keep.sum())
        if n_pairs == 0:
            raise SrganError(f"{names[0]} and {names[1]} share no image with a finite {metric}")
        per_image = per_image[keep]
        mean_diff = float(per_image.mean())
        ci = (math.nan, math.nan)
        if n_images >= MIN_IMAGES:
            filled_a, filled_b = np.where(valid_a, grid_a, 0.0)[:, keep], np.where(valid_b, grid_b, 0.0)[:, keep]
            count_a, count_b = valid_a[:, keep].astype(np.float64), valid_b[:, keep].astype(np.float64)
            seed_wa = _multinomial_counts(rng, len(seeds_a), resamples)
            seed_wb = _multinomial_counts(rng, len(seeds_b), resamples)
            image_w = _multinomial_counts(rng, n_images, resamples)
            with np.errstate(invalid="ignore", divide="ignore"):
                d = (seed_wa @ filled_a) / (seed_wa @ count_a) - (seed_wb @ filled_b) / (seed_wb @ count_b)
            ok = np.isfinite(d)  # an image whose drawn seeds all lack the metric sits this resample out
            image_w = np.where(ok, image_w, 0.0)
            ci = _interval((np.where(ok, d, 0.0) * image_w).sum(axis=1), image_w.sum(axis=1))

    return PairedDifference(
        metric=metric, higher_is_better=info.higher_is_better, n_pairs=n_pairs, n_images=n_images,
        seeds_a=len(seeds_a), seeds_b=len(seeds_b), seed_paired=seed_paired, n_dropped=n_dropped,
        mean_diff=mean_diff, ci_low=ci[0], ci_high=ci[1], p_value=_wilcoxon_p(per_image),
        verdict=_verdict(ci[0], ci[1], info.higher_is_better, n_pairs))


def _masked_mean(grid: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-image mean over seeds of the finite entries; NaN where a column has none."""
    count = valid.sum(axis=0)
    total = np.where(valid, grid, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _interval(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Percentile interval of num / den over resamples (a resample with nothing drawn is skipped)."""
    stats = num[den > 0] / den[den > 0]
    if stats.size == 0:
        return math.nan, math.nan
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


# ---------------------------------------------------------------- sentences


def _number(x: float, decimals: int, signed: bool = False) -> str:
    """x to `decimals`, with a typographic minus; '−0.00' is written '0.00'."""
    if round(x, decimals) == 0:
        x = 0.0
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    return text.replace("-", "−")


def _range(low: float, high: float, decimals: int) -> str:
    """'0.12–0.50'; with a negative bound '−0.21 to 0.11' (a dash between signed numbers misreads)."""
    lo, hi = _number(low, decimals), _number(high, decimals)
    return f"{lo} to {hi}" if "−" in lo + hi else f"{lo}–{hi}"


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _counts(diff: PairedDifference) -> str:
    images = f"{diff.n_images} image{'s' if diff.n_images != 1 else ''}"
    if not diff.seed_paired:
        counts = f"{images}; {diff.seeds_a} vs {diff.seeds_b} seeds, not paired"
    elif diff.seeds_a == 1:
        counts = f"{images}, 1 seed"
    else:
        counts = f"{images} × {diff.seeds_a} seeds"
    if diff.n_dropped:
        counts += f"; {diff.n_dropped} without a value left out"
    return counts


def verdict_sentence(diff: PairedDifference, unit: str | None = None) -> str:
    """'better by 0.31 dB (95 % CI 0.12–0.50, Wilcoxon p = 0.004, 12 images × 3 seeds)', 'worse by …',
    or 'not distinguishable from noise (−0.05 dB, 95 % CI −0.21 to 0.11, …)'.

    Better/worse give the size of the gain or loss (positive) and its interval; 'not
    distinguishable' gives A − B with its sign. unit: METRICS' unit of the metric unless given.
    """
    info = metric_info(diff.metric)
    unit = info.unit if unit is None else unit
    suffix = f" {unit}" if unit else ""
    digits = info.decimals
    if diff.verdict == INDISTINGUISHABLE:
        interval = (f"95 % CI {_range(diff.ci_low, diff.ci_high, digits)}" if math.isfinite(diff.ci_low)
                    else "too few images for an interval")
        if diff.n_pairs < MIN_UNITS_FOR_VERDICT:
            interval += f"; a verdict needs {MIN_UNITS_FOR_VERDICT} pairs"
        return (f"not distinguishable from noise ({_number(diff.mean_diff, digits, signed=True)}{suffix}, "
                f"{interval}, {_counts(diff)})")
    # gain: how much better A is than B, positive when better
    sign = 1.0 if diff.higher_is_better else -1.0
    gain, gain_low, gain_high = sign * diff.mean_diff, *sorted((sign * diff.ci_low, sign * diff.ci_high))
    if diff.verdict == WORSE:
        gain, gain_low, gain_high = -gain, -gain_high, -gain_low
    return (f"{diff.verdict} by {_number(gain, digits)}{suffix} (95 % CI {_range(gain_low, gain_high, digits)}, "
            f"Wilcoxon {_p(diff.p_value)}, {_counts(diff)})")


MARKS = {BETTER: "✔", WORSE: "✘", INDISTINGUISHABLE: "·"}  # a table cell's verdict


def difference_cell(diff: PairedDifference) -> str:
    """A table cell: A − B with its 95 % interval and the verdict's mark, '+0.31 (0.12–0.50) ✔' (✔ better,
    ✘ worse, · not distinguishable from noise); for chroma_ratio the numbers are of |ratio − 1|."""
    digits = metric_info(diff.metric).decimals
    interval = f" ({_range(diff.ci_low, diff.ci_high, digits)})" if math.isfinite(diff.ci_low) else ""
    return f"{_number(diff.mean_diff, digits, signed=True)}{interval} {MARKS[diff.verdict]}"


# ---------------------------------------------------------------- tables of comparisons


def _by_set(rows_a: pd.DataFrame, rows_b: pd.DataFrame, metric: str, resamples: int, bootstrap_seed: int,
            names: tuple[str, str]) -> list[tuple[str, PairedDifference]]:
    """(set, difference) for each set of A (in its order), then ALL_SETS pooled over them."""
    # The pooled comparison first: it checks that both tables hold the same units.
    pooled = paired_difference(rows_a, rows_b, metric, resamples=resamples, bootstrap_seed=bootstrap_seed,
                               names=names)
    sets_a, sets_b = rows_a["set"].astype(str), rows_b["set"].astype(str)
    out = [(set_name, paired_difference(rows_a[sets_a == set_name], rows_b[sets_b == set_name], metric,
                                        resamples=resamples, bootstrap_seed=bootstrap_seed, names=names))
           for set_name in dict.fromkeys(sets_a)]
    return [*out, (ALL_SETS, pooled)]


def _has_values(rows: pd.DataFrame, key: str) -> bool:
    return bool(np.isfinite(pd.to_numeric(rows[key], errors="coerce").to_numpy(dtype=np.float64)).any())


def compare_pairs(per_image: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str] | None = None,
                  *, resamples: int = RESAMPLES, bootstrap_seed: int = 0) -> pd.DataFrame:
    """One row per (pair, checkpoint, set, metric): A − B as a PairedDifference, plus its sentence.

    per_image: the long table (model, [seed], checkpoint, set, image, metric columns...).
    pairs: (A, B) model keys ('srresnet/vgg19_5_4', 'srresnet/mse'); each pair is compared at the
    checkpoint labels both models have (in A's order), per set and pooled (set ALL_SETS), on
    every metric both have values of (all METRICS columns present unless `metrics` is given).
    Columns: a, b, checkpoint, set, the PairedDifference fields, sentence.
    """
    _require(per_image, ("model", "checkpoint", "set", "image"), "the per-image table")
    keys = _metric_keys(per_image, metrics, "the per-image table")
    models = set(per_image["model"])
    rows = []
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
                for set_name, diff in _by_set(rows_a, rows_b, key, resamples, bootstrap_seed,
                                              (f"{a}@{label}", f"{b}@{label}")):
                    rows.append({"a": a, "b": b, "checkpoint": label, "set": set_name, **asdict(diff),
                                 "sentence": verdict_sentence(diff)})
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


def compare_models(table_a: pd.DataFrame, table_b: pd.DataFrame, metric: str = "psnr_y_db", *,
                   checkpoint_a: str | None = None, checkpoint_b: str | None = None,
                   names: tuple[str, str] = ("A", "B"), resamples: int = RESAMPLES,
                   bootstrap_seed: int = 0) -> Comparison:
    """The per-image paired difference A − B of one metric, per set of A and over all sets.

    table_a, table_b: the per-image rows of each model ([seed], [checkpoint], set, image,
    metrics); a table holding several checkpoints needs checkpoint_a / checkpoint_b.
    names: the models' names in the text and in errors.
    """
    info = metric_info(metric)
    rows_a = _one_checkpoint(table_a, checkpoint_a, names[0])
    rows_b = _one_checkpoint(table_b, checkpoint_b, names[1])
    diffs = _by_set(rows_a, rows_b, metric, resamples, bootstrap_seed, names)
    rows = pd.DataFrame([{"set": s, **asdict(d), "sentence": verdict_sentence(d)} for s, d in diffs])
    digits = info.decimals
    shown = pd.DataFrame({
        "set": [s for s, _ in diffs],
        "images": [d.n_images for _, d in diffs],
        "seeds": [f"{d.seeds_a}" if d.seed_paired else f"{d.seeds_a} vs {d.seeds_b}" for _, d in diffs],
        "A − B": [_number(d.mean_diff, digits, signed=True) for _, d in diffs],
        "95 % CI": [_range(d.ci_low, d.ci_high, digits) if math.isfinite(d.ci_low) else "–" for _, d in diffs],
        "Wilcoxon p": [_p(d.p_value).removeprefix("p = ").removeprefix("p ") for _, d in diffs],
        "verdict": [d.verdict for _, d in diffs],
    })
    quantity = f"|{info.label} − 1|" if info.better == CLOSER_TO_1 else info.label
    unit = " (dB)" if info.unit == "dB" else ""
    better = "higher" if info.higher_is_better else "lower"
    pairing = "paired by seed and image" if diffs[-1][1].seed_paired else "each model's mean over its seeds, by image"
    header = (f"{quantity}{unit}, A − B ({better} is better): A = {names[0]}, B = {names[1]}; "
              f"{pairing}; 95 % bootstrap CI over images and seeds")
    return Comparison(rows, header + "\n" + shown.to_string(index=False))
