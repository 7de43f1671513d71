"""Tests for srgan.report.tables, each function called directly on hand-made `Scored` records (no report
build): row labels, the experiment and spread tables as whole frames, their markdown, the colour table and
its sentences, and the headline table; every expected value is written out or worked out here."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from srgan.core.evaluation_records import AsRunScoring
from srgan.core.metric_table import METRICS
from srgan.core.records import ScoredCheckpoint
from srgan.report.inputs import Scored
from srgan.report.tables import (
    DECIMALS,
    colour_sentence,
    colour_sentences,
    colour_table,
    experiment_table,
    headline_markdown,
    headline_models,
    headline_table,
    published_row,
    row_label,
    saturation_words,
    spread_table,
    to_markdown,
)

NAN = math.nan
LABELS = ["PSNR-Y (dB) ↑", "SSIM-Y ↑", "PSNR-RGB (dB, study protocol) ↑", "MS-SSIM (study protocol) ↑", "NIQE-Y ↓",
          "LPIPS-Alex ↓", "chroma ratio C*(SR)/C*(HR), 1 = faithful", "ΔE2000 ↓"]
METRIC_DECIMALS = dict(zip(LABELS, (2, 4, 2, 4, 3, 4, 3, 2)))


def _scored(experiment: str, variant: str, results: dict[str, dict[str, float]], checkpoint: str = "best",
            **fields) -> Scored:
    terms = {} if experiment == "bicubic" else (fields.pop("loss_terms", None) or {variant: 1.0})
    return Scored(experiment, variant, checkpoint, results, None, {}, terms, **fields)


def _scores(*values: float) -> dict[str, float]:
    """{metric: value} in METRICS order (NaN: the metric left out)."""
    return {key: v for key, v in zip(METRICS, values) if not math.isnan(v)}


def _frame(rows: dict[str, list[float]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = "metric"
    return frame


BICUBIC = _scored("bicubic", "bicubic", {"Set5": _scores(26.1, 0.79, 24.5, 0.9, 7.2, 0.3, 0.95, 5.5)}, "bicubic")


# ---------------------------------------------------------------- row labels


def test_row_label_of_every_metric() -> None:
    """Label, formula, unit and protocol when not the paper's, then the better way (or '1 = faithful')."""
    assert [row_label(key) for key in METRICS] == LABELS


def _point(unit: str, count: int) -> ScoredCheckpoint:
    return ScoredCheckpoint("point", f"{unit}{count}/last.pt", count, unit, count)


@pytest.mark.parametrize(("point", "points", "row"), [
    (ScoredCheckpoint("best", "best.pt", 7, "step", 10), [], "srresnet"),
    (ScoredCheckpoint("best", "best.pt", 7, "epoch", 100), [_point("epoch", 100), _point("epoch", 200)], "srresnet"),
    (_point("epoch", 100), [_point("epoch", 100)], "epoch100"),
    (_point("epoch", 200), [_point("epoch", 50), _point("epoch", 200), _point("epoch", 300)], "epoch200"),
    (_point("epoch", 50), [_point("epoch", 50), _point("epoch", 150)], "epoch100"),
    (_point("epoch", 150), [_point("epoch", 50), _point("epoch", 150)], "epoch200"),
    (_point("epoch", 150), [_point("epoch", 50), _point("epoch", 150), _point("epoch", 250)], None),
    (_point("step", 100), [_point("step", 100)], None),  # 100 steps are not the study's 100 epochs
    (_point("step", 200), [_point("step", 100), _point("step", 200)], "epoch200"),
    (_point("step", 100), [_point("step", 200), _point("step", 100)], "epoch200"),  # by position, not count
    (_point("step", 10), [_point("step", 10)], None),
    (_point("step", 10), [_point("step", 5), _point("step", 20)], None),
])
def test_published_row_by_kind_then_epoch_count_then_position(point: ScoredCheckpoint,
                                                              points: list[ScoredCheckpoint], row: str | None) -> None:
    assert published_row(point, points) == row


# ---------------------------------------------------------------- the experiment table


