"""The report's tables: one per experiment (and SRGAN checkpoint) and set, with the study's
published numbers beside ours where it reported them, and the colour-fidelity table.

Rows, labels, units, decimals and arrows come from the metric table (`srgan.core.metric_table`);
loss families from the loss-term table (`srgan.losses.terms.term_family`): VGG, ResNet, any other
torchvision model by its name, and their mixes with pixel terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from srgan.core.metric_table import CLOSER_TO_1, HIGHER, LOWER, METRICS, PAPER, PROTOCOLS, STUDY, keys_of
from srgan.core.records import ScoredCheckpoint
from srgan.losses.terms import term_family
from srgan.report.inputs import BICUBIC, Scored
from srgan.report.published import ROWS as PUBLISHED_ROWS
from srgan.report.published import published, reported_sets

_BETTER_MARK = {HIGHER: " ↑", LOWER: " ↓", CLOSER_TO_1: ", 1 = faithful"}  # after a row's label
DECIMALS = "decimals"  # a metric table's DataFrame.attrs entry: {row label: decimals}


def row_label(key: str) -> str:
    """A metric's row in the report's tables: its label, formula, unit and protocol when not the paper's, and
    which way is better: 'PSNR-Y (dB) ↑', 'MS-SSIM (study protocol) ↑', 'chroma ratio C*(SR)/C*(HR), 1 = faithful'."""
    metric = METRICS[key]
    notes = [metric.unit] if metric.unit else []
    if metric.protocol != PAPER:
        notes.append(PROTOCOLS[metric.protocol].name)
    text = f"{metric.label} {metric.formula}" if metric.formula else metric.label
    return text + (f" ({', '.join(notes)})" if notes else "") + _BETTER_MARK[metric.better]


def published_row(point: ScoredCheckpoint, points: Sequence[ScoredCheckpoint]) -> str | None:
    """The study's result row to show beside a table of `point`: SRResNet's (its best), or the SRGAN row
    after the same number of epochs (100, 200), else by position among the run's `points` (the first
    beside the study's 100 epochs, the last beside its 200)."""
    if point.kind == "best":
        return "srresnet"
    if point.unit == "epoch" and f"epoch{point.count}" in PUBLISHED_ROWS:
        return f"epoch{point.count}"
    if len(points) >= 2 and point in (points[0], points[-1]):
        return "epoch100" if point == points[0] else "epoch200"
    return None


def experiment_table(columns: Sequence[Scored], bicubic: Scored, hr_niqe: float, set_name: str,
                     published_as: str | None) -> pd.DataFrame:
    """Rows: each metric (`row_label`); under each study-protocol row (ours, as intended), when the study
    reported the set, its published value and our difference, and when the run was also scored the way the
    study's code scored (`Scored.as_run`), that value and its difference to the published one;
    columns: the variants, then bicubic and HR (NIQE only). `attrs[DECIMALS]`: each row's decimals, its
    metric's (what `to_markdown` shows)."""
    labels = {key: row_label(key) for key in METRICS}
    decimals = {labels[key]: metric.decimals for key, metric in METRICS.items()}
    data: dict[str, dict[str, float]] = {}
    for item in [*columns, bicubic]:
        data[item.variant] = {label: item.results[set_name].get(key, math.nan) for key, label in labels.items()}
    data["HR"] = {label: (hr_niqe if key == "niqe_y" else math.nan) for key, label in labels.items()}
    table = pd.DataFrame(data)
    order = list(labels.values())
    reported = bool(published_as) and set_name.lower() in reported_sets()
    as_run = next((c.as_run_scoring for c in columns if c.as_run is not None), None)
    for key in keys_of(STUDY):
        name = METRICS[key].label
        rows: dict[str, dict[str, float]] = {}
        theirs: dict[str, float] = {}
        if reported:
            theirs = {c.variant: published(set_name, published_as, key, c.variant) for c in columns}
            theirs = {v: (math.nan if x is None else x) for v, x in theirs.items()}
            rows[f"{name}: study, {PUBLISHED_ROWS[published_as]} (published)"] = theirs
        if as_run is not None:
            run_values = {c.variant: (c.as_run or {}).get(set_name, {}).get(key, math.nan) for c in columns}
            rows[f"{name}: study protocol as run ({as_run.words()})"] = run_values
            if reported:
                rows[f"{name}: as run − published"] = {v: run_values[v] - theirs[v] for v in run_values}
        if reported:
            rows[f"{name}: ours − published"] = {c.variant: c.results[set_name].get(key, math.nan) - theirs[c.variant]
                                                 for c in columns}
        at = order.index(labels[key]) + 1
        for label, values in rows.items():
            table.loc[label] = pd.Series(values)
            decimals[label] = METRICS[key].decimals
        order[at:at] = list(rows)
    table = table.loc[order]
    table.index.name = "metric"
    table.attrs[DECIMALS] = decimals
    return table


