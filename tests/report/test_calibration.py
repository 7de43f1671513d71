"""Calibration of the comparison on simulated scores with a known truth (`srgan.report.calibration`):
false verdicts and coverage on target for the project's seed-level t, off target for the rule it replaced
(a percentile bootstrap over images and seeds with a 6-pair minimum), and Holm's correction holding a
family's error rate. A reduced grid with a fixed generator: seconds."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from srgan.report.calibration import (
    Cell,
    Design,
    calibration_grid,
    confirm,
    family_error_rate,
    misses,
    run_grid,
    seed_level_method,
    simulate,
    simulate_grids,
)
from srgan.report.stats import FIXED, RANDOM

REPS = 2000


def bootstrap_rule(grid_a: np.ndarray, grid_b: np.ndarray, design: Design, resamples: int = 400,
                   min_units: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule this project used before: a percentile bootstrap of the mean difference that resamples images
    and seeds (the same seed draw for A and B when paired), a verdict when the interval excludes 0 and there
    are at least 6 units (seed x image pairs when paired, images otherwise)."""
    rng = np.random.default_rng(99)
    reps, seeds_a, n_images = grid_a.shape
    seeds_b = grid_b.shape[1]
    low, high = np.empty(reps), np.empty(reps)
    for r in range(reps):
        image_w = rng.multinomial(n_images, np.full(n_images, 1 / n_images), resamples)
        seed_wa = rng.multinomial(seeds_a, np.full(seeds_a, 1 / seeds_a), resamples)
        seed_wb = seed_wa if design.paired else rng.multinomial(seeds_b, np.full(seeds_b, 1 / seeds_b), resamples)
        per_image = seed_wa @ grid_a[r] / seeds_a - seed_wb @ grid_b[r] / seeds_b  # (resamples, images)
        stat = (per_image * image_w).sum(axis=1) / n_images
        low[r], high[r] = np.percentile(stat, [2.5, 97.5])
    units = seeds_a * n_images if design.paired else n_images
    return low, high, ((low > 0) | (high < 0)) & (units >= min_units)


def test_the_seed_level_t_is_on_target_over_a_reduced_grid() -> None:
    designs = calibration_grid(seeds=(1, 2, 3, 5), images=(3, 19), seed_sds=(0.05, 0.5))
    cells = run_grid(designs, REPS, seed=0)
    assert len(cells) == 64
    confirmed = confirm(cells)
    assert misses(confirmed) == [], [(c.design, c.verdict_rate, c.coverage) for c in misses(confirmed)]
    null = [c for c in cells if c.design.shift == 0.0 and c.design.seeds > 1]
    assert 0.035 < np.mean([c.verdict_rate for c in null]) < 0.06  # a t test: near 5 %, not far below
    one_seed = [c for c in cells if c.design.seeds == 1]
    assert all(c.verdict_rate == 0.0 and c.intervals == 0 for c in one_seed)


def test_the_rule_it_replaced_fails_the_same_check() -> None:
    # Cells the issue measured: one seed x 19 images (79-85 % false verdicts), three seeds x 30 images (23.5 %).
    designs = [Design(seeds=1, images=19, seed_sd=0.15, paired=True), Design(seeds=3, images=30, seed_sd=0.15,
                                                                              paired=True)]
    old = run_grid(designs, 300, seed=0, method=bootstrap_rule)
    assert [c.design for c in misses(old)] == designs
    assert old[0].verdict_rate > 0.6 and old[1].verdict_rate > 0.12
    new = run_grid(designs, 300, seed=0)
    assert misses(new) == []


def test_treating_the_images_as_a_sample_is_on_target_and_needs_its_own_interval() -> None:
    designs = [replace(d, images_mode=RANDOM)
               for d in calibration_grid(seeds=(2, 3, 10), images=(3, 19), seed_sds=(0.15,), effect_sd=0.3)]
    cells = run_grid(designs, REPS, seed=2)
    assert misses(confirm(cells)) == []

    def fixed_interval(grid_a: np.ndarray, grid_b: np.ndarray, design: Design) -> tuple[np.ndarray, ...]:
        return seed_level_method(grid_a, grid_b, replace(design, images_mode=FIXED))

    # The benchmark's interval read as one about all images: the per-image effects go unseen.
    wrong = run_grid([d for d in designs if d.shift == 0.0], REPS, seed=2, method=fixed_interval)
    assert len(misses(wrong)) >= 6