def test_experiment_table_of_an_unreported_set_is_the_metric_rows_of_each_column() -> None:
    """A set the study did not report: only the metric rows; a metric a model was not scored on is NaN, and a
    model with no scores on the set at all is a float column of NaN like the others (not None)."""
    mse = _scored("srresnet", "mse", {"mini": _scores(27.5, 0.81, 25.25, 0.93, 6.5, NAN, 0.98, 3.25)})
    empty = _scored("srresnet", "vgg19_5_4", {"mini": {"images": 2}})
    bicubic = _scored("bicubic", "bicubic", {"mini": _scores(26.0, 0.78, 24.0, 0.91, 7.25, NAN, 0.9, 5.0)}, "bicubic")
    table = experiment_table([mse, empty], bicubic, 3.5, "mini", "srresnet")
    expected = _frame({
        LABELS[0]: [27.5, NAN, 26.0, NAN], LABELS[1]: [0.81, NAN, 0.78, NAN], LABELS[2]: [25.25, NAN, 24.0, NAN],
        LABELS[3]: [0.93, NAN, 0.91, NAN], LABELS[4]: [6.5, NAN, 7.25, 3.5], LABELS[5]: [NAN, NAN, NAN, NAN],
        LABELS[6]: [0.98, NAN, 0.9, NAN], LABELS[7]: [3.25, NAN, 5.0, NAN],
    }, ["mse", "vgg19_5_4", "bicubic", "HR"])
    pd.testing.assert_frame_equal(table, expected)
    assert table.attrs[DECIMALS] == METRIC_DECIMALS
    # The CSV the report writes keeps 4 decimals in every column (an object column of None would print 26.0).
    assert table.to_csv(float_format="%.4f").splitlines()[1] == "PSNR-Y (dB) ↑,27.5000,,26.0000,"


def _published_columns() -> list[Scored]:
    return [_scored("srresnet", "mse", {"Set5": _scores(28.0, 0.82, 24.0, 0.95, 6.0, 0.2, 0.97, 3.0)}),
            _scored("srresnet", "res18_4", {"Set5": _scores(25.0, 0.7, 17.5, 0.8, 5.5, 0.25, 1.1, 4.0)}),
            _scored("srresnet", "hybrid_res18_4", {"Set5": _scores(27.0, 0.8, 23.5, NAN, 5.75, 0.2, 0.99, 3.5)},
                    loss_terms={"mse": 0.7, "res18_4": 0.3})]


def test_experiment_table_puts_the_published_values_and_differences_under_each_study_row() -> None:
    """Set5 (matched in any case) beside the study's SRResNet row: under PSNR-RGB and MS-SSIM the published values
    (NaN for a variant the study did not report) and ours − published, with the metric's decimals; bicubic and HR
    have none."""
    table = experiment_table(_published_columns(), BICUBIC, 3.25, "Set5", "srresnet")
    expected = _frame({
        LABELS[0]: [28.0, 25.0, 27.0, 26.1, NAN], LABELS[1]: [0.82, 0.7, 0.8, 0.79, NAN],
        LABELS[2]: [24.0, 17.5, 23.5, 24.5, NAN],
        "PSNR-RGB: study, SRResNet (published)": [23.13, 16.79, NAN, NAN, NAN],
        "PSNR-RGB: ours − published": [24.0 - 23.13, 17.5 - 16.79, NAN, NAN, NAN],
        LABELS[3]: [0.95, 0.8, NAN, 0.9, NAN],
        "MS-SSIM: study, SRResNet (published)": [0.9348, 0.8017, NAN, NAN, NAN],
        "MS-SSIM: ours − published": [0.95 - 0.9348, 0.8 - 0.8017, NAN, NAN, NAN],
        LABELS[4]: [6.0, 5.5, 5.75, 7.2, 3.25], LABELS[5]: [0.2, 0.25, 0.2, 0.3, NAN],
        LABELS[6]: [0.97, 1.1, 0.99, 0.95, NAN], LABELS[7]: [3.0, 4.0, 3.5, 5.5, NAN],
    }, ["mse", "res18_4", "hybrid_res18_4", "bicubic", "HR"])
    pd.testing.assert_frame_equal(table, expected)
    assert table.attrs[DECIMALS] == {**METRIC_DECIMALS, "PSNR-RGB: study, SRResNet (published)": 2,
                                     "PSNR-RGB: ours − published": 2, "MS-SSIM: study, SRResNet (published)": 4,
                                     "MS-SSIM: ours − published": 4}


