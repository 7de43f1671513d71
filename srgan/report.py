"""The study's report: tables (one per evaluation set, one column per model), figures, index.md.

`build_report` gathers the pipeline's outputs (metrics, per-image scores,
generator checkpoints, TensorBoard logs, prepared images), checks that all of
them exist before drawing anything, and hands the tables and the figure
writers to `write_report`, which builds the whole report folder atomically.
The drawing itself lives in `srgan.figures`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from srgan import figures
from srgan.artifacts import atomic_path, write_text_atomic
from srgan.config import ReportParams
from srgan.data import bicubic_upscale, read_image, to_tensor, to_u8
from srgan.errors import SrganError
from srgan.infer import load_generator, super_resolve
from srgan.runtime import Runtime

log = logging.getLogger(__name__)

ROW_LABELS = {
    "psnr_y_db": "PSNR-Y (dB)",
    "ssim_y": "SSIM-Y",
    "psnr_rgb_db": "PSNR-RGB (dB, study)",
    "ms_ssim_rgb": "MS-SSIM (study)",
}

SRRESNET_CURVES = (
    figures.Curve("loss/content", "content loss (train)", smooth=True, log_y=True),
    figures.Curve("valid/psnr_y_db", "validation PSNR-Y (dB)", smooth=False),
)
SRGAN_CURVES = (
    figures.Curve("loss/content", "generator content loss", smooth=True, log_y=True),
    figures.Curve("loss/adversarial", "adversarial loss  −log D(SR)", smooth=True),
    figures.Curve("loss/discriminator", "discriminator loss", smooth=True),
    figures.Curve("d/real_prob", "D(HR): mean probability 'real'", smooth=True, ylim=(-0.02, 1.02)),
    figures.Curve("d/fake_prob", "D(SR): mean probability 'real'", smooth=True, ylim=(-0.02, 1.02)),
    figures.Curve("valid/psnr_y_db", "validation PSNR-Y (dB)", smooth=False),
)


# ---------------------------------------------------------------- pipeline outputs


@dataclass(frozen=True)
class ModelOutputs:
    """Where the pipeline (dvc.yaml) puts one model's outputs."""

    name: str  # as in metrics/: bicubic, srresnet, srgan_<loss>
    checkpoint: Path | None  # None for bicubic
    log_dir: Path | None  # TensorBoard logs; None for bicubic


def pipeline_models(models_dir: Path, logs_dir: Path, losses: Sequence[str]) -> list[ModelOutputs]:
    """Bicubic, SRResNet, then one SRGAN per fine-tuning loss, in `losses` order."""
    return [
        ModelOutputs("bicubic", None, None),
        ModelOutputs("srresnet", models_dir / "srresnet" / "best.pt", logs_dir / "srresnet"),
        *(
            ModelOutputs(f"srgan_{loss}", models_dir / "srgan" / loss / "best.pt", logs_dir / "srgan" / loss)
            for loss in losses
        ),
    ]


def load_metrics(metrics_dir: Path, models: Sequence[str], sets: Sequence[str] = ()) -> dict[str, dict]:
    """Read metrics/<model>.json for each model name, in order; each must hold every set in `sets`."""
    results = {}
    for model in models:
        path = metrics_dir / f"{model}.json"
        if not path.is_file():
            raise SrganError(f"metrics file {path} not found; run the evaluate stages (dvc repro) or check the path")
        try:
            results[model] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SrganError(f"metrics file {path} is not valid JSON ({e}); re-run its evaluate stage") from None
        for set_name in sets:
            if set_name not in results[model]:
                raise SrganError(f"metrics file {path} has no results for set '{set_name}'; re-run its evaluate stage")
    return results


def load_per_image(metrics_dir: Path, models: Sequence[str]) -> pd.DataFrame:
    """metrics/per_image/<model>.csv of every model, stacked, with a leading `model` column."""
    frames = []
    for model in models:
        path = metrics_dir / "per_image" / f"{model}.csv"
        if not path.is_file():
            raise SrganError(f"per-image metrics {path} not found; run the evaluate stages (dvc repro) or check the path")
        # Image names such as DIV2K's "0801" must stay text.
        frame = pd.read_csv(path, dtype={"set": str, "image": str})
        missing = [c for c in ("set", "image", *ROW_LABELS) if c not in frame.columns]
        if missing:
            raise SrganError(f"per-image metrics {path} lack column '{missing[0]}'; re-run its evaluate stage")
        frames.append(frame.assign(model=model))
    per_image = pd.concat(frames, ignore_index=True)
    return per_image[["model", *[c for c in per_image.columns if c != "model"]]]


