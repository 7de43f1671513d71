"""Tests for srgan.report.stats: spreads over seeds; the seed-level t (pinned against scipy's own tests
and hand formulas); verdicts, their reasons, Holm's correction and the planning figures; sentences and
cells with one sign convention; and the tables the report and `srgan compare` use."""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from srgan.core.errors import SrganError
from srgan.core.metric_table import METRICS
from srgan.report import stats
from srgan.report.stats import (
    ALL_SETS,
    BETTER,
    FIXED,
    HOLDS_ZERO,
    INDISTINGUISHABLE,
    NOT_AFTER_HOLM,
    ONE_IMAGE,
    ONE_SEED,
    ONE_SEED_SIDE,
    RANDOM,
    WORSE,
    PairedDifference,
    SeedTest,
    Spread,
    compare_models,
    compare_pairs,
    detectable,
    difference_cell,
    format_spread,
    has_verdict,
    holm,
    holm_adjusted,
    paired_difference,
    seed_spreads,
    seed_summary,
    seed_test,
    seeds_needed,
    t_interval,
    verdict_sentence,
)

ROOT = Path(__file__).resolve().parents[2]


def _images(n: int) -> list[tuple[str, str]]:
    """(set, image) of n test images over two sets; names that look like numbers stay text."""
    return [("set5" if i < n // 3 else "set14", f"{801 + i:04d}") for i in range(n)]


def _pair(metric: str, shift: float, *, n_images: int = 30, seeds_a=(0, 1, 2), seeds_b=(0, 1, 2),
          pair_noise: float = 0.05, seed_shift=None, rng_seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image rows of B (image level spread 2, a per-seed offset shared by A and B) and of
    A = B + shift (+ seed_shift[seed]) + N(0, pair_noise) per (seed, image)."""
    rng = np.random.default_rng(rng_seed)
    images = _images(n_images)
    image_level = rng.normal(25.0 if metric.startswith("psnr") else 6.0, 2.0, n_images)
    rows_a, rows_b = [], []
    for seed in sorted(set(seeds_a) | set(seeds_b)):
        offset = rng.normal(0.0, 0.15)  # a training seed moves every image of both models
        noise = rng.normal(0.0, pair_noise, n_images)
        for i, (set_name, image) in enumerate(images):
            key = {"seed": seed, "checkpoint": "best", "set": set_name, "image": image}
            b = image_level[i] + offset
            a = b + shift + noise[i] + (seed_shift[seed] if seed_shift else 0.0)
            if seed in seeds_a:
                rows_a.append({**key, metric: a})
            if seed in seeds_b:
                rows_b.append({**key, metric: b})
    return pd.DataFrame(rows_a), pd.DataFrame(rows_b)


def _seed_means(table: pd.DataFrame, metric: str = "psnr_y_db") -> np.ndarray:
    return table.groupby("seed")[metric].mean().to_numpy()


# ---------------------------------------------------------------- spreads


def test_seed_summary_is_the_sample_std_over_seeds() -> None:
    spread = seed_summary([28.27, 28.58, 28.50])
    assert spread.n == 3
    assert spread.mean == pytest.approx(28.45)
    assert spread.std == pytest.approx(math.sqrt((0.18**2 + 0.13**2 + 0.05**2) / 2))  # ddof=1
    assert format_spread(spread, 2) == "28.45 ± 0.16"


def test_one_seed_has_no_std_and_shows_the_mean_alone() -> None:
    spread = seed_summary([28.27])
    assert spread.mean == 28.27 and spread.n == 1 and math.isnan(spread.std)
    assert format_spread(spread, 2) == "28.27"
    assert format_spread(seed_summary([]), 2) == "–"


def test_seed_summary_skips_missing_values() -> None:
    assert seed_summary([28.27, math.nan, 28.50, math.inf]) == seed_summary([28.27, 28.50])
    assert seed_summary([28.27, math.nan]).n == 1


def test_seed_spreads_over_each_seeds_set_mean() -> None:
    rows = []
    for seed, psnr in ((0, (28.0, 30.0)), (1, (28.5, 30.5)), (2, (28.25, math.nan))):
        for image, value in zip(("a", "b"), psnr):
            rows.append({"model": "srresnet/mse", "seed": seed, "checkpoint": "best", "set": "set5",
                         "image": image, "psnr_y_db": value})
    rows.append({"model": "srresnet/vgg", "seed": 0, "checkpoint": "best", "set": "set5", "image": "a",
                 "psnr_y_db": 27.0})
    table = seed_spreads(pd.DataFrame(rows))
    mse = table[table["model"] == "srresnet/mse"].iloc[0]
    # seed means 29.0, 29.5, 28.25 (the NaN image skipped, as the evaluation's set means do)
    assert (mse["metric"], mse["n_seeds"]) == ("psnr_y_db", 3)
    assert mse["mean"] == pytest.approx(np.mean([29.0, 29.5, 28.25]))
    assert mse["std"] == pytest.approx(np.std([29.0, 29.5, 28.25], ddof=1))
    vgg = table[table["model"] == "srresnet/vgg"].iloc[0]
    assert vgg["n_seeds"] == 1 and math.isnan(vgg["std"])


# ---------------------------------------------------------------- the seed-level t, against scipy


def test_paired_by_seed_is_students_t_on_the_per_seed_differences() -> None:
    a, b = _pair("psnr_y_db", 0.1, pair_noise=0.3, seed_shift={0: 0.1, 1: -0.05, 2: 0.2})
    diff = paired_difference(a, b)
    per_seed_a, per_seed_b = _seed_means(a), _seed_means(b)
    reference = scipy_stats.ttest_rel(per_seed_a, per_seed_b)
    d = per_seed_a - per_seed_b
    half = scipy_stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert diff.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert (diff.mean_diff, diff.ci_low, diff.ci_high) == pytest.approx((d.mean(), d.mean() - half, d.mean() + half))
    assert (diff.df, diff.seed_paired, diff.images) == (2.0, True, FIXED)
    assert diff.seed_sd == pytest.approx(d.std(ddof=1))


def test_different_seed_lists_are_welchs_t_on_each_models_per_seed_means() -> None:
    a, b = _pair("psnr_y_db", 0.3, seeds_a=(0, 1, 2), seeds_b=(3, 4), pair_noise=0.2)
    diff = paired_difference(a, b)
    mean_a, mean_b = _seed_means(a), _seed_means(b)
    reference = scipy_stats.ttest_ind(mean_a, mean_b, equal_var=False)
    va, vb = mean_a.var(ddof=1) / 3, mean_b.var(ddof=1) / 2
    welch_df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    half = scipy_stats.t.ppf(0.975, welch_df) * math.sqrt(va + vb)
    assert (diff.seed_paired, diff.seeds_a, diff.seeds_b, diff.n_images) == (False, 3, 2, 30)
    assert diff.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert diff.df == pytest.approx(welch_df)
    assert diff.mean_diff == pytest.approx(mean_a.mean() - mean_b.mean())
    assert diff.ci_high - diff.ci_low == pytest.approx(2 * half)
    pooled = math.sqrt((2 * mean_a.var(ddof=1) + 1 * mean_b.var(ddof=1)) / 3)
    assert diff.seed_sd == pytest.approx(pooled)
    assert "30 images × 3 vs 2 seeds, not paired" in verdict_sentence(diff)


@pytest.mark.parametrize(("seeds_b", "paired"), [((0, 1, 2), True), ((0, 1, 3), False), ((3, 4, 5), False)])
def test_seed_lists_of_the_same_length_pair_only_when_the_seeds_are_the_same(seeds_b, paired) -> None:
    """Three seeds each: B on A's seeds is paired (Student t on the per-seed differences, scipy's ttest_rel);
    B on (0, 1, 3) or (3, 4, 5) is not (Welch on each model's per-seed means, scipy's ttest_ind), although
    the lists have A's length and, for (0, 1, 3), two of its seeds."""
    a, b = _pair("psnr_y_db", 0.2, seeds_a=(0, 1, 2), seeds_b=seeds_b, pair_noise=0.2,
                 seed_shift={0: 0.1, 1: -0.05, 2: 0.2, 3: 0.0, 4: 0.0, 5: 0.0})
    diff = paired_difference(a, b)
    mean_a, mean_b = _seed_means(a), _seed_means(b)
    if paired:
        reference = scipy_stats.ttest_rel(mean_a, mean_b)
        d = mean_a - mean_b
        df, se, seed_sd = 2.0, d.std(ddof=1) / math.sqrt(3), d.std(ddof=1)
    else:
        reference = scipy_stats.ttest_ind(mean_a, mean_b, equal_var=False)
        va, vb = mean_a.var(ddof=1) / 3, mean_b.var(ddof=1) / 3
        df, se = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2), math.sqrt(va + vb)
        seed_sd = math.sqrt((mean_a.var(ddof=1) + mean_b.var(ddof=1)) / 2)
    estimate = mean_a.mean() - mean_b.mean()
    half = scipy_stats.t.ppf(0.975, df) * se
    assert (diff.seed_paired, diff.seeds_a, diff.seeds_b) == (paired, 3, 3)
    assert diff.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert diff.df == pytest.approx(df, rel=1e-12)
    assert (diff.mean_diff, diff.ci_low, diff.ci_high) == pytest.approx((estimate, estimate - half, estimate + half),
                                                                        rel=1e-12)
    assert diff.seed_sd == pytest.approx(seed_sd, rel=1e-12)
    counts = "30 images × 3 seeds, paired" if paired else "30 images × 3 vs 3 seeds, not paired"
    assert counts in verdict_sentence(diff)


def test_images_as_a_sample_add_the_image_spread_with_the_smaller_df() -> None:
    rng = np.random.default_rng(3)
    grid_b = rng.normal(25.0, 2.0, (3, 5))
    grid_a = grid_b + 0.2 + rng.normal(0.0, 0.3, (3, 5))
    d = grid_a - grid_b
    seed_part = d.mean(axis=1).var(ddof=1) / 3  # the per-seed means' spread
    image_part = d.mean(axis=0).var(ddof=1) / 5  # the per-image means' spread
    test = seed_test(grid_a, grid_b, paired=True, images=RANDOM)
    assert float(test.se) == pytest.approx(math.sqrt(seed_part + image_part))
    assert float(test.df) == 2.0  # min(seeds − 1, images − 1)
    fixed = seed_test(grid_a, grid_b, paired=True, images=FIXED)
    assert float(fixed.se) == pytest.approx(math.sqrt(seed_part)) and float(fixed.df) == 2.0
    # not paired: both models' seed spreads and the image spread
    other_b = rng.normal(25.0, 2.0, (4, 5))
    unpaired = seed_test(grid_a, other_b, paired=False, images=RANDOM)
    parts = (grid_a.mean(axis=1).var(ddof=1) / 3, other_b.mean(axis=1).var(ddof=1) / 4,
             (grid_a.mean(axis=0) - other_b.mean(axis=0)).var(ddof=1) / 5)
    assert float(unpaired.se) == pytest.approx(math.sqrt(sum(parts))) and float(unpaired.df) == 2.0
    with pytest.raises(SrganError, match="images must be 'fixed' or 'random'"):
        seed_test(grid_a, grid_b, paired=True, images="all")
    with pytest.raises(SrganError, match="same seeds on both sides"):
        seed_test(grid_a, other_b, paired=True)


def test_seed_test_runs_on_a_batch_as_on_one() -> None:
    rng = np.random.default_rng(5)
    grid_a, grid_b = rng.normal(0, 1, (7, 3, 4)), rng.normal(0, 1, (7, 3, 4))
    batch = t_interval(seed_test(grid_a, grid_b, paired=True))
    for r in range(7):
        one = t_interval(seed_test(grid_a[r], grid_b[r], paired=True))
        assert [float(x[r]) for x in batch] == pytest.approx([float(x) for x in one])


def test_a_zero_standard_error_is_a_point_interval() -> None:
    low, high, p = t_interval(SeedTest(np.float64(0.4), np.float64(0.0), np.float64(2.0)))
    assert (float(low), float(high), float(p)) == (0.4, 0.4, 0.0)
    low, high, p = t_interval(SeedTest(np.float64(0.0), np.float64(0.0), np.float64(2.0)))
    assert (float(low), float(high), float(p)) == (0.0, 0.0, 1.0)
    low, high, p = t_interval(SeedTest(np.float64(0.4), np.float64(np.nan), np.float64(np.nan)))
    assert math.isnan(low) and math.isnan(high) and math.isnan(p)


# ---------------------------------------------------------------- verdicts and their reasons


@pytest.mark.parametrize(("metric", "shift", "verdict"), [
    ("psnr_y_db", 0.3, BETTER), ("psnr_y_db", -0.3, WORSE),
    ("niqe_y", -0.3, BETTER), ("niqe_y", 0.3, WORSE),  # lower NIQE is better
])
def test_a_known_difference_over_three_seeds_gets_its_verdict(metric: str, shift: float, verdict: str) -> None:
    a, b = _pair(metric, shift)
    diff = paired_difference(a, b, metric)
    assert diff.ci_low < shift < diff.ci_high
    assert diff.mean_diff == pytest.approx(shift, abs=0.03)
    assert (diff.verdict, diff.reason) == (verdict, "")
    assert (diff.n_images, diff.seeds_a, diff.seed_paired, diff.family_size) == (30, 3, True, 1)


def test_zero_mean_noise_gets_a_verdict_one_time_in_twenty() -> None:
    diffs = [paired_difference(*_pair("psnr_y_db", 0.0, n_images=6, pair_noise=0.3, rng_seed=r)) for r in range(200)]
    called = [d for d in diffs if d.verdict != INDISTINGUISHABLE]
    assert 2 <= len(called) <= 18  # 10 expected; a binomial(200, 0.05) lands here 99.6 % of the time
    assert {d.reason for d in diffs if d.verdict == INDISTINGUISHABLE} == {HOLDS_ZERO}


def test_identical_models_give_zero_and_p_one() -> None:
    a, _ = _pair("psnr_y_db", 0.3)
    diff = paired_difference(a, a.copy())
    assert (diff.mean_diff, diff.ci_low, diff.ci_high, diff.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (diff.verdict, diff.reason) == (INDISTINGUISHABLE, HOLDS_ZERO)


def test_seeds_that_disagree_are_noise_even_when_every_image_agrees() -> None:
    # Each seed moves every image alike: +0.4, -0.3, +0.2 dB. Every image's mean difference is +0.1 and
    # all 30 images agree on the sign (the old image bootstrap called it), but another seed could flip it.
    a, b = _pair("psnr_y_db", 0.0, pair_noise=0.01, seed_shift={0: 0.4, 1: -0.3, 2: 0.2})
    diff = paired_difference(a, b)
    assert diff.mean_diff == pytest.approx(0.1, abs=0.01)
    assert diff.images_a_better == 30
    assert diff.ci_low < 0 < diff.ci_high and diff.verdict == INDISTINGUISHABLE


def test_one_seed_gets_no_verdict_and_a_statement_about_these_runs() -> None:
    a, b = _pair("psnr_y_db", -0.3, seeds_a=(0,), seeds_b=(0,), pair_noise=0.2)
    diff = paired_difference(a.drop(columns="seed"), b.drop(columns="seed"))  # a table without seed: seed 0
    assert (diff.seeds_a, diff.seeds_b, diff.seed_paired) == (1, 1, True)
    assert (diff.verdict, diff.reason) == (INDISTINGUISHABLE, ONE_SEED)
    assert math.isnan(diff.ci_low) and math.isnan(diff.p_value) and math.isnan(diff.seed_sd)
    per_image = a["psnr_y_db"].to_numpy() - b["psnr_y_db"].to_numpy()
    low, high = scipy_stats.t.interval(0.95, 29, per_image.mean(), scipy_stats.sem(per_image))
    assert (diff.runs_ci_low, diff.runs_ci_high) == pytest.approx((low, high))
    assert diff.images_a_better == int((per_image > 0).sum())
    sentence = verdict_sentence(diff)
    assert "no verdict — one seed: cannot be separated from training noise; add seeds" in sentence
    assert sentence.startswith(f"A − B = {per_image.mean():+.2f} dB (30 images × 1 seed, paired)".replace("-", "−"))
    assert f"; these runs only: 95 % CI over the 30 images {low:.2f} to".replace("-", "−") in sentence
    assert stats.runs_text(diff).startswith(f"these runs only: A − B {per_image.mean():+.2f} dB".replace("-", "−"))
    assert difference_cell(diff) == f"{per_image.mean():+.2f} · 1 seed".replace("-", "−")


def test_one_side_with_one_seed_gets_no_verdict() -> None:
    a, b = _pair("psnr_y_db", 0.3, seeds_a=(0, 1, 2), seeds_b=(5,))
    diff = paired_difference(a, b)
    assert (diff.seed_paired, diff.verdict, diff.reason) == (False, INDISTINGUISHABLE, ONE_SEED_SIDE)


def test_one_image_as_a_sample_of_images_gets_no_verdict() -> None:
    a, b = _pair("psnr_y_db", 0.3, n_images=1)
    assert paired_difference(a, b).verdict == BETTER
    diff = paired_difference(a, b, images=RANDOM)
    assert (diff.verdict, diff.reason, diff.images) == (INDISTINGUISHABLE, ONE_IMAGE, RANDOM)


def test_three_images_and_three_seeds_decide_by_the_seeds() -> None:
    # The old rule counted seed × image pairs (9 ≥ 6) and called a verdict from 3 images at p = 0.25;
    # here three seeds whose mean differences agree give a verdict, three that disagree do not.
    a, b = _pair("psnr_y_db", 0.3, n_images=3)
    assert paired_difference(a, b).verdict == BETTER
    a, b = _pair("psnr_y_db", 0.0, n_images=3, pair_noise=0.01, seed_shift={0: 0.3, 1: 0.25, 2: -0.35})
    assert paired_difference(a, b).verdict == INDISTINGUISHABLE


def test_row_order_does_not_matter() -> None:
    for seeds_b in ((0, 1, 2), (5, 6)):
        a, b = _pair("psnr_y_db", 0.2, pair_noise=0.3, seeds_b=seeds_b)
        shuffled_a = a.sample(frac=1.0, random_state=1).reset_index(drop=True)
        shuffled_b = b.sample(frac=1.0, random_state=2).reset_index(drop=True)
        assert paired_difference(shuffled_a, shuffled_b) == paired_difference(a, b)


def test_a_missing_pair_is_an_error_naming_it() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    b = b[b["image"] != "0805"]
    with pytest.raises(SrganError, match="B has no row for set5/0805"):
        paired_difference(a, b)
    with pytest.raises(SrganError, match="A has no row for set5/0805"):
        paired_difference(b, a, names=("A", "B"))


def test_an_image_missing_for_one_seed_is_an_error() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    a = a[~((a["seed"] == 1) & (a["image"] == "0810"))]
    with pytest.raises(SrganError, match="no row for seed 1, set5/0810"):
        paired_difference(a, b)


def test_duplicate_rows_are_an_error() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    with pytest.raises(SrganError, match="two rows for seed 0"):
        paired_difference(pd.concat([a, a.iloc[:1]]), b)


def test_an_image_without_a_value_in_any_seed_is_left_out_and_counted() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    a.loc[a["image"] == "0801", "psnr_y_db"] = math.nan  # an image without the metric, every seed
    b.loc[(b["image"] == "0802") & (b["seed"] == 2), "psnr_y_db"] = math.inf  # one seed of one image
    diff = paired_difference(a, b)
    assert (diff.n_images, diff.n_dropped) == (28, 2)
    kept_a = a[~a["image"].isin(["0801", "0802"])]
    kept_b = b[~b["image"].isin(["0801", "0802"])]
    assert diff.mean_diff == pytest.approx((_seed_means(kept_a) - _seed_means(kept_b)).mean())
    assert "28 images × 3 seeds, paired; 2 images without a value left out" in verdict_sentence(diff)
    a["psnr_y_db"] = math.nan
    with pytest.raises(SrganError, match="share no image with a finite psnr_y_db"):
        paired_difference(a, b)


@pytest.mark.parametrize(("ratio_a", "ratio_b", "verdict"), [
    (0.97, 0.90, BETTER),   # closer to 1 from below
    (1.05, 0.92, BETTER),   # over-saturated by less than B is desaturated
    (1.10, 0.95, WORSE),    # higher, but farther from 1
    (0.85, 0.95, WORSE),
])
def test_chroma_ratio_is_better_closer_to_one(ratio_a: float, ratio_b: float, verdict: str) -> None:
    rng = np.random.default_rng(0)
    rows = [{"seed": s, "set": "set5", "image": f"{i}", "jitter": rng.normal(0, 0.005)}
            for s in range(3) for i in range(12)]
    a = pd.DataFrame(rows).assign(chroma_ratio=lambda t: ratio_a + t["jitter"])
    b = pd.DataFrame(rows).assign(chroma_ratio=ratio_b)
    diff = paired_difference(a, b, "chroma_ratio")
    assert diff.verdict == verdict
    assert diff.higher_is_better is False
    assert diff.mean_diff == pytest.approx(abs(ratio_a - 1) - abs(ratio_b - 1), abs=0.005)


def test_unknown_metric_names_the_known_ones() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    with pytest.raises(SrganError, match="unknown metric 'psnr'.*psnr_y_db"):
        paired_difference(a, b, "psnr")


# ---------------------------------------------------------------- Holm


def test_holm_against_the_step_down_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1, monotone
    adjusted = holm([0.01, math.nan, 0.04])  # a comparison without a test is not in the family
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert holm([0.03]).tolist() == [0.03]
    batch = holm(np.array([[0.01, 0.04, 0.03, 0.005], [0.2, 0.001, 0.5, 0.01]]))
    assert batch[1].tolist() == pytest.approx(holm([0.2, 0.001, 0.5, 0.01]).tolist())
    assert holm([0.2, 0.001, 0.5, 0.01]).tolist() == pytest.approx([0.4, 0.004, 0.5, 0.03])


def test_holm_takes_away_a_verdict_that_the_family_does_not_support() -> None:
    a, b = _pair("psnr_y_db", 0.0, n_images=12, pair_noise=0.01, seed_shift={0: 0.30, 1: 0.18, 2: 0.25})
    alone = paired_difference(a, b)
    assert alone.verdict == BETTER and 0.0125 < alone.p_value < 0.05
    null = paired_difference(*_pair("psnr_y_db", 0.0, n_images=12, pair_noise=0.3, rng_seed=1))
    family = holm_adjusted([alone, null, null, null])
    assert family[0].p_holm == pytest.approx(min(1.0, 4 * alone.p_value))
    assert (family[0].verdict, family[0].reason, family[0].family_size) == (INDISTINGUISHABLE, NOT_AFTER_HOLM, 4)
    assert "Holm p = " in verdict_sentence(family[0]) and "of 4" in verdict_sentence(family[0])
    assert difference_cell(family[0]).endswith("· Holm")
    one_seed = paired_difference(*_pair("psnr_y_db", 0.3, seeds_a=(0,), seeds_b=(0,)))
    family = holm_adjusted([alone, one_seed])
    assert family[0].family_size == 1 and family[0].verdict == BETTER and family[1].family_size == 0


# ---------------------------------------------------------------- planning


@pytest.mark.parametrize(("effect", "paired", "seeds"), [
    (1.0, True, 10), (0.5, True, 34), (1.0, False, 17),  # G*Power's sample sizes at 80 % power, alpha 0.05
])
def test_seeds_needed_matches_the_published_sample_sizes(effect: float, paired: bool, seeds: int) -> None:
    assert seeds_needed(0.2, 0.2 * effect, paired=paired) == seeds


def test_seeds_needed_gives_the_power_it_promises_in_simulation() -> None:
    rng = np.random.default_rng(0)
    sd, diff = 0.12, 0.10
    n = seeds_needed(sd, diff)
    for seeds, expect_enough in ((n, True), (n - 2, False)):
        per_seed = rng.normal(diff, sd, (20_000, seeds))
        p = scipy_stats.ttest_1samp(per_seed, 0.0, axis=1).pvalue
        power, se = float((p < 0.05).mean()), math.sqrt(0.8 * 0.2 / 20_000)
        assert (power >= 0.8 - 2 * se) == expect_enough, (seeds, power)


def test_detectable_is_the_inverse_of_seeds_needed() -> None:
    found = detectable(0.2, 10)
    assert found == pytest.approx(0.2, rel=0.02)  # effect 1 needs 10 seeds
    assert seeds_needed(0.2, found * 1.001) == 10 and seeds_needed(0.2, found * 0.97) > 10
    assert math.isnan(detectable(0.2, 1)) and math.isnan(detectable(math.nan, 3)) and detectable(0.0, 3) == 0.0
    assert seeds_needed(math.nan, 0.1) is None and seeds_needed(0.0, 0.1) == 2 and seeds_needed(10.0, 0.01) is None


def test_a_comparison_carries_its_planning_figures() -> None:
    a, b = _pair("psnr_y_db", 0.0, pair_noise=0.3, seed_shift={0: 0.1, 1: -0.1, 2: 0.0})
    diff = paired_difference(a, b)
    assert diff.seeds_needed == seeds_needed(diff.seed_sd, METRICS["psnr_y_db"].planning_diff)
    assert diff.detectable_diff == pytest.approx(detectable(diff.seed_sd, 3))
    assert stats.planning_text(diff).startswith(f"0.10 dB at 80 % power: about {int(diff.seeds_needed)} seeds")


# ---------------------------------------------------------------- numbers, cells and sentences


def _diff(metric: str, mean: float, low: float, high: float, p: float = 0.004, seeds: int = 3,
          family: int = 1, p_holm: float | None = None) -> PairedDifference:
    info = METRICS[metric]
    diff = PairedDifference(metric, info.higher_is_better, 12, 0, seeds, seeds, True, FIXED, mean, low, high,
                            seeds - 1, p, p if p_holm is None else p_holm, family, INDISTINGUISHABLE, "", 0.1, 5.0,
                            0.2, low, high, 6)
    return stats._decide(diff)


def test_sentences_sign_a_minus_b_throughout() -> None:
    assert verdict_sentence(_diff("psnr_y_db", 0.31, 0.12, 0.50)) == (
        "A − B = +0.31 dB (95 % CI 0.12 to 0.50); p = 0.004; 12 images × 3 seeds, paired: A is better")
    assert verdict_sentence(_diff("psnr_y_db", -0.2, -0.3, -0.1, p=0.0001, family=5, p_holm=0.0005)) == (
        "A − B = −0.20 dB (95 % CI −0.30 to −0.10); p < 0.001, Holm p < 0.001 of 5; 12 images × 3 seeds, "
        "paired: A is worse")
    # lower NIQE is better: A − B = −0.25 is a gain, and stays −0.25
    assert verdict_sentence(_diff("niqe_y", -0.25, -0.4, -0.1)) == (
        "A − B = −0.250 (95 % CI −0.400 to −0.100); p = 0.004; 12 images × 3 seeds, paired: A is better")
    assert verdict_sentence(_diff("psnr_y_db", -0.05, -0.21, 0.11, p=0.4)) == (
        "A − B = −0.05 dB (95 % CI −0.21 to 0.11); p = 0.400; 12 images × 3 seeds, paired: not distinguishable "
        "— the interval holds 0")


def test_a_small_negative_difference_never_reads_as_plus_zero() -> None:
    diff = _diff("psnr_y_db", -0.0047, -0.0091, -0.0005, p=0.03)
    assert difference_cell(diff) == "−0.005 (−0.009 to −0.001) ✘"
    assert "A − B = −0.005 dB (95 % CI −0.009 to −0.001)" in verdict_sentence(diff)
    assert difference_cell(_diff("psnr_y_db", 0.0, 0.0, 0.0, p=1.0)) == "0.00 (0.00 to 0.00) ·"
    assert difference_cell(_diff("psnr_y_db", 1.0, 0.5, 1.5)) == "+1.00 (0.50 to 1.50) ✔"
    assert difference_cell(_diff("ssim_y", -0.0949, -0.107, -0.0738)) == "−0.0949 (−0.1070 to −0.0738) ✘"


# ---------------------------------------------------------------- report and compare tables


def _long_table() -> pd.DataFrame:
    """Three SRResNet variants (vgg +0.3 dB over mse, hybrid = mse + noise); LPIPS only for one variant."""
    frames = []
    for model, shift, seed in (("srresnet/vgg", 0.3, 0), ("srresnet/hybrid", 0.0, 0), ("srresnet/mse", 0.0, 0)):
        a, b = _pair("psnr_y_db", shift, pair_noise=0.3, rng_seed=seed)
        frames.append((b if model == "srresnet/mse" else a).assign(model=model))
    table = pd.concat(frames, ignore_index=True)
    table["niqe_y"] = 6.0 + 0.01 * np.arange(len(table)) % 0.5
    table.loc[table["model"] == "srresnet/vgg", "lpips_alex"] = 0.2
    return table


def test_compare_pairs_gives_one_row_per_pair_checkpoint_set_and_metric() -> None:
    table = _long_table()
    pairs = [("srresnet/vgg", "srresnet/mse"), ("srresnet/hybrid", "srresnet/mse")]
    out = compare_pairs(table, pairs)
    assert list(out.columns[:4]) == ["a", "b", "checkpoint", "set"]
    # psnr_y_db and niqe_y on set5, set14 and pooled; LPIPS skipped: mse has none
    assert len(out) == 2 * 2 * 3
    assert set(out["metric"]) == {"psnr_y_db", "niqe_y"}
    assert list(out["set"].unique()) == ["set5", "set14", ALL_SETS]
    pooled = out[(out["metric"] == "psnr_y_db") & (out["set"] == ALL_SETS)].set_index("a")
    assert pooled.loc["srresnet/vgg", "verdict"] == BETTER
    assert pooled.loc["srresnet/vgg", "sentence"].startswith("A − B = +0.3")
    assert pooled.loc["srresnet/hybrid", "verdict"] == INDISTINGUISHABLE
    # one family per (experiment, checkpoint, metric, set): the two comparisons of PSNR-Y over all sets
    assert pooled["p_holm"].tolist() == pytest.approx(holm(pooled["p_value"].tolist()).tolist())
    assert set(out["family_size"]) == {2}
    again = compare_pairs(table.iloc[::-1], pairs)
    keys = ["a", "checkpoint", "set", "metric"]
    pd.testing.assert_frame_equal(out.sort_values(keys, ignore_index=True), again.sort_values(keys, ignore_index=True))


def test_compare_pairs_keeps_checkpoints_in_families_of_their_own() -> None:
    table = _long_table()
    later = table[table["model"] != "srresnet/hybrid"].assign(checkpoint="epoch200")
    out = compare_pairs(pd.concat([table, later]), [("srresnet/vgg", "srresnet/mse"),
                                                    ("srresnet/hybrid", "srresnet/mse")], metrics=["psnr_y_db"])
    assert out.groupby("a")["checkpoint"].unique().map(list).to_dict() == {
        "srresnet/vgg": ["best", "epoch200"], "srresnet/hybrid": ["best"]}
    sizes = out[out["set"] == ALL_SETS].set_index(["a", "checkpoint"])["family_size"].to_dict()
    assert sizes == {("srresnet/vgg", "best"): 2, ("srresnet/vgg", "epoch200"): 1, ("srresnet/hybrid", "best"): 2}
    with pytest.raises(SrganError, match="model 'srresnet/res18' has no rows"):
        compare_pairs(table, [("srresnet/res18", "srresnet/mse")])


def test_compare_models_per_set_and_pooled_with_a_text_table() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    comparison = compare_models(a, b, names=("srresnet/vgg", "srresnet/mse"))
    assert list(comparison.rows["set"]) == ["set5", "set14", ALL_SETS]
    assert comparison.rows.iloc[-1]["mean_diff"] == paired_difference(a, b).mean_diff
    assert comparison.rows.iloc[0]["n_images"] == 10
    lines = comparison.text.splitlines()
    assert lines[0] == "PSNR-Y (dB), A − B (higher is better): A = srresnet/vgg, B = srresnet/mse"
    assert lines[1].startswith("paired by seed: t on the per-seed differences")
    assert lines[-2].split()[:2] == ["all", "sets"] and lines[-2].endswith("A better")
    assert lines[-1].startswith("Planning (all sets): 0.10 dB at 80 % power: about ")
    assert max(len(line) for line in lines) <= 120


def test_compare_models_says_why_one_seed_gets_no_verdict() -> None:
    a, b = _pair("psnr_y_db", -4.94, n_images=3, seeds_a=(0,), seeds_b=(0,))
    text = compare_models(a, b, names=("srgan/vgg19_5_4", "srgan/mse")).text
    assert "none: one seed" in text
    assert ("No verdict: one seed: cannot be separated from training noise; add seeds. The all sets row, "
            "these runs only: A − B −4.9") in text
    assert "Planning (all sets): 0.10 dB at 80 % power: unknown until two seeds of each measure the seed spread" in text


def test_compare_models_needs_one_checkpoint_per_table() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    both = pd.concat([a, a.assign(checkpoint="epoch200", psnr_y_db=a["psnr_y_db"] - 1.0)])
    with pytest.raises(SrganError, match="holds the checkpoints best, epoch200; name the one"):
        compare_models(both, b)
    worse = compare_models(both, b, checkpoint_a="epoch200")
    assert worse.rows.iloc[-1]["verdict"] == WORSE


# ---------------------------------------------------------------- a pure module


def test_stats_imports_no_torch_and_of_srgan_only_the_error_type_and_the_metric_table() -> None:
    tree = ast.parse((ROOT / "srgan" / "report" / "stats.py").read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(m.split(".")[0] == "torch" for m in modules)
    assert {m for m in modules if m.split(".")[0] == "srgan"} == {"srgan.core.errors", "srgan.core.metric_table"}


def test_spread_is_a_plain_record() -> None:
    assert Spread(1.0, math.nan, 1).n == 1


# ---------------------------------------------------------------- pinned outputs (what mutation testing found)
# Each test below pins whole outputs, computed independently where they are numbers, so that a changed constant,
# comparison, column name or word fails it (docs/testing.md).

FOUR_IMAGES = [("set5", "baby"), ("set5", "bird"), ("set14", "ppt3"), ("set14", "zebra")]


def _grid_table(base: list[float], per_seed: list[float], per_image=(0.0, 0.0, 0.0, 0.0), seeds=None,
                metric: str = "psnr_y_db", **columns) -> pd.DataFrame:
    """Rows of FOUR_IMAGES per seed: base[image] + per_seed[k] + per_image[image] × (k + 1) for the k-th seed
    (seeds 0, 1, ... unless given)."""
    seeds = range(len(per_seed)) if seeds is None else seeds
    return pd.DataFrame([{"seed": seed, **columns, "set": set_name, "image": image,
                          metric: base[i] + per_seed[k] + per_image[i] * (k + 1)}
                         for k, seed in enumerate(seeds) for i, (set_name, image) in enumerate(FOUR_IMAGES)])


def _holm_by_definition(p_values: list[float]) -> list[float]:
    """Holm's adjusted p from its definition: p_(j) adjusted = max over i <= j of min(1, (m − i + 1) p_(i))."""
    tested = [(p, k) for k, p in enumerate(p_values) if math.isfinite(p)]
    ranked = sorted(tested)
    out = [math.nan] * len(p_values)
    for j, (_, k) in enumerate(ranked):
        out[k] = max(min(1.0, (len(ranked) - i) * ranked[i][0]) for i in range(j + 1))
    return out


def test_holm_equals_its_definition_on_random_families_with_ties_caps_and_untested() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 9):
        for _ in range(40):
            p = rng.choice([0.001, 0.01, 0.02, 0.3, 0.6, 0.9, math.nan], size).tolist()  # ties, m·p > 1, NaN
            assert holm(p).tolist() == pytest.approx(_holm_by_definition(p), nan_ok=True), p
    batch = rng.uniform(0.0, 0.4, (3, 6))
    batch[1, 2] = math.nan
    for adjusted, row in zip(holm(batch).tolist(), batch.tolist()):
        assert adjusted == pytest.approx(_holm_by_definition(row), nan_ok=True)
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]  # 2 × 0.6 capped at exactly 1


def test_seed_spreads_pinned_in_order_of_first_appearance() -> None:
    rows = []
    for model, checkpoint, set_name, seed, values in (
            ("srresnet/vgg", "step9", "set14", 1, (20.0, 22.0)), ("srresnet/vgg", "step9", "set14", 0, (21.0, 24.0)),
            ("srresnet/vgg", "step9", "set5", 0, (30.0, 31.0)), ("srresnet/vgg", "best", "set14", 0, (19.0, 19.5)),
            ("srresnet/mse", "step9", "set14", 0, (25.0, 26.0))):
        for image, value in zip(("x", "y"), values):
            rows.append({"model": model, "seed": seed, "checkpoint": checkpoint, "set": set_name, "image": image,
                         "psnr_y_db": value, "niqe_y": value / 10})
    table = seed_spreads(pd.DataFrame(rows), metrics=["psnr_y_db"])
    assert list(table.columns) == ["model", "checkpoint", "set", "metric", "mean", "std", "n_seeds"]
    assert table[["model", "checkpoint", "set"]].values.tolist() == [
        ["srresnet/vgg", "step9", "set14"], ["srresnet/vgg", "step9", "set5"], ["srresnet/vgg", "best", "set14"],
        ["srresnet/mse", "step9", "set14"]]
    assert set(table["metric"]) == {"psnr_y_db"}  # niqe_y not asked for
    assert table["mean"].tolist() == pytest.approx([np.mean([21.0, 22.5]), 30.5, 19.25, 25.5])
    assert table["std"].iloc[0] == pytest.approx(np.std([21.0, 22.5], ddof=1)) and table["std"].iloc[1:].isna().all()
    assert table["n_seeds"].tolist() == [2, 1, 1, 1]
    both = seed_spreads(pd.DataFrame(rows))
    assert both["metric"].tolist()[:2] == ["psnr_y_db", "niqe_y"] and len(both) == 8
    empty = seed_spreads(pd.DataFrame(rows).iloc[:0])
    assert list(empty.columns) == list(table.columns) and empty.empty
    with pytest.raises(SrganError) as error:
        seed_spreads(pd.DataFrame(rows).drop(columns="set"))
    assert str(error.value) == ("the per-image table has no column 'set'; pass the per-image table with the columns "
                                "model, checkpoint, set, image")
    with pytest.raises(SrganError) as error:
        seed_spreads(pd.DataFrame(rows), metrics=["ssim_y"])
    assert str(error.value) == ("the per-image table has no column 'ssim_y'; pass the per-image table with the columns "
                                "ssim_y")


def test_seed_summary_reads_a_missing_value_as_nan_and_format_spread_shows_no_mean_as_a_dash() -> None:
    assert seed_summary([28.0, None, 28.5]) == seed_summary([28.0, 28.5])  # JSON null: a seed without a value
    assert format_spread(Spread(math.nan, math.nan, 2), 2) == "–"
    assert format_spread(Spread(math.inf, 0.1, 2), 2) == "–"


def test_p_values_at_the_threshold_of_the_less_than_form() -> None:
    assert (stats._p(0.001), stats._p_is(0.001)) == ("0.001", "= 0.001")
    assert (stats._p(0.00099), stats._p_is(0.00099)) == ("< 0.001", "< 0.001")


def test_runs_text_pinned_with_and_without_the_estimate_and_the_interval() -> None:
    a = _grid_table([0.90, 0.80, 0.70, 0.60], [0.0], (0.01, 0.02, 0.0, -0.01), seeds=(0,), metric="ssim_y")
    b = _grid_table([0.90, 0.80, 0.70, 0.60], [0.0], seeds=(0,), metric="ssim_y")
    diff = paired_difference(a, b, "ssim_y")
    low, high = scipy_stats.t.interval(0.95, 3, loc=0.005, scale=np.std([0.01, 0.02, 0.0, -0.01], ddof=1) / 2)
    assert (diff.runs_ci_low, diff.runs_ci_high) == pytest.approx((low, high))
    assert stats.runs_text(diff) == (
        f"these runs only: A − B +0.0050, 95 % CI over the 4 images {low:.4f} to {high:.4f}; "
        "A better on 2 of 4 images"
        .replace("-", "−"))
    one = paired_difference(a[a["image"] == "baby"], b[b["image"] == "baby"], "ssim_y")
    assert stats.runs_text(one) == "these runs only: A − B +0.0100; A better on 1 of 1 images"
    assert stats.runs_text(one, estimate=False) == "these runs only: A better on 1 of 1 images"


def test_compare_models_text_pinned_paired_psnr_where_the_pooled_row_decides() -> None:
    base = [30.0, 28.0, 25.0, 27.5]
    a = _grid_table(base, [0.3, 0.2, 0.4], (0.05, -0.05, 0.1, -0.25))
    b = _grid_table(base, [0.0, 0.0, 0.0])
    comparison = compare_models(a, b, names=("srresnet/vgg", "srresnet/mse"))
    per_seed_a, per_seed_b = a.groupby("seed")["psnr_y_db"].mean(), b.groupby("seed")["psnr_y_db"].mean()
    reference = scipy_stats.ttest_rel(per_seed_a, per_seed_b)
    low, high = reference.confidence_interval(0.95)
    pooled = comparison.rows.iloc[-1]
    assert (pooled["p_value"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx((reference.pvalue, low, high))
    assert list(comparison.rows.columns) == ["set", *PairedDifference.__dataclass_fields__, "sentence"]
    assert comparison.rows["sentence"].tolist() == [verdict_sentence(paired_difference(a[a["set"] == s],
                                                                                       b[b["set"] == s]))
                                                    for s in ("set5", "set14")] + [verdict_sentence(
                                                        paired_difference(a, b))]
    assert comparison.text.splitlines() == [
        "PSNR-Y (dB), A − B (higher is better): A = srresnet/vgg, B = srresnet/mse",
        "paired by seed: t on the per-seed differences over the images; test images fixed; 95 % CI",
        "     set  images seeds A − B       95 % CI     p          verdict",
        "    set5       2     3 +0.30  0.05 to 0.55 0.035         A better",
        "   set14       2     3 +0.15 −0.07 to 0.37 0.102 none: CI holds 0",
        "all sets       4     3 +0.23  0.01 to 0.44 0.047         A better",
        ("Planning (all sets): 0.10 dB at 80 % power: about 9 seeds (per-seed differences spread 0.09 dB; 3 seeds "
         "detect 0.29 dB).")]


def test_compare_models_text_pinned_welch_where_lower_is_better() -> None:
    base = [6.0, 5.5, 7.0, 6.2]
    a = _grid_table(base, [-0.2, -0.1, -0.3], (0.02, -0.03, 0.05, 0.0), metric="niqe_y", checkpoint="last")
    b = _grid_table(base, [0.0, 0.05], seeds=(3, 4), metric="niqe_y", checkpoint="last")
    comparison = compare_models(a, b, "niqe_y", names=("srgan/vgg19_5_4", "srgan/mse"))
    reference = scipy_stats.ttest_ind(a.groupby("seed")["niqe_y"].mean(), b.groupby("seed")["niqe_y"].mean(),
                                      equal_var=False)
    pooled = comparison.rows.iloc[-1]
    assert (pooled["p_value"], pooled["df"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        (reference.pvalue, reference.df, *reference.confidence_interval(0.95)))
    assert comparison.text.splitlines() == [
        "NIQE-Y, A − B (lower is better): A = srgan/vgg19_5_4, B = srgan/mse",
        "seeds not paired: Welch's t on the per-seed means over the images; test images fixed; 95 % CI",
        "     set  images  seeds  A − B          95 % CI     p          verdict",
        "    set5       2 3 vs 2 −0.235 −0.458 to −0.012 0.044         A better",
        "   set14       2 3 vs 2 −0.175  −0.369 to 0.019 0.063 none: CI holds 0",
        "all sets       4 3 vs 2 −0.205  −0.411 to 0.001 0.051 none: CI holds 0",
        "No verdict (all sets): the interval holds 0.",
        ("Planning (all sets): 0.100 at 80 % power: about 12 seeds (per-seed means spread 0.081; 2 seeds detect "
         "0.455).")]
    sample = compare_models(a, b, "niqe_y", names=("srgan/vgg19_5_4", "srgan/mse"), images=RANDOM).text
    assert sample.splitlines()[1] == ("seeds not paired: Welch's t on the per-seed means over the images; test images "
                                      "a sample too; 95 % CI")


def test_compare_models_text_pinned_one_seed_of_a_quantity_best_at_one() -> None:
    a = _grid_table([1.02, 0.97, 1.0, 0.99], [0.0], seeds=(0,), metric="chroma_ratio")
    b = _grid_table([1.05, 0.9, 1.1, 0.95], [0.0], seeds=(0,), metric="chroma_ratio")
    assert compare_models(a, b, "chroma_ratio", names=("A1", "B1")).text.splitlines() == [
        "|chroma ratio − 1|, A − B (lower is better): A = A1, B = B1",
        "paired by seed: t on the per-seed differences over the images; test images fixed; 95 % CI",
        "     set  images seeds  A − B 95 % CI p        verdict",
        "    set5       2     1 −0.050       – – none: one seed",
        "   set14       2     1 −0.070       – – none: one seed",
        "all sets       4     1 −0.060       – – none: one seed",
        ("No verdict: one seed: cannot be separated from training noise; add seeds. The all sets row, these runs "
         "only: A − B −0.060 in |ratio − 1|, 95 % CI over the 4 images −0.110 to −0.010; A better on 4 of 4 "
         "images."),
        ("Planning (all sets): 0.010 in |ratio − 1| at 80 % power: unknown until two seeds of each measure the seed "
         "spread.")]


def test_every_reason_without_a_verdict_has_its_word_in_the_compare_table() -> None:
    base = [30.0, 28.0, 25.0, 27.5]
    two, one = _grid_table(base, [0.1, 0.3]), _grid_table(base, [0.0], seeds=(0,))
    word = {}
    word[ONE_SEED] = compare_models(one, one).rows.iloc[-1]
    word[ONE_SEED_SIDE] = compare_models(two, one).rows.iloc[-1]
    word[ONE_IMAGE] = compare_models(two[two["image"] == "baby"], _grid_table(base, [0.0, 0.0])
                                     .query("image == 'baby'"), images=RANDOM).rows.iloc[-1]
    word[HOLDS_ZERO] = compare_models(two, _grid_table(base, [0.2, 0.2])).rows.iloc[-1]
    assert {reason: row["reason"] for reason, row in word.items()} == {r: r for r in word}
    assert [stats._verdict_word(PairedDifference(**{k: row[k] for k in PairedDifference.__dataclass_fields__}))
            for row in word.values()] == ["none: one seed", "none: one seed on a side", "none: one image",
                                          "none: CI holds 0"]
    diff = _diff("psnr_y_db", 0.31, 0.12, 0.50, p=0.004, family=20, p_holm=0.08)
    assert diff.reason == NOT_AFTER_HOLM and stats._verdict_word(diff) == "none: Holm"
    assert stats._verdict_word(_diff("psnr_y_db", 0.31, 0.12, 0.50)) == "A better"


def test_compare_models_checkpoint_errors_name_the_table_and_the_labels() -> None:
    base = [30.0, 28.0, 25.0, 27.5]
    plain = _grid_table(base, [0.0, 0.1])  # no checkpoint column: one checkpoint
    assert compare_models(plain, plain, names=("vgg", "mse")).rows.iloc[-1]["mean_diff"] == 0.0
    both = pd.concat([_grid_table(base, [0.0, 0.1], checkpoint=label) for label in ("best", "last")])
    with pytest.raises(SrganError) as error:
        compare_models(plain, plain, checkpoint_a="best", names=("vgg", "mse"))
    assert str(error.value) == "the per-image table of vgg has no checkpoint column to pick 'best' from"
    with pytest.raises(SrganError) as error:
        compare_models(plain, both, names=("vgg", "mse"))
    assert str(error.value) == ("the per-image table of mse holds the checkpoints best, last; name the one to "
                                "compare")
    with pytest.raises(SrganError) as error:
        compare_models(plain, both, checkpoint_b="step7", names=("vgg", "mse"))
    assert str(error.value) == "the per-image table of mse has no checkpoint 'step7'; it has best, last"
    later = compare_models(both, both.assign(psnr_y_db=both["psnr_y_db"] - 1.0), checkpoint_a="last",
                           checkpoint_b="best")
    assert later.rows.iloc[-1]["mean_diff"] == pytest.approx(1.0)


def test_no_value_and_one_value_give_nan_without_numpy_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Mean of empty slice", "Degrees of freedom <= 0" would fail here
        assert math.isnan(seed_summary([]).mean) and math.isnan(seed_summary([28.0]).std)


def test_power_at_no_difference_is_the_size_of_the_test_in_both_tails() -> None:
    for paired in (True, False):
        assert stats._power(np.array([2.0, 5.0, 30.0]), 0.0, paired, 0.05) == pytest.approx([0.05] * 3)
    # and the lower tail counts for a difference of either sign
    assert stats._power(np.float64(4), -1.0, True, 0.05) == pytest.approx(stats._power(np.float64(4), 1.0, True, 0.05))


def test_decimals_grow_until_a_tiny_value_shows_and_stop_at_eight() -> None:
    assert stats._decimals([0.0047], 2) == 3 and stats._decimals([0.0, 0.5], 2) == 2
    assert stats._decimals([1e-12], 2) == 8 and stats._decimals([math.nan, 1e-12], 2) == 8


def test_counts_say_image_and_images() -> None:
    diff = _diff("psnr_y_db", 0.31, 0.12, 0.50)
    assert stats._counts(replace(diff, n_images=1)) == "1 image × 3 seeds, paired"
    assert stats._counts(replace(diff, n_images=2, n_dropped=1)) == (
        "2 images × 3 seeds, paired; 1 image without a value left out")
    assert stats._counts(replace(diff, n_dropped=2, seeds_a=1, seeds_b=1)) == (
        "12 images × 1 seed, paired; 2 images without a value left out")
    assert stats._counts(replace(diff, seed_paired=False, seeds_b=2)) == "12 images × 3 vs 2 seeds, not paired"


def test_planning_beyond_a_thousand_seeds_says_so() -> None:
    diff = replace(_diff("psnr_y_db", 0.31, 0.12, 0.50), seeds_needed=math.nan, seed_sd=5.0, detectable_diff=9.5)
    assert stats.planning_text(diff) == ("0.10 dB at 80 % power: more than 1000 seeds (per-seed differences spread "
                                         "5.00 dB; 3 seeds detect 9.50 dB)")


def test_planning_with_one_seed_on_one_side_says_nothing_is_detectable() -> None:
    """1 seed against 3, not paired (`srgan compare` of a one-seed revision with a three-seed tree): the spread of
    the three seeds' means is known, but a side with one seed detects nothing (was '1 seeds detect nan dB')."""
    diff = replace(_diff("psnr_y_db", 0.31, 0.12, 0.50), seed_paired=False, seeds_a=1, seeds_b=3, seed_sd=0.5,
                   seeds_needed=7, detectable_diff=math.nan)
    assert stats.planning_text(diff) == ("0.10 dB at 80 % power: about 7 seeds (per-seed means spread 0.50 dB; "
                                         "with 1 seed on one side no difference is detectable)")


def test_a_family_of_two_shows_holms_p() -> None:
    assert verdict_sentence(_diff("psnr_y_db", 0.31, 0.12, 0.50, p=0.004, family=2, p_holm=0.008)) == (
        "A − B = +0.31 dB (95 % CI 0.12 to 0.50); p = 0.004, Holm p = 0.008 of 2; 12 images × 3 seeds, paired: "
        "A is better")


def test_compare_pairs_errors_skips_and_empty_result_pinned() -> None:
    table = _long_table()
    with pytest.raises(SrganError) as error:
        compare_pairs(table, [("srresnet/res18", "srresnet/mse")])
    assert str(error.value) == ("model 'srresnet/res18' has no rows in the per-image table; it holds srresnet/hybrid, "
                                "srresnet/mse, srresnet/vgg")
    moved = table.assign(checkpoint=np.where(table["model"] == "srresnet/mse", "last", "best"))
    with pytest.raises(SrganError) as error:
        compare_pairs(moved, [("srresnet/vgg", "srresnet/mse")])
    assert str(error.value) == ("models 'srresnet/vgg' and 'srresnet/mse' share no checkpoint label; compare models "
                                "of one experiment")
    with pytest.raises(SrganError) as error:
        compare_pairs(table.drop(columns="image"), [("srresnet/vgg", "srresnet/mse")])
    assert str(error.value) == ("the per-image table has no column 'image'; pass the per-image table with the "
                                "columns model, checkpoint, set, image")
    with pytest.raises(SrganError) as error:
        compare_pairs(table, [("srresnet/vgg", "srresnet/mse")], metrics=["ssim_y"])
    assert str(error.value) == ("the per-image table has no column 'ssim_y'; pass the per-image table with the "
                                "columns ssim_y")
    # a metric without values on one side (LPIPS without weights; a column of text) is skipped, the next is not
    table = table.assign(lpips_alex=math.nan, chroma_ratio=1.0 + 0.001 * np.arange(len(table)), niqe_y="n/a")
    out = compare_pairs(table, [("srresnet/vgg", "srresnet/mse")])
    assert list(dict.fromkeys(out["metric"])) == ["psnr_y_db", "chroma_ratio"]
    empty = compare_pairs(table, [])
    assert empty.empty and list(empty.columns) == ["a", "b", "checkpoint", "set",
                                                   *PairedDifference.__dataclass_fields__, "sentence"]


# --------------------------------------------------------- survivors of `benchmarks/mutation.py report --modules stats`


def test_has_verdict_at_each_of_its_thresholds() -> None:
    """p exactly ALPHA and an interval that ends exactly at 0 give no verdict; an interval across 0 none either."""
    assert has_verdict(0.1, 0.5, 0.0499) and has_verdict(-0.5, -0.1, 0.0499)
    assert not has_verdict(0.1, 0.5, 0.05)  # p = ALPHA: not below it
    assert not has_verdict(0.0, 0.5, 0.01) and not has_verdict(-0.5, 0.0, 0.01)  # an end at 0 holds 0
    assert not has_verdict(-0.5, 0.5, 0.01) and not has_verdict(-0.5, 0.9, 0.01)  # across 0
    assert not has_verdict(0.1, 0.5, math.nan)
    low, high, p = np.array([0.1, 0.0, -0.5, 0.1]), np.array([0.5, 0.5, 0.9, 0.5]), np.array([0.01, 0.01, 0.01, 0.05])
    assert has_verdict(low, high, p).tolist() == [True, False, False, False]


def test_two_seeds_are_enough_for_a_seed_spread_and_a_planning_figure() -> None:
    a, b = _pair("psnr_y_db", 0.2, seeds_a=(0, 1), seeds_b=(0, 1), pair_noise=0.1, rng_seed=5)
    diff = paired_difference(a, b)
    per_seed = _seed_means(a) - _seed_means(b)
    assert diff.seed_paired and diff.seed_sd == pytest.approx(float(np.std(per_seed, ddof=1)), rel=1e-12)
    assert math.isfinite(diff.detectable_diff)
    b3 = b[b["seed"] == 0].assign(seed=3)  # B on seeds 0 and 3: not paired, pooled sd of per-seed means
    welch = paired_difference(a, pd.concat([b[b["seed"] == 0], b3]))
    means_a, means_b = _seed_means(a), _seed_means(pd.concat([b[b["seed"] == 0], b3]))
    pooled = math.sqrt((np.var(means_a, ddof=1) + np.var(means_b, ddof=1)) / 2)
    assert not welch.seed_paired and welch.seed_sd == pytest.approx(pooled, rel=1e-12)


def test_each_set_of_a_comparison_is_scored_with_the_images_rule_it_was_asked_for() -> None:
    table = _long_table()
    out = compare_pairs(table, [("srresnet/vgg", "srresnet/mse")], ["psnr_y_db"], images=RANDOM)
    vgg, mse = table[table["model"] == "srresnet/vgg"], table[table["model"] == "srresnet/mse"]
    for set_name in ("set5", "set14"):
        row = out[out["set"] == set_name].iloc[0]
        alone = paired_difference(vgg[vgg["set"] == set_name], mse[mse["set"] == set_name], images=RANDOM)
        fixed = paired_difference(vgg[vgg["set"] == set_name], mse[mse["set"] == set_name])
        assert row["images"] == RANDOM and (row["ci_low"], row["ci_high"]) == pytest.approx(
            (alone.ci_low, alone.ci_high), rel=1e-12)
        assert alone.ci_high - alone.ci_low > fixed.ci_high - fixed.ci_low  # the rule changes the interval


def test_one_seed_on_one_side_still_gives_the_other_sides_seed_spread() -> None:
    """Unpaired, A on one seed and B on two (or the reverse): the pooled spread is B's alone, with one degree of
    freedom; only when neither side has two seeds is there none."""
    a, b = _pair("psnr_y_db", 0.2, seeds_a=(0,), seeds_b=(1, 2), pair_noise=0.1, rng_seed=6)
    expected = float(np.std(_seed_means(b), ddof=1))
    for diff in (paired_difference(a, b), paired_difference(b, a)):  # one seed against two, and two against one
        assert not diff.seed_paired and diff.seed_sd == pytest.approx(expected, rel=1e-12)
    assert math.isnan(paired_difference(a, b[b["seed"] == 1]).seed_sd)  # one seed each: no spread


def test_every_input_error_of_a_comparison_names_the_right_table_in_full() -> None:
    """Each error names the side it is about (A's table errors name A, B's name B) and says what to do."""
    a, b = _pair("psnr_y_db", 0.2, n_images=4, pair_noise=0.1, rng_seed=7)
    names = ("vgg", "mse")

    def error(table_a: pd.DataFrame, table_b: pd.DataFrame) -> str:
        with pytest.raises(SrganError) as info:
            paired_difference(table_a, table_b, names=names)
        return str(info.value)

    assert error(a.iloc[:0], b) == "the per-image table of vgg has no rows; evaluate it first"
    assert error(a, b.iloc[:0]) == "the per-image table of mse has no rows; evaluate it first"
    assert error(a, b.drop(columns="image")) == ("the per-image table of mse has no column 'image'; pass the per-image "
                                                 "table with the columns set, image, psnr_y_db")
    twice = pd.concat([a, a.iloc[:1]])
    first = a.iloc[0]
    assert error(twice, b) == (f"the per-image table of vgg has two rows for seed {first['seed']}, "
                               f"{first['set']}/{first['image']}; keep one checkpoint and one row per image and seed")
    gone = b.iloc[1:]  # seed 0 of B lacks the first image its other seeds have
    lost = b.iloc[0]
    assert error(a, gone) == (f"the per-image table of mse has no row for seed {lost['seed']}, {lost['set']}/"
                              f"{lost['image']}, which its other seeds have; evaluate every seed on the same sets")
    other = b[b["image"] != lost["image"]]  # B lacks an image in every seed
    assert error(a, other) == (f"mse has no row for {lost['set']}/{lost['image']}, which vgg has; evaluate both "
                               "models on the same sets")
    assert error(other, b) == (f"vgg has no row for {lost['set']}/{lost['image']}, which mse has; evaluate both "
                               "models on the same sets")
    assert error(a.assign(psnr_y_db=math.nan), b) == (
        "vgg and mse share no image with a finite psnr_y_db in every seed")


def test_a_lone_comparison_is_indistinguishable_until_decided_and_a_verdict_has_no_reason() -> None:
    a, b = _pair("psnr_y_db", 0.4, pair_noise=0.05, rng_seed=8)
    better = paired_difference(a, b)
    assert (better.verdict, better.reason, better.family_size) == (BETTER, "", 1)
    same = paired_difference(a, a)
    assert same.verdict == INDISTINGUISHABLE and same.reason == HOLDS_ZERO
    one = paired_difference(a[a["seed"] == 0], b[b["seed"] == 0])
    assert (one.verdict, one.reason, one.family_size) == (INDISTINGUISHABLE, ONE_SEED, 0)
    lower = paired_difference(a.assign(niqe_y=a["psnr_y_db"]), b.assign(niqe_y=b["psnr_y_db"]), "niqe_y")
    assert lower.verdict == WORSE and lower.reason == ""  # NIQE: lower is better, A is higher
    assert lower.images_a_better == 0 and better.images_a_better == better.n_images


def test_reasons_and_spreads_at_their_edges() -> None:
    """One seed against two: ONE_SEED_SIDE, not ONE_SEED. Two images give these runs an interval, one does not.
    Seeds that differ by exactly the same amount have a spread of exactly 0, not a rounding residue."""
    a, b = _pair("psnr_y_db", 0.2, seeds_a=(0,), seeds_b=(0, 1), pair_noise=0.1, rng_seed=9)
    assert paired_difference(a, b).reason == ONE_SEED_SIDE and paired_difference(b, a).reason == ONE_SEED_SIDE
    two = a[a["image"].isin(a["image"].unique()[:2])]
    runs = paired_difference(two, b[(b["seed"] == 0) & b["image"].isin(two["image"])])
    per_image = (two.set_index("image")["psnr_y_db"]
                 - b[b["seed"] == 0].set_index("image").loc[two["image"], "psnr_y_db"]).to_numpy()
    half = scipy_stats.t.ppf(0.975, 1) * per_image.std(ddof=1) / math.sqrt(2)
    assert (runs.runs_ci_low, runs.runs_ci_high) == pytest.approx((per_image.mean() - half, per_image.mean() + half))
    lone = paired_difference(two.iloc[:1], b[(b["seed"] == 0) & (b["image"] == two["image"].iloc[0])])
    assert math.isnan(lone.runs_ci_low) and math.isnan(lone.runs_ci_high)
    base, _ = _pair("psnr_y_db", 0.0, rng_seed=10)
    shifted = base.assign(psnr_y_db=base["psnr_y_db"] + 0.3)  # every seed and image: exactly +0.3 (up to rounding)
    exact = paired_difference(shifted, base)
    assert exact.seed_sd == 0.0 and exact.detectable_diff == 0.0


# ---------------------------------------------------------------- survivors of the second pass (docs/testing.md)


def test_a_table_without_a_seed_column_is_seed_0() -> None:
    """Its errors name seed 0, and it pairs with a table that holds seed 0."""
    a = _grid_table([30.0, 28.0, 25.0, 27.5], [0.2], seeds=(0,))
    b = _grid_table([30.0, 28.0, 25.0, 27.5], [0.0], seeds=(0,))
    with pytest.raises(SrganError) as error:
        paired_difference(pd.concat([a, a.iloc[:1]]).drop(columns="seed"), b, names=("vgg", "mse"))
    assert str(error.value) == ("the per-image table of vgg has two rows for seed 0, set5/baby; keep one checkpoint "
                                "and one row per image and seed")
    diff = paired_difference(a.drop(columns="seed"), b)
    assert (diff.seed_paired, diff.seeds_a, diff.seeds_b) == (True, 1, 1)
    assert "(4 images × 1 seed, paired)" in verdict_sentence(diff)
    assert not paired_difference(a.drop(columns="seed"), b.assign(seed=1)).seed_paired


def test_seed_test_computes_in_float64_whatever_the_grids_dtype() -> None:
    """float32 grids (a torch metric's dtype) give the float64 result of the same values, on either side."""
    rng = np.random.default_rng(11)
    grid_a = rng.normal(25.0, 2.0, (3, 6)).astype(np.float32)
    grid_b = (grid_a + rng.normal(0.1, 0.05, (3, 6))).astype(np.float32)
    a64, b64 = grid_a.astype(np.float64), grid_b.astype(np.float64)
    per_seed = (a64 - b64).mean(axis=1)
    for one, other, sign in ((grid_a, b64, 1.0), (a64, grid_b, 1.0), (grid_b, a64, -1.0)):
        test = seed_test(one, other, paired=True)
        assert float(test.mean_diff) == pytest.approx(sign * (a64.mean() - b64.mean()), rel=1e-13, abs=1e-13)
        assert float(test.se) == pytest.approx(per_seed.std(ddof=1) / math.sqrt(3), rel=1e-12)


def test_seed_test_broadcasts_a_batch_against_one_comparison_on_either_side() -> None:
    """grid_a (batch, seeds, images) against grid_b (seeds, images), and the reverse, are each row against the
    single grid: with several seeds, and with one seed (no test: NaN of the batch's shape)."""
    rng = np.random.default_rng(12)
    batch, single = rng.normal(0.0, 1.0, (5, 3, 4)), rng.normal(0.0, 1.0, (3, 4))
    for images in (FIXED, RANDOM):
        for paired in (True, False):
            for a, b, row in ((batch, single, lambda r: (batch[r], single)),
                              (single, batch, lambda r: (single, batch[r]))):
                test = seed_test(a, b, paired=paired, images=images)
                assert np.shape(test.se) == np.shape(test.df) == np.shape(test.mean_diff) == (5,)
                for r in range(5):
                    one = seed_test(*row(r), paired=paired, images=images)
                    assert [float(test.mean_diff[r]), float(test.se[r]), float(test.df[r])] == pytest.approx(
                        [float(one.mean_diff), float(one.se), float(one.df)], rel=1e-12)
    for a, b in ((batch[:, :1], single[:1]), (single[:1], batch[:, :1])):  # one seed on each side
        test = seed_test(a, b, paired=True)
        assert np.shape(test.se) == np.shape(test.df) == (5,) and np.isnan(test.se).all() and np.isnan(test.df).all()
        assert test.mean_diff.tolist() == pytest.approx((a.mean(axis=(-2, -1)) - b.mean(axis=(-2, -1))).tolist())
        assert all(np.shape(x) == (5,) and np.isnan(x).all() for x in t_interval(test))


def test_images_as_a_sample_take_images_minus_one_df_when_the_images_are_fewer_than_the_seeds() -> None:
    """5 seeds × 3 images: df = min(seeds − 1, images − 1) = 2, paired and not; 2 images: df = 1. The interval is
    the mean ± t(0.975, df) × se with se from the per-seed and per-image spreads by hand."""
    rng = np.random.default_rng(13)
    grid_b = rng.normal(25.0, 2.0, (5, 3))
    grid_a = grid_b + 0.2 + rng.normal(0.0, 0.3, (5, 3))
    d = grid_a - grid_b
    se = math.sqrt(d.mean(axis=1).var(ddof=1) / 5 + d.mean(axis=0).var(ddof=1) / 3)
    test = seed_test(grid_a, grid_b, paired=True, images=RANDOM)
    assert (float(test.se), float(test.df)) == (pytest.approx(se), 2.0)
    low, high, _ = t_interval(test)
    half = scipy_stats.t.ppf(0.975, 2) * se
    assert (float(low), float(high)) == pytest.approx((d.mean() - half, d.mean() + half))
    other_b = rng.normal(25.0, 2.0, (4, 3))
    unpaired = seed_test(grid_a, other_b, paired=False, images=RANDOM)
    parts = (grid_a.mean(axis=1).var(ddof=1) / 5, other_b.mean(axis=1).var(ddof=1) / 4,
             (grid_a.mean(axis=0) - other_b.mean(axis=0)).var(ddof=1) / 3)
    assert (float(unpaired.se), float(unpaired.df)) == (pytest.approx(math.sqrt(sum(parts))), 2.0)
    two = seed_test(grid_a[:, :2], grid_b[:, :2], paired=True, images=RANDOM)  # two images: a test, 1 df
    d2 = d[:, :2]
    assert float(two.se) == pytest.approx(math.sqrt(d2.mean(axis=1).var(ddof=1) / 5 + d2.mean(axis=0).var(ddof=1) / 2))
    assert float(two.df) == 1.0
    two_unpaired = seed_test(grid_a[:, :2], other_b[:, :2], paired=False, images=RANDOM)
    assert math.isfinite(float(two_unpaired.se)) and float(two_unpaired.df) == 1.0


def test_a_constant_shift_and_a_zero_standard_error_raise_no_numpy_warnings() -> None:
    """Every seed (and image) with the same difference: 0/0 in Satterthwaite's df and |mean| / 0 in t are
    handled without a RuntimeWarning."""
    row = np.array([30.0, 28.0, 25.0, 27.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for images in (FIXED, RANDOM):
            for paired, seeds_b in ((True, 3), (False, 2)):
                test = seed_test(np.tile(row + 0.5, (3, 1)), np.tile(row, (seeds_b, 1)), paired=paired, images=images)
                assert float(test.se) == 0.0 and [float(x) for x in t_interval(test)] == [0.5, 0.5, 0.0]
        low, high, p = t_interval(SeedTest(np.float64(0.0), np.float64(0.0), np.float64(2.0)))
        assert (float(low), float(high), float(p)) == (0.0, 0.0, 1.0)


def _power_by_hand(n: float, effect: float, paired: bool) -> float:
    """Power of the two-sided t test at alpha 0.05: both tails of the noncentral t (the G*Power sizes in
    test_seeds_needed_matches_the_published_sample_sizes pin this formula)."""
    df, nc = (n - 1, effect * math.sqrt(n)) if paired else (2 * n - 2, effect / math.sqrt(2.0 / n))
    crit = scipy_stats.t.ppf(1 - 0.05 / 2, df)
    return float(scipy_stats.nct.sf(crit, df, nc) + scipy_stats.nct.cdf(-crit, df, nc))


def test_seeds_needed_at_its_ends() -> None:
    """The power asked for, reached exactly at 2 seeds, gives 2 (a hair more, 3); reached exactly at MAX_SEEDS
    gives 1000, at 1001 None. No difference (0 or negative) has no number of seeds. The thresholds are the
    module's own power (equality at the last bit), checked against the power by hand."""

    def power(n: float, effect: float, paired: bool) -> float:
        found = float(stats._power(np.array([float(n)]), effect, paired, 0.05)[0])
        assert found == pytest.approx(_power_by_hand(n, effect, paired), rel=1e-12)
        return found

    for paired, effect in ((True, 14.0), (False, 6.0)):  # differences two seeds detect with 80 % power
        at_two = power(2, effect, paired)
        assert 0.8 <= at_two < power(3, effect, paired)
        assert seeds_needed(0.5, 0.5 * effect, paired=paired) == 2
        assert seeds_needed(0.5, 0.5 * effect, paired=paired, power=at_two) == 2
        assert seeds_needed(0.5, 0.5 * effect, paired=paired, power=float(np.nextafter(at_two, 1.0))) == 3
    effect = 0.08  # 1000 paired seeds give about 71 % power
    at_max, beyond = power(1000, effect, True), power(1001, effect, True)
    assert power(999, effect, True) < at_max < beyond < 0.8
    assert seeds_needed(0.5, 0.5 * effect, power=at_max) == stats.MAX_SEEDS == 1000
    assert seeds_needed(0.5, 0.5 * effect, power=beyond) is None
    assert seeds_needed(0.5, 0.5 * effect) is None
    assert seeds_needed(0.0, 0.0) is None and seeds_needed(0.2, 0.0) is None
    assert seeds_needed(0.0, -0.1) is None and seeds_needed(0.2, -0.2) is None


def test_planning_figures_raise_no_numpy_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for paired in (True, False):
            assert seeds_needed(0.2, 0.2, paired=paired) == (10 if paired else 17)
            assert detectable(0.2, 10, paired=paired) > 0.0



def test_detectable_is_where_its_own_designs_power_reaches_the_target() -> None:
    """Three paired seeds, 93 % power: the paired power at 4 seed sd is 0.908 (the unpaired one 0.948), so the
    answer lies beyond 4 sd, where the paired power by hand reaches 0.93."""
    assert _power_by_hand(3, 4.0, True) < 0.93 < _power_by_hand(3, 4.0, False)
    found = detectable(1.0, 3, power=0.93)
    assert found > 4.0 and _power_by_hand(3, found, True) == pytest.approx(0.93, abs=1e-9)
    assert detectable(0.5, 3, power=0.93) == pytest.approx(0.5 * found, rel=1e-12)

def test_two_paired_seeds_plan_by_the_power_they_have() -> None:
    """Two paired seeds (1 df, t(0.975) = 12.7) detect about 12 seed sd at 80 % power (simulated below); a
    difference of 12.5 sd needs 2 seeds, not more."""
    rng = np.random.default_rng(14)
    per_seed = rng.normal(12.5, 1.0, (200_000, 2))
    t = per_seed.mean(axis=1) / (per_seed.std(axis=1, ddof=1) / math.sqrt(2))
    assert float((np.abs(t) > scipy_stats.t.ppf(0.975, 1)).mean()) > 0.8 + 0.005  # 2 seeds are enough
    assert seeds_needed(1.0, 12.5) == 2
    found = detectable(1.0, 2)
    per_seed = rng.normal(found, 1.0, (200_000, 2))
    t = per_seed.mean(axis=1) / (per_seed.std(axis=1, ddof=1) / math.sqrt(2))
    assert float((np.abs(t) > scipy_stats.t.ppf(0.975, 1)).mean()) == pytest.approx(0.8, abs=0.005)


def test_holm_reads_a_missing_p_value_as_untested() -> None:
    assert holm([0.01, None, 0.04]).tolist() == pytest.approx([0.02, math.nan, 0.04], nan_ok=True)


def test_a_metric_value_that_is_not_a_number_leaves_its_image_out() -> None:
    a = _grid_table([30.0, 28.0, 25.0, 27.5], [0.3, 0.2], (0.1, 0.0, -0.1, 0.2)).astype({"psnr_y_db": object})
    b = _grid_table([30.0, 28.0, 25.0, 27.5], [0.0, 0.0])
    a.loc[(a["seed"] == 1) & (a["image"] == "bird"), "psnr_y_db"] = "n/a"
    diff = paired_difference(a, b)
    kept = a["image"] != "bird"
    by_hand = (a[kept]["psnr_y_db"].astype(float).to_numpy() - b[b["image"] != "bird"]["psnr_y_db"].to_numpy())
    assert (diff.n_images, diff.n_dropped) == (3, 1)
    assert diff.mean_diff == pytest.approx(by_hand.mean())


def test_a_float32_chroma_ratio_is_compared_in_float64() -> None:
    """|ratio − 1| of float32 ratios (a tensor's dtype) is taken in float64: 0.1 in float32 is 0.10000000149...,
    and 1 minus it is not a float32."""
    a = _grid_table([0.1, 0.2, 0.15, 0.3], [0.0, 0.01], metric="chroma_ratio").astype({"chroma_ratio": np.float32})
    b = _grid_table([0.4, 0.35, 0.2, 0.45], [0.0, 0.02], metric="chroma_ratio").astype({"chroma_ratio": np.float32})
    diff = paired_difference(a, b, "chroma_ratio")
    ratio_a, ratio_b = a["chroma_ratio"].to_numpy(np.float64), b["chroma_ratio"].to_numpy(np.float64)
    assert diff.mean_diff == pytest.approx(np.abs(ratio_a - 1.0).mean() - np.abs(ratio_b - 1.0).mean(), rel=1e-13)


def test_the_seed_spread_is_zero_up_to_1e_12_of_the_larger_of_its_scale_and_1() -> None:
    """Paired, per-seed differences 0 and d: sd = d / √2, scale d < 1, so the threshold is 1e-12: exactly
    1e-12 is 0, the next float above is kept. Not paired, per-seed means near 30 dB: the threshold is 30e-12,
    and a spread of ~7e-12 (about 2000 float steps of 30) is 0; a per-seed difference spread of 1.5e-12 around
    0.3 dB is kept (the scale 0.3 counts as 1)."""
    zeros = _grid_table([0.0] * 4, [0.0, 0.0])
    at = 1e-12 * math.sqrt(2)
    assert float(np.std([0.0, at], ddof=1)) == 1e-12
    assert paired_difference(_grid_table([0.0] * 4, [0.0, at]), zeros).seed_sd == 0.0
    above = float(np.nextafter(at, 1.0))
    kept = float(np.std([0.0, above], ddof=1))
    assert kept > 1e-12 and paired_difference(_grid_table([0.0] * 4, [0.0, above]), zeros).seed_sd == kept
    base = [30.0, 30.0, 30.0, 30.0]
    a, b = _grid_table(base, [0.0, 1e-11]), _grid_table(base, [-0.5, -0.5 + 1e-11], seeds=(2, 3))
    means_a, means_b = _seed_means(a), _seed_means(b)
    pooled = math.sqrt((np.var(means_a, ddof=1) + np.var(means_b, ddof=1)) / 2)
    assert 1e-12 < pooled < 30e-12 and paired_difference(a, b).seed_sd == 0.0
    base = [30.1, 28.3, 25.7, 27.9]
    a, b = _grid_table(base, [0.3, 0.3 + 2.1e-12]), _grid_table(base, [0.0, 0.0])
    per_seed = _seed_means(a) - _seed_means(b)
    assert 1e-12 < float(np.std(per_seed, ddof=1)) < 2e-12 and np.abs(per_seed).max() < 1.0
    assert paired_difference(a, b).seed_sd == pytest.approx(float(np.std(per_seed, ddof=1)), rel=1e-9)


def test_holm_adjusted_decides_every_verdict_again_from_the_numbers() -> None:
    """A comparison not significant after Holm in a family of 4 is a verdict with no reason alone; a stale
    verdict on a comparison without a test is taken away."""
    a, b = _pair("psnr_y_db", 0.0, n_images=12, pair_noise=0.01, seed_shift={0: 0.30, 1: 0.18, 2: 0.25})
    alone = paired_difference(a, b)
    null = paired_difference(*_pair("psnr_y_db", 0.0, n_images=12, pair_noise=0.3, rng_seed=1))
    in_family = holm_adjusted([alone, null, null, null])[0]
    assert (in_family.verdict, in_family.reason) == (INDISTINGUISHABLE, NOT_AFTER_HOLM)
    again = holm_adjusted([in_family])[0]
    assert (again.verdict, again.reason, again.p_holm, again.family_size) == (BETTER, "", alone.p_value, 1)
    one_seed = paired_difference(a[a["seed"] == 0], b[b["seed"] == 0])
    stale = holm_adjusted([replace(one_seed, verdict=BETTER)])[0]
    assert (stale.verdict, stale.reason, stale.family_size) == (INDISTINGUISHABLE, ONE_SEED, 0)


def test_a_seed_of_a_lacking_an_image_is_an_error_naming_a() -> None:
    a, b = _pair("psnr_y_db", 0.2, n_images=4, pair_noise=0.1, rng_seed=7)
    lost = a.iloc[0]
    with pytest.raises(SrganError) as error:
        paired_difference(a.iloc[1:], b, names=("vgg", "mse"))
    assert str(error.value) == (f"the per-image table of vgg has no row for seed {lost['seed']}, {lost['set']}/"
                                f"{lost['image']}, which its other seeds have; evaluate every seed on the same sets")


def test_an_image_with_no_difference_is_better_for_neither_model() -> None:
    offsets = (0.0, -0.1, 0.2, -0.3)  # baby: exactly equal in every seed
    base = [6.0, 5.5, 7.0, 6.2]
    for metric, better in (("niqe_y", 2), ("psnr_y_db", 1)):  # NIQE: lower is better
        a = _grid_table(base, [0.0, 0.0], offsets, metric=metric)
        b = _grid_table(base, [0.0, 0.0], metric=metric)
        assert paired_difference(a, b, metric).images_a_better == better


def test_a_set_without_a_comparable_image_is_an_error_naming_both_models() -> None:
    base = [30.0, 28.0, 25.0, 27.5]
    a, b = _grid_table(base, [0.3, 0.2]), _grid_table(base, [0.0, 0.0])
    a.loc[a["set"] == "set14", "psnr_y_db"] = math.nan
    with pytest.raises(SrganError) as error:
        compare_models(a, b, names=("srresnet/vgg", "srresnet/mse"))
    assert str(error.value) == "srresnet/vgg and srresnet/mse share no image with a finite psnr_y_db in every seed"