def test_experiment_table_shows_the_study_protocol_as_run_between_published_and_ours() -> None:
    """With as-run scores (here for the first column only; the others NaN): published, as run (with how it was
    scored), as run − published, ours − published; the SRGAN row the table is given (epoch 200)."""
    columns = _published_columns()
    scoring = AsRunScoring({"epoch200": "epoch200/last.pt"}, "train", False)
    columns[0] = _scored("srgan", "mse", columns[0].results, "epoch200",
                         as_run={"Set5": {"psnr_rgb_db": 22.5, "ms_ssim_rgb": 0.93}}, as_run_scoring=scoring)
    columns[1] = _scored("srgan", "res18_4", columns[1].results, "epoch200", as_run={"mini": {"psnr_rgb_db": 1.0}},
                         as_run_scoring=scoring)
    table = experiment_table(columns, BICUBIC, 3.25, "Set5", "epoch200")
    how = "last checkpoint, BN in training mode, unclamped"
    assert list(table.index) == [
        *LABELS[:3], "PSNR-RGB: study, SRGAN after 200 epochs (published)",
        f"PSNR-RGB: study protocol as run ({how})", "PSNR-RGB: as run − published", "PSNR-RGB: ours − published",
        LABELS[3], "MS-SSIM: study, SRGAN after 200 epochs (published)",
        f"MS-SSIM: study protocol as run ({how})", "MS-SSIM: as run − published", "MS-SSIM: ours − published",
        *LABELS[4:]]
    columns_ = ["mse", "res18_4", "hybrid_res18_4", "bicubic", "HR"]
    pd.testing.assert_frame_equal(table.iloc[3:7], _frame({
        "PSNR-RGB: study, SRGAN after 200 epochs (published)": [24.17, 20.21, NAN, NAN, NAN],
        f"PSNR-RGB: study protocol as run ({how})": [22.5, NAN, NAN, NAN, NAN],
        "PSNR-RGB: as run − published": [22.5 - 24.17, NAN, NAN, NAN, NAN],
        "PSNR-RGB: ours − published": [24.0 - 24.17, 17.5 - 20.21, NAN, NAN, NAN]}, columns_))
    pd.testing.assert_frame_equal(table.iloc[9:11], _frame({
        f"MS-SSIM: study protocol as run ({how})": [0.93, NAN, NAN, NAN, NAN],
        "MS-SSIM: as run − published": [0.93 - 0.9470, NAN, NAN, NAN, NAN]}, columns_))
    assert {k: v for k, v in table.attrs[DECIMALS].items() if k not in METRIC_DECIMALS} == {
        "PSNR-RGB: study, SRGAN after 200 epochs (published)": 2, f"PSNR-RGB: study protocol as run ({how})": 2,
        "PSNR-RGB: as run − published": 2, "PSNR-RGB: ours − published": 2,
        "MS-SSIM: study, SRGAN after 200 epochs (published)": 4, f"MS-SSIM: study protocol as run ({how})": 4,
        "MS-SSIM: as run − published": 4, "MS-SSIM: ours − published": 4}


@pytest.mark.parametrize(("set_name", "published_as"), [("Set5", None), ("Set5", ""), ("Set14x", "srresnet")])
def test_experiment_table_without_a_published_row_or_set_has_only_the_metric_rows(set_name: str,
                                                                                  published_as: str | None) -> None:
    columns = [_scored("srresnet", "mse", {set_name: _scores(28.0, 0.82, 24.0, 0.95, 6.0, 0.2, 0.97, 3.0)})]
    bicubic = _scored("bicubic", "bicubic", {set_name: {}}, "bicubic")
    table = experiment_table(columns, bicubic, 3.25, set_name, published_as)
    assert list(table.index) == LABELS and list(table.columns) == ["mse", "bicubic", "HR"]


# ---------------------------------------------------------------- the spread table


