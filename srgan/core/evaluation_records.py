"""What evaluation hands to the report, as typed records written and read here only.

- `RunEvaluation`: evaluation/<experiment>/<variant>.json, the scores of every scored
  checkpoint label (`best`, `step16`, `epoch100`) with their provenance (loss mix,
  extractor weights, checkpoint files, LPIPS status, the study protocol as run);
- `BaselineEvaluation`: evaluation/bicubic.json and evaluation/hr.json.

Written by the evaluation stages (cached outputs, so they travel through DVC's run-cache),
read by the report, which writes the numbers people compare into git
(`srgan.report.metrics_files`). No training stage imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from srgan.core.artifacts import read_json, write_json_atomic
from srgan.core.errors import SrganError
from srgan.core.records import SetScores, record_field


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
    values = {name: record_field(data, name, path) for name in RunEvaluation.__dataclass_fields__}
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
    return BaselineEvaluation(**{name: record_field(data, name, path) for name in BaselineEvaluation.__dataclass_fields__})