def spread_table(columns: Sequence[Scored], set_name: str) -> pd.DataFrame:
    """The standard deviation over seeds of each metric's value in `experiment_table` (its metric rows and
    variant columns; NaN where there is none; `attrs[DECIMALS]` as there)."""
    labels = {key: row_label(key) for key in METRICS}
    data = {item.variant: {label: (item.spread or {}).get(set_name, {}).get(key, math.nan)
                           for key, label in labels.items()} for item in columns}
    table = pd.DataFrame(data, index=list(labels.values()))
    table.index.name = "metric"
    table.attrs[DECIMALS] = {labels[key]: metric.decimals for key, metric in METRICS.items()}
    return table


def _cell(value: float, digits: int, sign: str = "", spread: float = math.nan) -> str:
    if not (isinstance(value, float) and math.isfinite(value)):
        return "–"
    text = f"{value:{sign}.{digits}f}"
    return f"{text} ± {spread:.{digits}f}" if math.isfinite(spread) else text


def to_markdown(table: pd.DataFrame, spread: pd.DataFrame | None = None) -> str:
    """The table (of `experiment_table` or `spread_table`) with each row's decimals (its `attrs[DECIMALS]`, else
    3); NaN as '–'; value columns right-aligned; a value with a finite standard deviation in `spread` (same row
    and column) as 'mean ± sd'."""
    decimals = table.attrs.get(DECIMALS, {})
    shown = table.copy().astype(object)
    for label in shown.index:
        digits = decimals.get(label, 3)
        sign = "+" if label.endswith("− published") else ""  # a difference shows its sign
        sds = [math.nan] * len(table.columns)
        if spread is not None and label in spread.index:
            sds = [spread.loc[label].get(column, math.nan) for column in table.columns]
        shown.loc[label] = [_cell(v, digits, sign, sd) for v, sd in zip(table.loc[label], sds)]
    # disable_numparse: tabulate would otherwise re-parse "25.00" as a number and print "25",
    # losing the row's decimals, and left-align the columns that hold a '–'.
    return shown.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(shown.columns))


COLOUR_METRICS = ("chroma_ratio", "delta_e00")  # colour fidelity: the colour table's columns


def colour_table(scored: Sequence[Scored], set_name: str) -> pd.DataFrame:
    """Mean chroma ratio and ΔE2000 (COLOUR_METRICS) per loss family (`term_family`) and experiment/checkpoint."""
    rows = []
    for item in scored:
        if item.experiment == BICUBIC:
            family, group = BICUBIC, BICUBIC
        else:
            family, group = term_family(item.loss_terms), f"{item.experiment}@{item.checkpoint}"
        rows.append({"run": group, "family": family,
                     **{key: item.results[set_name].get(key, math.nan) for key in COLOUR_METRICS}})
    frame = pd.DataFrame(rows)
    frame = frame.groupby(["run", "family"], sort=False).mean().reset_index()
    runs = list(dict.fromkeys(frame["run"]))
    return frame.sort_values("run", key=lambda col: col.map(runs.index), kind="stable").reset_index(drop=True)


FAITHFUL_CHROMA = 0.02  # |C* ratio - 1| within this: "keep HR's saturation" (a 2 % change of mean C*)


