"""What the pipeline wrote, read back for the report as typed records.

`collect_scored` gives one `Scored` per column of the tables and point of the
perception-distortion planes: bicubic, then every scored checkpoint of every
run, from the evaluation records (`srgan.core.evaluation_records`), its scores
the mean over the run's seeds with their standard deviation; `load_per_image`
the per-image scores of every seed; `load_grid_image` a test image from a
prepared set (`srgan.datasets.prepared`); `load_curves` the training curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from srgan.core.declared import run_folder
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    AsRunScoring,
    RunEvaluation,
    read_baseline_evaluation,
    read_per_image,
    read_run_evaluation,
)
from srgan.core.records import ScoredCheckpoint, SetScores, read_scalars
from srgan.datasets.prepared import image_names, read_pair
from srgan.report.figures import CropBox, ScalarSeries, most_detailed_crop
from srgan.report.stats import seed_summary

BICUBIC = "bicubic"


@dataclass(frozen=True)
class Scored:
    """One scored model: a column of the tables and a point of the perception-distortion plane."""

    experiment: str  # "bicubic" | "srresnet" | "srgan"
    variant: str  # the loss variant ("bicubic" for bicubic)
    checkpoint: str  # the scored checkpoint's label ("best", "step20", "epoch100"; "bicubic" for bicubic)
    results: SetScores  # set -> {metric: mean over the run's seeds of each seed's mean over the set's images}
    weights: Path | None  # the scored generator checkpoint of the first seed (the grids); None for bicubic
    feature_weights: dict[str, str]  # {term: weights its extractor held}
    loss_terms: dict[str, float]  # {term: weight} ({} for bicubic)
    as_run: SetScores | None = None  # the study protocol as the study ran it (set -> scores), when evaluated
    as_run_scoring: AsRunScoring | None = None  # how it was scored (with `as_run`)
    point: ScoredCheckpoint | None = None  # what the checkpoint is, as data (None for bicubic)
    seeds: tuple[int, ...] = ()  # the seeds averaged (() for bicubic)
    spread: SetScores | None = None  # set -> {metric: sample standard deviation over seeds}; None: one seed

    @property
    def name(self) -> str:
        """'bicubic', 'srresnet/mse@best', 'srgan/vgg19_5_4@epoch100'."""
        if self.experiment == BICUBIC:
            return BICUBIC
        return f"{self.experiment}/{self.variant}@{self.checkpoint}"

    @property
    def run_name(self) -> str:
        """The per-image CSV's model key: 'bicubic', 'srresnet/mse', 'srgan/mse'."""
        return BICUBIC if self.experiment == BICUBIC else f"{self.experiment}/{self.variant}"


def _sets_of(results: SetScores, sets: Sequence[str], path: Path) -> SetScores:
    missing = [s for s in sets if s not in results]
    if missing:
        raise SrganError(f"evaluation record {path} has no results for set '{missing[0]}'; re-run its evaluate stage")
    return {s: results[s] for s in sets}


def read_hr_niqe(evaluation_dir: Path, sets: Sequence[str]) -> dict[str, float]:
    """{set: mean NIQE of the HR images} (evaluation/hr.json)."""
    path = evaluation_dir / "hr.json"
    hr = _sets_of(read_baseline_evaluation(path).scores, sets, path)
    return {s: hr[s].get("niqe_y", float("nan")) for s in sets}


def read_lpips_status(evaluation_dir: Path) -> str:
    return read_baseline_evaluation(evaluation_dir / "bicubic.json").lpips_alex_status


def _over_seeds(per_seed: Sequence[SetScores], sets: Sequence[str]) -> tuple[SetScores, SetScores | None]:
    """(mean, standard deviation) over seeds of each set's metric means; the deviation None for one seed."""
    mean: SetScores = {}
    spread: SetScores = {}
    for set_name in sets:
        keys = dict.fromkeys(k for scores in per_seed for k in scores[set_name])
        summaries = {k: seed_summary(scores[set_name].get(k, math.nan) for scores in per_seed) for k in keys}
        mean[set_name] = {k: s.mean for k, s in summaries.items()}
        spread[set_name] = {k: s.std for k, s in summaries.items()}
    return mean, (spread if len(per_seed) > 1 else None)


def _read_seeds(evaluation_dir: Path, experiment: str, variant: str,
                seeds: Sequence[int]) -> list[tuple[Path, RunEvaluation]]:
    runs = []
    for seed in seeds:
        path = evaluation_dir / f"{run_folder(experiment, variant, seed)}.json"
        run = read_run_evaluation(path)
        if runs and [p.label for p in run.checkpoints] != [p.label for p in runs[0][1].checkpoints]:
            raise SrganError(f"{path} scored the checkpoints {[p.label for p in run.checkpoints]}, "
                             f"{runs[0][0]} {[p.label for p in runs[0][1].checkpoints]}: rerun the stale one (dvc repro)")
        if runs and bool(run.as_run) != bool(runs[0][1].as_run):
            has, lacks = (path, runs[0][0]) if run.as_run else (runs[0][0], path)
            raise SrganError(f"{has} has the study protocol as run and {lacks} has not: rerun the stale one "
                             "(dvc repro)")
        runs.append((path, run))
    return runs


