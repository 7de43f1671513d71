"""Tests for srgan.report and srgan.report.figures: the report folder built from a tiny fake pipeline output
(both experiments, two SRGAN checkpoints, two test sets one of which the study reported), the
automatic crop choice, the grid crops, and clear errors for missing inputs."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import runpy
import shutil
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from srgan.core.config import ReportParams
from srgan.core.declared import run_folder
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    AsRunScoring,
    BaselineEvaluation,
    RunEvaluation,
    read_run_evaluation,
    write_baseline_evaluation,
    write_run_evaluation,
)
from srgan.core.records import ScoredCheckpoint
from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor, to_u8
from srgan.datasets.prepared import write_prepared_set
from srgan.inference.generator import load_generator, save_generator, super_resolve
from srgan.nets.srresnet import SRResNet
from srgan.report.build import build_report, grid_crops
from srgan.report.curves import CHARTS
from srgan.report.figures import (
    CropBox,
    PlanePanel,
    PlanePoint,
    _plane_panel,
    _spread,
    bulk_range,
    most_detailed_crop,
    perception_distortion_plane,
    smooth,
)
from srgan.report.inputs import GridImage, Scored
from srgan.report.metrics_files import model_metrics
from srgan.report.tables import colour_sentence, published_row

ROOT = Path(__file__).resolve().parents[2]
SCALE = 4
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Two test sets: `set5` is one the study reported (its numbers appear beside ours), `mini` is not.
# "0801"/"0802" must stay text when the per-image CSVs are read back.
SETS = {"set5": ("baby", "0801"), "mini": ("ppt3", "0802")}
EXPERIMENTS = {"srresnet": ("mse", "vgg19_5_4", "res18_4"), "srgan": ("mse", "hybrid_vgg19_5_4", "res34_3")}
SRGAN_LABELS = ("epoch100", "epoch200")
GRID_IMAGES = ("set5/baby", "mini/#1")  # "#1": the set's second image in manifest order, 0802
GRID_NAMES = (("set5", "baby"), ("mini", "0802"))
CHROMA = {"mse": 0.97, "vgg19_5_4": 0.85, "hybrid_vgg19_5_4": 0.91, "res18_4": 0.95, "res34_3": 0.99}


# ---------------------------------------------------------------- the fake pipeline output


def _models() -> list[tuple[str, str, str]]:
    """(experiment, variant, checkpoint label) of every scored model, bicubic first."""
    out = [("bicubic", "bicubic", "bicubic")]
    for experiment, variants in EXPERIMENTS.items():
        labels = SRGAN_LABELS if experiment == "srgan" else ("best",)
        out += [(experiment, variant, label) for variant in variants for label in labels]
    return out


def _means(k: int, set_name: str, experiment: str, variant: str) -> dict[str, float]:
    """Set means of model number k: distinct, exactly representable, and LPIPS only on set5."""
    s = list(SETS).index(set_name)
    means = {"psnr_y_db": 24.0 + k + 0.5 * s, "ssim_y": 0.70 + k / 100, "psnr_rgb_db": 20.0 + k + 0.25 * s,
             "ms_ssim_rgb": 0.90 + k / 200, "niqe_y": 7.5 - k / 4, "chroma_ratio": CHROMA.get(variant, 1.0),
             "delta_e00": 2.0 + k / 10}
    if set_name == "set5":
        means["lpips_alex"] = 0.40 - k / 50
    return means


def _expected_means() -> dict[tuple[str, str, str, str], dict[str, float]]:
    """{(experiment, variant, label, set): the means the fake metrics files hold}."""
    return {(e, v, label, s): _means(k, s, e, v) for k, (e, v, label) in enumerate(_models()) for s in SETS}


def _hr_image(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth gradient with a noisy patch: something for the crop finder to find."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full((h, w), 90)], axis=-1).astype(np.uint8)
    img[8:24, 30:46] = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return img


def _per_image_rows(means: dict[str, float], set_name: str, label: str) -> list[dict]:
    """One row per image whose mean over the set is `means` (psnr_y_db spread ±0.5)."""
    rows = []
    for i, image in enumerate(SETS[set_name]):
        row = {"checkpoint": label, "set": set_name, "image": image, "gray": False, **means}
        row["psnr_y_db"] = means["psnr_y_db"] + (0.5 if i == 0 else -0.5)
        rows.append(row)
    return rows


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _write_tsv(folder: Path, tag: str, steps: range, values: list[float]) -> None:
    """What srgan.training.log writes: <plots>/<tag>.tsv with the columns step and the tag's last part."""
    path = folder / f"{tag}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"step\t{tag.rsplit('/', 1)[-1]}"] + [f"{s}\t{v:.6g}" for s, v in zip(steps, values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_curves(folder: Path, experiment: str, k: int) -> None:
    steps = range(1, 61)
    _write_tsv(folder, "loss/content", steps, [1.0 / s + 0.01 * (s % 3) + k / 100 for s in steps])
    if experiment == "srgan":
        _write_tsv(folder, "loss/adversarial", steps, [0.7 + 0.1 * math.sin(s) for s in steps])
        _write_tsv(folder, "loss/discriminator", steps, [1.3 - s / 100 for s in steps])
        _write_tsv(folder, "d/fake_prob", steps, [0.5 - s / 200 for s in steps])
    valid = range(10, 61, 10)
    _write_tsv(folder, "valid/psnr_y_db", valid, [22.0 + k + s / 30 for s in valid])
    _write_tsv(folder, "valid/ssim_y", valid, [0.6 + s / 300 for s in valid])


def _loss_terms(variant: str) -> dict[str, float]:
    if variant == "bicubic":
        return {}
    if variant == "mse":
        return {"mse": 1.0}
    if variant.startswith("hybrid_"):
        return {"mse": 0.6, variant.removeprefix("hybrid_"): 0.4}
    return {variant: 1.0}


def _feature_weights(variant: str) -> dict[str, str]:
    return {t: ("none" if t == "mse" else "random") for t in _loss_terms(variant)}


