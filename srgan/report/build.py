"""The study's report folder: per evaluation set, one table for experiment 1 (SRResNet per content
loss) and one per SRGAN checkpoint (`srgan.report.tables`; mean ± sd over seeds when there are
several), which differences hold (`srgan.report.differences`), colour fidelity (VGG vs ResNet
losses), the perception-distortion planes, visual grids (GT | each variant | bicubic) and training /
validation curves (`srgan.report.figures`), and the per-image scores of every run and seed
(per_image.csv, what `srgan compare` reads).

`build_report` reads every input (`srgan.report.inputs`) and runs every generator before anything
is written; `write_report` then builds the report folder atomically.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from srgan.core.artifacts import atomic_path, write_text_atomic
from srgan.core.config import ReportParams
from srgan.core.errors import SrganError
from srgan.core.images import bicubic_upscale
from srgan.core.metric_table import METRICS, PROTOCOLS
from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor, to_u8
from srgan.inference.generator import load_generator, super_resolve
from srgan.losses.terms import RANDOM_WEIGHTS, WEIGHTS_NONE
from srgan.report import figures
from srgan.report.curves import CHARTS, curve_table, write_curve_table
from srgan.report.differences import difference_rows, differences_markdown
from srgan.report.figures import ScalarSeries
from srgan.report.inputs import (
    BICUBIC,
    GridImage,
    Scored,
    collect_scored,
    load_curves,
    load_grid_image,
    load_per_image,
    read_hr_niqe,
    read_lpips_status,
)
from srgan.report.metrics_files import FULL_DIR, full_files, headline_files, write_json_folder
from srgan.report.tables import (
    HEADLINE_METRICS,
    colour_sentences,
    colour_table,
    experiment_table,
    headline_markdown,
    headline_table,
    published_row,
    row_label,
    spread_table,
    to_markdown,
)

log = logging.getLogger(__name__)

GRID_MARGIN_LR_PX = 16  # LR context around a grid crop (see _sr_crop)
HEADLINE_FILE = "headline.md"  # the headline table alone, as the README shows it
PER_IMAGE_FILE = "per_image.csv"  # every run's and seed's per-image scores (srgan compare reads it from git)
DIFFERENCES_FILE = "differences.csv"

VALID_METRICS = ("psnr_y_db", "ssim_y")  # what validation scores during training (srgan.training.validation)
CAPTION_METRICS = ("psnr_y_db", "ssim_y", "niqe_y")  # under each panel of a grid: distortion, then NIQE
_VALID_CURVES = tuple(figures.Curve(f"valid/{key}", f"validation {METRICS[key].label_unit}", smooth=False)
                      for key in VALID_METRICS)
SRRESNET_CURVES = (
    figures.Curve("loss/content", "content loss (train)", smooth=True, log_y=True),
    *_VALID_CURVES,
)
SRGAN_CURVES = (
    figures.Curve("loss/content", "generator content loss", smooth=True, log_y=True),
    figures.Curve("loss/adversarial", "adversarial loss  −log D(SR)", smooth=True),
    figures.Curve("loss/discriminator", "discriminator loss", smooth=True),
    figures.Curve("d/fake_prob", "D(SR): mean probability 'real'", smooth=True, ylim=(-0.02, 1.02)),
    *_VALID_CURVES,
)
EXPERIMENT_TITLES = {"srresnet": "Experiment 1: SRResNet per content loss",
                     "srgan": "Experiment 2: SRGAN per content loss, from SRResNet-MSE"}


def loss_mix(terms: dict[str, float]) -> str:
    """'mse: 0.6; vgg19_5_4: 0.4', for display."""
    return "; ".join(f"{term}: {weight:g}" for term, weight in terms.items())


def describe_feature_weights(feature_weights: dict[str, str]) -> str:
    """One line: which weights each feature term used."""
    parts = [f"{term}: {used}" for term, used in feature_weights.items() if used != WEIGHTS_NONE]
    return "; ".join(parts) if parts else "none (pixel loss only)"


# ---------------------------------------------------------------- grids


def _sr_crop(generator: nn.Module, item: GridImage, scale: int, runtime: Runtime) -> np.ndarray:
    """The crop of the generator's output, computed on an LR window around it (not the whole image).

    The window reaches GRID_MARGIN_LR_PX past the crop. A trained generator's output hardly
    depends on farther pixels: on the sample profile's SRResNet-MSE and SRGAN-VGG, 16 LR px gave
    crops byte-identical to the whole image's (8 px: at most 1/255 off), at a quarter of the
    cost of the theoretical receptive field (8 + 2 * num_blocks = 40 LR px for 16 blocks).
    """
    margin = min(GRID_MARGIN_LR_PX, 8 + 2 * generator.num_blocks)
    crop, (h, w) = item.crop, item.lr_u8.shape[:2]
    top, left = max(0, crop.top // scale - margin), max(0, crop.left // scale - margin)
    bottom = min(h, -(-(crop.top + crop.size_px) // scale) + margin)
    right = min(w, -(-(crop.left + crop.size_px) // scale) + margin)
    window = item.lr_u8[top:bottom, left:right]
    sr_u8 = to_u8(super_resolve(generator, to_tensor(window)[None], runtime))
    dy, dx = crop.top - top * scale, crop.left - left * scale
    return sr_u8[dy : dy + crop.size_px, dx : dx + crop.size_px].copy()


def grid_crops(images: Sequence[GridImage], scored: Sequence[Scored], scale: int,
               runtime: Runtime) -> dict[str, list[np.ndarray]]:
    """{model name: its crop of each grid image}; each generator is loaded once."""
    crops: dict[str, list[np.ndarray]] = {}
    for model in scored:
        if model.weights is None:
            crops[model.name] = [item.crop.cut(bicubic_upscale(item.lr_u8, scale)).copy() for item in images]
            continue
        generator, _ = load_generator(model.weights, scale, runtime)
        crops[model.name] = [_sr_crop(generator, item, scale, runtime) for item in images]
    return crops


def _caption(per_image: pd.DataFrame, model: Scored, item: GridImage) -> str:
    rows = per_image[(per_image["model"] == model.run_name) & (per_image["checkpoint"] == model.checkpoint)
                     & (per_image["set"] == item.set_name) & (per_image["image"] == item.name)
                     & (per_image["seed"] == (model.seeds[0] if model.seeds else 0))]
    if rows.empty:
        raise SrganError(f"per-image metrics of {model.name} have no row for {item.set_name}/{item.name}; "
                         "re-run its evaluate stage")
    row = rows.iloc[0]

    def value(key: str) -> str:
        metric = METRICS[key]
        return f"{row[key]:.{metric.decimals}f}" + (f" {metric.unit}" if metric.unit else "")

    *distortion, perceptual = CAPTION_METRICS
    # NIQE on a line of its own: one line of all three is wider than a grid panel.
    last = (f"\n{METRICS[perceptual].label} {value(perceptual)}"
            if perceptual in row and math.isfinite(row[perceptual]) else "")
    return " / ".join(value(key) for key in distortion) + last


# ---------------------------------------------------------------- the report folder


@dataclass(frozen=True)
class ReportFigure:
    """One PNG of the report and where index.md shows it."""

    section: str  # heading it appears under
    path: str  # relative to the report folder, e.g. "figures/plane_set5.png"
    caption: str  # alt text, also printed under the image
    draw: Callable[[Path], None]  # writes the PNG at the path it is given


def _file_stem(text: str) -> str:
    """A file name and markdown link target without spaces or odd characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def write_report(out_dir: Path, sections: Sequence[tuple[str, list[str]]], tables: dict[str, pd.DataFrame],
                 figure_list: Sequence[ReportFigure], curves: dict[str, pd.DataFrame] | None = None,
                 texts: dict[str, str] | None = None) -> None:
    """Write the report folder atomically: index.md (sections in order, each section's figures
    after its text), every table as <name>.csv and <name>.md, every figure at its path, every
    curve table (`srgan.report.curves`) and every other text file at its relative path."""
    by_section: dict[str, list[ReportFigure]] = {}
    for fig in figure_list:
        by_section.setdefault(fig.section, []).append(fig)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        lines: list[str] = []
        for heading, text in sections:
            lines += [heading, "", *text, ""] if heading else [*text, ""]
            for fig in by_section.get(heading, []):
                lines += [f"![{fig.caption}]({fig.path})", "", f"*{fig.caption}*", ""]
        for name, table in tables.items():
            table.to_csv(tmp / f"{name}.csv", float_format="%.4f")
            text = to_markdown(table) if table.index.name == "metric" else table.to_markdown(floatfmt=".3f")
            (tmp / f"{name}.md").write_text(text + "\n", encoding="utf-8")
        for fig in figure_list:
            target = tmp / fig.path
            target.parent.mkdir(parents=True, exist_ok=True)
            fig.draw(target)
        for relative, table in (curves or {}).items():
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            write_curve_table(tmp / relative, table)
        for relative, text in (texts or {}).items():
            write_text_atomic(tmp / relative, text)
        write_text_atomic(tmp / "index.md", "\n".join(lines) + "\n")


