"""Which differences hold: each variant against its experiment's MSE baseline, and the hybrids
against each other, at every scored checkpoint, with the training seed as the unit
(`srgan.report.stats`: a t interval over seeds of each seed's mean difference over the test
images, Holm's correction within each family, a verdict with its reason, a planning figure).

`comparison_pairs` says what is compared, `difference_rows` computes it from the per-image table,
`differences_markdown` writes one table per experiment (a cell per metric: A − B, its interval and
its mark) and one sentence per comparison of PSNR-Y over all test sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import pandas as pd

from srgan.core.config import BASELINE_VARIANT
from srgan.core.metric_table import METRICS
from srgan.losses.terms import is_hybrid
from srgan.report.inputs import BICUBIC, Scored
from srgan.report.stats import (
    ALL_SETS,
    PairedDifference,
    compare_pairs,
    difference_cell,
    planning_text,
)
from srgan.report.tables import HEADLINE_METRICS

DIFFERENCE_METRICS = HEADLINE_METRICS  # the metrics of the report's headline table
SENTENCE_METRIC = "psnr_y_db"


def comparison_pairs(scored: Sequence[Scored]) -> list[tuple[str, str]]:
    """(A, B) run keys: per experiment, each variant against its MSE baseline, then every two hybrids."""
    runs = {s.run_name: s for s in scored if s.experiment != BICUBIC}
    pairs = []
    for experiment in dict.fromkeys(s.experiment for s in runs.values()):
        baseline = f"{experiment}/{BASELINE_VARIANT}"
        mine = [name for name, s in runs.items() if s.experiment == experiment and name != baseline]
        if baseline in runs:
            pairs += [(name, baseline) for name in mine]
        hybrids = [name for name in mine if is_hybrid(runs[name].loss_terms)]
        pairs += list(combinations(hybrids, 2))
    return pairs


def difference_rows(per_image: pd.DataFrame, scored: Sequence[Scored]) -> pd.DataFrame:
    """`srgan.report.stats.compare_pairs` over `comparison_pairs` and DIFFERENCE_METRICS (the metrics the
    table has values of): one row per (pair, checkpoint, set or ALL_SETS, metric), Holm-adjusted within
    each family (one metric at one checkpoint of one experiment, per set)."""
    metrics = [m for m in DIFFERENCE_METRICS if m in per_image.columns]
    return compare_pairs(per_image, comparison_pairs(scored), metrics)


def _diff(row: pd.Series) -> PairedDifference:
    """The record back from a row of `difference_rows` (or of differences.csv read with pandas)."""
    values = {name: row[name] for name in PairedDifference.__dataclass_fields__}
    values["reason"] = "" if not isinstance(values["reason"], str) else values["reason"]  # CSV: '' reads as NaN
    return PairedDifference(**values)


def _short(run: str) -> str:
    return run.split("/", 1)[1]


def differences_markdown(rows: pd.DataFrame, seeds: int) -> list[str]:
    """The report section's lines: what the numbers are, per experiment a table (a row per comparison and
    checkpoint, a column per metric, over all test sets), then one sentence per comparison of PSNR-Y with
    its planning figure."""
    if rows.empty:
        return ["No comparisons: the experiments have no variant besides their baseline."]
    pooled = rows[rows["set"] == ALL_SETS]
    tested = pooled[pooled["p_value"].notna()]
    families = tested.assign(experiment=tested["a"].str.split("/").str[0]).groupby(
        ["experiment", "checkpoint", "metric"]).ngroups
    lines = [
        "A − B over every test image (all test sets), the training seed as the unit: each seed's mean "
        "difference over the images, then a 95 % t interval over the seeds (paired by seed when both ran the "
        "same seeds); the test images are the fixed benchmark. ✔ A is better, ✘ A is worse; no verdict: · the "
        "interval holds 0, · Holm: not significant after Holm's correction, 1 seed: one training run per model "
        "cannot be told from training noise. Holm's correction runs within each family: one metric at one "
        "checkpoint of one experiment"
        + (f" (over all sets: {len(tested)} tests in {families} families)." if len(tested) else "."),
        "Per set, with raw and Holm-adjusted p: `differences.csv`.", ""]
    if seeds < 2:
        lines[0] += (" With one seed no comparison gets a verdict: two training runs differ by an offset every "
                     "test image shares, so the images cannot stand in for seeds (params `seeds` adds them).")
    for experiment in dict.fromkeys(a.split("/")[0] for a in pooled["a"]):
        lines += [experiment_markdown(rows, experiment), ""]
    lines += sentence_lines(rows)
    return lines


def experiment_markdown(rows: pd.DataFrame, experiment: str) -> str:
    """One experiment's comparisons over all test sets as a markdown table: a row per comparison and checkpoint,
    a column per metric, each cell A − B, its interval and its mark."""
    pooled = rows[(rows["set"] == ALL_SETS) & rows["a"].str.startswith(experiment + "/")]
    table: dict[str, dict[str, str]] = {}
    for _, row in pooled.iterrows():
        name = f"{_short(row['a'])} vs {_short(row['b'])} ({row['checkpoint']})"
        table.setdefault(name, {})[METRICS[row["metric"]].label] = difference_cell(_diff(row))
    frame = pd.DataFrame(table).T.fillna("–")
    frame.index.name = f"{experiment}: A vs B (checkpoint)"
    return frame.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(frame.columns))


def sentence_lines(rows: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """'- A vs B (checkpoint), PSNR-Y: <sentence>. Planning: <figure>.' (SENTENCE_METRIC) for every comparison
    over all sets (or the given (A, B) pairs), in the rows' order."""
    pooled = rows[(rows["set"] == ALL_SETS) & (rows["metric"] == SENTENCE_METRIC)]
    if pairs is not None:
        pooled = pooled[[(a, b) in set(pairs) for a, b in zip(pooled["a"], pooled["b"])]]
    label = METRICS[SENTENCE_METRIC].label
    return [f"- {row['a']} vs {row['b']} ({row['checkpoint']}), {label}: {row['sentence']}. "
            f"Planning: {planning_text(_diff(row))}." for _, row in pooled.iterrows()]
