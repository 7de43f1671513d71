"""The study's report: per evaluation set, one table for experiment 1 (SRResNet per content
loss) and one per SRGAN checkpoint (columns: the variants; rows: distortion, perceptual and
colour metrics, and where the study reported the set, its published numbers beside ours),
colour fidelity (VGG vs ResNet losses), the perception-distortion plane, visual grids
(GT | each variant | bicubic) and training / validation curves.

`build_report` reads every input (metrics, per-image scores, checkpoints, training
summaries and curves, test images) and runs every generator before anything is written;
`write_report` then builds the report folder atomically. Drawing lives in `srgan.figures`.
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
from typing import Any

import numpy as np
import pandas as pd

from srgan import figures
from srgan.artifacts import atomic_path, write_text_atomic
from srgan.config import ReportParams
from srgan.data import to_tensor, to_u8
from srgan.errors import SrganError
from srgan.images import bicubic_upscale, read_image
from srgan.infer import load_generator, super_resolve
from srgan.published import ROWS as PUBLISHED_ROWS
from srgan.published import published, reported_sets
from srgan.runtime import Runtime
from srgan.train_log import read_tsv_scalars

log = logging.getLogger(__name__)

GRID_MARGIN_LR_PX = 16  # LR context around a grid crop (see _sr_crop)

# metric key -> (row label, decimals); arrows say which way is better.
METRIC_ROWS = {
    "psnr_y_db": ("PSNR-Y (dB) ↑", 2),
    "ssim_y": ("SSIM-Y ↑", 4),
    "psnr_rgb_db": ("PSNR-RGB (dB, study protocol) ↑", 2),
    "ms_ssim_rgb": ("MS-SSIM (study protocol) ↑", 4),
    "niqe_y": ("NIQE-Y ↓", 3),
    "lpips_alex": ("LPIPS-Alex ↓", 4),
    "chroma_ratio": ("chroma ratio C*(SR)/C*(HR), 1 = faithful", 3),
    "delta_e00": ("ΔE2000 ↓", 2),
}

SRRESNET_CURVES = (
    figures.Curve("loss/content", "content loss (train)", smooth=True, log_y=True),
    figures.Curve("valid/psnr_y_db", "validation PSNR-Y (dB)", smooth=False),
    figures.Curve("valid/ssim_y", "validation SSIM-Y", smooth=False),
)
SRGAN_CURVES = (
    figures.Curve("loss/content", "generator content loss", smooth=True, log_y=True),
    figures.Curve("loss/adversarial", "adversarial loss  −log D(SR)", smooth=True),
    figures.Curve("loss/discriminator", "discriminator loss", smooth=True),
    figures.Curve("d/fake_prob", "D(SR): mean probability 'real'", smooth=True, ylim=(-0.02, 1.02)),
    figures.Curve("valid/psnr_y_db", "validation PSNR-Y (dB)", smooth=False),
    figures.Curve("valid/ssim_y", "validation SSIM-Y", smooth=False),
)


# ---------------------------------------------------------------- what the pipeline wrote


@dataclass(frozen=True)
class Scored:
    """One scored model: a column of the tables and a point of the perception-distortion plane."""

    experiment: str  # "bicubic" | "srresnet" | "srgan"
    variant: str  # the loss variant ("bicubic" for bicubic)
    checkpoint: str  # SRGAN checkpoint label ("step20", "epoch100"); "" otherwise
    results: dict[str, dict[str, float]]  # set -> {metric: mean}
    weights: Path | None  # the scored generator checkpoint; None for bicubic
    feature_weights: str  # which weights the feature extractors held
    loss_terms: str  # "mse: 0.6; vgg19_5_4: 0.4" ("" for bicubic)

    @property
    def name(self) -> str:
        """'bicubic', 'srresnet/mse', 'srgan/vgg19_5_4@epoch100'."""
        if self.experiment == "bicubic":
            return "bicubic"
        return f"{self.experiment}/{self.variant}" + (f"@{self.checkpoint}" if self.checkpoint else "")

    @property
    def metrics_name(self) -> str:
        """The per-image CSV's model key: 'bicubic', 'srresnet/mse', 'srgan/mse'."""
        return self.experiment if self.experiment == "bicubic" else f"{self.experiment}/{self.variant}"


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise SrganError(f"{what} {path} not found; run the stage that writes it (dvc repro) or check the path")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SrganError(f"{what} {path} is not valid JSON ({e}); re-run the stage that writes it") from None


