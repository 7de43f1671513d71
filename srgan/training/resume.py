"""The resume state of a training run (`ResumeState`, a typed record) and the hook that saves it.

Every `execution.checkpoint_every` steps (never at the last one) `ResumeSaving`, the loop's last hook
(`srgan.training.hooks`), saves the whole state a killed run continues from: the task (networks,
optimisers, schedules, loss scaler, EMA), the run's progress, the validation history and best weights,
the checkpoint points written, and the RNG states. The loop has read the guard just before, so the
file never holds a step that should have stopped the run. `restore` puts it back when its fingerprint
is this run's (`srgan.training.store.RunStore.load_resume`). On disk it is plain containers and tensors,
as `torch.load(weights_only=True)` reads them.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from srgan.core.records import ValidationPoint
from srgan.training.hooks import Hook, TrainState
from srgan.training.points import PointsState
from srgan.training.store import RunStore
from srgan.training.task import Task
from srgan.training.validation import ValidationState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RngState:
    """The host RNGs: torch's CPU generator and Python's `random`."""

    torch: Tensor
    python: tuple

    @classmethod
    def now(cls) -> RngState:
        return cls(torch.get_rng_state(), random.getstate())

    def apply(self) -> None:
        torch.set_rng_state(self.torch)
        random.setstate(self.python)


@dataclass(frozen=True)
class ResumeState:
    """What a killed run continues from (see the module docstring)."""

    averaged: dict[str, Tensor]  # the averaged generator's weights (a checkpoint's "model", as load_checkpoint checks)
    task: dict[str, Any]  # `Task.state_dict()`
    progress: TrainState
    validation: ValidationState
    points: PointsState
    rng: RngState

    def to_file(self) -> dict[str, Any]:
        """The form saved on disk."""
        validation = self.validation
        return {
            "model": self.averaged,
            "task": self.task,
            "state": asdict(self.progress),
            "validation": {"history": [asdict(point) for point in validation.history],
                           "best_psnr_y_db": validation.best_psnr_y_db, "best_step": validation.best_step,
                           "best_weights": validation.best_weights},
            "points": {"done": list(self.points.done), "best_step_at": dict(self.points.best_step_at)},
            "rng": {"torch": self.rng.torch, "python": self.rng.python},
        }

    @classmethod
    def from_file(cls, saved: dict[str, Any]) -> ResumeState:
        validation, points = saved["validation"], saved["points"]
        return cls(
            averaged=saved["model"], task=saved["task"], progress=TrainState(**saved["state"]),
            validation=ValidationState([ValidationPoint(**point) for point in validation["history"]],
                                       validation["best_psnr_y_db"], validation["best_step"],
                                       validation["best_weights"]),  # stays on the CPU, as cpu_weights keeps it
            points=PointsState(list(points["done"]), dict(points["best_step_at"])),
            rng=RngState(saved["rng"]["torch"], saved["rng"]["python"]))


def _assign(target: Any, source: Any) -> None:
    """Copy dataclass `source`'s fields into `target` (shared by the loop and its hooks: kept, not replaced)."""
    for f in dataclasses.fields(target):
        setattr(target, f.name, getattr(source, f.name))


class ResumeSaving(Hook):
    """Saves the run's `ResumeState` every `every_steps` steps before the last (`last_step`); `restore` reads it
    back into the task and the shared records."""

    def __init__(self, store: RunStore, fingerprint: dict[str, str], every_steps: int, last_step: int, task: Task,
                 progress: TrainState, validation: ValidationState, points: PointsState) -> None:
        self.store, self.fingerprint, self.every_steps, self.last_step = store, fingerprint, every_steps, last_step
        self.task, self.progress, self.validation, self.points = task, progress, validation, points

    def restore(self) -> int:
        """Continue from the resume state when it belongs to this run, else start afresh; open the run's folders
        for that (`RunStore.open_folders`). Returns the step the session starts after."""
        saved = self.store.load_resume(self.fingerprint)
        if saved is not None:
            state = ResumeState.from_file(saved)
            self.task.load_state_dict(state.task)
            _assign(self.progress, state.progress)
            _assign(self.validation, state.validation)
            _assign(self.points, state.points)
            state.rng.apply()
            log.info("resuming %s from step %d of %d (%s)", self.task.experiment, self.progress.step,
                     self.last_step, self.store.resume_path)
        self.store.open_folders(fresh=self.progress.step == 0)
        return self.progress.step

    def due(self, step: int) -> bool:
        return step % self.every_steps == 0 and step < self.last_step

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        state = ResumeState(self.task.averaged.state_dict(), self.task.state_dict(), self.progress, self.validation,
                            self.points, RngState.now())
        self.store.save_resume(state.to_file(), self.fingerprint)
