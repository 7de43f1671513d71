"""What a training stage hands on, as typed records written and read here only.

- `GeneratorRecord`: inside every generator checkpoint (`generator_checkpoint`), beside its weights:
  the architecture that rebuilds it (no guessing from the weights' names) and where the weights
  come from (experiment, variant, loss, step, validation scores).

- `TrainingSummary`: models/<experiment>/<variant>/summary.json, written by a
  training stage, read by evaluation and the report. Only what the run computed
  (so two hosts training the same run write the same bytes); its wall time,
  step time, memory and whether its steps ran as CUDA graphs go to the log
  folder as `RunTiming`.
- What evaluation writes for the report is in `srgan.core.evaluation_records`
  (apart, so that no training stage depends on it).
- Training curves: plots/<experiment>/<variant>/<tag>.tsv with the columns
  `step` and the tag's last part, for `dvc plots` and the report.

A loss mix is data ({term: weight}), never text to parse back.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from srgan.core.artifacts import read_json, write_json_atomic
from srgan.core.errors import SrganError

EXPERIMENTS = ("srresnet", "srgan")  # experiment 1 (SRResNet per loss), experiment 2 (SRGAN per loss)
SUMMARY_FILE = "summary.json"
TIMING_FILE = "timing.json"
STEADY_AFTER_STEPS = 20
T = TypeVar("T")

# set name -> metric key -> mean over the set's images ("images": the count)
SetScores = dict[str, dict[str, float]]


def record_field(data: dict, key: str, path: Path) -> Any:
    """`data[key]`, or SrganError naming the file when a record written by another version lacks it."""
    if key not in data:
        raise SrganError(f"{path} has no '{key}'; it was written by another version of srgan-pipeline: "
                         "run the stage that writes it again")
    return data[key]


def nested_record(cls: type[T], data: Any, path: Path, where: str) -> T:
    """`cls(**data)` for a record held inside a file's record (`where`: e.g. "history[0]", "last"), or
    SrganError naming the file, the place and the first missing or unknown field."""
    if not isinstance(data, dict):
        raise SrganError(f"{path} has no record at '{where}' (found {type(data).__name__}); it was written by "
                         "another version of srgan-pipeline: run the stage that writes it again")
    fields = cls.__dataclass_fields__
    missing = [name for name in fields if name not in data]
    unknown = [name for name in data if name not in fields]
    if missing or unknown:
        what = f"no '{missing[0]}'" if missing else f"an unknown field '{unknown[0]}'"
        raise SrganError(f"{path} has {what} in '{where}'; it was written by another version of srgan-pipeline: "
                         "run the stage that writes it again")
    return cls(**data)


# ---------------------------------------------------------------- generator checkpoints


@dataclass(frozen=True)
class GeneratorArchitecture:
    """What rebuilds an SRResNet from its weights (`srgan.nets.srresnet.build_generator`)."""

    scale: int
    num_blocks: int
    channels: int
    shared_bn: bool  # the study's blocks: one BatchNorm per residual block
    conv_bias: bool  # biases in the head, upsampling and tail convs (the study's had none)


@dataclass(frozen=True)
class GeneratorRecord:
    """A generator checkpoint's record: its architecture, and where its weights come from."""

    architecture: GeneratorArchitecture
    experiment: str  # "srresnet" | "srgan" ("" when not trained by the pipeline)
    variant: str  # the loss variant, e.g. "mse", "hybrid_vgg19_5_4"
    loss_terms: dict[str, float]  # {term: weight} of the content loss
    feature_weights: dict[str, str]  # {term: weights its extractor held}
    step: int  # optimiser steps behind the weights
    valid_psnr_y_db: float | None  # validation scores at that step (None: not validated)
    valid_ssim_y: float | None


def generator_checkpoint(weights: dict[str, Any], record: GeneratorRecord) -> dict[str, Any]:
    """The dict a generator checkpoint holds (saved by `srgan.core.artifacts.save_checkpoint`)."""
    return {"model": weights, "record": asdict(record)}


def read_generator_record(checkpoint: dict[str, Any], path: Path) -> GeneratorRecord:
    """The record of a loaded generator checkpoint; SrganError naming the file when it has none."""
    data = checkpoint.get("record")
    if not isinstance(data, dict):
        raise SrganError(f"checkpoint {path} has no generator record (written by another version of "
                         "srgan-pipeline, or not a generator): rerun the stage that trains it")
    try:
        architecture = GeneratorArchitecture(**data["architecture"])
        return GeneratorRecord(**{**data, "architecture": architecture})
    except (KeyError, TypeError) as e:
        raise SrganError(f"checkpoint {path} has a generator record this version cannot read ({e}); rerun the "
                         "stage that trains it") from None


# ---------------------------------------------------------------- training -> evaluation, report


def point_label(unit: str, count: int) -> str:
    """A checkpoint point's label and folder: 'step16', 'epoch100' (the one rule that writes them)."""
    return f"{unit}{count}"


@dataclass(frozen=True)
class ScoredCheckpoint:
    """A checkpoint of a run: what its weights are, as data (its text `label` is derived, never parsed back).

    kind "best": the best validated weights (SRResNet's scored file); "point": the weights after `count`
    units (an SRGAN checkpoint point); "last": the weights at the end of the run.
    """

    kind: Literal["best", "point", "last"]
    file: str  # relative to the run folder: "best.pt", "step16/last.pt"
    step: int  # optimiser steps behind its weights
    unit: Literal["step", "epoch"]  # what `count` counts (the run's unit)
    count: int  # units behind a point's weights (the run's length for best and last)

    @property
    def label(self) -> str:
        """The key of its scores and its folder: 'best', 'last', 'step16', 'epoch100'."""
        return point_label(self.unit, self.count) if self.kind == "point" else self.kind

    def words(self) -> str:
        """'best validation PSNR-Y', 'after 100 epochs', 'after 1 step', 'at the end'."""
        if self.kind == "best":
            return "best validation PSNR-Y"
        if self.kind == "last":
            return "at the end"
        return f"after {self.count} {self.unit}{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class ValidationPoint:
    step: int
    valid_psnr_y_db: float  # mean PSNR-Y (paper protocol) on the validation set
    valid_ssim_y: float


@dataclass(frozen=True)
class TrainingSummary:
    experiment: str  # "srresnet" | "srgan"
    variant: str  # the loss variant, e.g. "mse", "hybrid_vgg19_5_4"
    seed: int  # the run's seed (params `seeds`): its initial weights, patch draws, augmentation, D
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
    values = {name: record_field(data, name, path) for name in TrainingSummary.__dataclass_fields__}
    values["history"] = tuple(nested_record(ValidationPoint, h, path, f"history[{i}]")
                              for i, h in enumerate(values["history"]))
    values["scored"] = tuple(nested_record(ScoredCheckpoint, c, path, f"scored[{i}]")
                             for i, c in enumerate(values["scored"]))
    values["last"] = nested_record(ScoredCheckpoint, values["last"], path, "last")
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


# ---------------------------------------------------------------- training curves (dvc plots, report)


def append_scalars(plots_dir: Path, step: int, values: dict[str, float]) -> None:
    """Append one row per scalar: <plots_dir>/<tag>.tsv gets `step<TAB>value` (6 significant digits)."""
    for tag, value in values.items():
        path = plots_dir / f"{tag}.tsv"
        header = not path.exists() or path.stat().st_size == 0  # empty: a run killed before its first row
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
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if not lines:  # a run killed before its first row was written: nothing to drop
            continue
        header, *rows = lines
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