def _sets_of(results: dict, sets: Sequence[str], path: Path) -> dict[str, dict[str, float]]:
    missing = [s for s in sets if s not in results]
    if missing:
        raise SrganError(f"metrics file {path} has no results for set '{missing[0]}'; re-run its evaluate stage")
    return {s: results[s] for s in sets}


def collect_scored(metrics_dir: Path, models_dir: Path, experiments: dict[str, Sequence[str]],
                   sets: Sequence[str]) -> list[Scored]:
    """Bicubic, then every (variant, checkpoint) of each experiment in params order.

    experiments: {"srresnet": variant names, "srgan": variant names}, baseline first.
    """
    path = metrics_dir / "bicubic.json"
    scored = [Scored("bicubic", "bicubic", "", _sets_of(_read_json(path, "metrics file"), sets, path), None, "", "")]
    for experiment, variants in experiments.items():
        for variant in variants:
            path = metrics_dir / experiment / f"{variant}.json"
            results = _read_json(path, "metrics file")
            run_dir = models_dir / experiment / variant
            summary = _read_json(run_dir / "summary.json", "training summary")
            for label, relative in summary["scored"].items():
                if label and label not in results:
                    raise SrganError(f"metrics file {path} has no results for checkpoint '{label}', which "
                                     f"{run_dir / 'summary.json'} lists; re-run its evaluate stage")
                per_set = results[label] if label else results
                weights = run_dir / relative
                if not weights.is_file():
                    raise SrganError(f"checkpoint {weights} not found; run the training stages (dvc repro)")
                scored.append(Scored(experiment, variant, label, _sets_of(per_set, sets, path), weights,
                                     results.get("feature_weights", ""), results.get("loss_terms", "")))
    return scored


def load_per_image(metrics_dir: Path, names: Sequence[str]) -> pd.DataFrame:
    """metrics/per_image/<name>.csv of each model key, stacked, with a leading `model` column."""
    frames = []
    for name in names:
        path = metrics_dir / "per_image" / f"{name}.csv"
        if not path.is_file():
            raise SrganError(f"per-image metrics {path} not found; run its evaluate stage (dvc repro)")
        # Image names such as DIV2K's "0801" and labels must stay text.
        frame = pd.read_csv(path, dtype={"set": str, "image": str, "checkpoint": str}, keep_default_na=False,
                            na_values=["", "NaN", "nan"])
        frame["checkpoint"] = frame["checkpoint"].fillna("")
        frames.append(frame.assign(model=name))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- tables


def _published_row(experiment: str, label: str, labels: Sequence[str]) -> str | None:
    """The study's result row to show beside a table: SRResNet, or the SRGAN checkpoint of the
    same label (epoch100, epoch200), else by position (first = after 100, last = after 200 epochs)."""
    if experiment == "srresnet":
        return "srresnet"
    if label in PUBLISHED_ROWS:
        return label
    if len(labels) >= 2 and label in (labels[0], labels[-1]):
        return "epoch100" if label == labels[0] else "epoch200"
    return None


def experiment_table(columns: Sequence[Scored], bicubic: Scored, hr_niqe: float, set_name: str,
                     published_row: str | None) -> pd.DataFrame:
    """Rows: METRIC_ROWS, and when the study reported the set, its published value and our
    difference right under each study-protocol row; columns: the variants, then bicubic and HR
    (NIQE only)."""
    data: dict[str, dict[str, float]] = {}
    for item in [*columns, bicubic]:
        data[item.variant] = {label: item.results[set_name].get(key, math.nan)
                              for key, (label, _) in METRIC_ROWS.items()}
    data["HR"] = {label: (hr_niqe if key == "niqe_y" else math.nan) for key, (label, _) in METRIC_ROWS.items()}
    table = pd.DataFrame(data)
    order = [label for label, _ in METRIC_ROWS.values()]
    if published_row and set_name.lower() in reported_sets():
        what = PUBLISHED_ROWS[published_row]
        for key in ("psnr_rgb_db", "ms_ssim_rgb"):
            name = METRIC_ROWS[key][0].split(" (")[0].split(" ↑")[0]
            theirs = {c.variant: published(set_name, published_row, key, c.variant) for c in columns}
            theirs = {v: (math.nan if x is None else x) for v, x in theirs.items()}
            rows = {f"{name}: study, {what} (published)": theirs,
                    f"{name}: ours − published": {c.variant: c.results[set_name].get(key, math.nan)
                                                  - theirs[c.variant] for c in columns}}
            at = order.index(METRIC_ROWS[key][0]) + 1
            for label, values in rows.items():
                table.loc[label] = pd.Series(values)
            order[at:at] = list(rows)
    table = table.loc[order]
    table.index.name = "metric"
    return table


