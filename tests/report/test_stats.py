"""Tests for srgan.report.stats: spreads over seeds, paired differences with a bootstrap interval
(known differences found, noise called noise, seed noise seen), pairing rules, the chroma
direction, sentences, and the tables the report and `srgan compare` use."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srgan.core.errors import SrganError
from srgan.report import stats
from srgan.report.stats import (
    ALL_SETS,
    BETTER,
    INDISTINGUISHABLE,
    METRICS,
    WORSE,
    PairedDifference,
    Spread,
    compare_models,
    compare_pairs,
    format_spread,
    paired_difference,
    seed_spreads,
    seed_summary,
    verdict_sentence,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = 2000  # bootstrap resamples in tests (the default is 10 000)


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


# ---------------------------------------------------------------- paired differences


@pytest.mark.parametrize(("metric", "shift", "verdict"), [
    ("psnr_y_db", 0.3, BETTER), ("psnr_y_db", -0.3, WORSE),
    ("niqe_y", -0.3, BETTER), ("niqe_y", 0.3, WORSE),  # lower NIQE is better
])
def test_interval_covers_a_known_difference(metric: str, shift: float, verdict: str) -> None:
    a, b = _pair(metric, shift)
    diff = paired_difference(a, b, metric, resamples=FAST)
    assert diff.ci_low < shift < diff.ci_high
    assert diff.ci_low > 0 or diff.ci_high < 0
    assert diff.mean_diff == pytest.approx(shift, abs=0.03)
    assert diff.verdict == verdict
    assert (diff.n_pairs, diff.n_images, diff.seeds_a, diff.seed_paired) == (90, 30, 3, True)
    assert diff.p_value < 0.001


def test_zero_mean_noise_is_not_distinguishable() -> None:
    for rng_seed in range(3):
        a, b = _pair("psnr_y_db", 0.0, pair_noise=0.3, rng_seed=rng_seed)
        diff = paired_difference(a, b, resamples=FAST)
        assert diff.ci_low < 0 < diff.ci_high
        assert diff.verdict == INDISTINGUISHABLE


def test_identical_models_give_zero_and_p_one() -> None:
    a, _ = _pair("psnr_y_db", 0.3)
    diff = paired_difference(a, a.copy(), resamples=FAST)
    assert (diff.mean_diff, diff.ci_low, diff.ci_high, diff.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert diff.verdict == INDISTINGUISHABLE


def test_seeds_that_disagree_are_noise_even_when_every_image_agrees() -> None:
    # Each seed moves every image alike: +0.4, -0.3, +0.2 dB. Every image's mean difference is
    # +0.1, so the images agree (tiny Wilcoxon p), but another seed could flip the sign.
    a, b = _pair("psnr_y_db", 0.0, pair_noise=0.01, seed_shift={0: 0.4, 1: -0.3, 2: 0.2})
    diff = paired_difference(a, b, resamples=FAST)
    assert diff.mean_diff == pytest.approx(0.1, abs=0.01)
    assert diff.p_value < 0.001
    assert diff.ci_low < 0 < diff.ci_high
    assert diff.verdict == INDISTINGUISHABLE


def test_same_input_gives_identical_numbers_and_the_seed_is_the_only_randomness() -> None:
    a, b = _pair("psnr_y_db", 0.1, pair_noise=0.3)
    first = paired_difference(a, b, resamples=FAST, bootstrap_seed=7)
    assert paired_difference(a, b, resamples=FAST, bootstrap_seed=7) == first
    other = paired_difference(a, b, resamples=FAST, bootstrap_seed=8)
    assert other.mean_diff == first.mean_diff and other.ci_low != first.ci_low


@pytest.mark.parametrize("seeds_b", [(0, 1, 2), (5, 6)])
def test_row_order_does_not_matter(seeds_b: tuple[int, ...]) -> None:
    a, b = _pair("psnr_y_db", 0.2, pair_noise=0.3, seeds_b=seeds_b)
    shuffled_a = a.sample(frac=1.0, random_state=1).reset_index(drop=True)
    shuffled_b = b.sample(frac=1.0, random_state=2).reset_index(drop=True)
    assert paired_difference(shuffled_a, shuffled_b, resamples=FAST) == paired_difference(a, b, resamples=FAST)


def test_different_seed_lists_pair_each_models_seed_mean_by_image() -> None:
    a, b = _pair("psnr_y_db", 0.3, seeds_a=(0, 1, 2), seeds_b=(3, 4))
    diff = paired_difference(a, b, resamples=FAST)
    assert (diff.seed_paired, diff.seeds_a, diff.seeds_b, diff.n_pairs, diff.n_images) == (False, 3, 2, 30, 30)
    means = a.groupby("image")["psnr_y_db"].mean() - b.groupby("image")["psnr_y_db"].mean()
    assert diff.mean_diff == pytest.approx(means.mean())
    assert diff.ci_low < 0.3 < diff.ci_high and diff.verdict == BETTER
    assert "3 vs 2 seeds, not paired" in verdict_sentence(diff)


def test_a_missing_pair_is_an_error_naming_it() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    b = b[b["image"] != "0805"]
    with pytest.raises(SrganError, match="B has no row for set5/0805"):
        paired_difference(a, b, resamples=FAST)
    with pytest.raises(SrganError, match="A has no row for set5/0805"):
        paired_difference(b, a, names=("A", "B"), resamples=FAST)


def test_an_image_missing_for_one_seed_is_an_error() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    a = a[~((a["seed"] == 1) & (a["image"] == "0810"))]
    with pytest.raises(SrganError, match="no row for seed 1, set5/0810"):
        paired_difference(a, b, resamples=FAST)


def test_duplicate_rows_are_an_error() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    with pytest.raises(SrganError, match="two rows for seed 0"):
        paired_difference(pd.concat([a, a.iloc[:1]]), b, resamples=FAST)


def test_missing_values_are_left_out_and_counted() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    a.loc[a["image"] == "0801", "psnr_y_db"] = math.nan  # an image without the metric, every seed
    b.loc[(b["image"] == "0802") & (b["seed"] == 2), "psnr_y_db"] = math.nan  # one seed of one image
    diff = paired_difference(a, b, resamples=FAST)
    assert (diff.n_pairs, diff.n_images, diff.n_dropped) == (90 - 4, 29, 4)
    assert "4 without a value left out" in verdict_sentence(diff)
    assert math.isfinite(diff.ci_low) and diff.verdict == BETTER


def test_a_table_without_seed_is_one_seed() -> None:
    a, b = _pair("psnr_y_db", 0.3, seeds_a=(0,), seeds_b=(0,))
    diff = paired_difference(a.drop(columns="seed"), b.drop(columns="seed"), resamples=FAST)
    assert (diff.seeds_a, diff.seeds_b, diff.seed_paired, diff.n_pairs) == (1, 1, True, 30)
    assert "30 images, 1 seed)" in verdict_sentence(diff)


@pytest.mark.parametrize(("ratio_a", "ratio_b", "verdict"), [
    (0.97, 0.90, BETTER),   # closer to 1 from below
    (1.05, 0.92, BETTER),   # over-saturated by less than B is desaturated
    (1.10, 0.95, WORSE),    # higher, but farther from 1
    (0.85, 0.95, WORSE),
])
def test_chroma_ratio_is_better_closer_to_one(ratio_a: float, ratio_b: float, verdict: str) -> None:
    rng = np.random.default_rng(0)
    rows = [{"seed": s, "set": "set5", "image": f"{i}", "jitter": rng.normal(0, 0.005)}
            for s in range(2) for i in range(12)]
    a = pd.DataFrame(rows).assign(chroma_ratio=lambda t: ratio_a + t["jitter"])
    b = pd.DataFrame(rows).assign(chroma_ratio=ratio_b)
    diff = paired_difference(a, b, "chroma_ratio", resamples=FAST)
    assert diff.verdict == verdict
    assert diff.higher_is_better is False
    assert diff.mean_diff == pytest.approx(abs(ratio_a - 1) - abs(ratio_b - 1), abs=0.005)


def test_one_image_gives_no_interval() -> None:
    a, b = _pair("psnr_y_db", 0.3, n_images=1, seeds_a=(0,), seeds_b=(0,))
    diff = paired_difference(a, b, resamples=FAST)
    assert math.isnan(diff.ci_low) and diff.verdict == INDISTINGUISHABLE
    assert "too few images for an interval" in verdict_sentence(diff)


def test_three_images_that_agree_are_no_verdict_until_seeds_make_six_pairs() -> None:
    # 3 images, 1 seed: every image 0.3 dB better, the bootstrap interval excludes 0, yet 3 signs
    # agree by chance 1 time in 4: no verdict. The same images with 3 paired seeds are 9 pairs.
    a, b = _pair("psnr_y_db", 0.3, n_images=3, seeds_a=(0,), seeds_b=(0,))
    diff = paired_difference(a, b, resamples=FAST)
    assert diff.ci_low > 0 and diff.n_pairs == 3
    assert diff.verdict == INDISTINGUISHABLE
    assert "a verdict needs 6 pairs" in verdict_sentence(diff)
    a, b = _pair("psnr_y_db", 0.3, n_images=3)
    diff = paired_difference(a, b, resamples=FAST)
    assert diff.n_pairs == 9 and diff.verdict == BETTER
    assert "a verdict needs" not in verdict_sentence(diff)


def test_unknown_metric_names_the_known_ones() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    with pytest.raises(SrganError, match="unknown metric 'psnr'.*psnr_y_db"):
        paired_difference(a, b, "psnr")


# ---------------------------------------------------------------- sentences


def _diff(metric: str, mean: float, low: float, high: float, verdict: str, p: float = 0.004,
          seeds: int = 3) -> PairedDifference:
    return PairedDifference(metric, METRICS[metric].higher_is_better, 12 * seeds, 12, seeds, seeds, True, 0,
                            mean, low, high, p, verdict)


def test_sentences() -> None:
    assert verdict_sentence(_diff("psnr_y_db", 0.31, 0.12, 0.50, BETTER)) == (
        "better by 0.31 dB (95 % CI 0.12–0.50, Wilcoxon p = 0.004, 12 images × 3 seeds)")
    assert verdict_sentence(_diff("psnr_y_db", -0.2, -0.3, -0.1, WORSE, p=0.0001)) == (
        "worse by 0.20 dB (95 % CI 0.10–0.30, Wilcoxon p < 0.001, 12 images × 3 seeds)")
    # lower NIQE is better: A − B = −0.25 is a gain of 0.25
    assert verdict_sentence(_diff("niqe_y", -0.25, -0.4, -0.1, BETTER, seeds=1)) == (
        "better by 0.250 (95 % CI 0.100–0.400, Wilcoxon p = 0.004, 12 images, 1 seed)")
    assert verdict_sentence(_diff("psnr_y_db", -0.05, -0.21, 0.11, INDISTINGUISHABLE)) == (
        "not distinguishable from noise (−0.05 dB, 95 % CI −0.21 to 0.11, 12 images × 3 seeds)")
    assert verdict_sentence(_diff("ssim_y", 0.0123, 0.01, 0.015, BETTER), unit="SSIM") == (
        "better by 0.0123 SSIM (95 % CI 0.0100–0.0150, Wilcoxon p = 0.004, 12 images × 3 seeds)")


# ---------------------------------------------------------------- report and compare tables


def _long_table() -> pd.DataFrame:
    """Three SRResNet variants (vgg +0.3 dB over mse, hybrid = mse + noise) and two SRGAN
    checkpoints each; LPIPS only for one variant."""
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
    out = compare_pairs(table, [("srresnet/vgg", "srresnet/mse"), ("srresnet/hybrid", "srresnet/mse")],
                        resamples=FAST)
    assert list(out.columns[:4]) == ["a", "b", "checkpoint", "set"]
    # psnr_y_db and niqe_y on set5, set14 and pooled; LPIPS skipped: mse has none
    assert len(out) == 2 * 2 * 3
    assert set(out["metric"]) == {"psnr_y_db", "niqe_y"}
    assert list(out["set"].unique()) == ["set5", "set14", ALL_SETS]
    vgg = out[(out["a"] == "srresnet/vgg") & (out["metric"] == "psnr_y_db") & (out["set"] == ALL_SETS)].iloc[0]
    assert vgg["verdict"] == BETTER and vgg["sentence"].startswith("better by 0.3")
    hybrid = out[(out["a"] == "srresnet/hybrid") & (out["metric"] == "psnr_y_db") & (out["set"] == ALL_SETS)]
    assert hybrid.iloc[0]["verdict"] == INDISTINGUISHABLE
    # rows in another order: the same numbers (the output lists sets in the order the table has them)
    again = compare_pairs(table.iloc[::-1], [("srresnet/vgg", "srresnet/mse"), ("srresnet/hybrid", "srresnet/mse")],
                          resamples=FAST)
    keys = ["a", "checkpoint", "set", "metric"]
    pd.testing.assert_frame_equal(out.sort_values(keys, ignore_index=True), again.sort_values(keys, ignore_index=True))


def test_compare_pairs_compares_shared_checkpoints_and_names_unknown_models() -> None:
    table = _long_table()
    later = table[table["model"] != "srresnet/hybrid"].assign(checkpoint="epoch200")
    out = compare_pairs(pd.concat([table, later]), [("srresnet/vgg", "srresnet/mse"),
                                                    ("srresnet/hybrid", "srresnet/mse")],
                        metrics=["psnr_y_db"], resamples=FAST)
    assert out.groupby("a")["checkpoint"].unique().map(list).to_dict() == {
        "srresnet/vgg": ["best", "epoch200"], "srresnet/hybrid": ["best"]}
    with pytest.raises(SrganError, match="model 'srresnet/res18' has no rows"):
        compare_pairs(table, [("srresnet/res18", "srresnet/mse")], resamples=FAST)


def test_compare_models_per_set_and_pooled_with_a_text_table() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    comparison = compare_models(a, b, names=("srresnet/vgg", "srresnet/mse"), resamples=FAST)
    assert list(comparison.rows["set"]) == ["set5", "set14", ALL_SETS]
    assert comparison.rows.iloc[-1]["mean_diff"] == paired_difference(a, b, resamples=FAST).mean_diff
    assert comparison.rows.iloc[0]["n_images"] == 10
    lines = comparison.text.splitlines()
    assert lines[0].startswith("PSNR-Y (dB), A − B (higher is better): A = srresnet/vgg, B = srresnet/mse")
    assert len(lines) == 5 and lines[-1].split()[:2] == ["all", "sets"] and lines[-1].endswith("better")


def test_compare_models_needs_one_checkpoint_per_table() -> None:
    a, b = _pair("psnr_y_db", 0.3)
    both = pd.concat([a, a.assign(checkpoint="epoch200", psnr_y_db=a["psnr_y_db"] - 1.0)])
    with pytest.raises(SrganError, match="holds the checkpoints best, epoch200; name the one"):
        compare_models(both, b)
    worse = compare_models(both, b, checkpoint_a="epoch200", resamples=FAST)
    assert worse.rows.iloc[-1]["verdict"] == WORSE


# ---------------------------------------------------------------- one table of metrics, a pure module


def test_metrics_agree_with_the_report_tables_and_the_evaluation() -> None:
    from srgan.core.evaluation_records import METRIC_KEYS
    from srgan.report.tables import METRIC_ROWS, _metric_name

    assert set(METRICS) == set(METRIC_KEYS) == set(METRIC_ROWS)
    arrows = {stats.HIGHER: "↑", stats.LOWER: "↓"}
    for key, metric in METRICS.items():
        row_label, decimals = METRIC_ROWS[key]
        assert _metric_name(row_label).startswith(metric.label) and decimals == metric.decimals
        if metric.better in arrows:
            assert row_label.endswith(arrows[metric.better])
        else:
            assert "1 = faithful" in row_label


def test_stats_imports_no_torch_and_only_the_error_type_of_srgan() -> None:
    tree = ast.parse((ROOT / "srgan" / "report" / "stats.py").read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(m.split(".")[0] == "torch" for m in modules)
    assert {m for m in modules if m.split(".")[0] == "srgan"} == {"srgan.core.errors"}


def test_spread_is_a_plain_record() -> None:
    assert Spread(1.0, math.nan, 1).n == 1
