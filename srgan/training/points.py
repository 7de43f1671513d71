"""A run's checkpoint points: the steps where its weights are kept for evaluation.

At each point two files are written: best.pt (the best validated weights so far) and last.pt (the
weights at that step). SRResNet has one point, its last step, written into the run folder itself;
each SRGAN has one per `srgan.checkpoints` entry, in a folder named by its label (`step16`,
`epoch100`). The loop asks `due(step)` and calls `write`; at the end `scored` and `last` say which
files evaluation scores. The files wait in the run's state folder until the run is published
(`srgan.training.store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srgan.core.records import ScoredCheckpoint
from srgan.training.store import RunStore


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


class CheckpointPoints:
    """Writes the points of a `PointPlan` (see the module docstring) and remembers which are done."""

    def __init__(self, plan: PointPlan, store: RunStore) -> None:
        self.plan, self.store = plan, store
        self.done: list[int] = []  # steps of points already written
        self.best_step_at: dict[int, int] = {}  # point step -> the best step when it was written

    def due(self, step: int) -> bool:
        return step in self.plan.points and step not in self.done

    def write(self, step: int, best_step: int, files: dict[str, dict[str, Any]] | None) -> None:
        """Keep the point at `step`: `files` {"best.pt": checkpoint, "last.pt": checkpoint} (None on every
        process but the main one, which alone writes); best_step: the step behind best.pt's weights."""
        if files is not None:
            self.store.save_point(self.plan.points[step], files)
        self.done.append(step)
        self.best_step_at[step] = best_step

    def scored(self) -> tuple[ScoredCheckpoint, ...]:
        """The files evaluation scores, labelled, with the step behind each one's weights."""
        out = []
        for kind, point, name in self.plan.scored:
            step = self.best_step_at[point] if name == "best.pt" else point
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

    def state_dict(self) -> dict[str, Any]:
        return {"done": list(self.done), "best_step_at": dict(self.best_step_at)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done, self.best_step_at = list(state["done"]), dict(state["best_step_at"])