# ---------------------------------------------------------------- tables


def study_tables(results: dict[str, dict], sets: Sequence[str]) -> dict[str, pd.DataFrame]:
    """{set: DataFrame} with metric rows and one column per model (the study's layout)."""
    tables = {}
    for set_name in sets:
        table = pd.DataFrame(
            {model: {ROW_LABELS[k]: r[set_name][k] for k in ROW_LABELS} for model, r in results.items()}
        )
        table.index.name = "metric"
        tables[set_name] = table
    return tables


def _markdown(table: pd.DataFrame) -> str:
    fmt = table.copy().astype(object)
    for label in fmt.index:
        digits = 2 if "PSNR" in label else 4
        fmt.loc[label] = [f"{v:.{digits}f}" for v in table.loc[label]]
    return fmt.to_markdown()


def _set_scores(results: dict[str, dict], set_name: str) -> pd.DataFrame:
    """Index = model (results order), columns psnr_y_db and ssim_y: what the metric charts show."""
    scores = pd.DataFrame(
        [{"model": m, "psnr_y_db": r[set_name]["psnr_y_db"], "ssim_y": r[set_name]["ssim_y"]} for m, r in results.items()]
    )
    return scores.set_index("model").astype(float)


# ---------------------------------------------------------------- index.md and folder


@dataclass(frozen=True)
class ReportFigure:
    """One PNG of the report and where index.md shows it."""

    section: str  # an evaluation set's name (shown under its table) or a heading of its own
    path: str  # relative to the report folder, e.g. "figures/metrics_set5.png"
    caption: str  # alt text, also printed under the image
    draw: Callable[[Path], None]  # writes the PNG at the path it is given


def _figure_lines(fig: ReportFigure) -> list[str]:
    return [f"![{fig.caption}]({fig.path})", "", f"*{fig.caption}*", ""]


