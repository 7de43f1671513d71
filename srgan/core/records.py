"""What crosses a stage boundary, as typed records written and read here only.

- `TrainingSummary`: models/<experiment>/<variant>/summary.json, written by a
  training stage, read by evaluation and the report. Only what the run computed
  (so two hosts training the same run write the same bytes); its wall time,
  step time, memory and whether its steps ran as CUDA graphs go to the log
  folder as `RunTiming`.
- `RunEvaluation`: evaluation/<experiment>/<variant>.json, the scores of every
  scored checkpoint label (`best`, `step16`, `epoch100`) with their provenance
  (loss mix, extractor weights, checkpoint files, LPIPS status); `BaselineEvaluation`:
  evaluation/bicubic.json and evaluation/hr.json. Written by evaluation (cached,
  so they travel through DVC's run-cache), read by the report, which writes the
  numbers people compare into git (`srgan.report.metrics_files`).
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
class RunEvaluation:
    """The scores of one trained run: per scored checkpoint label, per set, the mean of each metric.

    JSON: {"experiment", "variant", "loss_terms", "feature_weights", "lpips_alex_status",
    "checkpoints": {label: file}, "scores": {label: {set: {metric: mean}}}, "as_run_protocol",
    "as_run"}. When the study protocol as the study ran it differs from ours (`params.study_code`),
    "as_run_protocol" says what it did and "as_run" holds {label: {set: {"psnr_rgb_db",
    "ms_ssim_rgb"}}}; both are null otherwise.
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


def write_run_evaluation(path: Path, record: RunEvaluation) -> None:
    write_json_atomic(path, asdict(record))


def read_run_evaluation(path: Path) -> RunEvaluation:
    data = read_json(path, "evaluation record")
    values = {name: _field(data, name, path) for name in RunEvaluation.__dataclass_fields__}
    missing = [label for label in values["checkpoints"] if label not in values["scores"]]
    if missing:
        raise SrganError(f"evaluation record {path} has no results for checkpoint '{missing[0]}', which it lists; "
                         "re-run its evaluate stage")
    return RunEvaluation(**values)


@dataclass(frozen=True)
class BaselineEvaluation:
    """Scores of a model without checkpoints: bicubic upscaling, or HR itself (NIQE only).

    JSON: {"experiment": "bicubic" | "hr", "lpips_alex_status", "scores": {<set>: {metric: mean}}}.
    """

    experiment: str  # "bicubic" | "hr"
    lpips_alex_status: str  # "ok", "unavailable: <reason>", or "n/a" (hr)
    scores: SetScores


def write_baseline_evaluation(path: Path, record: BaselineEvaluation) -> None:
    write_json_atomic(path, asdict(record))


def read_baseline_evaluation(path: Path) -> BaselineEvaluation:
    data = read_json(path, "evaluation record")
    return BaselineEvaluation(**{name: _field(data, name, path) for name in BaselineEvaluation.__dataclass_fields__})


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
    """Drop rows logged after `step` (by a run that was killed before its next resume checkpoint).

    The kept lines are written back as they were read (`\n` ends, as `append_scalars` writes them),
    so a resumed run's curve files are byte for byte an uninterrupted run's."""
    for path in plots_dir.rglob("*.tsv") if plots_dir.is_dir() else []:
        header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
        at = header.rstrip("\n").split("\t").index("step")
        kept = [row for row in rows if int(row.split("\t")[at]) <= step]
        path.write_text(header + "".join(kept), encoding="utf-8", newline="")


def read_scalars(plots_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """{tag: (steps, values)} of every TSV under `plots_dir` (tags as logged: 'loss/content', 'valid/psnr_y_db')."""
    out = {}
    for path in sorted(plots_dir.rglob("*.tsv")) if plots_dir.is_dir() else []:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        tag = path.relative_to(plots_dir).with_suffix("").as_posix()
        out[tag] = ([int(r[0]) for r in rows[1:]], [float(r[1]) for r in rows[1:]])
    return out
