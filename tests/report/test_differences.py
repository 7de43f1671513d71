"""srgan.report.differences on its own (before, only whole report builds in test_report.py reached most of it):
which runs are compared, the rows computed from a per-image table built here (numbers against scipy's t test on
the per-seed differences and Holm's step-down by hand), the record read back from a row or from differences.csv,
and the report section's lines, tables and sentences pinned whole."""

from __future__ import annotations

import io
import math
from dataclasses import asdict

import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as scipy_stats

from srgan.report.differences import (
    _diff,
    _short,
    comparison_pairs,
    difference_rows,
    differences_markdown,
    experiment_markdown,
    sentence_lines,
)
from srgan.report.inputs import Scored
from srgan.report.snapshot import _read_csv
from srgan.report.stats import ALL_SETS, PairedDifference

IMAGES = (("set5", "baby"), ("set5", "bird"), ("set14", "ppt3"))
SEEDS = (0, 1, 2)
# run: (checkpoints, PSNR-Y A − B: shift, per seed, per image; NIQE-Y A − B: shift (NaN: no NIQE), per seed).
# B is the run's experiment's mse; a checkpoint after the first adds 0.1 dB to the shift.
MODELS = {
    "srresnet/mse": (("step20",), 0.0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0, (0.0, 0.0, 0.0)),
    "srresnet/vgg19_5_4": (("step20",), 1.0, (-0.1, 0.0, 0.1), (0.05, 0.05, -0.1), -0.5, (-0.05, 0.0, 0.05)),
    "srgan/mse": (("step20", "step40"), 0.0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0, (0.0, 0.0, 0.0)),
    "srgan/hybrid_vgg19_5_4": (("step20", "step40"), -0.4, (-0.02, 0.0, 0.02), (0.0, 0.0, 0.0), 0.3, (0.0, 0.1, 0.2)),
    "srgan/hybrid_res18_4": (("step20",), 0.1, (-0.3, 0.0, 0.3), (0.2, -0.1, -0.1), math.nan, (0.0, 0.0, 0.0)),
}


def _loss_terms(variant: str) -> dict[str, float]:
    if variant == "mse":
        return {"mse": 1.0}
    if variant.startswith("hybrid_"):
        return {"mse": 0.6, variant.removeprefix("hybrid_"): 0.4}
    return {variant: 1.0}


def _scored(run: str, checkpoint: str, terms: dict[str, float] | None = None) -> Scored:
    experiment, variant = run.split("/")
    return Scored(experiment, variant, checkpoint, {}, None, {}, _loss_terms(variant) if terms is None else terms)


BICUBIC = Scored("bicubic", "bicubic", "bicubic", {}, None, {}, {})
SCORED = [BICUBIC, *(_scored(run, label) for run, (labels, *_) in MODELS.items() for label in labels)]