def _intro(scored: Sequence[Scored], lpips_status: str) -> list[str]:
    lines = [
        " ".join(f"{p.name.capitalize()}: {p.what}." for p in PROTOCOLS.values()) + " Rows (↑ higher is better, "
        "↓ lower is better; paper protocol unless the row says otherwise): "
        + "; ".join(f"{row_label(key)}: {metric.what}" for key, metric in METRICS.items()) + ".",
        "",
        "Columns: the content-loss variants in params order, then bicubic and HR (HR has only NIQE: the "
        f"natural-image reference). SRResNet is evaluated at its best validation {METRICS['psnr_y_db'].label}; "
        "each SRGAN at the checkpoint named in its table (the weights after that many steps or epochs).",
    ]
    seeds = next((s.seeds for s in scored if s.seeds), ())
    if len(seeds) > 1:
        lines += ["", f"Every run was trained once per seed ({', '.join(map(str, seeds))}): each value is the mean "
                      "over the seeds of each seed's mean over the set's images, ± the sample standard deviation "
                      f"over seeds. Grids and the training figures show seed {seeds[0]}; `dvc plots show` draws "
                      "every seed."]
    else:
        lines += ["", f"One seed ({seeds[0] if seeds else 0}) per run: a difference of a few tenths of a dB "
                      "between variants may be seed noise (see 'Differences and their noise'; params `seeds` "
                      "adds replicates)."]
    as_run = next((s.as_run_scoring for s in scored if s.as_run is not None), None)
    if as_run is not None:
        lines += ["", f"**Study protocol as run** rows: the study protocol as the content-loss study's code scored "
                      f"({as_run.words()}; params `study_code`), beside ours as intended (the study-protocol "
                      "rows above them) and the study's published numbers: what separates the published table "
                      "from ours is what these rows show (docs/study.md: \"Reproducing the published table\")."]
    if lpips_status != "ok":
        lines += ["", f"{METRICS['lpips_alex'].label}: {lpips_status}. Put the file in the cache and rerun the "
                      "evaluations (`dvc repro -f -s <evaluate stage>`): DVC cannot see the torch cache."]
    if any(used in RANDOM_WEIGHTS for s in scored for used in s.feature_weights.values()):
        lines += ["", "**Warning:** some feature losses used randomly initialised extractors because ImageNet "
                      "weights were unavailable (offline); those columns illustrate the pipeline, not the study's "
                      "losses (see 'Feature-extractor weights' at the end)."]
    return lines


