"""What evaluation hands to the report, as typed records written and read here only.

- `RunEvaluation`: evaluation/<experiment>/<variant>.json, the scores of every scored
  checkpoint label (`best`, `step16`, `epoch100`) with their provenance (loss mix,
  extractor weights, checkpoint files, LPIPS status, the study protocol as run);
- `BaselineEvaluation`: evaluation/bicubic.json and evaluation/hr.json;
- the per-image table: evaluation/<experiment>/<variant>.csv, one row per (checkpoint, set,
  image) with the metrics (`PER_IMAGE_KEYS`, then `srgan.core.metric_table.METRICS` in its order;
  `write_per_image`, `read_per_image`).

Written by the evaluation stages (cached outputs, so they travel through DVC's run-cache),
read by the report, which writes the numbers people compare into git
(`srgan.report.metrics_files`). No training stage imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srgan.core.artifacts import atomic_path, read_json, write_json_atomic
from srgan.core.errors import SrganError
from srgan.core.metric_table import METRICS
from srgan.core.records import ScoredCheckpoint, SetScores, nested_record, record_field

if TYPE_CHECKING:
    import pandas as pd

PER_IMAGE_KEYS = ("checkpoint", "set", "image", "gray")  # a per-image row's identity: label, set, image, gray file


@dataclass(frozen=True)
class AsRunScoring:
    """How the study protocol as the study's code ran was scored (`srgan.core.study_code.AsRunProtocol`, applied)."""

    files: dict[str, str]  # checkpoint label -> the file it scored in that label's place (SRResNet: last.pt)
    bn_mode: str  # "eval" | "train": train = each test image normalised with its own statistics
    clamp: bool  # False: SR scored as the generator produced it

    def words(self) -> str:
        """'last checkpoint, BN in training mode, unclamped': what the study's code did at test time."""
        files = set(self.files.values())
        return ", ".join(["last checkpoint" if files and all(f.endswith("last.pt") for f in files) else
                          "scored checkpoint",
                          "BN in training mode" if self.bn_mode == "train" else "BN in eval mode",
                          "clamped" if self.clamp else "unclamped"])


@dataclass(frozen=True)
class RunEvaluation:
    """The scores of one trained run: per scored checkpoint label, per set, the mean of each metric.

    JSON: {"experiment", "variant", "seed", "loss_terms", "feature_weights", "lpips_alex_status",
    "checkpoints": [ScoredCheckpoint...], "scores": {label: {set: {metric: mean}}}, "as_run_scoring",
    "as_run"}. When the study protocol as the study ran it differs from ours (`params.study_code`),
    "as_run_scoring" says what it did and "as_run" holds {label: {set: {"psnr_rgb_db",
    "ms_ssim_rgb"}}}; both are null otherwise.
    """

    experiment: str
    variant: str
    seed: int  # the trained run's seed (its training summary's)
    loss_terms: dict[str, float]
    feature_weights: dict[str, str]
    lpips_alex_status: str  # "ok", or "unavailable: <reason>"
    checkpoints: tuple[ScoredCheckpoint, ...]  # what was scored, in order (their labels key `scores`)
    scores: dict[str, SetScores]  # label -> set -> metric -> mean
    as_run_scoring: AsRunScoring | None = None  # None: the study protocol as run was not scored
    as_run: dict[str, SetScores] | None = None  # label -> set -> study-protocol scores as the study ran it


def write_run_evaluation(path: Path, record: RunEvaluation) -> None:
    write_json_atomic(path, asdict(record))


def read_run_evaluation(path: Path) -> RunEvaluation:
    data = read_json(path, "evaluation record")
    values = {name: record_field(data, name, path) for name in RunEvaluation.__dataclass_fields__}
    values["checkpoints"] = tuple(nested_record(ScoredCheckpoint, c, path, f"checkpoints[{i}]")
                                  for i, c in enumerate(values["checkpoints"]))
    values["as_run_scoring"] = (nested_record(AsRunScoring, values["as_run_scoring"], path, "as_run_scoring")
                                if values["as_run_scoring"] else None)
    missing = [c.label for c in values["checkpoints"] if c.label not in values["scores"]]
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


@dataclass(frozen=True)
class CheckpointEvaluation:
    """What `srgan evaluate` prints: one generator checkpoint (or bicubic) scored on benchmark folders."""

    model: str  # the checkpoint's path, or "bicubic"
    experiment: str  # from the checkpoint's record ("" for bicubic, or a checkpoint not trained by the pipeline)
    variant: str
    lpips_alex_status: str  # "ok", or "unavailable: <reason>"
    scores: SetScores  # set (folder name) -> metric -> mean


def write_per_image(path: Path, table: pd.DataFrame) -> None:
    """The per-image table as CSV (atomically): the identity columns, then the metrics it has (METRICS order),
    4 decimals."""
    columns = [*PER_IMAGE_KEYS, *(k for k in METRICS if k in table)]
    with atomic_path(path) as tmp:
        table[columns].to_csv(tmp, index=False, float_format="%.4f")


def read_per_image(path: Path) -> pd.DataFrame:
    """A per-image table written by `write_per_image`; SrganError naming the file when it is missing."""
    import pandas as pd

    if not path.is_file():
        raise SrganError(f"per-image metrics {path} not found; run its evaluate stage (dvc repro)")
    # Image names such as DIV2K's "0801" and labels must stay text; empty cells are missing values.
    return pd.read_csv(path, dtype={"set": str, "image": str, "checkpoint": str}, keep_default_na=False,
                       na_values=["", "NaN", "nan"])