def test_spread_table_is_each_columns_sd_with_nan_where_there_is_none() -> None:
    """A column's sd per metric row; NaN for a metric without one, for a model of one seed (spread None) and for
    a model whose spread covers other sets only; float64 throughout; the metrics' decimals."""
    three = _scored("srresnet", "mse", {}, spread={"Set5": _scores(0.3, 0.002, 0.25, NAN, 0.1, 0.01, 0.02, 0.5)})
    one_seed = _scored("srresnet", "vgg19_5_4", {})
    elsewhere = _scored("srresnet", "res18_4", {}, spread={"Set14": _scores(1, 1, 1, 1, 1, 1, 1, 1)})
    table = spread_table([three, one_seed, elsewhere], "Set5")
    expected = _frame({label: [value, NAN, NAN] for label, value in
                       zip(LABELS, (0.3, 0.002, 0.25, NAN, 0.1, 0.01, 0.02, 0.5))}, ["mse", "vgg19_5_4", "res18_4"])
    pd.testing.assert_frame_equal(table, expected)
    assert table.attrs[DECIMALS] == METRIC_DECIMALS


def test_spread_table_of_no_columns_still_has_every_metric_row() -> None:
    table = spread_table([], "Set5")
    assert list(table.index) == LABELS and table.index.name == "metric" and table.shape == (8, 0)


# ---------------------------------------------------------------- markdown


def test_to_markdown_whole_table_with_decimals_signs_dashes_and_spreads() -> None:
    """Each row with its decimals (3 without), a difference row signed, NaN as '–', 'mean ± sd' where the spread
    table has a finite sd for that row and column, right-aligned value columns."""
    table = pd.DataFrame({"mse": {"A": 1.23456, "B": 2.5, "X: ours − published": -0.5},
                          "vgg": {"A": NAN, "B": 10.0, "X: ours − published": 0.26}})
    table.attrs[DECIMALS] = {"A": 2, "X: ours − published": 1}
    assert to_markdown(table) == "\n".join([
        "|                     |   mse |    vgg |",
        "|:--------------------|------:|-------:|",
        "| A                   |  1.23 |      – |",
        "| B                   | 2.500 | 10.000 |",
        "| X: ours − published |  -0.5 |   +0.3 |"])
    spread = pd.DataFrame({"mse": {"A": 0.1, "B": NAN}, "other": {"A": 5.0, "B": 5.0}})
    assert to_markdown(table, spread) == "\n".join([
        "|                     |         mse |    vgg |",
        "|:--------------------|------------:|-------:|",
        "| A                   | 1.23 ± 0.10 |      – |",
        "| B                   |       2.500 | 10.000 |",
        "| X: ours − published |        -0.5 |   +0.3 |"])


def test_to_markdown_of_the_experiment_and_spread_tables_of_one_and_several_seeds() -> None:
    """A one-seed column beside a three-seed one: no '±' for it (its spread column is NaN)."""
    three = _scored("srresnet", "mse", {"mini": _scores(27.5, 0.81, NAN, NAN, 6.5, NAN, NAN, NAN)},
                    spread={"mini": {"psnr_y_db": 0.3, "ssim_y": 0.00123}})
    one = _scored("srresnet", "vgg19_5_4", {"mini": _scores(26.0, 0.8, NAN, NAN, 5.25, NAN, NAN, NAN)})
    bicubic = _scored("bicubic", "bicubic", {"mini": {}}, "bicubic")
    text = to_markdown(experiment_table([three, one], bicubic, 3.5, "mini", None), spread_table([three, one], "mini"))
    assert text == "\n".join([
        "| metric                                   |             mse |   vgg19_5_4 |   bicubic |    HR |",
        "|:-----------------------------------------|----------------:|------------:|----------:|------:|",
        "| PSNR-Y (dB) ↑                            |    27.50 ± 0.30 |       26.00 |         – |     – |",
        "| SSIM-Y ↑                                 | 0.8100 ± 0.0012 |      0.8000 |         – |     – |",
        "| PSNR-RGB (dB, study protocol) ↑          |               – |           – |         – |     – |",
        "| MS-SSIM (study protocol) ↑               |               – |           – |         – |     – |",
        "| NIQE-Y ↓                                 |           6.500 |       5.250 |         – | 3.500 |",
        "| LPIPS-Alex ↓                             |               – |           – |         – |     – |",
        "| chroma ratio C*(SR)/C*(HR), 1 = faithful |               – |           – |         – |     – |",
        "| ΔE2000 ↓                                 |               – |           – |         – |     – |"])