def _digits(label: str) -> int:
    for row, digits in METRIC_ROWS.values():
        if label.startswith(row.split(" (")[0].split(" ↑")[0].split(" ↓")[0]):
            return digits
    return 3


def to_markdown(table: pd.DataFrame) -> str:
    """The table with each row's decimals (METRIC_ROWS); NaN as '–'; value columns right-aligned."""
    shown = table.copy().astype(object)
    for label in shown.index:
        digits = _digits(label)
        sign = "+" if label.endswith("ours − published") else ""  # a difference shows its sign
        shown.loc[label] = [f"{v:{sign}.{digits}f}" if isinstance(v, float) and math.isfinite(v) else "–"
                            for v in table.loc[label]]
    # disable_numparse: tabulate would otherwise re-parse "25.00" as a number and print "25",
    # losing the row's decimals, and left-align the columns that hold a '–'.
    return shown.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(shown.columns))


def term_family(loss_terms: str) -> str:
    """The loss family of a metrics 'loss_terms' line ('mse: 0.6; vgg19_5_4: 0.4'):
    'MSE', 'VGG', 'ResNet', 'VGG + MSE', 'ResNet + MSE' or 'other' (tv/ terms, mixes of backbones)."""
    terms = {t.split(":")[0].strip() for t in loss_terms.split(";") if t.strip()}
    features = terms - {"mse"}
    if not features:
        return "MSE"
    if all(t.startswith("vgg19_") for t in features):
        family = "VGG"
    elif all(re.fullmatch(r"res(18|34)_\d+", t) for t in features):
        family = "ResNet"
    else:
        return "other"
    return f"{family} + MSE" if "mse" in terms else family


def colour_table(scored: Sequence[Scored], set_name: str) -> pd.DataFrame:
    """Mean chroma ratio and ΔE2000 per loss family (`term_family`) and experiment/checkpoint."""
    rows = []
    for item in scored:
        if item.experiment == "bicubic":
            family, group = "bicubic", "bicubic"
        else:
            family = term_family(item.loss_terms)
            group = item.experiment + (f"@{item.checkpoint}" if item.checkpoint else "")
        rows.append({"run": group, "family": family,
                     "chroma_ratio": item.results[set_name].get("chroma_ratio", math.nan),
                     "delta_e00": item.results[set_name].get("delta_e00", math.nan)})
    frame = pd.DataFrame(rows)
    frame = frame.groupby(["run", "family"], sort=False).mean().reset_index()
    runs = list(dict.fromkeys(frame["run"]))
    return frame.sort_values("run", key=lambda col: col.map(runs.index), kind="stable").reset_index(drop=True)


def colour_sentences(table: pd.DataFrame, set_name: str) -> list[str]:
    """Measured sentences per run: do the VGG losses desaturate more than the ResNet losses
    (pure feature losses, and their mixes with MSE, compared separately)?"""
    out = []
    for run, group in table.groupby("run", sort=False):
        by_family = dict(zip(group["family"], group["chroma_ratio"]))
        for suffix, what in (("", "VGG-loss variants"), (" + MSE", "VGG + MSE hybrids")):
            vgg, res = by_family.get("VGG" + suffix, math.nan), by_family.get("ResNet" + suffix, math.nan)
            if not (math.isfinite(vgg) and math.isfinite(res)):
                continue
            verdict = "keep less of the HR chroma than" if vgg < res else "keep at least as much chroma as"
            other = "ResNet-loss variants" if not suffix else "ResNet + MSE hybrids"
            out.append(f"- **{run}** on {set_name}: {what} {verdict} {other} "
                       f"(mean C* ratio {vgg:.3f} vs {res:.3f}; 1 = HR's saturation).")
    return out


# ---------------------------------------------------------------- grids


@dataclass(frozen=True)
class GridImage:
    set_name: str
    name: str
    hr_u8: np.ndarray  # (H, W, 3)
    lr_u8: np.ndarray  # (H/scale, W/scale, 3)
    crop: figures.CropBox