def _groups(scored: Sequence[Scored]) -> list[tuple[str, tuple[str, str], list[Scored]]]:
    """(title, (experiment, checkpoint label), columns) of each results table, in report order."""
    out: dict[tuple[str, str], list[Scored]] = {}
    for item in scored:
        if item.experiment != BICUBIC:
            out.setdefault((item.experiment, item.checkpoint), []).append(item)
    return [(f"{EXPERIMENT_TITLES[exp]} ({cols[0].point.words()})", (exp, label), cols)
            for (exp, label), cols in out.items()]


def build_report(
    *, evaluation_dir: Path, models_dir: Path, plots_dir: Path, test_root: Path, out_dir: Path, metrics_dir: Path,
    experiments: dict[str, Sequence[str]], sets: Sequence[str], scale: int, report: ReportParams,
    runtime: Runtime, seeds: Sequence[int] = (0,),
) -> None:
    """Write the whole report to `out_dir` and the git-tracked metrics to `metrics_dir` (see the module
    docstring and `srgan.report.metrics_files`).

    experiments: {"srresnet": [...], "srgan": [...]} variant names in report order
    (baseline first); sets: the test sets (params data.test keys); seeds: params `seeds`. Every input is
    read and every generator run before anything is written, so a missing file
    raises SrganError naming it and leaves `out_dir` and `metrics_dir` as they were.
    """
    scored = collect_scored(evaluation_dir, models_dir, experiments, sets, seeds)
    bicubic = scored[0]
    hr_niqe = read_hr_niqe(evaluation_dir, sets)
    per_image = load_per_image(evaluation_dir, list(dict.fromkeys(s.run_name for s in scored)), seeds)
    curves = {experiment: load_curves(plots_dir, experiment, variants, seeds)
              for experiment, variants in experiments.items() if variants}
    first_seed_curves = {experiment: load_curves(plots_dir, experiment, variants, seeds[:1])
                         for experiment, variants in experiments.items() if variants}
    differences = difference_rows(per_image, scored)
    colors = figures.model_colors([BICUBIC, *dict.fromkeys(v for vs in experiments.values() for v in vs)])
    groups = _groups(scored)
    srgan_points = [columns[0].point for _, (experiment, _), columns in groups if experiment == "srgan"]
    sections: list[tuple[str, list[str]]] = [("# Results", _intro(scored, read_lpips_status(evaluation_dir)))]
    headline = headline_table(scored, sets, hr_niqe)
    sections.append(("## Headline", [" / ".join(METRICS[key].label for key in HEADLINE_METRICS)
                                     + " of every scored model" + (" (mean ± sd over seeds)" if len(seeds) > 1 else "")
                                     + "; the full tables per set follow.", "", headline_markdown(headline)]))
    sections.append(("## Differences and their noise", differences_markdown(differences, len(seeds))))
    tables: dict[str, pd.DataFrame] = {}
    figure_list: list[ReportFigure] = []
    for set_name in sets:
        text: list[str] = []
        for title, (experiment, label), columns in groups:
            table = experiment_table(columns, bicubic, hr_niqe[set_name], set_name,
                                     published_row(columns[0].point, srgan_points))
            spread = spread_table(columns, set_name) if len(seeds) > 1 else None
            stem = _file_stem(f"{set_name}_{experiment}_{label}")
            tables[stem] = table
            if spread is not None:
                tables[f"{stem}_sd"] = spread
            text += [f"### {title}", "", to_markdown(table, spread), "", f"As CSV: [{stem}.csv]({stem}.csv)"
                     + (f", standard deviations over seeds: [{stem}_sd.csv]({stem}_sd.csv)" if spread is not None
                        else ""), ""]
        colour = colour_table(scored, set_name)
        tables[_file_stem(f"{set_name}_colour")] = colour
        text += ["### Colour fidelity: does the VGG loss desaturate, compared with the ResNet losses?", "",
                 colour.to_markdown(index=False, floatfmt=".3f"), "", *colour_sentences(colour, set_name), ""]
        section = f"## {set_name} ({bicubic.results[set_name]['images']} images)"
        sections.append((section, text))
        figure_list += _plane_figures(section, set_name, scored, hr_niqe[set_name], colors)
    figure_list += _grid_figures(report, test_root, scale, scored, groups, per_image, runtime)
    sections.append(("## Visual comparison", [
        "GT | each variant | bicubic, on the most detailed window of each image (nearest-neighbour zoom); "
        f"under each name: {' / '.join(METRICS[key].label for key in CAPTION_METRICS[:-1])} (and "
        f"{METRICS[CAPTION_METRICS[-1]].label}) of the whole image."]))
    figure_list += _curve_figures(first_seed_curves, colors)
    sections.append(("## Training and validation", [
        f"Validation {' / '.join(METRICS[key].label for key in VALID_METRICS)} of the averaged generator on the "
        "validation set at every validation point (★ best), and the training losses, per variant. `dvc plots show` "
        "draws the same curves, every run of an experiment on one chart per quantity, from `curves/` (`dvc plots "
        "diff <commit>` compares runs across commits)."]))
    runs = {s.run_name: s for s in scored if s.experiment != BICUBIC}  # one line per run, not per checkpoint
    sections.append(("## Feature-extractor weights", [
        f"- **{name}** ({loss_mix(s.loss_terms)}): {describe_feature_weights(s.feature_weights)}"
        for name, s in runs.items()]))
    curve_tables = {chart.file: curve_table(chart, {v: {tag: (series.steps, series.values)
                                                         for tag, series in tags.items()}
                                                     for v, tags in curves.get(chart.experiment, {}).items()})
                    for chart in CHARTS}
    texts = {HEADLINE_FILE: headline_markdown(headline) + "\n",
             PER_IMAGE_FILE: per_image_csv(per_image),
             DIFFERENCES_FILE: differences.to_csv(index=False, float_format="%.4f", lineterminator="\n")}
    texts.update({f"{FULL_DIR}/{relative}": json.dumps(data, indent=2) + "\n"
                  for relative, data in full_files(scored, sets).items()})
    write_report(out_dir, sections, tables, figure_list, curve_tables, texts)
    write_json_folder(metrics_dir, headline_files(scored, hr_niqe, sets))