# ---------------------------------------------------------------- colour fidelity


def test_colour_table_averages_each_family_per_run_in_order_of_first_appearance() -> None:
    """One row per (run, loss family): bicubic as its own family, the mean of the family's variants (a metric a
    variant lacks left out of its mean), runs in the order they first appear, families within a run likewise."""
    def model(experiment: str, variant: str, checkpoint: str, chroma: float, delta: float, **terms: float) -> Scored:
        return _scored(experiment, variant, {"Set5": _scores(*[NAN] * 6, chroma, delta), "Set14": {}}, checkpoint,
                       loss_terms=terms or {variant: 1.0})

    scored = [_scored("bicubic", "bicubic", {"Set5": _scores(*[NAN] * 6, 0.9, 5.0)}, "bicubic"),
              model("srresnet", "mse", "best", 0.97, 3.0),
              model("srresnet", "vgg19_5_4", "best", 0.85, 4.0),
              model("srresnet", "res18_4", "best", 0.95, 3.5),
              model("srresnet", "res34_3", "best", 0.99, NAN),
              model("srresnet", "hybrid_res18_4", "best", 1.0, 2.0, mse=0.7, res18_4=0.3),
              model("srgan", "mse", "epoch100", 1.0, 2.0),
              model("srgan", "mse", "epoch200", 1.02, 2.5),
              model("srgan", "vgg19_5_4", "epoch100", 1.2, 4.5),
              model("srgan", "vgg19_5_4", "epoch200", 1.3, 4.75)]
    expected = pd.DataFrame([
        ("bicubic", "bicubic", 0.9, 5.0),
        ("srresnet@best", "MSE", 0.97, 3.0), ("srresnet@best", "VGG", 0.85, 4.0),
        ("srresnet@best", "ResNet", (0.95 + 0.99) / 2, 3.5), ("srresnet@best", "ResNet + MSE", 1.0, 2.0),
        ("srgan@epoch100", "MSE", 1.0, 2.0), ("srgan@epoch100", "VGG", 1.2, 4.5),
        ("srgan@epoch200", "MSE", 1.02, 2.5), ("srgan@epoch200", "VGG", 1.3, 4.75),
    ], columns=["run", "family", "chroma_ratio", "delta_e00"])
    pd.testing.assert_frame_equal(colour_table(scored, "Set5"), expected)
    # A set without colour scores: every mean NaN, the rows as before.
    pd.testing.assert_frame_equal(colour_table(scored[1:], "Set14"), expected.iloc[1:].reset_index(drop=True).assign(
        chroma_ratio=NAN, delta_e00=NAN))


@pytest.mark.parametrize(("ratio", "words"), [
    (0.912, "desaturate (0.912)"), (0.979, "desaturate (0.979)"), (0.981, "keep HR's saturation (0.981)"),
    (1.0, "keep HR's saturation (1.000)"), (1.019, "keep HR's saturation (1.019)"),
    (1.021, "over-saturate (1.021)"), (1.474, "over-saturate (1.474)"),
])
def test_saturation_words_within_two_percent_of_one_keep_the_saturation(ratio: float, words: str) -> None:
    assert saturation_words(ratio) == words


@pytest.mark.parametrize(("vgg", "res", "verdict"), [
    (1.03, 1.019, "the VGG loss is further from HR's saturation, by 0.011"),
    (0.97, 1.021, "equally far from HR's saturation"),
    (1.019, 0.97, "the ResNet loss is further from HR's saturation, by 0.011"),
    (0.979, 1.03, "equally far from HR's saturation"),
])
def test_colour_sentence_calls_gaps_within_one_percent_equally_far(vgg: float, res: float, verdict: str) -> None:
    """|gap VGG − gap ResNet| within FAITHFUL_CHROMA / 2 = 0.01 is 'equally far' (no exact tie at 0.01 exists in
    floating point: the gaps of ratios in (0.5, 2) are multiples of 2**-53 and 0.01 is not)."""
    assert colour_sentence(vgg, res, "A", "B") == (f"A {saturation_words(vgg)}; B {saturation_words(res)}: "
                                                   f"{verdict}.")