def load_grid_image(entry: str, test_root: Path, scale: int, crop_px: int) -> GridImage:
    """`entry` is '<set>/<image>', or '<set>/#<k>' for the set's k-th image (0-based, manifest order)."""
    set_name, _, name = entry.partition("/")
    set_dir = test_root / set_name
    if name.startswith("#") and name[1:].isdigit():
        manifest = _read_json(set_dir / "manifest.json", "prepared set manifest")
        names = [e["name"] for e in manifest["images"]]
        if int(name[1:]) >= len(names):
            raise SrganError(f"params key 'report.grid_images' has '{entry}', but {set_name} has {len(names)} images")
        name = names[int(name[1:])]
    hr_path = set_dir / "HR" / f"{name}.png"
    if not hr_path.is_file():
        raise SrganError(f"params key 'report.grid_images' has '{entry}', but {hr_path} does not exist; "
                         "name an image of that prepared test set")
    hr_u8, _ = read_image(hr_path)
    lr_u8, _ = read_image(set_dir / "LR" / f"{name}.png")
    if hr_u8.shape[:2] != (lr_u8.shape[0] * scale, lr_u8.shape[1] * scale):
        raise SrganError(f"prepared image {set_dir}/{{HR,LR}}/{name}.png is not a x{scale} pair; re-run prepare")
    return GridImage(set_name, name, hr_u8, lr_u8, figures.most_detailed_crop(hr_u8, crop_px))


def _sr_crop(generator: Any, item: GridImage, scale: int, runtime: Runtime) -> np.ndarray:
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
    for item_model in scored:
        if item_model.weights is None:
            crops[item_model.name] = [item.crop.cut(bicubic_upscale(item.lr_u8, scale)).copy() for item in images]
            continue
        generator, _ = load_generator(item_model.weights, scale, runtime)
        crops[item_model.name] = [_sr_crop(generator, item, scale, runtime) for item in images]
    return crops


def _caption(per_image: pd.DataFrame, model: Scored, item: GridImage) -> str:
    rows = per_image[(per_image["model"] == model.metrics_name) & (per_image["checkpoint"] == model.checkpoint)
                     & (per_image["set"] == item.set_name) & (per_image["image"] == item.name)]
    if rows.empty:
        raise SrganError(f"per-image metrics of {model.name} have no row for {item.set_name}/{item.name}; "
                         "re-run its evaluate stage")
    row = rows.iloc[0]
    # NIQE on a line of its own: one line of all three is wider than a grid panel.
    niqe = f"\nNIQE {row['niqe_y']:.2f}" if "niqe_y" in row and math.isfinite(row["niqe_y"]) else ""
    return f"{row['psnr_y_db']:.2f} dB / {row['ssim_y']:.4f}{niqe}"


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
                 figure_list: Sequence[ReportFigure]) -> None:
    """Write the report folder atomically: index.md (sections in order, each section's figures
    after its text), every table as <name>.csv and <name>.md, and every figure at its path."""
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
        write_text_atomic(tmp / "index.md", "\n".join(lines) + "\n")


def _intro(scored: Sequence[Scored], lpips_status: str) -> list[str]:
    lines = [
        "Paper protocol: PSNR/SSIM on BT.601 Y, 8-bit rounded, border of `scale` px removed. "
        "Study protocol: PSNR on RGB in [0, 1] with no border removed, and MS-SSIM on RGB (the study's \"SSIM\"). "
        "NIQE (no reference, lower is better) on the Y channel with `scale` px shaved (PIRM 2018); LPIPS-Alex "
        "(lower is better) when AlexNet's ImageNet weights are in the torch cache; chroma ratio = mean CIELAB "
        "C* of SR over HR (below 1 = desaturated), ΔE2000 = mean colour difference to HR.",
        "",
        "Columns: the content-loss variants in params order, then bicubic and HR (HR has only NIQE: the "
        "natural-image reference). SRResNet is evaluated at its best validation PSNR-Y; each SRGAN at the "
        "checkpoint named in its table (the weights after that many steps or epochs).",
    ]
    if lpips_status != "ok":
        lines += ["", f"LPIPS-Alex: {lpips_status}. Put the file in the cache and rerun the evaluations "
                      "(`dvc repro -f -s <evaluate stage>`): DVC cannot see the torch cache."]
    if any("random" in s.feature_weights for s in scored):
        lines += ["", "**Warning:** some feature losses used randomly initialised extractors because ImageNet "
                      "weights were unavailable (offline); those columns illustrate the pipeline, not the study's "
                      "losses (see 'Feature-extractor weights' at the end)."]
    return lines