def _per_image(seeds: tuple[int, ...] = SEEDS) -> pd.DataFrame:
    """The long per-image table of MODELS: NIQE-Y before PSNR-Y, PSNR-RGB (not a difference metric), no SSIM-Y."""
    rows = []
    for run, (labels, shift, per_seed, per_image, niqe_shift, niqe_per_seed) in MODELS.items():
        for c, label in enumerate(labels):
            for k, seed in enumerate(seeds):
                for i, (set_name, image) in enumerate(IMAGES):
                    rows.append({
                        "model": run, "seed": seed, "checkpoint": label, "set": set_name, "image": image,
                        "niqe_y": 6.0 + 0.25 * i + 0.125 * seed + niqe_shift + niqe_per_seed[k],
                        "psnr_rgb_db": 20.0 + i,
                        "psnr_y_db": 25.0 + i + 0.5 * seed + shift + (0.1 * c if shift else 0.0) + per_seed[k]
                        + per_image[i]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """difference_rows of MODELS over three seeds (~1 s)."""
    return difference_rows(_per_image(), SCORED)


@pytest.fixture(scope="module")
def rows_one_seed() -> pd.DataFrame:
    return difference_rows(_per_image((0,)), SCORED)


# ---------------------------------------------------------------- what is compared


def test_comparison_pairs_per_experiment_in_order_each_variant_with_mse_then_every_two_hybrids() -> None:
    scored = [
        BICUBIC,
        *(_scored("srgan/" + v, label)
          for v in ("mse", "hybrid_vgg19_5_4", "vgg19_5_4") for label in ("step20", "step40")),
        _scored("srgan/hybrid_res18_4", "step20"),
        _scored("srgan/hybrid_res34_3", "step20"),
        _scored("srgan/vgg_and_no_mse", "step20", {"mse": 0.0, "vgg19_5_4": 1.0}),  # a zero weight: not a hybrid
        _scored("srresnet/mse", "best"),  # its baseline alone: nothing to compare
        _scored("esrgan/hybrid_vgg19_5_4", "best"),  # no baseline: the hybrids against each other only
        _scored("esrgan/hybrid_res18_4", "best"),
        _scored("esrgan/l1", "best", {"l1": 1.0}),
    ]
    assert comparison_pairs(scored) == [
        ("srgan/hybrid_vgg19_5_4", "srgan/mse"), ("srgan/vgg19_5_4", "srgan/mse"),
        ("srgan/hybrid_res18_4", "srgan/mse"), ("srgan/hybrid_res34_3", "srgan/mse"),
        ("srgan/vgg_and_no_mse", "srgan/mse"),
        ("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res18_4"), ("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res34_3"),
        ("srgan/hybrid_res18_4", "srgan/hybrid_res34_3"),
        ("esrgan/hybrid_vgg19_5_4", "esrgan/hybrid_res18_4")]
    assert comparison_pairs([BICUBIC]) == []
    assert comparison_pairs(SCORED) == [
        ("srresnet/vgg19_5_4", "srresnet/mse"), ("srgan/hybrid_vgg19_5_4", "srgan/mse"),
        ("srgan/hybrid_res18_4", "srgan/mse"), ("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res18_4")]


def _holm(p_values: list[float]) -> list[float]:
    """Holm's adjusted p from its definition: p_(j) adjusted = max over i <= j of min(1, (m − i + 1) p_(i))."""
    ranked = sorted(p_values)
    return [max(min(1.0, (len(ranked) - i) * ranked[i]) for i in range(ranked.index(p) + 1)) for p in p_values]


def test_difference_rows_compare_the_headline_metrics_the_table_has_in_their_order(rows: pd.DataFrame) -> None:
    # NIQE-Y is the table's first column, PSNR-RGB no difference metric, SSIM-Y absent: PSNR-Y, then NIQE-Y, where
    # both runs have values (hybrid_res18_4 has no NIQE-Y).
    sets = ["set5", "set14", ALL_SETS]
    expected = [("srresnet/vgg19_5_4", "srresnet/mse", "step20", s, m) for m in ("psnr_y_db", "niqe_y") for s in sets]
    expected += [("srgan/hybrid_vgg19_5_4", "srgan/mse", c, s, m)
                 for c in ("step20", "step40") for m in ("psnr_y_db", "niqe_y") for s in sets]
    expected += [(a, b, "step20", s, "psnr_y_db") for a, b in (("srgan/hybrid_res18_4", "srgan/mse"),
                                                                ("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res18_4"))
                 for s in sets]
    assert list(rows[["a", "b", "checkpoint", "set", "metric"]].itertuples(index=False, name=None)) == expected
    # Each number from scipy's t test on the per-seed mean differences; Holm within (experiment, checkpoint,
    # metric, set).
    table = _per_image().set_index(["model", "checkpoint", "seed", "set", "image"])
    p_values = {}
    for row in rows.itertuples():
        diff = table.loc[row.a].loc[row.checkpoint][row.metric] - table.loc[row.b].loc[row.checkpoint][row.metric]
        if row.set != ALL_SETS:
            diff = diff[diff.index.get_level_values("set") == row.set]
        per_seed = diff.groupby(level="seed").mean().to_numpy()
        test = scipy_stats.ttest_1samp(per_seed, 0.0)
        interval = test.confidence_interval(0.95)
        assert (row.mean_diff, row.ci_low, row.ci_high, row.p_value) == pytest.approx(
            (per_seed.mean(), interval.low, interval.high, test.pvalue), abs=1e-9), row
        assert (row.n_images, row.seeds_a, row.seeds_b, row.seed_paired) == (len(diff) // 3, 3, 3, True)
        p_values[row.Index] = test.pvalue
    for _, family in rows.groupby([rows["a"].str.split("/").str[0], "checkpoint", "metric", "set"]):
        assert family["p_holm"].tolist() == pytest.approx(_holm([p_values[i] for i in family.index]), abs=1e-9)
        assert family["family_size"].tolist() == [len(family)] * len(family)
    assert rows.loc[rows["set"] == ALL_SETS, "family_size"].tolist() == [1, 1, 3, 1, 1, 1, 3, 3]
    assert rows.loc[rows["set"] == ALL_SETS, "verdict"].tolist() == [
        "better", "better", "worse", "worse", "worse", "worse", "indistinguishable", "indistinguishable"]


def test_difference_rows_without_a_variant_besides_the_baselines_are_empty_and_say_so() -> None:
    baselines = [s for s in SCORED if s.variant in ("bicubic", "mse")]
    empty = difference_rows(_per_image((0,)), baselines)
    assert empty.empty and list(empty.columns[:4]) == ["a", "b", "checkpoint", "set"]
    assert differences_markdown(empty, 3) == ["No comparisons: the experiments have no variant besides their baseline."]
    assert differences_markdown(empty, 1) == ["No comparisons: the experiments have no variant besides their baseline."]


# ---------------------------------------------------------------- rows back as records


def _record(row: pd.Series) -> dict:
    return {name: row[name] for name in PairedDifference.__dataclass_fields__}


def test_a_row_gives_back_its_record_and_a_read_back_csv_row_an_empty_reason_for_a_verdict(rows: pd.DataFrame) -> None:
    for _, row in rows.iterrows():
        assert asdict(_diff(row)) == _record(row)
    # As the report writes differences.csv and as pandas and the snapshot check read it back: a verdict's reason
    # '' reads as NaN and comes back as ''; a reason without a verdict stays.
    text = rows.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    for read in (pd.read_csv(io.StringIO(text)), _read_csv(text)):
        assert read["reason"].isna().tolist() == (rows["reason"] == "").tolist()
        for (_, row), (_, back) in zip(rows.iterrows(), read.iterrows()):
            record, expected = asdict(_diff(back)), _record(row)
            assert {k: v for k, v in record.items() if not isinstance(v, float)} == {
                k: v for k, v in expected.items() if not isinstance(v, float)}
            assert {k: v for k, v in record.items() if isinstance(v, float)} == pytest.approx(
                {k: v for k, v in expected.items() if isinstance(v, float)}, abs=5e-5, nan_ok=True)
    assert [_diff(row).reason for _, row in pd.read_csv(io.StringIO(text)).iloc[[2, 20]].iterrows()] == [
        "", "the interval holds 0"]


def test_short_is_the_run_key_after_its_experiment() -> None:
    assert _short("srresnet/vgg19_5_4") == "vgg19_5_4"
    assert _short("srgan/a/b") == "a/b"


# ---------------------------------------------------------------- the report section

INTRO = ("A − B over every test image (all test sets), the training seed as the unit: each seed's mean difference "
         "over the images, then a 95 % t interval over the seeds (paired by seed when both ran the same seeds); the "
         "test images are the fixed benchmark. ✔ A is better, ✘ A is worse; no verdict: · the interval holds 0, · "
         "Holm: not significant after Holm's correction, 1 seed: one training run per model cannot be told from "
         "training noise. Holm's correction runs within each family: one metric at one checkpoint of one experiment")
ONE_SEED = (" With one seed no comparison gets a verdict: two training runs differ by an offset every test image "
            "shares, so the images cannot stand in for seeds (params `seeds` adds them).")
PER_SET = "Per set, with raw and Holm-adjusted p: `differences.csv`."

SRRESNET_TABLE = """\
| srresnet: A vs B (checkpoint)   |                 PSNR-Y |                      NIQE-Y |
|:--------------------------------|-----------------------:|----------------------------:|
| vgg19_5_4 vs mse (step20)       | +1.00 (0.75 to 1.25) ✔ | −0.500 (−0.624 to −0.376) ✔ |"""
SRGAN_TABLE = """\
| srgan: A vs B (checkpoint)                  |                   PSNR-Y |                    NIQE-Y |
|:--------------------------------------------|-------------------------:|--------------------------:|
| hybrid_vgg19_5_4 vs mse (step20)            | −0.40 (−0.45 to −0.35) ✘ | +0.400 (0.152 to 0.648) ✘ |
| hybrid_vgg19_5_4 vs mse (step40)            | −0.30 (−0.35 to −0.25) ✘ | +0.400 (0.152 to 0.648) ✘ |
| hybrid_res18_4 vs mse (step20)              |  +0.10 (−0.65 to 0.85) · |                         – |
| hybrid_vgg19_5_4 vs hybrid_res18_4 (step20) |  −0.50 (−1.20 to 0.20) · |                         – |"""
SENTENCES = [
    ("- srresnet/vgg19_5_4 vs srresnet/mse (step20), PSNR-Y: A − B = +1.00 dB (95 % CI 0.75 to 1.25); p = 0.003; "
     "3 images × 3 seeds, paired: A is better. Planning: 0.10 dB at 80 % power: about 10 seeds (per-seed differences "
     "spread 0.10 dB; 3 seeds detect 0.33 dB)."),
    ("- srgan/hybrid_vgg19_5_4 vs srgan/mse (step20), PSNR-Y: A − B = −0.40 dB (95 % CI −0.45 to −0.35); p < 0.001, "
     "Holm p = 0.002 of 3; 3 images × 3 seeds, paired: A is worse. Planning: 0.10 dB at 80 % power: about 3 seeds "
     "(per-seed differences spread 0.02 dB; 3 seeds detect 0.07 dB)."),
    ("- srgan/hybrid_vgg19_5_4 vs srgan/mse (step40), PSNR-Y: A − B = −0.30 dB (95 % CI −0.35 to −0.25); p = 0.001; "
     "3 images × 3 seeds, paired: A is worse. Planning: 0.10 dB at 80 % power: about 3 seeds (per-seed differences "
     "spread 0.02 dB; 3 seeds detect 0.07 dB)."),
    ("- srgan/hybrid_res18_4 vs srgan/mse (step20), PSNR-Y: A − B = +0.10 dB (95 % CI −0.65 to 0.85); p = 0.622, "
     "Holm p = 0.622 of 3; 3 images × 3 seeds, paired: not distinguishable — the interval holds 0. Planning: 0.10 dB "
     "at 80 % power: about 73 seeds (per-seed differences spread 0.30 dB; 3 seeds detect 0.98 dB)."),
    ("- srgan/hybrid_vgg19_5_4 vs srgan/hybrid_res18_4 (step20), PSNR-Y: A − B = −0.50 dB (95 % CI −1.20 to 0.20); "
     "p = 0.091, Holm p = 0.181 of 3; 3 images × 3 seeds, paired: not distinguishable — the interval holds 0. "
     "Planning: 0.10 dB at 80 % power: about 64 seeds (per-seed differences spread 0.28 dB; 3 seeds detect 0.91 dB)."),
]


def _power(n: float, effect: float) -> float:
    """Power of the paired two-sided t test at 0.05 with n seeds, effect = difference / sd of the differences."""
    crit = scipy_stats.t.ppf(0.975, n - 1)
    nc = effect * math.sqrt(n)
    return scipy_stats.nct.sf(crit, n - 1, nc) + scipy_stats.nct.cdf(-crit, n - 1, nc)


def test_planning_figures_of_the_sentences_from_the_noncentral_t() -> None:
    # (sd of the per-seed differences, seeds needed for 0.10 dB at 80 % power, what 3 seeds detect) as in SENTENCES
    for sd, needed, detected in ((0.1, 10, "0.33"), (0.02, 3, "0.07"), (0.3, 73, "0.98"), (0.28, 64, "0.91")):
        assert next(n for n in range(2, 1001) if _power(n, 0.1 / sd) >= 0.8) == needed
        assert f"{optimize.brentq(lambda d, sd=sd: _power(3, d / sd) - 0.8, 1e-6, 10 * sd):.2f}" == detected


def test_differences_markdown_pinned_with_three_seeds(rows: pd.DataFrame) -> None:
    # 8 comparisons over all sets have a test, in 6 families: srresnet's PSNR-Y and NIQE-Y at step20, srgan's at
    # step20 (3 of PSNR-Y) and at step40.
    head = [INTRO + " (over all sets: 8 tests in 6 families).", PER_SET, ""]
    assert differences_markdown(rows, 3) == [*head, SRRESNET_TABLE, "", SRGAN_TABLE, "", *SENTENCES]
    assert differences_markdown(rows, 2) == [*head, SRRESNET_TABLE, "", SRGAN_TABLE, "", *SENTENCES]
    # seeds is only what the note reads: one seed adds it
    assert differences_markdown(rows, 1)[0] == INTRO + " (over all sets: 8 tests in 6 families)." + ONE_SEED
    # srresnet alone: PSNR-Y and NIQE-Y of one comparison, each a family of its own
    assert differences_markdown(rows[rows["a"].str.startswith("srresnet/")], 3) == [
        INTRO + " (over all sets: 2 tests in 2 families).", PER_SET, "", SRRESNET_TABLE, "", SENTENCES[0]]


def test_differences_markdown_pinned_with_one_seed(rows_one_seed: pd.DataFrame) -> None:
    srresnet = """\
| srresnet: A vs B (checkpoint)   |         PSNR-Y |          NIQE-Y |
|:--------------------------------|---------------:|----------------:|
| vgg19_5_4 vs mse (step20)       | +0.90 · 1 seed | −0.550 · 1 seed |"""
    srgan = """\
| srgan: A vs B (checkpoint)                  |         PSNR-Y |          NIQE-Y |
|:--------------------------------------------|---------------:|----------------:|
| hybrid_vgg19_5_4 vs mse (step20)            | −0.42 · 1 seed | +0.300 · 1 seed |
| hybrid_vgg19_5_4 vs mse (step40)            | −0.32 · 1 seed | +0.300 · 1 seed |
| hybrid_res18_4 vs mse (step20)              | −0.20 · 1 seed |               – |
| hybrid_vgg19_5_4 vs hybrid_res18_4 (step20) | −0.22 · 1 seed |               – |"""
    # these runs only: the t interval over the 3 images of A − B (scipy below)
    no_verdict = ("no verdict — one seed: cannot be separated from training noise; add seeds; these runs only: 95 % CI "
                  "over the 3 images")
    planning = "Planning: 0.10 dB at 80 % power: unknown until two seeds of each measure the seed spread."
    sentences = [
        (f"- srresnet/vgg19_5_4 vs srresnet/mse (step20), PSNR-Y: A − B = +0.90 dB (3 images × 1 seed, paired): "
         f"{no_verdict} 0.68 to 1.12; A better on 3 of 3 images. {planning}"),
        (f"- srgan/hybrid_vgg19_5_4 vs srgan/mse (step20), PSNR-Y: A − B = −0.42 dB (3 images × 1 seed, paired): "
         f"{no_verdict} −0.42 to −0.42; A better on 0 of 3 images. {planning}"),
        (f"- srgan/hybrid_vgg19_5_4 vs srgan/mse (step40), PSNR-Y: A − B = −0.32 dB (3 images × 1 seed, paired): "
         f"{no_verdict} −0.32 to −0.32; A better on 0 of 3 images. {planning}"),
        (f"- srgan/hybrid_res18_4 vs srgan/mse (step20), PSNR-Y: A − B = −0.20 dB (3 images × 1 seed, paired): "
         f"{no_verdict} −0.63 to 0.23; A better on 0 of 3 images. {planning}"),
        (f"- srgan/hybrid_vgg19_5_4 vs srgan/hybrid_res18_4 (step20), PSNR-Y: A − B = −0.22 dB (3 images × 1 seed, "
         f"paired): {no_verdict} −0.65 to 0.21; A better on 0 of 3 images. {planning}"),
    ]
    # No test at all: the intro ends without counts, and one seed adds its note.
    assert differences_markdown(rows_one_seed, 1) == [
        INTRO + "." + ONE_SEED, PER_SET, "", srresnet, "", srgan, "", *sentences]
    assert differences_markdown(rows_one_seed, 2)[0] == INTRO + "."
    for a, b, (low, high) in (("srresnet/vgg19_5_4", "srresnet/mse", ("0.68", "1.12")),
                              ("srgan/hybrid_res18_4", "srgan/mse", ("−0.63", "0.23")),
                              ("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res18_4", ("−0.65", "0.21"))):
        table = _per_image((0,)).set_index(["model", "checkpoint", "set", "image"])["psnr_y_db"]
        diff = (table.loc[a].loc["step20"] - table.loc[b].loc["step20"]).to_numpy()
        interval = scipy_stats.ttest_1samp(diff, 0.0).confidence_interval(0.95)
        assert (f"{interval.low:.2f}".replace("-", "−"), f"{interval.high:.2f}".replace("-", "−")) == (low, high)


def test_experiment_markdown_takes_the_experiments_own_rows_over_all_sets(rows: pd.DataFrame) -> None:
    assert experiment_markdown(rows, "srresnet") == SRRESNET_TABLE
    assert experiment_markdown(rows, "srgan") == SRGAN_TABLE
    # An experiment whose name begins with another's ('srgan' and 'srgan2'): each table keeps to its own runs.
    renamed = rows.replace({"a": {"srresnet/vgg19_5_4": "srgan2/vgg19_5_4"}, "b": {"srresnet/mse": "srgan2/mse"}})
    assert experiment_markdown(renamed, "srgan") == SRGAN_TABLE
    assert experiment_markdown(renamed, "srgan2") == """\
| srgan2: A vs B (checkpoint)   |                 PSNR-Y |                      NIQE-Y |
|:------------------------------|-----------------------:|----------------------------:|
| vgg19_5_4 vs mse (step20)     | +1.00 (0.75 to 1.25) ✔ | −0.500 (−0.624 to −0.376) ✔ |"""
    # A metric none of an experiment's comparisons has is no column; one some lack is '–' in those rows.
    assert experiment_markdown(rows[rows["metric"] == "psnr_y_db"], "srresnet") == """\
| srresnet: A vs B (checkpoint)   |                 PSNR-Y |
|:--------------------------------|-----------------------:|
| vgg19_5_4 vs mse (step20)       | +1.00 (0.75 to 1.25) ✔ |"""
    assert experiment_markdown(rows[rows["metric"] == "niqe_y"], "srgan") == """\
| srgan: A vs B (checkpoint)       |                    NIQE-Y |
|:---------------------------------|--------------------------:|
| hybrid_vgg19_5_4 vs mse (step20) | +0.400 (0.152 to 0.648) ✘ |
| hybrid_vgg19_5_4 vs mse (step40) | +0.400 (0.152 to 0.648) ✘ |"""


def test_sentence_lines_of_all_comparisons_or_of_the_given_pairs_in_the_rows_order(rows: pd.DataFrame) -> None:
    assert sentence_lines(rows) == SENTENCES
    assert sentence_lines(rows, [("srgan/hybrid_vgg19_5_4", "srgan/hybrid_res18_4"),
                                 ("srresnet/vgg19_5_4", "srresnet/mse")]) == [SENTENCES[0], SENTENCES[4]]
    assert sentence_lines(rows, [("srgan/hybrid_vgg19_5_4", "srgan/mse")]) == SENTENCES[1:3]
    assert sentence_lines(rows, [("srresnet/mse", "srresnet/vgg19_5_4")]) == []  # A and B in their order only
    assert sentence_lines(rows, []) == []


def test_the_section_from_differences_csv_read_back_is_the_same(rows: pd.DataFrame) -> None:
    """The snapshot check builds tables and sentences from differences.csv as the report stage writes it."""
    back = _read_csv(rows.to_csv(index=False, float_format="%.4f", lineterminator="\n"))
    assert experiment_markdown(back, "srresnet") == SRRESNET_TABLE
    assert experiment_markdown(back, "srgan") == SRGAN_TABLE
    assert sentence_lines(back) == SENTENCES


def test_a_run_with_one_seed_among_three_seed_runs_has_no_test_and_the_columns_keep_the_headline_order() -> None:
    """srgan alone, hybrid_res18_4 with seed 0 only, and SSIM-Y (0.7 + PSNR-Y / 100) after NIQE-Y in the table: the
    comparisons with hybrid_res18_4 have no test and do not count; the columns follow PSNR-Y, SSIM-Y, NIQE-Y."""
    table = _per_image()
    table = table[table["model"].str.startswith("srgan/") & ((table["model"] != "srgan/hybrid_res18_4")
                                                             | (table["seed"] == 0))]
    table = table.assign(ssim_y=0.7 + table["psnr_y_db"] / 100)
    lines = differences_markdown(difference_rows(table, [s for s in SCORED if s.experiment != "srresnet"]), 3)
    # 10 comparisons over all sets, 6 with a test: PSNR-Y, SSIM-Y and NIQE-Y of hybrid_vgg19_5_4 vs mse at 2 points
    assert lines[:5] == [INTRO + " (over all sets: 6 tests in 6 families).", PER_SET, "", """\
| srgan: A vs B (checkpoint)                  |                   PSNR-Y |                         SSIM-Y |                    NIQE-Y |
|:--------------------------------------------|-------------------------:|-------------------------------:|--------------------------:|
| hybrid_vgg19_5_4 vs mse (step20)            | −0.40 (−0.45 to −0.35) ✘ | −0.0040 (−0.0045 to −0.0035) ✘ | +0.400 (0.152 to 0.648) ✘ |
| hybrid_vgg19_5_4 vs mse (step40)            | −0.30 (−0.35 to −0.25) ✘ | −0.0030 (−0.0035 to −0.0025) ✘ | +0.400 (0.152 to 0.648) ✘ |
| hybrid_res18_4 vs mse (step20)              |           −0.70 · 1 seed |               −0.0070 · 1 seed |                         – |
| hybrid_vgg19_5_4 vs hybrid_res18_4 (step20) |           +0.30 · 1 seed |               +0.0030 · 1 seed |                         – |""", ""]
    # hybrid_vgg19_5_4 vs mse at step20 is alone in its PSNR-Y family now: no Holm part
    assert lines[5:7] == [SENTENCES[1].replace("p < 0.001, Holm p = 0.002 of 3;", "p < 0.001;"), SENTENCES[2]]
    assert [line.split(":")[0] for line in lines[7:]] == [
        "- srgan/hybrid_res18_4 vs srgan/mse (step20), PSNR-Y",
        "- srgan/hybrid_vgg19_5_4 vs srgan/hybrid_res18_4 (step20), PSNR-Y"]