def per_image_csv(per_image: pd.DataFrame) -> str:
    """The per-image scores of every run and seed as CSV text: model, seed, then the evaluation records'
    columns (4 decimals); `srgan compare` reads it back (`srgan.report.compare`)."""
    first = ["model", "seed"]
    columns = first + [c for c in per_image.columns if c not in first]
    return per_image[columns].to_csv(index=False, float_format="%.4f", lineterminator="\n")


def _plane_figures(section: str, set_name: str, scored: Sequence[Scored], hr_niqe: float,
                   colors: dict[str, str]) -> list[ReportFigure]:
    """PSNR-Y against NIQE (and LPIPS when there is any): one panel per experiment, bicubic in each."""
    bicubic = next(s for s in scored if s.experiment == BICUBIC)
    labels = list(dict.fromkeys(s.checkpoint for s in scored if s.experiment == "srgan"))
    # ● SRResNet, ■ bicubic; SRGAN checkpoints ▲ (last), ▼ ◆ ⬟ (earlier, latest first).
    markers = {"srresnet": {"best": "o"}, "srgan": dict(zip(reversed(labels), ("^", "v", "D", "p", "h", "*")))}
    stem = _file_stem(set_name)
    out = []
    psnr = METRICS["psnr_y_db"]
    for y, meaning, name in (("niqe_y", "more natural", "niqe"), ("lpips_alex", "closer to HR", "lpips")):
        metric = METRICS[y]
        y_label = f"{metric.label} ({metric.better} = {meaning})"  # 'NIQE-Y (lower = more natural)'
        panels = []
        for experiment in ("srresnet", "srgan"):
            items = [s for s in scored if s.experiment == experiment]
            if not items:
                continue
            points = [figures.PlanePoint(s.variant if experiment == "srresnet" else f"{s.variant}@{s.checkpoint}",
                                         s.results[set_name].get("psnr_y_db", math.nan),
                                         s.results[set_name].get(y, math.nan), colors[s.variant],
                                         markers[experiment].get(s.checkpoint, "o")) for s in items]
            points.append(figures.PlanePoint(BICUBIC, bicubic.results[set_name].get("psnr_y_db", math.nan),
                                             bicubic.results[set_name].get(y, math.nan), colors[BICUBIC], "s"))
            panels.append(figures.PlanePanel(EXPERIMENT_TITLES[experiment], tuple(points)))
        if not any(math.isfinite(p.y) for panel in panels for p in panel.points):
            continue  # e.g. LPIPS offline
        hlines = {"HR": hr_niqe} if name == "niqe" and math.isfinite(hr_niqe) else {}
        out.append(ReportFigure(
            section, f"figures/plane_{name}_{stem}.png",
            f"{set_name}: perception-distortion plane, {psnr.label} against {metric.label} (● SRResNet, "
            "■ bicubic, SRGAN ▲ at its last checkpoint, ▼ at the one before" + ("; dashed: HR's NIQE)" if hlines
                                                                                 else ")"),
            partial(figures.perception_distortion_plane, panels=panels, x_label=f"{psnr.label_unit} → better",
                    y_label=y_label, hlines=hlines,
                    title=f"{set_name}: perception-distortion plane (Blau & Michaeli 2018)")))
    return out