def test_holm_holds_a_familys_error_rate_where_single_tests_do_not() -> None:
    design = Design(seeds=3, images=14, seed_sd=0.15, paired=True)
    rate = family_error_rate(design, family=4, reps=4000, rng=np.random.default_rng(0))
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 4000)
    # the same family, each comparison alone: near 1 − 0.95^4 = 19 % (less: the four share B)
    alone = family_error_rate(design, family=4, reps=4000, rng=np.random.default_rng(0), correct=False)
    assert alone > 0.12


def test_cells_judge_the_right_rate() -> None:
    null, shift = Design(3, 5, 0.1, True), Design(3, 5, 0.1, True, shift=0.3)
    se = math.sqrt(0.05 * 0.95 / 2000)
    assert Cell(null, 2000, 0.05 + 1.9 * se, math.nan, 2000).on_target
    assert not Cell(null, 2000, 0.05 + 2.1 * se, math.nan, 2000).on_target
    assert Cell(shift, 2000, 0.9, 0.95 - 1.9 * se, 2000).on_target
    assert not Cell(shift, 2000, 0.9, 0.95 - 2.1 * se, 2000).on_target
    assert Cell(shift, 2000, 0.0, math.nan, 0).on_target  # one seed: no interval, nothing to cover


@pytest.mark.parametrize("paired", [True, False])
def test_simulated_grids_have_the_spreads_they_are_drawn_with(paired: bool) -> None:
    design = Design(seeds=2, images=4, seed_sd=0.5, paired=paired, shift=0.3, image_sd=2.0, interaction_sd=0.1)
    grid_a, grid_b = simulate_grids(design, 20_000, np.random.default_rng(1))
    assert (grid_a - grid_b).mean() == pytest.approx(0.3, abs=0.01)
    per_seed = (grid_a - grid_b).mean(axis=2)  # (reps, seeds): offsets differ by sqrt(2 (1 − corr)) sd, or sqrt(2)
    expected = 0.5**2 * (2 * (1 - 0.5) if paired else 2) + 2 * 0.1**2 / 4
    assert per_seed.var() == pytest.approx(expected, rel=0.05)
    assert grid_b.mean(axis=1).var(axis=1).mean() == pytest.approx(2.0**2 * 3 / 4, rel=0.05)  # image spread kept
    assert grid_b.mean() == pytest.approx(0.0, abs=0.03)  # the images centred on 0 (sd of this mean: 0.007)