def collect_scored(evaluation_dir: Path, models_dir: Path, experiments: dict[str, Sequence[str]],
                   sets: Sequence[str], seeds: Sequence[int] = (0,)) -> list[Scored]:
    """Bicubic, then every scored checkpoint of each experiment's runs, in params order, averaged over `seeds`.

    experiments: {"srresnet": variant names, "srgan": variant names}, baseline first.
    """
    path = evaluation_dir / "bicubic.json"
    bicubic = read_baseline_evaluation(path)
    scored = [Scored(BICUBIC, BICUBIC, BICUBIC, _sets_of(bicubic.scores, sets, path), None, {}, {})]
    for experiment, variants in experiments.items():
        for variant in variants:
            runs = _read_seeds(evaluation_dir, experiment, variant, seeds)
            first_path, first = runs[0]
            for point in first.checkpoints:
                weights = models_dir / run_folder(experiment, variant, seeds[0]) / point.file
                if not weights.is_file():
                    raise SrganError(f"checkpoint {weights} not found; run the training stages (dvc repro)")
                label = point.label
                results, spread = _over_seeds([_sets_of(run.scores[label], sets, path) for path, run in runs], sets)
                as_run = None
                if first.as_run:
                    as_run, _ = _over_seeds([_sets_of(run.as_run[label], sets, path) for path, run in runs], sets)
                scored.append(Scored(experiment, variant, label, results, weights, first.feature_weights,
                                     first.loss_terms, as_run, first.as_run_scoring, point, tuple(seeds), spread))
    return scored


def load_per_image(evaluation_dir: Path, names: Sequence[str], seeds: Sequence[int] = (0,)) -> pd.DataFrame:
    """The per-image tables of every run key ('bicubic', 'srgan/mse') and seed, stacked, with `model` and
    `seed` columns (bicubic: evaluation/bicubic.csv, seed 0); the columns of `srgan.report.stats`."""
    frames = []
    for name in names:
        if name == BICUBIC:
            frames.append(read_per_image(evaluation_dir / f"{BICUBIC}.csv").assign(model=name, seed=0))
            continue
        experiment, variant = name.split("/")
        frames += [read_per_image(evaluation_dir / f"{run_folder(experiment, variant, seed)}.csv")
                   .assign(model=name, seed=seed) for seed in seeds]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class GridImage:
    set_name: str
    name: str
    hr_u8: np.ndarray  # (H, W, 3)
    lr_u8: np.ndarray  # (H/scale, W/scale, 3)
    crop: CropBox


def load_grid_image(entry: str, test_root: Path, scale: int, crop_px: int) -> GridImage:
    """`entry` is '<set>/<image>', or '<set>/#<k>' for the set's k-th image (0-based, manifest order)."""
    set_name, _, name = entry.partition("/")
    set_dir = test_root / set_name
    if name.startswith("#") and name[1:].isdigit():
        names = image_names(set_dir, scale)
        if int(name[1:]) >= len(names):
            raise SrganError(f"params key 'report.grid_images' has '{entry}', but {set_name} has {len(names)} images")
        name = names[int(name[1:])]
    if not (set_dir / "HR" / f"{name}.png").is_file():
        raise SrganError(f"params key 'report.grid_images' has '{entry}', but {set_dir / 'HR' / f'{name}.png'} "
                         "does not exist; name an image of that prepared test set")
    hr_u8, lr_u8 = read_pair(set_dir, name, scale)
    return GridImage(set_name, name, hr_u8, lr_u8, most_detailed_crop(hr_u8, crop_px))


def curve_run_name(variant: str, seed: int, seeds: Sequence[int]) -> str:
    """A run's name on the charts: the variant ('vgg19_5_4'), with its seed when there are several ('vgg19_5_4 s1')."""
    return variant if len(seeds) == 1 else f"{variant} s{seed}"


def load_curves(plots_dir: Path, experiment: str, variants: Sequence[str],
                seeds: Sequence[int] = (0,)) -> dict[str, dict[str, ScalarSeries]]:
    """{run name: {tag: series}} of one experiment's training curves (plots/<experiment>/<variant>/seed<k>/*.tsv),
    every variant and seed (names: `curve_run_name`)."""
    runs = {}
    for variant in variants:
        for seed in seeds:
            folder = plots_dir / run_folder(experiment, variant, seed)
            scalars = read_scalars(folder)
            if not scalars:
                raise SrganError(f"no training curves (*.tsv) in {folder}; run the training stages (dvc repro)")
            runs[curve_run_name(variant, seed, seeds)] = {
                tag: ScalarSeries(np.array(steps, dtype=np.int64), np.array(values))
                for tag, (steps, values) in scalars.items()}
    return runs