def _grid_figures(report: ReportParams, test_root: Path, scale: int, scored: Sequence[Scored],
                  groups: list, per_image: pd.DataFrame, runtime: Runtime) -> list[ReportFigure]:
    images = [load_grid_image(entry, test_root, scale, report.crop_px) for entry in report.grid_images]
    crops = grid_crops(images, scored, scale, runtime)
    bicubic = scored[0]
    out = []
    for i, item in enumerate(images):
        for title, (experiment, label), columns in groups:
            panels = [figures.GridPanel("HR (ground truth)", item.crop.cut(item.hr_u8), "reference")]
            panels += [figures.GridPanel(c.variant, crops[c.name][i], _caption(per_image, c, item))
                       for c in [*columns, bicubic]]
            out.append(ReportFigure(
                "## Visual comparison",
                f"figures/grid_{_file_stem(item.set_name)}_{_file_stem(item.name)}_{experiment}_{_file_stem(label)}.png",
                f"{item.set_name}/{item.name}, {title}",
                partial(figures.comparison_grid, hr_u8=item.hr_u8, crop=item.crop, panels=panels,
                        title=f"{item.set_name}/{item.name}: {title}")))
    return out


def _curve_figures(curves: dict[str, dict[str, dict[str, ScalarSeries]]],
                   colors: dict[str, str]) -> list[ReportFigure]:
    out = []
    for experiment, curves_, title in (("srresnet", SRRESNET_CURVES, "Experiment 1: SRResNet training"),
                                       ("srgan", SRGAN_CURVES, "Experiment 2: SRGAN fine-tuning")):
        runs = curves.get(experiment)
        if runs:
            out.append(ReportFigure(
                "## Training and validation", f"figures/training_{experiment}.png", title,
                partial(figures.training_curves, runs=runs, curves=curves_, title=title, colors=colors)))
    return out
