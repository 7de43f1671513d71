"""What crosses a stage boundary, as typed records written and read here only.

- `TrainingSummary`: models/<experiment>/<variant>/summary.json, written by a
  training stage, read by evaluation and the report. Only what the run computed
  (so two hosts training the same run write the same bytes); its wall time,
  step time, memory and whether its steps ran as CUDA graphs go to the log
  folder as `RunTiming`.
- `RunMetrics`: metrics/<experiment>/<variant>.json, one block per scored
  checkpoint label (`best`, `step16`, `epoch100`); `BaselineMetrics`:
  metrics/bicubic.json and metrics/hr.json. Written by evaluation, read by the
  report (and by `dvc metrics`).
- Training curves: plots/<experiment>/<variant>/<tag>.tsv with the columns
  `step` and the tag's last part, for `dvc plots` and the report.

A loss mix is data ({term: weight}), never text to parse back.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srgan.core.artifacts import read_json, write_json_atomic
from srgan.core.errors import SrganError

EXPERIMENTS = ("srresnet", "srgan")  # experiment 1 (SRResNet per loss), experiment 2 (SRGAN per loss)
SUMMARY_FILE = "summary.json"
TIMING_FILE = "timing.json"
STEADY_AFTER_STEPS = 20

# set name -> metric key -> mean over the set's images ("images": the count)
SetScores = dict[str, dict[str, float]]


def _field(data: dict, key: str, path: Path) -> Any:
    if key not in data:
        raise SrganError(f"{path} has no '{key}'; it was written by another version of srgan-pipeline: "
                         "run the stage that writes it again")
    return data[key]


# ---------------------------------------------------------------- training -> evaluation, report


@dataclass(frozen=True)
class ScoredCheckpoint:
    """A checkpoint of a run that evaluation scores."""

    label: str  # "best" (SRResNet), "step16" / "epoch100" (SRGAN checkpoint points)
    file: str  # relative to the run folder: "best.pt", "step16/last.pt"
    step: int  # optimiser steps behind its weights


@dataclass(frozen=True)
class ValidationPoint:
    step: int
    valid_psnr_y_db: float  # mean PSNR-Y (paper protocol) on the validation set
    valid_ssim_y: float


@dataclass(frozen=True)
class TrainingSummary:
    experiment: str  # "srresnet" | "srgan"
    variant: str  # the loss variant, e.g. "mse", "hybrid_vgg19_5_4"
    loss_terms: dict[str, float]  # {term: weight} of the content loss
    feature_weights: dict[str, str]  # {term: weights its extractor held}, srgan.losses.terms WEIGHTS_*
    unit: str  # "step" | "epoch": what the run's length and checkpoint labels count
    steps: int  # optimiser steps of the whole run
    steps_per_epoch: int
    best_step: int  # validation point with the best PSNR-Y
    best_valid_psnr_y_db: float
    bad_steps: int  # non-finite steps skipped
    processes: int  # DistributedDataParallel processes
    history: tuple[ValidationPoint, ...]
    scored: tuple[ScoredCheckpoint, ...]  # what evaluation scores, in order
    last: ScoredCheckpoint  # the weights at the end of the run (the study's code scored these as "best")


def write_summary(run_dir: Path, summary: TrainingSummary) -> None:
    write_json_atomic(run_dir / SUMMARY_FILE, asdict(summary))


def read_summary(run_dir: Path) -> TrainingSummary:
    """The summary a training stage wrote into `run_dir`; SrganError naming the file otherwise."""
    path = run_dir / SUMMARY_FILE
    data = read_json(path, "training summary")
    values = {name: _field(data, name, path) for name in TrainingSummary.__dataclass_fields__}
    values["history"] = tuple(ValidationPoint(**h) for h in values["history"])
    values["scored"] = tuple(ScoredCheckpoint(**c) for c in values["scored"])
    values["last"] = ScoredCheckpoint(**values["last"])
    return TrainingSummary(**values)


@dataclass(frozen=True)
class RunTiming:
    """How a training session went on its machine: kept out of the folders later stages depend on."""

    wall_s: float  # this session, start to end
    train_step_s: float  # mean seconds per optimiser step, over all sessions of the run
    steady_steps_per_s: float | None  # this session's optimiser steps per second after its first
    # STEADY_AFTER_STEPS (warm-up, CUDA graph capture), device-synchronised; None for a shorter session
    peak_memory_mib: float
    memory_kind: str  # "CUDA allocated" | "process RSS"
    resumed_from_step: int  # 0 for a run that started afresh
    graphed: bool  # this session's training steps replayed a captured CUDA graph (runtime.cuda_graphs)
    graph_note: str  # why (not): "captured after 3 eager warm-up steps", "capture failed, eager steps: <cause>",
    # "CUDA graphs apply on CUDA only (device cpu)", ...


def write_timing(log_dir: Path, timing: RunTiming) -> None:
    write_json_atomic(log_dir / TIMING_FILE, asdict(timing))


# ---------------------------------------------------------------- evaluation -> report


@dataclass(frozen=True)
class RunMetrics:
    """The scores of one trained run: per scored checkpoint label, per set, the mean of each metric.

    JSON: {"experiment", "variant", "loss_terms", "feature_weights", "lpips_alex_status",
    "checkpoints": {label: file}, <label>: {<set>: {metric: mean}}, ...}, so `dvc metrics`
    keys read `best.set5.psnr_y_db`, `step16.sample.niqe_y`. When the study protocol as the
    study ran it differs from ours (`params.study_code`), also "as_run_protocol" (what it did)
    and "as_run": {label: {<set>: {"psnr_rgb_db", "ms_ssim_rgb"}}}.
    """

    experiment: str
    variant: str
    loss_terms: dict[str, float]
    feature_weights: dict[str, str]
    lpips_alex_status: str  # "ok", or "unavailable: <reason>"
    checkpoints: dict[str, str]  # label -> checkpoint file, relative to the run folder
    scores: dict[str, SetScores]  # label -> set -> metric -> mean
    as_run_protocol: dict | None = None  # {"checkpoints": {label: file}, "bn_mode", "clamp"}; None: not scored
    as_run: dict[str, SetScores] | None = None  # label -> set -> study-protocol scores as the study ran it


def write_run_metrics(path: Path, metrics: RunMetrics) -> None:
    data = {k: v for k, v in asdict(metrics).items() if k not in ("scores", "as_run_protocol", "as_run")}
    extra = {} if metrics.as_run is None else {"as_run_protocol": metrics.as_run_protocol, "as_run": metrics.as_run}
    write_json_atomic(path, {**data, **metrics.scores, **extra})


def read_run_metrics(path: Path) -> RunMetrics:
    data = read_json(path, "metrics file")
    checkpoints = _field(data, "checkpoints", path)
    missing = [label for label in checkpoints if label not in data]
    if missing:
        raise SrganError(f"metrics file {path} has no results for checkpoint '{missing[0]}', which it lists; "
                         "re-run its evaluate stage")
    scores = {label: data[label] for label in checkpoints}
    return RunMetrics(
        experiment=_field(data, "experiment", path), variant=_field(data, "variant", path),
        loss_terms=_field(data, "loss_terms", path), feature_weights=_field(data, "feature_weights", path),
        lpips_alex_status=_field(data, "lpips_alex_status", path), checkpoints=checkpoints, scores=scores,
        as_run_protocol=data.get("as_run_protocol"), as_run=data.get("as_run"))  # optional: absent = ours only


@dataclass(frozen=True)
class BaselineMetrics:
    """Scores of a model without checkpoints: bicubic upscaling, or HR itself (NIQE only).

    JSON: {"experiment": "bicubic" | "hr", "lpips_alex_status", <set>: {metric: mean}, ...}.
    """

    experiment: str  # "bicubic" | "hr"
    lpips_alex_status: str  # "ok", "unavailable: <reason>", or "n/a" (hr)
    scores: SetScores


def write_baseline_metrics(path: Path, metrics: BaselineMetrics) -> None:
    write_json_atomic(path, {"experiment": metrics.experiment, "lpips_alex_status": metrics.lpips_alex_status,
                             **metrics.scores})


def read_baseline_metrics(path: Path) -> BaselineMetrics:
    data = read_json(path, "metrics file")
    experiment = _field(data, "experiment", path)
    status = _field(data, "lpips_alex_status", path)
    scores = {k: v for k, v in data.items() if k not in ("experiment", "lpips_alex_status")}
    return BaselineMetrics(experiment, status, scores)


# ---------------------------------------------------------------- training curves (dvc plots, report)


def append_scalars(plots_dir: Path, step: int, values: dict[str, float]) -> None:
    """Append one row per scalar: <plots_dir>/<tag>.tsv gets `step<TAB>value` (6 significant digits)."""
    for tag, value in values.items():
        path = plots_dir / f"{tag}.tsv"
        header = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            if header:
                fh.write(f"step\t{tag.rsplit('/', 1)[-1]}\n")
            fh.write(f"{step}\t{value:.6g}\n")


def truncate_scalars(plots_dir: Path, step: int) -> None:
    """Drop rows logged after `step` (by a run that was killed before its next resume checkpoint)."""
    for path in plots_dir.rglob("*.tsv") if plots_dir.is_dir() else []:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        kept = [rows[0]] + [r for r in rows[1:] if int(r[rows[0].index("step")]) <= step]
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, delimiter="\t").writerows(kept)


def read_scalars(plots_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """{tag: (steps, values)} of every TSV under `plots_dir` (tags as logged: 'loss/content', 'valid/psnr_y_db')."""
    out = {}
    for path in sorted(plots_dir.rglob("*.tsv")) if plots_dir.is_dir() else []:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        tag = path.relative_to(plots_dir).with_suffix("").as_posix()
        out[tag] = ([int(r[0]) for r in rows[1:]], [float(r[1]) for r in rows[1:]])
    return out