def _points(experiment: str) -> tuple[ScoredCheckpoint, ...]:
    """What a run of `experiment` scores, as training records it: SRResNet its best, SRGAN its two points."""
    if experiment == "srresnet":
        return (ScoredCheckpoint("best", "best.pt", 10, "step", 20),)
    return tuple(ScoredCheckpoint("point", f"{label}/last.pt", 5 * int(label[5:]), "epoch", int(label[5:]))
                 for label in SRGAN_LABELS)


def _write_run(models_dir: Path, experiment: str, variant: str, k: int, seed: int) -> tuple[ScoredCheckpoint, ...]:
    """A training run's folder: the tiny checkpoints it scores; returns what it scores."""
    run_dir = models_dir / run_folder(experiment, variant, seed)
    for i, point in enumerate(_points(experiment)):
        torch.manual_seed(k * 10 + i + 1000 * seed)
        save_generator(run_dir / point.file, SRResNet(scale=SCALE, num_blocks=2, channels=8), experiment=experiment,
                       variant=variant)
    return _points(experiment)


SEED_STEP_DB = 0.3  # seed s's PSNR-Y is 0.3 * s dB above seed 0's, for every image of every run


def fake_pipeline(root: Path, seeds: tuple[int, ...] = (0,)) -> dict[str, Path]:
    """What `dvc repro` leaves behind, in miniature: test sets, runs, curves, evaluation records (the
    report writes `metrics`). Seed s's runs score seed 0's numbers, PSNR-Y + SEED_STEP_DB * s."""
    dirs = {k: root / k for k in ("evaluation", "metrics", "models", "plots")}
    dirs["test_root"] = root / "data" / "prepared" / "test"
    for s, (set_name, names) in enumerate(SETS.items()):
        write_prepared_set(dirs["test_root"] / set_name,
                           [(name, _hr_image(48, 64, 10 * s + i), False, None) for i, name in enumerate(names)],
                           SCALE, "test")
    evaluation_dir = dirs["evaluation"]
    means = _expected_means()
    frames: dict[str, list[dict]] = {}
    scores: dict[str, dict] = {}
    files: dict[str, dict[str, str]] = {}
    for k, (experiment, variant, label) in enumerate(_models()):
        name = "bicubic" if experiment == "bicubic" else f"{experiment}/{variant}"
        if experiment != "bicubic" and label in ("best", SRGAN_LABELS[0]):
            for seed in seeds:
                files[name] = _write_run(dirs["models"], experiment, variant, k, seed)
                _write_curves(dirs["plots"] / run_folder(experiment, variant, seed), experiment, k)
        scores.setdefault(name, {})[label] = {s: {**means[(experiment, variant, label, s)], "images": len(SETS[s])}
                                              for s in SETS}
        for s in SETS:
            frames.setdefault(name, []).extend(_per_image_rows(means[(experiment, variant, label, s)], s, label))
    for name, by_label in scores.items():
        if name == "bicubic":
            write_baseline_evaluation(evaluation_dir / "bicubic.json",
                                      BaselineEvaluation("bicubic", "ok", by_label["bicubic"]))
            pd.DataFrame(frames[name]).to_csv(evaluation_dir / "bicubic.csv", index=False, float_format="%.4f")
            continue
        experiment, variant = name.split("/")
        for seed in seeds:
            shifted = {label: {s: {**m, "psnr_y_db": m["psnr_y_db"] + SEED_STEP_DB * seed} for s, m in sets.items()}
                       for label, sets in by_label.items()}
            stem = evaluation_dir / run_folder(experiment, variant, seed)
            write_run_evaluation(stem.with_suffix(".json"), RunEvaluation(
                experiment, variant, seed, _loss_terms(variant), _feature_weights(variant), "ok", files[name],
                shifted))
            rows = pd.DataFrame(frames[name])
            rows["psnr_y_db"] += SEED_STEP_DB * seed
            rows.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4f")
    write_baseline_evaluation(evaluation_dir / "hr.json",
                              BaselineEvaluation("hr", "n/a", {s: {"niqe_y": 5.25, "images": 2} for s in SETS}))
    return dirs