def build_report(
    *, metrics_dir: Path, models_dir: Path, plots_dir: Path, test_root: Path, out_dir: Path,
    experiments: dict[str, Sequence[str]], sets: Sequence[str], scale: int, report: ReportParams,
    runtime: Runtime,
) -> None:
    """Write the whole report to `out_dir` (see the module docstring).

    experiments: {"srresnet": [...], "srgan": [...]} variant names in report order
    (baseline first); sets: the test sets (params data.test keys). Every input is
    read and every generator run before anything is written, so a missing file
    raises SrganError naming it and leaves `out_dir` as it was.
    """
    scored = collect_scored(metrics_dir, models_dir, experiments, sets)
    bicubic = scored[0]
    hr = _read_json(metrics_dir / "hr.json", "metrics file")
    per_image = load_per_image(metrics_dir, list(dict.fromkeys(s.metrics_name for s in scored)))
    colors = figures.model_colors(["bicubic", *dict.fromkeys(v for vs in experiments.values() for v in vs)])
    groups = _groups(scored)
    srgan_labels = [label for _, (experiment, label), _ in groups if experiment == "srgan"]
    lpips_status = _read_json(metrics_dir / "bicubic.json", "metrics file").get("lpips_alex_status", "")
    sections: list[tuple[str, list[str]]] = [("# Results", _intro(scored, lpips_status))]
    tables: dict[str, pd.DataFrame] = {}
    figure_list: list[ReportFigure] = []
    for set_name in sets:
        hr_niqe = _sets_of(hr, [set_name], metrics_dir / "hr.json")[set_name].get("niqe_y", math.nan)
        text: list[str] = []
        for title, (experiment, label), columns in groups:
            table = experiment_table(columns, bicubic, hr_niqe, set_name,
                                     _published_row(experiment, label, srgan_labels))
            stem = _file_stem(f"{set_name}_{experiment}" + (f"_{label}" if label else ""))
            tables[stem] = table
            text += [f"### {title}", "", to_markdown(table), "", f"As CSV: [{stem}.csv]({stem}.csv)", ""]
        colour = colour_table(scored, set_name)
        tables[_file_stem(f"{set_name}_colour")] = colour
        text += ["### Colour fidelity: does the VGG loss desaturate, compared with the ResNet losses?", "",
                 colour.to_markdown(index=False, floatfmt=".3f"), "", *colour_sentences(colour, set_name), ""]
        count = bicubic.results[set_name]["images"]
        sections.append((f"## {set_name} ({count} images)", text))
        figure_list += _plane_figures(set_name, scored, hr_niqe, colors)
    figure_list += _grid_figures(report, test_root, scale, scored, groups, per_image, runtime)
    sections.append(("## Visual comparison", [
        "GT | each variant | bicubic, on the most detailed window of each image (nearest-neighbour zoom); "
        "under each name: PSNR-Y / SSIM-Y (and NIQE) of the whole image."]))
    figure_list += _curve_figures(plots_dir, experiments, colors)
    sections.append(("## Training and validation", [
        "Validation PSNR-Y / SSIM-Y of the averaged generator on the validation set at every validation point "
        "(★ best), and the training losses, per variant."]))
    runs = {s.metrics_name: s for s in scored if s.experiment != "bicubic"}  # one line per run, not per checkpoint
    sections.append(("## Feature-extractor weights", [f"- **{name}** ({s.loss_terms}): {s.feature_weights or 'n/a'}"
                                                      for name, s in runs.items()]))
    write_report(out_dir, sections, tables, figure_list)


def _groups(scored: Sequence[Scored]) -> list[tuple[str, tuple[str, str], list[Scored]]]:
    """(title, (experiment, checkpoint label), columns) of each results table, in report order."""
    out: dict[tuple[str, str], list[Scored]] = {}
    for item in scored:
        if item.experiment != "bicubic":
            out.setdefault((item.experiment, item.checkpoint), []).append(item)
    titles = {"srresnet": "Experiment 1: SRResNet per content loss (best validation PSNR-Y)",
              "srgan": "Experiment 2: SRGAN per content loss, from SRResNet-MSE, after {length}"}
    return [(titles[exp].format(length=_length(label)), (exp, label), cols) for (exp, label), cols in out.items()]