def saturation_words(ratio: float) -> str:
    """What a mean C* ratio SR/HR says: 'desaturate (0.912)', 'over-saturate (1.474)', 'keep HR's saturation (1.004)'."""
    if abs(ratio - 1.0) <= FAITHFUL_CHROMA:
        return f"keep HR's saturation ({ratio:.3f})"
    return f"{'desaturate' if ratio < 1 else 'over-saturate'} ({ratio:.3f})"


def colour_sentence(vgg: float, res: float, what: str, other: str) -> str:
    """One sentence comparing the mean C* ratios (SR/HR; 1 = faithful) of VGG- and ResNet-loss variants.

    Each family is described by the side of 1 it falls on (`saturation_words`); the one nearer 1 is
    the more faithful. The sentence follows the numbers: it never calls a ratio further from 1 "as
    faithful" or a ratio above 1 "desaturated".
    """
    head = f"{what} {saturation_words(vgg)}; {other} {saturation_words(res)}"
    gap_vgg, gap_res = abs(vgg - 1.0), abs(res - 1.0)
    if abs(gap_vgg - gap_res) <= FAITHFUL_CHROMA / 2:
        verdict = "equally far from HR's saturation"
    elif gap_vgg > gap_res:
        verdict = f"the VGG loss is further from HR's saturation, by {gap_vgg - gap_res:.3f}"
    else:
        verdict = f"the ResNet loss is further from HR's saturation, by {gap_res - gap_vgg:.3f}"
    return f"{head}: {verdict}."


def colour_sentences(table: pd.DataFrame, set_name: str) -> list[str]:
    """Measured sentences per run: do the VGG losses change colour saturation more than the ResNet losses
    (pure feature losses, and their mixes with MSE, compared separately)?"""
    out = []
    for run, group in table.groupby("run", sort=False):
        by_family = dict(zip(group["family"], group["chroma_ratio"]))
        for suffix, what, other in (("", "VGG-loss variants", "ResNet-loss variants"),
                                    (" + MSE", "VGG + MSE hybrids", "ResNet + MSE hybrids")):
            vgg, res = by_family.get("VGG" + suffix, math.nan), by_family.get("ResNet" + suffix, math.nan)
            if math.isfinite(vgg) and math.isfinite(res):
                out.append(f"- **{run}** on {set_name}: {colour_sentence(vgg, res, what, other)}")
    return out


# ---------------------------------------------------------------- the headline table

HEADLINE_METRICS = ("psnr_y_db", "ssim_y", "niqe_y")  # the paper protocol's two and NIQE (also the differences')


def headline_models(scored: Sequence[Scored]) -> list[Scored]:
    """Bicubic, every SRResNet at its scored checkpoint, every SRGAN at its last checkpoint."""
    last = {s.run_name: s for s in scored if s.experiment == "srgan"}  # scored in checkpoint order
    return [s for s in scored if s.experiment != "srgan" or last[s.run_name] is s]


def headline_table(scored: Sequence[Scored], sets: Sequence[str], hr_niqe: dict[str, float]) -> pd.DataFrame:
    """Rows: bicubic, each SRResNet (its best), each SRGAN (its last checkpoint), HR; columns: each set's
    HEADLINE_METRICS (PSNR-Y, SSIM-Y and NIQE-Y), formatted with their decimals ('–' where there is no value;
    'mean ± sd' over several seeds)."""

    def cells(results: dict[str, dict[str, float]], spread: dict[str, dict[str, float]]) -> dict[str, str]:
        out = {}
        for set_name in sets:
            for key in HEADLINE_METRICS:
                value = results.get(set_name, {}).get(key, math.nan)
                out[f"{set_name} {METRICS[key].label_unit}"] = (
                    _cell(float(value), METRICS[key].decimals, spread=spread.get(set_name, {}).get(key, math.nan))
                    if isinstance(value, (int, float)) else "–")
        return out

    rows: dict[str, dict[str, str]] = {}
    for item in headline_models(scored):
        name = BICUBIC if item.experiment == BICUBIC else f"{item.experiment}/{item.variant} ({item.checkpoint})"
        rows[name] = cells(item.results, item.spread or {})
    rows["HR"] = cells({set_name: {"niqe_y": hr_niqe[set_name]} for set_name in sets}, {})
    table = pd.DataFrame(rows).T
    table.index.name = "model"
    return table


def headline_markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(table.columns))