def build(dirs: dict[str, Path], out_dir: Path, grid_images: tuple[str, ...] = GRID_IMAGES,
          seeds: tuple[int, ...] = (0,)) -> None:
    build_report(
        evaluation_dir=dirs["evaluation"], models_dir=dirs["models"], plots_dir=dirs["plots"],
        test_root=dirs["test_root"], out_dir=out_dir, metrics_dir=dirs["metrics"],
        experiments={e: list(v) for e, v in EXPERIMENTS.items()}, sets=list(SETS), scale=SCALE,
        report=ReportParams(grid_images=grid_images, crop_px=16), runtime=CPU, seeds=seeds,
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    build(fake_pipeline(root), root / "report")
    return root / "report"


@pytest.fixture(scope="module")
def index(report_dir: Path) -> str:
    return (report_dir / "index.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- reading index.md back


def _section(index: str, heading: str) -> str:
    """The text under a '## ' heading, up to the next '## ' heading."""
    start = index.index(heading + "\n")
    end = index.find("\n## ", start + len(heading))
    return index[start : end if end >= 0 else len(index)]


def _table(text: str, title: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(column names, {row label: {column: cell}}) of the markdown table under '### title'."""
    lines = text[text.index(f"### {title}\n") :].splitlines()[2:]  # skip the heading and the blank line
    table_lines = []
    for line in lines:
        if not line.startswith("|"):
            break
        table_lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = table_lines[0], table_lines[2:]  # table_lines[1] is the alignment line
    return header[1:], {row[0]: dict(zip(header[1:], row[1:])) for row in body}


def _title(experiment: str, label: str) -> str:
    if experiment == "srresnet":
        return "Experiment 1: SRResNet per content loss (best validation PSNR-Y)"
    return f"Experiment 2: SRGAN per content loss, from SRResNet-MSE (after {label.removeprefix('epoch')} epochs)"


# ---------------------------------------------------------------- the report's contents


@pytest.mark.parametrize("set_name", list(SETS))
@pytest.mark.parametrize("experiment, label", [("srresnet", "best"), *(("srgan", lab) for lab in SRGAN_LABELS)])
def test_one_table_per_experiment_and_checkpoint_with_variants_in_order(index: str, report_dir: Path, set_name: str,
                                                                        experiment: str, label: str) -> None:
    section = _section(index, f"## {set_name} (2 images)")
    columns, rows = _table(section, _title(experiment, label))
    assert columns == [*EXPERIMENTS[experiment], "bicubic", "HR"]
    expected = _expected_means()
    for variant in EXPERIMENTS[experiment]:
        means = expected[(experiment, variant, label, set_name)]
        assert rows["PSNR-Y (dB) ↑"][variant] == f"{means['psnr_y_db']:.2f}"
        assert rows["SSIM-Y ↑"][variant] == f"{means['ssim_y']:.4f}"
        assert rows["PSNR-RGB (dB, study protocol) ↑"][variant] == f"{means['psnr_rgb_db']:.2f}"
        assert rows["MS-SSIM (study protocol) ↑"][variant] == f"{means['ms_ssim_rgb']:.4f}"
        assert rows["NIQE-Y ↓"][variant] == f"{means['niqe_y']:.3f}"
        assert rows["ΔE2000 ↓"][variant] == f"{means['delta_e00']:.2f}"
    bicubic = expected[("bicubic", "bicubic", "bicubic", set_name)]
    assert rows["PSNR-Y (dB) ↑"]["bicubic"] == f"{bicubic['psnr_y_db']:.2f}"
    # HR has only NIQE: its PSNR is infinite, its SSIM 1.
    assert rows["NIQE-Y ↓"]["HR"] == "5.250" and rows["PSNR-Y (dB) ↑"]["HR"] == "–"
    lpips = rows["LPIPS-Alex ↓"]
    if set_name == "set5":
        assert lpips["mse"] == f"{expected[(experiment, 'mse', label, set_name)]['lpips_alex']:.4f}"
    else:
        assert set(lpips.values()) == {"–"}
    stem = f"{set_name}_{experiment}_{label}"
    assert f"[{stem}.csv]({stem}.csv)" in section
    csv = pd.read_csv(report_dir / f"{stem}.csv", index_col="metric")
    assert list(csv.columns) == columns


# The study's published numbers (BRIEF §1), under its protocol: PSNR-RGB and MS-SSIM.
@pytest.mark.parametrize("experiment, label, metric, variant, value, row_name", [
    ("srresnet", "best", "psnr_rgb_db", "mse", 23.13, "SRResNet"),
    ("srresnet", "best", "psnr_rgb_db", "vgg19_5_4", 14.68, "SRResNet"),
    ("srresnet", "best", "ms_ssim_rgb", "res18_4", 0.8017, "SRResNet"),
    ("srgan", "epoch100", "ms_ssim_rgb", "mse", 0.9364, "SRGAN after 100 epochs"),
    ("srgan", "epoch100", "psnr_rgb_db", "hybrid_vgg19_5_4", 23.48, "SRGAN after 100 epochs"),
    ("srgan", "epoch200", "psnr_rgb_db", "res34_3", 18.88, "SRGAN after 200 epochs"),
    ("srgan", "epoch200", "ms_ssim_rgb", "mse", 0.9470, "SRGAN after 200 epochs"),
])
def test_published_values_beside_ours_on_set5(index: str, experiment: str, label: str, metric: str, variant: str,
                                              value: float, row_name: str) -> None:
    _, rows = _table(_section(index, "## set5 (2 images)"), _title(experiment, label))
    name, digits = ("PSNR-RGB", 2) if metric == "psnr_rgb_db" else ("MS-SSIM", 4)
    published = rows[f"{name}: study, {row_name} (published)"]
    assert published[variant] == f"{value:.{digits}f}"
    ours = _expected_means()[(experiment, variant, label, "set5")][metric]
    assert rows[f"{name}: ours − published"][variant] == f"{ours - value:+.{digits}f}"
    # Each published row and its difference sit right under our row of the same protocol.
    labels = list(rows)
    ours_label = "PSNR-RGB (dB, study protocol) ↑" if metric == "psnr_rgb_db" else "MS-SSIM (study protocol) ↑"
    at = labels.index(ours_label)
    assert labels[at + 1 : at + 3] == [f"{name}: study, {row_name} (published)", f"{name}: ours − published"]
    # Bicubic and HR have no published value; hybrid res18_4 / res34_5 were never reported ('-').
    assert published["bicubic"] == published["HR"] == "–"


def test_unreported_variant_and_set_get_no_published_numbers(index: str) -> None:
    _, rows = _table(_section(index, "## set5 (2 images)"), _title("srgan", "epoch200"))
    assert rows["PSNR-RGB: study, SRGAN after 200 epochs (published)"]["hybrid_vgg19_5_4"] == "–"  # '-' in the study
    assert "published" not in _section(index, "## mini (2 images)")


def test_colour_section_and_sentences(index: str, report_dir: Path) -> None:
    section = _section(index, "## set5 (2 images)")
    assert "### Colour fidelity: does the VGG loss desaturate, compared with the ResNet losses?" in section
    # Experiment 1: VGG = vgg19_5_4 (0.85), ResNet = res18_4 (0.95).
    assert ("- **srresnet@best** on set5: VGG-loss variants desaturate (0.850); ResNet-loss variants desaturate "
            "(0.950): the VGG loss is further from HR's saturation, by 0.100.") in section
    # Experiment 2 has a VGG + MSE hybrid but no ResNet + MSE hybrid and no pure VGG: pure and hybrid
    # losses are not compared with each other, so there is no sentence for it.
    assert "- **srgan@" not in section
    colour = pd.read_csv(report_dir / "set5_colour.csv", index_col=0)
    assert list(colour["run"].unique()) == ["bicubic", "srresnet@best", "srgan@epoch100", "srgan@epoch200"]
    srresnet = colour[colour["run"] == "srresnet@best"].set_index("family")["chroma_ratio"].to_dict()
    assert srresnet == pytest.approx({"MSE": 0.97, "VGG": 0.85, "ResNet": 0.95})
    srgan = colour[colour["run"] == "srgan@epoch200"].set_index("family")["chroma_ratio"].to_dict()
    assert set(srgan) == {"MSE", "VGG + MSE", "ResNet"} and srgan["VGG + MSE"] == pytest.approx(0.91)


@pytest.mark.parametrize(("vgg", "res", "words"), [
    # Both over-saturate and VGG is further from 1: the sentence the report once got backwards
    # ("keep at least as much chroma as") must now say which is further from HR.
    (1.474, 1.169, "VGG-loss variants over-saturate (1.474); ResNet-loss variants over-saturate (1.169): "
                   "the VGG loss is further from HR's saturation, by 0.305."),
    (0.80, 0.97, "VGG-loss variants desaturate (0.800); ResNet-loss variants desaturate (0.970): "
                 "the VGG loss is further from HR's saturation, by 0.170."),
    (1.05, 0.90, "VGG-loss variants over-saturate (1.050); ResNet-loss variants desaturate (0.900): "
                 "the ResNet loss is further from HR's saturation, by 0.050."),
    (1.01, 0.995, "VGG-loss variants keep HR's saturation (1.010); ResNet-loss variants keep HR's saturation "
                  "(0.995): equally far from HR's saturation."),
])
def test_colour_sentence_follows_the_numbers(vgg: float, res: float, words: str) -> None:
    assert colour_sentence(vgg, res, "VGG-loss variants", "ResNet-loss variants") == words


def test_full_metrics_files_hold_every_metric_of_every_scored_checkpoint(report_dir: Path) -> None:
    full = report_dir / "metrics"
    files = sorted(p.relative_to(full).as_posix() for p in full.rglob("*.json"))
    assert files == sorted(["bicubic.json", *(f"{e}/{v}/{label}.json" for e, v, label in _models() if e != "bicubic")])
    means = _expected_means()
    for e, v, label in _models():
        data = json.loads((full / ("bicubic.json" if e == "bicubic" else f"{e}/{v}/{label}.json")).read_text())
        assert set(data) == set(SETS)
        for set_name in SETS:
            # Only numbers, in the same keys everywhere (LPIPS only where it was scored: set5); no "images".
            assert data[set_name] == pytest.approx(means[(e, v, label, set_name)])


def test_dvc_metrics_are_each_models_headline_at_its_headline_checkpoint(report_dir: Path) -> None:
    """metrics/ holds PSNR-Y and NIQE-Y of each model at its last (SRGAN) or best (SRResNet) checkpoint: one changed
    weight changes two columns of `dvc exp show --only-changed`, not fourteen."""
    metrics_dir = report_dir.parent / "metrics"
    files = sorted(p.relative_to(metrics_dir).as_posix() for p in metrics_dir.rglob("*.json"))
    models = {(e, v): label for e, v, label in _models()}  # in checkpoint order: the last label wins
    assert files == sorted(["hr.json", *(("bicubic.json" if e == "bicubic" else f"{e}/{v}.json") for e, v in models)])
    means = _expected_means()
    for (e, v), label in models.items():
        data = json.loads((metrics_dir / ("bicubic.json" if e == "bicubic" else f"{e}/{v}.json")).read_text())
        for set_name in SETS:
            expected = {k: means[(e, v, label, set_name)][k] for k in ("psnr_y_db", "niqe_y")}
            assert data[set_name] == pytest.approx(expected), (e, v, label)
    assert {label for (e, _), label in models.items() if e == "srgan"} == {SRGAN_LABELS[-1]}
    assert json.loads((metrics_dir / "hr.json").read_text()) == {s: {"niqe_y": 5.25} for s in SETS}


def test_metrics_files_leave_out_what_is_not_a_finite_number() -> None:
    item = Scored("srresnet", "mse", "best", {"sample": {"psnr_y_db": 28.1, "chroma_ratio": math.nan,
                                                       "niqe_y": math.inf, "images": 3}}, None, {}, {},
                  as_run={"sample": {"psnr_rgb_db": 26.5, "ms_ssim_rgb": 0.95}})
    assert model_metrics(item, ["sample"]) == {"sample": {"psnr_y_db": 28.1, "psnr_rgb_db_as_run": 26.5,
                                                          "ms_ssim_rgb_as_run": 0.95}}


def test_curve_tables_put_every_run_of_an_experiment_on_one_chart(report_dir: Path) -> None:
    table = pd.read_csv(report_dir / "curves" / "srgan_valid_psnr_y_db.tsv", sep="\t")
    assert list(table.columns) == ["step", "run", "psnr_y_db"]
    assert list(dict.fromkeys(table["run"])) == list(EXPERIMENTS["srgan"])
    first = table[table["run"] == "mse"]
    assert list(first["step"]) == list(range(10, 61, 10))
    assert sorted(p.name for p in (report_dir / "curves").iterdir()) == sorted(
        Path(chart.file).name for chart in CHARTS)
    # The fake runs log no generator loss: that chart's table is empty (a header), not missing.
    assert pd.read_csv(report_dir / "curves" / "srgan_loss_generator.tsv", sep="\t").empty


def test_headline_lists_each_run_once_at_its_final_checkpoint(report_dir: Path) -> None:
    text = (report_dir / "headline.md").read_text()
    names = [line.split("|")[1].strip() for line in text.splitlines()[2:]]
    assert names == ["bicubic", *(f"srresnet/{v} (best)" for v in EXPERIMENTS["srresnet"]),
                     *(f"srgan/{v} ({SRGAN_LABELS[-1]})" for v in EXPERIMENTS["srgan"]), "HR"]
    k = [m for m in _models()].index(("srgan", "mse", SRGAN_LABELS[-1]))
    row = next(line for line in text.splitlines() if line.startswith(f"| srgan/mse ({SRGAN_LABELS[-1]})"))
    assert f"{_means(k, 'set5', 'srgan', 'mse')['psnr_y_db']:.2f}" in row


def test_every_figure_is_linked_and_is_a_png(index: str, report_dir: Path) -> None:
    linked = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", index)
    runs = ["srresnet_best", *(f"srgan_{label}" for label in SRGAN_LABELS)]
    expected = {"figures/plane_niqe_set5.png", "figures/plane_niqe_mini.png",
                "figures/plane_lpips_set5.png",  # only set5 has LPIPS values
                *(f"figures/grid_{s}_{name}_{run}.png" for s, name in GRID_NAMES for run in runs),
                "figures/training_srresnet.png", "figures/training_srgan.png"}
    assert sorted(linked) == sorted(expected)
    assert sorted(p.relative_to(report_dir).as_posix() for p in (report_dir / "figures").iterdir()) == sorted(expected)
    for rel in linked:
        data = (report_dir / rel).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, rel
        with Image.open(report_dir / rel) as img:
            assert img.width >= 500 and 250 <= img.height <= 2500, (rel, img.size)
    assert not list(report_dir.parent.glob(".report.*"))  # no temp folder left behind


def test_sections_and_feature_weights(index: str) -> None:
    headings = [line for line in index.splitlines() if line.startswith("## ")]
    assert headings == ["## Headline", "## Differences and their noise", "## set5 (2 images)", "## mini (2 images)", "## Visual comparison",
                        "## Training and validation", "## Feature-extractor weights"]
    weights = _section(index, "## Feature-extractor weights")
    assert "- **srresnet/vgg19_5_4** (vgg19_5_4: 1): vgg19_5_4: random" in weights
    assert "- **srgan/res34_3** (res34_3: 1): res34_3: random" in weights
    assert "@epoch" not in weights  # one line per run, not per checkpoint
    assert "**Warning:** some feature losses used randomly initialised extractors" in index


@pytest.mark.slow  # builds a second report (~15 s on 2 busy cores)
def test_report_is_deterministic(tmp_path: Path, report_dir: Path) -> None:
    """The same inputs give the same bytes (DVC must not see a changed output for nothing)."""
    build(fake_pipeline(tmp_path), tmp_path / "report")
    for path in sorted(report_dir.rglob("*")):
        if path.is_file():
            assert (tmp_path / "report" / path.relative_to(report_dir)).read_bytes() == path.read_bytes(), path


# ---------------------------------------------------------------- missing inputs


@pytest.mark.parametrize("missing", [
    "evaluation/bicubic.json",
    "evaluation/hr.json",
    "evaluation/srgan/res34_3/seed0.json",
    "evaluation/srresnet/vgg19_5_4/seed0.csv",
    "models/srresnet/vgg19_5_4/seed0/best.pt",
    "models/srgan/mse/seed0/epoch200/last.pt",
    "plots/srresnet/mse/seed0",
    "plots/srgan/hybrid_vgg19_5_4/seed0",
    "data/prepared/test/set5/HR/baby.png",
    "data/prepared/test/mini/LR/0802.png",
])
def test_missing_input_names_it_and_keeps_the_old_report(tmp_path: Path, missing: str) -> None:
    dirs = fake_pipeline(tmp_path)
    out_dir = tmp_path / "report"
    (out_dir / "figures").mkdir(parents=True)
    (out_dir / "index.md").write_text("the previous report\n", encoding="utf-8")
    (out_dir / "figures" / "old.png").write_bytes(PNG_MAGIC)
    target = tmp_path / missing
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(SrganError, match=re.escape(str(target))):
        build(dirs, out_dir)
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")) == ["figures", "figures/old.png",
                                                                                     "index.md"]
    assert (out_dir / "index.md").read_text(encoding="utf-8") == "the previous report\n"
    assert not list(tmp_path.glob(".report.*")) and not (tmp_path / "metrics").exists()


def test_missing_checkpoint_results_in_evaluation_record(tmp_path: Path) -> None:
    """An evaluation record without one of the checkpoints its run lists (an older evaluation) is named."""
    dirs = fake_pipeline(tmp_path)
    path = dirs["evaluation"] / "srgan" / "mse" / "seed0.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    del doc["scores"]["epoch200"]
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SrganError, match=re.escape(str(path)) + " has no results for checkpoint 'epoch200'"):
        build(dirs, tmp_path / "report")


def test_missing_per_image_row_of_a_grid_image(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path)
    path = dirs["evaluation"] / "srgan" / "res34_3" / "seed0.csv"
    frame = pd.read_csv(path, dtype={"image": str, "checkpoint": str}, keep_default_na=False)
    frame[frame["image"] != "0802"].to_csv(path, index=False)
    with pytest.raises(SrganError, match=r"srgan/res34_3@epoch100 has no row for mini/0802"):
        build(dirs, tmp_path / "report")


@pytest.mark.parametrize("entry, message", [
    ("other/baby", "'other/baby', but .*other/HR/baby.png"),
    ("set5/#5", "'set5/#5', but set5 has 2 images"),
])
def test_grid_image_must_exist(tmp_path: Path, entry: str, message: str) -> None:
    dirs = fake_pipeline(tmp_path)
    with pytest.raises(SrganError, match=f"report.grid_images.*{message}"):
        build(dirs, tmp_path / "report", grid_images=(entry,))
    assert not (tmp_path / "report").exists()


def test_srgan_checkpoints_by_step_borrow_the_study_rows_by_position() -> None:
    """The sample profile's step10/step20 sit beside the study's 100/200-epoch rows (first, last); a point after
    100 or 200 epochs is matched by its count, whatever its position."""
    def point(unit: str, count: int) -> ScoredCheckpoint:
        return ScoredCheckpoint("point", f"{unit}{count}/last.pt", count, unit, count)

    steps = [point("step", 10), point("step", 20)]
    assert published_row(ScoredCheckpoint("best", "best.pt", 7, "step", 10), steps) == "srresnet"
    assert published_row(steps[0], steps) == "epoch100" and published_row(steps[1], steps) == "epoch200"
    assert published_row(point("epoch", 200), [point("epoch", 200)]) == "epoch200"
    assert published_row(point("epoch", 100), [point("epoch", 50), point("epoch", 100), point("epoch", 150)]) == "epoch100"
    assert published_row(point("step", 20), [point("step", 20)]) is None


def test_stage_rejects_a_wrong_argument_list() -> None:
    main = runpy.run_path(str(ROOT / "stages" / "report.py"))["main"]
    with pytest.raises(SrganError, match="usage: .* EVALUATION_DIR MODELS_DIR PLOTS_DIR TEST_ROOT OUT_DIR METRICS_DIR"):
        main(["stages/report.py", "evaluation", "report"])


# ---------------------------------------------------------------- grids and figure helpers


def test_grid_crop_equals_the_crop_of_the_whole_image(tmp_path: Path) -> None:
    """The grids run each generator on an LR window around the crop; the result must be the crop
    of the whole super-resolved image (the window's margin covers the receptive field)."""
    torch.manual_seed(3)
    model = SRResNet(scale=SCALE, num_blocks=2, channels=8)
    for module in model.modules():  # non-trivial BN statistics, so eval-mode BN matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    save_generator(tmp_path / "g.pt", model)
    rng = np.random.default_rng(0)
    lr_u8 = rng.integers(0, 256, (60, 72, 3), dtype=np.uint8)
    hr_u8 = np.repeat(np.repeat(lr_u8, SCALE, axis=0), SCALE, axis=1)
    crop = CropBox(top=101, left=150, size_px=40)  # not aligned to the scale, far from every border
    item = GridImage("set", "img", hr_u8, lr_u8, crop)
    scored = Scored("srresnet", "mse", "best", {}, tmp_path / "g.pt", {"mse": "none"}, {"mse": 1.0})
    crops = grid_crops([item], [scored], SCALE, CPU)
    generator, _ = load_generator(tmp_path / "g.pt", SCALE, CPU)
    whole_u8 = to_u8(super_resolve(generator, to_tensor(lr_u8)[None], CPU))
    difference = np.abs(crops["srresnet/mse@best"][0].astype(int) - crop.cut(whole_u8).astype(int))
    assert crops["srresnet/mse@best"][0].shape == (40, 40, 3)
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99  # float summation order only


def test_crop_finds_the_textured_square() -> None:
    hr_u8 = np.full((96, 128, 3), 128, dtype=np.uint8)
    yy, xx = np.mgrid[0:24, 0:24]
    hr_u8[40:64, 70:94] = (((yy + xx) % 2) * 255)[..., None].astype(np.uint8)  # a 1-px checkerboard
    assert most_detailed_crop(hr_u8, 24) == CropBox(top=40, left=70, size_px=24)
    inner = most_detailed_crop(hr_u8, 8)
    assert 40 <= inner.top <= 64 - 8 and 70 <= inner.left <= 94 - 8
    assert most_detailed_crop(hr_u8, 500) == CropBox(top=0, left=0, size_px=96)  # clipped to the image
    flat = np.full((20, 20, 3), 7, dtype=np.uint8)
    assert most_detailed_crop(flat, 8) == CropBox(top=0, left=0, size_px=8)  # ties: top-left


def test_smoothing_and_label_spreading() -> None:
    values = np.array([1.0, 3.0, np.nan, 5.0, 7.0])
    assert np.allclose(smooth(values, 3), [2.0, 2.0, 4.0, 6.0, 6.0])
    slots = _spread([0.5, 0.5, 0.51, 0.99], gap=0.1)
    assert np.all(np.diff(slots) >= 0.1 - 1e-9) and slots[-1] <= 0.98 and slots[0] >= 0.02
    crowded = _spread([0.5] * 50, gap=0.1)  # cannot fit at 0.1: squeezed evenly into [0.02, 0.98]
    assert crowded[0] >= 0.02 - 1e-9 and crowded[-1] <= 0.98 + 1e-9 and np.all(np.diff(crowded) > 0)


# The README's sample NIQE column of experiment 1 (and bicubic): one far outlier, 42.93.
SAMPLE_NIQE = [6.34, 14.91, 17.39, 13.54, 14.28, 9.47, 10.53, 16.21, 42.93, 7.51]


def test_bulk_range_leaves_out_far_outliers() -> None:
    assert bulk_range(SAMPLE_NIQE) == (6.34, 17.39)
    assert bulk_range([1.0, 2.0, 3.0]) == (1.0, 3.0)  # nothing to leave out
    assert bulk_range([5.0, float("nan"), 5.0]) == (5.0, 5.0)


def test_bulk_range_is_tukeys_far_fences_on_numpys_quartiles() -> None:
    """Heavy-tailed random samples (Cauchy: values near the fences on both sides): the bulk is what lies within
    [Q1 - 3 IQR, Q3 + 3 IQR], the quartiles numpy.percentile's (linear), which statistics.quantiles' inclusive
    method also gives."""
    rng = np.random.default_rng(7)
    for n in (7, 12, 40, 200, 1000):
        values = [float(v) for v in 6.0 + rng.standard_cauchy(n)]
        q1, q3 = np.percentile(values, [25, 75])
        by_hand = statistics.quantiles(values, n=4, method="inclusive")
        assert (q1, q3) == pytest.approx((by_hand[0], by_hand[2]), rel=1e-12)
        inside = [v for v in values if q1 - 3 * (q3 - q1) <= v <= q3 + 3 * (q3 - q1)]
        assert bulk_range(values) == (min(inside), max(inside))


def test_bulk_range_keeps_a_value_exactly_on_a_fence() -> None:
    """Nine values: Q1 = 2 and Q3 = 6 (numpy's linear quartiles fall on the 3rd and 7th), IQR 4, far fences
    -10 and 18. A value on a fence is kept; one a hair beyond it is left out."""
    middle = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert list(np.percentile([-10.0, *middle, 18.0], [25, 75])) == [2.0, 6.0]
    assert bulk_range([-10.0, *middle, 18.0]) == (-10.0, 18.0)
    assert bulk_range([-10.000001, *middle, 18.000001]) == (1.0, 7.0)


def test_plane_panel_keeps_the_bulk_and_marks_outliers_at_the_edge() -> None:
    points = tuple(PlanePoint(f"v{i}", 25.0 + i / 3, y, "#1f77b4", "o") for i, y in enumerate(SAMPLE_NIQE))
    fig = Figure(figsize=(10, 6))
    ax = fig.add_subplot()
    _plane_panel(ax, PlanePanel("Experiment 1", points), {"HR": 3.22}, "PSNR-Y", "NIQE-Y", 6.0)
    low, high = ax.get_ylim()
    assert low < 3.22 and 17.39 < high < 20  # HR's line and the bulk, not 42.93
    texts = [t.get_text() for t in ax.texts]
    assert "42.9" in texts  # the outlier's value, at the edge
    labels = [t for t in texts if t.startswith("v")]
    assert len(labels) == len(points) and "v8  (27.67, 42.930)" in labels
    # Labels keep the points' vertical order, so the connectors cannot cross.
    notes = [t for t in ax.texts if t.get_text().startswith("v")]
    by_point = sorted(notes, key=lambda t: (min(t.xy[1], 1.0), t.get_text()))
    slots = [t.xyann[1] for t in by_point]
    assert slots == sorted(slots)


def test_plane_figure_has_one_panel_per_experiment(tmp_path: Path) -> None:
    one = PlanePanel("Experiment 1", (PlanePoint("mse", 28.5, 6.3, "#000000", "o"),
                                      PlanePoint("bicubic", 28.0, 7.5, "#7f7f7f", "s")))
    two = PlanePanel("Experiment 2", (PlanePoint("mse@step16", 28.4, 6.2, "#000000", "^"),
                                      PlanePoint("bicubic", 28.0, 7.5, "#7f7f7f", "s")))
    perception_distortion_plane(tmp_path / "plane.png", [one, two], x_label="PSNR-Y", y_label="NIQE-Y",
                                title="plane", hlines={"HR": 3.2})
    with Image.open(tmp_path / "plane.png") as img:
        assert img.height > img.width * 0.6  # two rows of panels


def test_as_run_scores_sit_between_published_and_ours(tmp_path: Path) -> None:
    """Metrics with the study protocol as its code ran it: the table shows published, as run and ours."""
    dirs = fake_pipeline(tmp_path)
    for experiment, variants in EXPERIMENTS.items():
        for variant in variants:
            path = dirs["evaluation"] / f"{run_folder(experiment, variant, 0)}.json"
            run = read_run_evaluation(path)
            as_run = {label: {s: {"psnr_rgb_db": 15.0, "ms_ssim_rgb": 0.8} for s in SETS} for label in run.scores}
            files = {label: ("last.pt" if experiment == "srresnet" else f"{label}/last.pt") for label in run.scores}
            write_run_evaluation(path, dataclasses.replace(
                run, as_run=as_run, as_run_scoring=AsRunScoring(files, "train", False)))
    build(dirs, tmp_path / "report")
    index = (tmp_path / "report" / "index.md").read_text(encoding="utf-8")
    _, rows = _table(_section(index, "## set5 (2 images)"), _title("srresnet", "best"))
    labels = list(rows)
    at = labels.index("PSNR-RGB (dB, study protocol) ↑")
    assert labels[at + 1 : at + 5] == [
        "PSNR-RGB: study, SRResNet (published)",
        "PSNR-RGB: study protocol as run (last checkpoint, BN in training mode, unclamped)",
        "PSNR-RGB: as run − published", "PSNR-RGB: ours − published"]
    assert rows["PSNR-RGB: study protocol as run (last checkpoint, BN in training mode, unclamped)"]["mse"] == "15.00"
    assert rows["PSNR-RGB: as run − published"]["mse"] == f"{15.0 - 23.13:+.2f}"
    # A set the study did not report shows ours and as run, no published rows.
    _, rows = _table(_section(index, "## mini (2 images)"), _title("srgan", "epoch100"))
    assert "MS-SSIM: study protocol as run (last checkpoint, BN in training mode, unclamped)" in rows
    assert not any("published" in label for label in rows)


# ---------------------------------------------------------------- several seeds

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fake pipeline with three seeds (seed s: PSNR-Y + 0.3 s dB): (its report folder, its metrics folder)."""
    root = tmp_path_factory.mktemp("seeded")
    dirs = fake_pipeline(root, SEEDS)
    build(dirs, root / "report", seeds=SEEDS)
    return root / "report", dirs["metrics"]


def test_several_seeds_give_mean_and_sd_in_tables_headline_and_metrics(seeded: tuple[Path, Path]) -> None:
    report_dir, metrics_dir = seeded
    index = (report_dir / "index.md").read_text(encoding="utf-8")
    # Seeds 0, 1, 2 at m, m + 0.3, m + 0.6 dB: mean m + 0.3, sample sd 0.3.
    means = _expected_means()
    _, rows = _table(_section(index, "## set5 (2 images)"), _title("srresnet", "best"))
    m = means[("srresnet", "vgg19_5_4", "best", "set5")]
    assert rows["PSNR-Y (dB) ↑"]["vgg19_5_4"] == f"{m['psnr_y_db'] + 0.3:.2f} ± 0.30"
    assert rows["SSIM-Y ↑"]["vgg19_5_4"] == f"{m['ssim_y']:.4f} ± 0.0000"  # every seed the same SSIM
    assert rows["PSNR-Y (dB) ↑"]["bicubic"] == f"{means[('bicubic', 'bicubic', 'bicubic', 'set5')]['psnr_y_db']:.2f}"
    assert "Every run was trained once per seed (0, 1, 2)" in index
    headline = (report_dir / "headline.md").read_text(encoding="utf-8")
    assert f"{m['psnr_y_db'] + 0.3:.2f} ± 0.30" in headline
    sd = pd.read_csv(report_dir / "set5_srresnet_best_sd.csv", index_col="metric")
    assert sd.loc["PSNR-Y (dB) ↑", "vgg19_5_4"] == pytest.approx(0.3, abs=1e-4)
    metrics = json.loads((report_dir / "metrics" / "srresnet" / "vgg19_5_4" / "best.json").read_text(encoding="utf-8"))
    assert metrics["set5"]["psnr_y_db"] == pytest.approx(m["psnr_y_db"] + 0.3, abs=1e-6)
    assert metrics["set5"]["psnr_y_db_sd"] == pytest.approx(0.3, abs=1e-6)
    assert metrics["set5"]["ssim_y_sd"] == pytest.approx(0.0, abs=1e-12)
    per_image = pd.read_csv(report_dir / "per_image.csv", dtype={"image": str})
    assert list(per_image.columns[:2]) == ["model", "seed"] and set(per_image["seed"]) == set(SEEDS)
    assert set(per_image.loc[per_image["model"] == "bicubic", "seed"]) == {0}


def test_differences_compare_each_variant_with_its_baseline_over_images_and_seeds(seeded: tuple[Path, Path]) -> None:
    report_dir, _ = seeded
    section = _section((report_dir / "index.md").read_text(encoding="utf-8"), "## Differences and their noise")
    # Model k's PSNR-Y is 24 + k + ...: vgg19_5_4 (k = 2) against mse (k = 1) is exactly 1 dB better on every
    # image and seed, so its interval is the point; res18_4 (k = 3) 2 dB.
    assert ("- srresnet/vgg19_5_4 vs srresnet/mse (best), PSNR-Y: A − B = +1.00 dB (95 % CI 1.00 to 1.00); "
            "p < 0.001, Holm p < 0.001 of 2; 4 images × 3 seeds, paired: A is better. Planning: 0.10 dB at 80 % "
            "power: about 2 seeds") in section
    assert "Holm's correction runs within each family" in section and "18 tests in 9 families" in section
    columns, rows = _table_rows(section, "srresnet: A vs B (checkpoint)")
    assert columns == ["PSNR-Y", "SSIM-Y", "NIQE-Y"]
    assert rows["vgg19_5_4 vs mse (best)"]["PSNR-Y"] == "+1.00 (1.00 to 1.00) ✔"
    assert rows["res18_4 vs mse (best)"]["PSNR-Y"] == "+2.00 (2.00 to 2.00) ✔"
    assert rows["res18_4 vs mse (best)"]["NIQE-Y"].endswith("✔")  # NIQE 7.5 − k / 4: lower is better
    # Experiment 2 at each checkpoint; it has one hybrid, so no hybrid pair.
    _, rows = _table_rows(section, "srgan: A vs B (checkpoint)")
    assert list(rows) == [f"{v} vs mse ({label})" for v in ("hybrid_vgg19_5_4", "res34_3") for label in SRGAN_LABELS]
    differences = pd.read_csv(report_dir / "differences.csv")
    assert set(differences["set"]) == {"set5", "mini", "all sets"}
    assert {"p_value", "p_holm", "family_size", "reason", "seeds_needed"} <= set(differences.columns)


def test_one_seed_gives_no_verdict_and_says_why(index: str) -> None:
    section = _section(index, "## Differences and their noise")
    assert "With one seed no comparison gets a verdict" in section
    _, rows = _table_rows(section, "srresnet: A vs B (checkpoint)")
    assert rows["vgg19_5_4 vs mse (best)"]["PSNR-Y"] == "+1.00 · 1 seed"
    assert ("- srresnet/vgg19_5_4 vs srresnet/mse (best), PSNR-Y: A − B = +1.00 dB (4 images × 1 seed, paired): "
            "no verdict — one seed: cannot be separated from training noise; add seeds; these runs only: 95 % CI "
            "over the 4 images 1.00 to 1.00; A better on 4 of 4 images. Planning: 0.10 dB at 80 % power: unknown "
            "until two seeds of each measure the seed spread.") in section
    assert "✔" not in section.split("Per set")[1] and "✘" not in section.split("Per set")[1]


def _table_rows(text: str, index_name: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(columns, {row: {column: cell}}) of the markdown table whose index column is `index_name`."""
    lines = text[text.index(f"| {index_name}"):].splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = table[0], table[2:]
    return header[1:], {row[0]: dict(zip(header[1:], row[1:])) for row in body}


def test_hybrids_are_compared_with_each_other_and_every_variant_with_its_baseline() -> None:
    from srgan.report.differences import comparison_pairs

    def scored(experiment: str, variant: str) -> Scored:
        return Scored(experiment, variant, "best", {}, None, {}, _loss_terms(variant))

    models = [Scored("bicubic", "bicubic", "bicubic", {}, None, {}, {}),
              *(scored("srresnet", v) for v in ("mse", "vgg19_5_4", "hybrid_vgg19_5_4", "hybrid_res34_3")),
              *(scored("srgan", v) for v in ("mse", "hybrid_res18_4"))]
    assert comparison_pairs(models) == [
        ("srresnet/vgg19_5_4", "srresnet/mse"), ("srresnet/hybrid_vgg19_5_4", "srresnet/mse"),
        ("srresnet/hybrid_res34_3", "srresnet/mse"), ("srresnet/hybrid_vgg19_5_4", "srresnet/hybrid_res34_3"),
        ("srgan/hybrid_res18_4", "srgan/mse")]