def reference_draw(design: Design, reps: int, rng: np.random.Generator,
                   variants: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The model of the module docstring written out here, drawn from `rng` in the module's order: the images, the
    effects, B's seed offsets, A's, A's noise, B's noise. (grids_a (variants, reps, seeds, images), grid_b)."""
    n_seeds, n_images = design.seeds, design.images
    image = design.image_sd * rng.standard_normal((reps, 1, n_images))
    effect = design.effect_sd * rng.standard_normal((variants, reps, 1, n_images))
    if design.images_mode == FIXED:  # the truth is the mean over these images: the effects sum to 0 over them
        effect = effect - effect.sum(axis=3, keepdims=True) / n_images
    z_b = rng.standard_normal((reps, n_seeds, 1))
    z_a = rng.standard_normal((variants, reps, n_seeds, 1))
    if design.paired:
        z_a = design.seed_corr * z_b + np.sqrt(1.0 - design.seed_corr**2) * z_a
    noise_a = design.interaction_sd * rng.standard_normal((variants, reps, n_seeds, n_images))
    noise_b = design.interaction_sd * rng.standard_normal((reps, n_seeds, n_images))
    return (image + effect + design.shift + design.seed_sd * z_a + noise_a,
            image + design.seed_sd * z_b + noise_b)


@pytest.mark.parametrize("design", [
    Design(seeds=2, images=3, seed_sd=0.5, paired=True, shift=0.3, image_sd=2.0, seed_corr=0.6, effect_sd=0.4),
    Design(seeds=3, images=2, seed_sd=0.5, paired=False, shift=0.3, effect_sd=0.4, images_mode=RANDOM),
])
def test_simulated_grids_are_the_documented_model_drawn_from_the_generator_in_order(design: Design) -> None:
    # The seeded figures of benchmarks/bench_stats.py rest on this stream: a flipped sign of a symmetric draw
    # or a draw of unused variants keeps the distributions but changes every figure.
    grid_a, grid_b = simulate_grids(design, 4, np.random.default_rng(7))
    want_a, want_b = reference_draw(design, 4, np.random.default_rng(7))
    np.testing.assert_allclose(grid_a, want_a[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(grid_b, want_b, rtol=0, atol=1e-12)


def test_per_image_effects_are_centred_on_the_fixed_images_and_not_on_a_sample() -> None:
    # No seed offsets and no noise: A − B is the shift plus the per-image effects, the same for every seed.
    fixed = Design(seeds=2, images=5, seed_sd=0.0, paired=True, shift=0.3, interaction_sd=0.0, effect_sd=0.4)
    grid_a, grid_b = simulate_grids(fixed, 4000, np.random.default_rng(3))
    effects = (grid_a - grid_b)[:, 0, :] - 0.3  # (reps, images)
    np.testing.assert_allclose(effects.mean(axis=1), 0.0, atol=1e-12)  # in every data set
    assert effects.var(axis=1, ddof=1).mean() == pytest.approx(0.4**2, rel=0.05)  # centring keeps the spread
    grid_a, grid_b = simulate_grids(replace(fixed, images_mode=RANDOM), 4000, np.random.default_rng(3))
    effects = (grid_a - grid_b)[:, 0, :] - 0.3
    assert effects.mean(axis=1).var() == pytest.approx(0.4**2 / 5, rel=0.1)  # the images' mean effect varies


def _stub_method(low: list[float], high: list[float], verdict: list[bool]):
    """A method that gives these intervals and verdicts whatever the data (one per data set)."""
    def method(grid_a: np.ndarray, grid_b: np.ndarray, design: Design) -> tuple[np.ndarray, ...]:
        assert grid_a.shape == (len(low), design.seeds, design.images) == grid_b.shape
        return np.array(low), np.array(high), np.array(verdict)
    return method


def test_a_cell_counts_whole_intervals_and_those_that_hold_the_truth_ends_included() -> None:
    design = Design(seeds=2, images=3, seed_sd=0.1, paired=True, shift=0.3)
    method = _stub_method(
        low=[0.3, 0.1, 0.31, -0.5, math.nan, math.nan],  # truth at the low end, at the high end, above, below,
        high=[0.5, 0.3, 0.9, 0.29, 0.5, math.nan],  # half an interval (none), no interval
        verdict=[True, False, True, False, False, False])
    cell = simulate(design, 6, np.random.default_rng(0), method)
    assert cell == Cell(design, 6, 2 / 6, 2 / 4, 4)


def test_a_cell_without_intervals_has_no_coverage_and_no_warning() -> None:
    design = Design(seeds=1, images=5, seed_sd=0.15, paired=True, shift=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not 0 / 0 with numpy's "invalid value encountered in scalar divide"
        cell = simulate(design, 50, np.random.default_rng(0))
    assert (cell.reps, cell.verdict_rate, cell.intervals) == (50, 0.0, 0) and math.isnan(cell.coverage)


def test_the_grid_is_every_combination_paired_and_not_in_this_order() -> None:
    assert calibration_grid() == [  # the benchmark's 300 cells
        Design(seeds=s, images=i, seed_sd=sd, paired=paired, shift=shift)
        for paired in (True, False) for shift in (0.0, 0.3) for sd in (0.05, 0.15, 0.5)
        for s in (1, 2, 3, 5, 10) for i in (3, 5, 14, 19, 100)]
    grid = calibration_grid(seeds=(2, 5), images=(3,), seed_sds=(0.5,), shifts=(0.0, 0.3), modes=(FIXED, RANDOM),
                            effect_sd=0.2)
    assert grid == [Design(seeds=s, images=3, seed_sd=0.5, paired=paired, shift=shift, effect_sd=0.2,
                           images_mode=mode)
                    for mode in (FIXED, RANDOM) for paired in (True, False) for shift in (0.0, 0.3) for s in (2, 5)]


def test_a_grid_run_is_the_t_test_on_each_designs_own_stream_of_seed_0() -> None:
    # Paired: Student's t on the per-seed differences; not paired: Welch's t on each model's per-seed means.
    designs = [Design(seeds=3, images=5, seed_sd=0.2, paired=True, shift=0.3),
               Design(seeds=3, images=5, seed_sd=0.2, paired=False, shift=0.3)]
    reps, want = 300, []
    for design, child in zip(designs, np.random.SeedSequence(0).spawn(2)):
        grids_a, grid_b = reference_draw(design, reps, np.random.default_rng(child))
        mean_a, mean_b = grids_a[0].mean(axis=2), grid_b.mean(axis=2)
        if design.paired:
            test = scipy_stats.ttest_rel(mean_a, mean_b, axis=1)
        else:
            test = scipy_stats.ttest_ind(mean_a, mean_b, axis=1, equal_var=False)
        low, high = test.confidence_interval(0.95)
        verdict = (test.pvalue < 0.05) & ((low > 0) | (high < 0))
        covered = (low <= 0.3) & (0.3 <= high)
        want.append(Cell(design, reps, float(verdict.mean()), float(covered.mean()), reps))
    assert run_grid(designs, reps) == want  # shares of 300 data sets: exact


def test_confirm_runs_the_cells_off_target_again_with_ten_times_the_reps_on_stream_1() -> None:
    on = Design(seeds=3, images=5, seed_sd=0.15, paired=True)
    off = Design(seeds=2, images=5, seed_sd=0.15, paired=False, shift=0.3)
    cells = [Cell(on, 30, 0.0, math.nan, 30), Cell(off, 30, 0.9, 0.5, 30)]  # coverage 50 % < 95 % − 2 × 4 %
    assert misses(cells) == [cells[1]]
    again = confirm(cells)
    assert [(c.design, c.reps) for c in again] == [(off, 300)]
    assert again == run_grid([off], 300, seed=1)
    assert confirm(cells[:1]) == []


def test_confirm_runs_every_cell_off_target_with_the_method_factor_and_seed_it_is_given() -> None:
    null = Design(seeds=3, images=5, seed_sd=0.15, paired=True)
    cells = [Cell(null, 20, 0.5, math.nan, 20), Cell(replace(null, seeds=5), 20, 0.0, math.nan, 20),
             Cell(replace(null, images=7), 20, 0.3, math.nan, 20)]
    method = _stub_method([-1.0] * 60, [1.0] * 60, [True] * 60)  # a verdict every time, the truth covered
    again = confirm(cells, factor=3, seed=4, method=method)
    assert again == [Cell(null, 60, 1.0, 1.0, 60), Cell(replace(null, images=7), 60, 1.0, 1.0, 60)]


def _random_images_verdicts(grid_a: np.ndarray, grid_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, interval excludes 0) of the paired test with the images a sample, for grids (reps, seeds, images): the
    per-seed and the per-image spreads of A − B added, on the smaller of their degrees of freedom."""
    diff = grid_a - grid_b
    n_seeds, n_images = diff.shape[1:]
    mean = diff.mean(axis=(1, 2))
    se = np.sqrt(diff.mean(axis=2).var(axis=1, ddof=1) / n_seeds + diff.mean(axis=1).var(axis=1, ddof=1) / n_images)
    df = min(n_seeds, n_images) - 1
    p = 2 * scipy_stats.t.sf(np.abs(mean) / se, df)
    half = scipy_stats.t.ppf(0.975, df) * se
    return p, (mean - half > 0) | (mean + half < 0)


def test_a_familys_error_rate_is_holms_rule_on_the_test_the_design_asks_for() -> None:
    design = Design(seeds=3, images=6, seed_sd=0.15, paired=True, effect_sd=0.3, images_mode=RANDOM)
    grids_a, grid_b = reference_draw(design, 400, np.random.default_rng(3), variants=2)
    (p_1, excludes_1), (p_2, excludes_2) = (_random_images_verdicts(g, grid_b) for g in grids_a)
    first = np.minimum(1.0, 2 * np.minimum(p_1, p_2))  # Holm on two: 2 × the smaller p, the larger p at least that
    holm_1 = np.where(p_1 <= p_2, first, np.maximum(first, p_1))
    holm_2 = np.where(p_1 <= p_2, np.maximum(first, p_2), first)
    corrected = ((holm_1 < 0.05) & excludes_1) | ((holm_2 < 0.05) & excludes_2)
    alone = ((p_1 < 0.05) & excludes_1) | ((p_2 < 0.05) & excludes_2)
    assert family_error_rate(design, 2, 400, np.random.default_rng(3)) == pytest.approx(corrected.mean(), abs=1e-12)
    assert family_error_rate(design, 2, 400, np.random.default_rng(3), correct=False) == pytest.approx(
        alone.mean(), abs=1e-12)