def test_colour_sentences_compare_vgg_with_resnet_and_the_hybrids_with_each_other_per_run() -> None:
    """A sentence only where both families of a pair have a finite chroma ratio; pure losses first."""
    table = pd.DataFrame([
        ("bicubic", "bicubic", 0.9, 5.0),
        ("srresnet@best", "VGG + MSE", 0.95, 3.0), ("srresnet@best", "VGG", 0.85, 4.0),
        ("srresnet@best", "ResNet", 0.97, 3.5), ("srresnet@best", "ResNet + MSE", 0.99, 2.0),
        ("srgan@epoch200", "VGG", 1.3, 4.75), ("srgan@epoch200", "MSE", 1.02, 2.5),
        ("srgan@epoch300", "VGG", 1.3, 4.75), ("srgan@epoch300", "ResNet", NAN, 2.5),
        ("srgan@epoch400", "ResNet", 1.05, 2.5), ("srgan@epoch400", "VGG", 1.045, 4.0),
    ], columns=["run", "family", "chroma_ratio", "delta_e00"])
    assert colour_sentences(table, "Set14") == [
        "- **srresnet@best** on Set14: VGG-loss variants desaturate (0.850); ResNet-loss variants desaturate "
        "(0.970): the VGG loss is further from HR's saturation, by 0.120.",
        "- **srresnet@best** on Set14: VGG + MSE hybrids desaturate (0.950); ResNet + MSE hybrids keep HR's "
        "saturation (0.990): the VGG loss is further from HR's saturation, by 0.040.",
        "- **srgan@epoch400** on Set14: VGG-loss variants over-saturate (1.045); ResNet-loss variants over-saturate "
        "(1.050): equally far from HR's saturation.",
    ]


# ---------------------------------------------------------------- the headline table


def _headline_scored() -> list[Scored]:
    def model(experiment: str, variant: str, checkpoint: str, set5: tuple, set14: tuple | None = None,
              **fields) -> Scored:
        results = {"Set5": dict(zip(("psnr_y_db", "ssim_y", "niqe_y"), set5))}
        if set14 is not None:
            results["Set14"] = dict(zip(("psnr_y_db", "ssim_y", "niqe_y"), set14))
        return _scored(experiment, variant, results, checkpoint, **fields)

    return [model("bicubic", "bicubic", "bicubic", (26.1, 0.79, 7.2), (24.0, 0.7, 7.0)),
            model("srresnet", "mse", "best", (28.0, 0.82, 6.0), (25.5, 0.75, 5.5),
                  spread={"Set5": {"psnr_y_db": 0.3, "ssim_y": 0.00123}}),
            model("srresnet", "vgg19_5_4", "best", (27, 0.8, None)),
            model("srgan", "mse", "epoch100", (27.0, 0.8, 4.0), (25.0, 0.7, 4.5)),
            model("srgan", "mse", "epoch200", (27.25, 0.81, 3.75), (25.25, 0.71, 4.25),
                  spread={"Set5": {"psnr_y_db": NAN, "niqe_y": 0.125}, "Set14": {"ssim_y": 0.01}}),
            model("srgan", "res18_4", "epoch100", (26.0, 0.7, 3.0), (24.5, 0.65, 3.5)),
            model("srgan", "res18_4", "epoch200", (26.5, 0.75, 3.25), (NAN, 0.66, 3.0))]


def test_headline_models_are_bicubic_every_srresnet_and_each_srgans_last_checkpoint() -> None:
    scored = _headline_scored()
    assert headline_models(scored) == [scored[0], scored[1], scored[2], scored[4], scored[6]]


