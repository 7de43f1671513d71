"""A run's checkpoint points: the steps where its weights are kept for evaluation.

At each point two files are written: best.pt (the best validated weights so far) and last.pt (the
weights at that step). SRResNet has one point, its last step, written into the run folder itself;
each SRGAN has one per `srgan.checkpoints` entry, in a folder named by its label (`step16`,
`epoch100`). `CheckpointPoints` is a hook of the loop (`srgan.training.hooks`), after validation:
due at a point's step, it writes the point from the validation state; at the end `scored` and `last`
say which files evaluation scores. The files wait in the run's state folder until the run is
published (`srgan.training.store`). `RunSpec` is what a run is, as its checkpoints record it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from srgan.core.records import (
    GeneratorArchitecture,
    GeneratorRecord,
    ScoredCheckpoint,
    ValidationPoint,
    generator_checkpoint,
)
from srgan.training.hooks import Hook
from srgan.training.store import RunStore
from srgan.training.task import Task
from srgan.training.validation import ValidationState, cpu_weights


def point_file(folder: str, name: str) -> str:
    """A checkpoint point's file, relative to the run folder ("" = the run folder itself)."""
    return f"{folder}/{name}" if folder else name


@dataclass(frozen=True)
class PointPlan:
    """Where a run keeps its weights, and what evaluation scores."""

    unit: str  # "step" | "epoch": what the counts count
    points: dict[int, str]  # step -> folder of the point written there ("" = the run folder)
    counts: dict[int, int]  # step -> units of the point there
    scored: tuple[tuple[str, int, str], ...]  # (kind "best" | "point", point step, "best.pt" | "last.pt")


@dataclass(frozen=True)
class RunSpec:
    """What a run is: written into its checkpoints and summary."""

    variant: str
    scale: int
    architecture: GeneratorArchitecture  # of the generator it trains: its checkpoints' records hold it
    loss_terms: dict[str, float]  # {term: weight} of the content loss
    feature_weights: dict[str, str]  # {term: weights its extractor holds}
    points: PointPlan  # where the weights are kept, and what evaluation scores


@dataclass
class PointsState:
    """The checkpoint points written so far."""

    done: list[int] = field(default_factory=list)  # steps of points already written
    best_step_at: dict[int, int] = field(default_factory=dict)  # point step -> the best step when it was written


class CheckpointPoints(Hook):
    """Writes the points of `spec.points` (see the module docstring) from `validation` and the task's averaged
    generator, into `state`; only the main process (`is_main`) writes files."""

    def __init__(self, spec: RunSpec, store: RunStore, task: Task, validation: ValidationState, state: PointsState,
                 is_main: bool) -> None:
        self.spec, self.plan, self.store, self.task = spec, spec.points, store, task
        self.validation, self.state, self.is_main = validation, state, is_main

    def due(self, step: int) -> bool:
        return step in self.plan.points and step not in self.state.done

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        """best.pt (best validated so far) and last.pt (now) of the point at `step`."""
        validation = self.validation
        files = None
        if self.is_main:
            files = {"best.pt": self._checkpoint(validation.best_weights, validation.point_at(validation.best_step)),
                     "last.pt": self._checkpoint(cpu_weights(self.task.averaged), validation.history[-1])}
        self.write(step, validation.best_step, files)

    def _checkpoint(self, weights: dict[str, Tensor], point: ValidationPoint) -> dict[str, Any]:
        spec = self.spec
        return generator_checkpoint(weights, GeneratorRecord(
            spec.architecture, self.task.experiment, spec.variant, spec.loss_terms, spec.feature_weights, point.step,
            point.valid_psnr_y_db, point.valid_ssim_y))

    def write(self, step: int, best_step: int, files: dict[str, dict[str, Any]] | None) -> None:
        """Keep the point at `step`: `files` {"best.pt": checkpoint, "last.pt": checkpoint} (None on every
        process but the main one, which alone writes); best_step: the step behind best.pt's weights."""
        if files is not None:
            self.store.save_point(self.plan.points[step], files)
        self.state.done.append(step)
        self.state.best_step_at[step] = best_step

    def scored(self) -> tuple[ScoredCheckpoint, ...]:
        """The files evaluation scores, labelled, with the step behind each one's weights."""
        out = []
        for kind, point, name in self.plan.scored:
            step = self.state.best_step_at[point] if name == "best.pt" else point
            out.append(ScoredCheckpoint(kind, point_file(self.plan.points[point], name), step, self.plan.unit,
                                        self.plan.counts[point]))
        return tuple(out)

    def last(self, total_steps: int) -> ScoredCheckpoint:
        """The final weights: the last point's last.pt."""
        end = max(self.plan.points)
        return ScoredCheckpoint("last", point_file(self.plan.points[end], "last.pt"), total_steps, self.plan.unit,
                                self.plan.counts[end])

    @property
    def folders(self) -> list[str]:
        return list(self.plan.points.values())