def write_report(
    results: dict[str, dict],
    sets: Sequence[str],
    out_dir: Path,
    notes: Sequence[str],
    figure_list: Sequence[ReportFigure] = (),
    per_image: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Write the report folder atomically and return the long table (model, set, metrics).

    <out_dir>/index.md: per set its table, CSV links and figures, then the
    other figure sections in order of first appearance, feature weights and notes.
    <out_dir>/<set>.csv and <set>.md: the tables; <set>_per_image.csv when
    `per_image` (load_per_image's frame) is given; each figure at its `path`.
    """
    tables = study_tables(results, sets)
    by_section: dict[str, list[ReportFigure]] = {}
    for fig in figure_list:
        by_section.setdefault(fig.section, []).append(fig)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        lines = ["# Results", ""]
        lines += [
            "Paper protocol: PSNR/SSIM on BT.601 Y, 8-bit rounded, border of `scale` px removed.",
            "Study protocol: PSNR on RGB in [0, 1] with no border removed, and MS-SSIM on RGB.",
            "",
        ]
        for set_name, table in tables.items():
            table.to_csv(tmp / f"{set_name}.csv", float_format="%.4f")
            (tmp / f"{set_name}.md").write_text(_markdown(table) + "\n", encoding="utf-8")
            count = next(iter(results.values()))[set_name]["images"]
            lines += [f"## {set_name} ({count} images)", "", _markdown(table), ""]
            links = [f"[{set_name}.csv]({set_name}.csv)"]
            if per_image is not None:
                set_rows = per_image[per_image["set"] == set_name]
                set_rows.to_csv(tmp / f"{set_name}_per_image.csv", index=False, float_format="%.4f")
                links.append(f"per image: [{set_name}_per_image.csv]({set_name}_per_image.csv)")
            lines += ["Tables as CSV: " + ", ".join(links), ""]
            for fig in by_section.get(set_name, []):
                lines += _figure_lines(fig)
        for section, figs in by_section.items():
            if section in tables:
                continue
            lines += [f"## {section}", ""]
            for fig in figs:
                lines += _figure_lines(fig)
        lines += ["## Feature-extractor weights used by each model", ""]
        lines += [f"- **{m}**: {r.get('feature_weights', 'n/a')}" for m, r in results.items()]
        lines += ["", *notes]
        for fig in figure_list:
            target = tmp / fig.path
            target.parent.mkdir(parents=True, exist_ok=True)
            fig.draw(target)
        write_text_atomic(tmp / "index.md", "\n".join(lines) + "\n")
    rows = [
        {"model": m, "set": s, **{k: r[s][k] for k in ROW_LABELS}} for m, r in results.items() for s in sets
    ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- comparison grids


@dataclass(frozen=True)
class GridImage:
    set_name: str
    name: str
    hr_u8: np.ndarray  # (H, W, 3)
    lr_u8: np.ndarray  # (H/scale, W/scale, 3)
    crop: figures.CropBox


def _load_grid_image(entry: str, prepared_dir: Path, sets: Sequence[str], scale: int, crop_px: int) -> GridImage:
    """`entry` is '<set>/<image>', or '<set>/#<k>' for the set's k-th image (0-based, manifest order)."""
    set_name, _, name = entry.partition("/")
    if not name or set_name not in sets:
        raise SrganError(
            f"params key 'report.grid_images' has '{entry}'; write '<set>/<image>' or '<set>/#<k>' with a set "
            f"from evaluate.sets ({', '.join(sets)})"
        )
    if name.startswith("#") and name[1:].isdigit():
        manifest = json.loads((prepared_dir / set_name / "manifest.json").read_text(encoding="utf-8"))
        names = [e["name"] for e in manifest["images"]]
        if int(name[1:]) >= len(names):
            raise SrganError(f"params key 'report.grid_images' has '{entry}', but {set_name} has {len(names)} images")
        name = names[int(name[1:])]
    hr_u8, _ = read_image(prepared_dir / set_name / "HR" / f"{name}.png")
    lr_u8, _ = read_image(prepared_dir / set_name / "LR" / f"{name}.png")
    if hr_u8.shape[:2] != (lr_u8.shape[0] * scale, lr_u8.shape[1] * scale):
        raise SrganError(f"prepared image {prepared_dir / set_name}/{{HR,LR}}/{name}.png is not a x{scale} pair; re-run prepare")
    return GridImage(set_name, name, hr_u8, lr_u8, figures.most_detailed_crop(hr_u8, crop_px))


def _grid_crops(
    images: Sequence[GridImage], models: Sequence[ModelOutputs], scale: int, runtime: Runtime
) -> list[dict[str, np.ndarray]]:
    """For each grid image, {model: its output's crop}; each generator is loaded once."""
    crops: list[dict[str, np.ndarray]] = [{} for _ in images]
    for model in models:
        generator = None
        if model.checkpoint is not None:
            generator, _ = load_generator(model.checkpoint, scale, runtime)
        for item, out in zip(images, crops):
            if generator is None:
                sr_u8 = bicubic_upscale(item.lr_u8, scale)
            else:
                sr_u8 = to_u8(super_resolve(generator, to_tensor(item.lr_u8)[None], runtime))
            out[model.name] = item.crop.cut(sr_u8).copy()
    return crops


def _grid_panels(item: GridImage, crops: dict[str, np.ndarray], per_image: pd.DataFrame, metrics_dir: Path) -> list[figures.GridPanel]:
    panels = [figures.GridPanel("HR (ground truth)", item.crop.cut(item.hr_u8), "reference")]
    for model, crop_u8 in crops.items():
        row = per_image[(per_image["model"] == model) & (per_image["set"] == item.set_name) & (per_image["image"] == item.name)]
        if row.empty:
            raise SrganError(
                f"per-image metrics {metrics_dir / 'per_image' / f'{model}.csv'} have no row for "
                f"{item.set_name}/{item.name}; re-run its evaluate stage"
            )
        caption = f"{row['psnr_y_db'].iloc[0]:.2f} dB / {row['ssim_y'].iloc[0]:.4f}"
        panels.append(figures.GridPanel(model, crop_u8, caption))
    return panels


def _file_stem(text: str) -> str:
    """A file name and markdown link target without spaces or odd characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# ---------------------------------------------------------------- the whole report


def _notes(results: dict[str, dict]) -> list[str]:
    if any("random" in str(r.get("feature_weights", "")) for r in results.values()):
        return [
            "**Warning:** some feature losses used randomly initialised extractors because ImageNet "
            "weights were unavailable (offline); their numbers are not the study's losses."
        ]
    return []


def build_report(
    *,
    metrics_dir: Path,
    models_dir: Path,
    logs_dir: Path,
    prepared_dir: Path,
    out_dir: Path,
    losses: Sequence[str],
    sets: Sequence[str],
    scale: int,
    report: ReportParams,
    runtime: Runtime,
) -> pd.DataFrame:
    """Write the full report (tables, comparison grids, training curves, metric charts) to `out_dir`.

    losses: finetune.losses (one SRGAN each, in that order); sets: evaluate.sets.
    Every input is read, and every generator run, before anything is written,
    so a missing file raises SrganError naming it and leaves `out_dir` as it was.
    Returns the long table (model, set, metrics).
    """
    models = pipeline_models(models_dir, logs_dir, losses)
    names = [m.name for m in models]
    colors = figures.model_colors(names)
    results = load_metrics(metrics_dir, names, sets)
    per_image = load_per_image(metrics_dir, names)
    for model in models:
        if model.checkpoint is not None and not model.checkpoint.is_file():
            raise SrganError(f"checkpoint {model.checkpoint} not found; run the training stages (dvc repro) or check the path")
    scalars = {m.name: figures.read_scalars(m.log_dir) for m in models if m.log_dir is not None}

    grid_images = [_load_grid_image(e, prepared_dir, sets, scale, report.crop_px) for e in report.grid_images]
    grid_crops = _grid_crops(grid_images, models, scale, runtime)
    figure_list = []
    for set_name in sets:
        scores = _set_scores(results, set_name)
        stem = _file_stem(set_name)
        figure_list += [
            ReportFigure(set_name, f"figures/metrics_{stem}.png",
                         f"PSNR-Y and SSIM-Y per model on {set_name} (dashed: bicubic)",
                         partial(figures.metric_bars, scores=scores, set_name=set_name, colors=colors)),
            ReportFigure(set_name, f"figures/scatter_{stem}.png", f"PSNR-Y vs SSIM-Y on {set_name}",
                         partial(figures.metric_scatter, scores=scores, set_name=set_name, colors=colors)),
        ]
    for item, crops in zip(grid_images, grid_crops):
        panels = _grid_panels(item, crops, per_image, metrics_dir)
        title = (
            f"{item.set_name}/{item.name}: {item.crop.size_px}×{item.crop.size_px} px HR crop, nearest-neighbour "
            "zoom; under each name: PSNR-Y / SSIM-Y of the whole image"
        )
        figure_list.append(ReportFigure(
            "Comparison grids", f"figures/grid_{_file_stem(item.set_name)}_{_file_stem(item.name)}.png",
            f"{item.set_name}/{item.name}: HR, bicubic, SRResNet and every SRGAN variant on the most detailed "
            f"{item.crop.size_px} px window",
            partial(figures.comparison_grid, hr_u8=item.hr_u8, crop=item.crop, panels=panels, title=title),
        ))
    figure_list.append(ReportFigure(
        "Training curves", "figures/training_srresnet.png",
        "SRResNet pretraining: training content loss and validation PSNR-Y",
        partial(figures.training_curves, runs={"srresnet": scalars["srresnet"]}, curves=SRRESNET_CURVES,
                title="SRResNet pretraining", colors=colors),
    ))
    srgan_runs = {m.name: scalars[m.name] for m in models if m.name.startswith("srgan_")}
    if srgan_runs:
        figure_list.append(ReportFigure(
            "Training curves", "figures/training_srgan.png",
            "SRGAN fine-tuning per content loss: losses, discriminator outputs and validation PSNR-Y",
            partial(figures.training_curves, runs=srgan_runs, curves=SRGAN_CURVES,
                    title="SRGAN fine-tuning", colors=colors),
        ))
    return write_report(results, sets, out_dir, _notes(results), figure_list, per_image)