def test_headline_table_and_markdown_whole() -> None:
    """Each set's PSNR-Y, SSIM-Y and NIQE-Y with their decimals; 'mean ± sd' where the sd is finite; '–' for a
    set the model was not scored on, a NaN and a value that is not a number; HR with its NIQE only."""
    table = headline_table(_headline_scored(), ["Set5", "Set14"], {"Set5": 3.5, "Set14": 2.75})
    assert table.index.name == "model"
    assert headline_markdown(table) == "\n".join([
        "| model                     |   Set5 PSNR-Y (dB) |     Set5 SSIM-Y |   Set5 NIQE-Y |   Set14 PSNR-Y (dB) "
        "|    Set14 SSIM-Y |   Set14 NIQE-Y |",
        "|:--------------------------|-------------------:|----------------:|--------------:|--------------------:"
        "|----------------:|---------------:|",
        "| bicubic                   |              26.10 |          0.7900 |         7.200 |               24.00 "
        "|          0.7000 |          7.000 |",
        "| srresnet/mse (best)       |       28.00 ± 0.30 | 0.8200 ± 0.0012 |         6.000 |               25.50 "
        "|          0.7500 |          5.500 |",
        "| srresnet/vgg19_5_4 (best) |              27.00 |          0.8000 |             – |                   – "
        "|               – |              – |",
        "| srgan/mse (epoch200)      |              27.25 |          0.8100 | 3.750 ± 0.125 |               25.25 "
        "| 0.7100 ± 0.0100 |          4.250 |",
        "| srgan/res18_4 (epoch200)  |              26.50 |          0.7500 |         3.250 |                   – "
        "|          0.6600 |          3.000 |",
        "| HR                        |                  – |               – |         3.500 |                   – "
        "|               – |          2.750 |"])


def test_headline_markdown_keeps_the_decimals_of_an_all_numeric_column() -> None:
    """A column whose every cell is a plain number ('7.200', '6.000', '3.500'): tabulate would re-parse it and
    print 7.2, 6 and 3.5 unless number parsing is off."""
    scored = _headline_scored()[:2]
    table = headline_table(scored, ["Set14"], {"Set14": 3.5})
    assert headline_markdown(table).splitlines()[2:] == [
        "| bicubic             |               24.00 |         0.7000 |          7.000 |",
        "| srresnet/mse (best) |               25.50 |         0.7500 |          5.500 |",
        "| HR                  |                   – |              – |          3.500 |"]


def test_to_markdown_of_a_table_without_decimals_shows_three() -> None:
    table = _frame({"a": [1.0, 2.5], "b − published": [0.25, NAN]}, ["x", "y"])
    assert to_markdown(table).splitlines() == [
        "| metric        |      x |     y |",
        "|:--------------|-------:|------:|",
        "| a             |  1.000 | 2.500 |",
        "| b − published | +0.250 |     – |"]


def test_colour_table_keeps_family_order_within_each_run_beyond_sixteen_rows() -> None:
    """27 rows (3 runs x 9 families, interleaved): numpy's quicksort is stable only up to 16 elements (insertion
    sort), so an unstable sort by run would shuffle the families of a run."""
    mixes = [{"mse": 1.0}, {"l1": 1.0}, {"vgg19_5_4": 1.0}, {"res18_4": 1.0}, {"vgg19_5_4": 1.0, "mse": 1.0},
             {"vgg19_5_4": 1.0, "l1": 1.0}, {"res18_4": 1.0, "mse": 1.0}, {"res18_4": 1.0, "l1": 1.0},
             {"vgg19_5_4": 1.0, "res18_4": 1.0}]
    families = ["MSE", "L1", "VGG", "ResNet", "VGG + MSE", "VGG + L1", "ResNet + MSE", "ResNet + L1", "VGG + ResNet"]
    runs = [("srresnet", "best"), ("srgan", "epoch100"), ("srgan", "epoch200")]
    scored = [_scored(experiment, f"v{k}", {"Set5": {"chroma_ratio": 1.0 + k / 100, "delta_e00": float(k)}},
                      checkpoint, loss_terms=terms)
              for k, terms in enumerate(mixes) for experiment, checkpoint in runs]
    table = colour_table(scored, "Set5")
    assert list(zip(table["run"], table["family"])) == [(f"{e}@{c}", f) for e, c in runs for f in families]
    assert list(table["delta_e00"]) == [float(k) for _ in runs for k in range(9)]
