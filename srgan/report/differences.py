"""Which differences hold: each variant against its experiment's MSE baseline, and the hybrids
against each other, at every scored checkpoint, paired over test images and seeds
(`srgan.report.stats`: a 95 % bootstrap interval of the mean difference over images and seeds,
and a verdict from it).

`comparison_pairs` says what is compared, `difference_rows` computes it from the per-image table,
`differences_markdown` writes one table per experiment (a cell per metric: A − B, its interval and
✔ / ✘ / ·) and one sentence per comparison of PSNR-Y over all test sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import pandas as pd

from srgan.core.config import BASELINE_VARIANT
from srgan.losses.terms import term_family
from srgan.report.inputs import BICUBIC, Scored
from srgan.report.stats import (
    ALL_SETS,
    METRICS,
    MIN_UNITS_FOR_VERDICT,
    PairedDifference,
    compare_pairs,
    difference_cell,
)

DIFFERENCE_METRICS = ("psnr_y_db", "ssim_y", "niqe_y")  # the headline metrics
SENTENCE_METRIC = "psnr_y_db"


def is_hybrid(terms: dict[str, float]) -> bool:
    """A mix of pixel MSE and a feature loss ('VGG + MSE')."""
    return term_family(terms).endswith(" + MSE")


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


def difference_rows(per_image: pd.DataFrame, scored: Sequence[Scored], *, resamples: int | None = None,
                    bootstrap_seed: int = 0) -> pd.DataFrame:
    """`srgan.report.stats.compare_pairs` over `comparison_pairs` and DIFFERENCE_METRICS (the metrics the
    table has values of): one row per (pair, checkpoint, set or ALL_SETS, metric)."""
    metrics = [m for m in DIFFERENCE_METRICS if m in per_image.columns]
    kwargs = {} if resamples is None else {"resamples": resamples}
    return compare_pairs(per_image, comparison_pairs(scored), metrics, bootstrap_seed=bootstrap_seed, **kwargs)


def _diff(row: pd.Series) -> PairedDifference:
    return PairedDifference(**{name: row[name] for name in PairedDifference.__dataclass_fields__})


def _short(run: str) -> str:
    return run.split("/", 1)[1]


def differences_markdown(rows: pd.DataFrame, seeds: int) -> list[str]:
    """The report section's lines: per experiment a table (a row per comparison and checkpoint, a column per
    metric, over all test sets), then one sentence per comparison of PSNR-Y."""
    if rows.empty:
        return ["No comparisons: the experiments have no variant besides their baseline."]
    pooled = rows[rows["set"] == ALL_SETS]
    noise = ("The interval resamples images and seeds, so it holds the seed-to-seed spread." if seeds > 1 else
             "With one seed the interval sees image-to-image noise only, not the seed spread: run more seeds "
             "(params `seeds`) before trusting a small difference.")
    lines = [
        f"A − B over every test image{' and seed' if seeds > 1 else ''} (all test sets), with its 95 % "
        "bootstrap interval: ✔ A is better, ✘ A is worse, · not distinguishable from noise (the interval holds "
        f"0, or fewer than {MIN_UNITS_FOR_VERDICT} image × seed pairs: 3 images that agree by chance 1 time "
        f"in 4 get no verdict). {noise}",
        "Per set: `differences.csv`.", ""]
    for experiment in dict.fromkeys(a.split("/")[0] for a in pooled["a"]):
        mine = pooled[pooled["a"].str.startswith(experiment + "/")]
        table: dict[str, dict[str, str]] = {}
        for _, row in mine.iterrows():
            name = f"{_short(row['a'])} vs {_short(row['b'])} ({row['checkpoint']})"
            table.setdefault(name, {})[METRICS[row["metric"]].label] = difference_cell(_diff(row))
        frame = pd.DataFrame(table).T.fillna("–")
        frame.index.name = f"{experiment}: A vs B (checkpoint)"
        lines += [frame.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(frame.columns)), ""]
    for _, row in pooled[pooled["metric"] == SENTENCE_METRIC].iterrows():
        lines.append(f"- {row['a']} vs {row['b']} ({row['checkpoint']}), PSNR-Y: {row['sentence']}")
    return lines