def _length(label: str) -> str:
    """'step20' -> '20 steps', 'epoch100' -> '100 epochs'."""
    m = re.fullmatch(r"(step|epoch)(\d+)", label)
    return f"{m[2]} {m[1]}{'' if m[2] == '1' else 's'}" if m else label


def _plane_figures(set_name: str, scored: Sequence[Scored], hr_niqe: float,
                   colors: dict[str, str]) -> list[ReportFigure]:
    points = pd.DataFrame(
        [{"label": s.name, "psnr_y_db": s.results[set_name].get("psnr_y_db", math.nan),
          "niqe_y": s.results[set_name].get("niqe_y", math.nan),
          "lpips_alex": s.results[set_name].get("lpips_alex", math.nan),
          "color_key": s.variant, "marker_key": f"{s.experiment}@{s.checkpoint}"} for s in scored]).set_index("label")
    # ● SRResNet, ■ bicubic; SRGAN checkpoints ▲ (last), ▼ ◆ ⬟ (earlier, latest first).
    labels = list(dict.fromkeys(s.checkpoint for s in scored if s.experiment == "srgan"))
    markers = {"bicubic@": "s", "srresnet@": "o",
               **{f"srgan@{label}": m for label, m in zip(reversed(labels), ("^", "v", "D", "p", "h", "*"))}}
    stem = _file_stem(set_name)
    out = [ReportFigure(
        f"## {set_name} ({scored[0].results[set_name]['images']} images)", f"figures/plane_niqe_{stem}.png",
        f"{set_name}: perception-distortion plane, PSNR-Y against NIQE (● SRResNet, ■ bicubic, SRGAN ▲ at its "
        "last checkpoint, ▼ at the one before; dashed: HR's NIQE)",
        partial(figures.labelled_scatter, points=points, x="psnr_y_db", y="niqe_y", x_label="PSNR-Y (dB) → better",
                y_label="NIQE-Y (lower = more natural)", colors=colors, markers=markers,
                hlines={"HR": hr_niqe} if math.isfinite(hr_niqe) else None,
                title=f"{set_name}: perception-distortion plane (Blau & Michaeli 2018)"))]
    if np.isfinite(points["lpips_alex"]).any():
        out.append(ReportFigure(
            out[0].section, f"figures/plane_lpips_{stem}.png", f"{set_name}: PSNR-Y against LPIPS-Alex",
            partial(figures.labelled_scatter, points=points, x="psnr_y_db", y="lpips_alex",
                    x_label="PSNR-Y (dB) → better", y_label="LPIPS-Alex (lower = closer to HR)", colors=colors,
                    markers=markers, title=f"{set_name}: PSNR-Y vs LPIPS-Alex")))
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
            run = experiment + (f"@{label}" if label else "")
            out.append(ReportFigure(
                "## Visual comparison",
                f"figures/grid_{_file_stem(item.set_name)}_{_file_stem(item.name)}_{_file_stem(run)}.png",
                f"{item.set_name}/{item.name}, {title}",
                partial(figures.comparison_grid, hr_u8=item.hr_u8, crop=item.crop, panels=panels,
                        title=f"{item.set_name}/{item.name}: {title}")))
    return out


def _curve_figures(plots_dir: Path, experiments: dict[str, Sequence[str]],
                   colors: dict[str, str]) -> list[ReportFigure]:
    out = []
    for experiment, curves, title in (("srresnet", SRRESNET_CURVES, "Experiment 1: SRResNet training"),
                                      ("srgan", SRGAN_CURVES, "Experiment 2: SRGAN fine-tuning")):
        runs = {}
        for variant in experiments.get(experiment, []):
            folder = plots_dir / experiment / variant
            scalars = read_tsv_scalars(folder)
            if not scalars:
                raise SrganError(f"no training curves (*.tsv) in {folder}; run the training stages (dvc repro)")
            runs[variant] = {tag: figures.ScalarSeries(np.array(steps, dtype=np.int64), np.array(values))
                             for tag, (steps, values) in scalars.items()}
        if runs:
            out.append(ReportFigure(
                "## Training and validation", f"figures/training_{experiment}.png", title,
                partial(figures.training_curves, runs=runs, curves=curves, title=title, colors=colors)))
    return out
