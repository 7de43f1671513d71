"""The pieces beside the training loop and the contract they meet it at (Lightning's callbacks).

The loop (`srgan.training.loop.TrainingRun`) calls every `Hook` at fixed points and never reads its
fields: `start(step)` when a session starts after `step` steps (0, or where it resumed); after each
step `due(step)`, and `at(step, scalars)` for the hooks that are due, in the order they were given;
`close()` when the session ends, finished or not. Before any hook acts at a step, and at the last
step, the loop calls `HealthCheck.at`: the guard's record is read there, the one host
synchronisation of such a step, so a step that should stop the run stops it before anything is
logged, validated or saved.

The hooks of a run, in their order: `srgan.training.log.TrainLog` (curves, TensorBoard, progress
bar; the main process only), `srgan.training.validation.Validation`,
`srgan.training.points.CheckpointPoints` and `srgan.training.resume.ResumeSaving`. `TrainState` is
the run's progress they share (steps, skipped steps, training seconds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from srgan.core.errors import SrganError
from srgan.training.task import Task

log = logging.getLogger(__name__)


class Hook:
    """A piece the loop calls at fixed points (see the module docstring); each method does nothing here."""

    def start(self, step: int) -> None:
        """A session starts after `step` steps (0: a fresh run)."""

    def due(self, step: int) -> bool:
        """Whether it acts after `step` (a pure function of the step and what it has done)."""
        return False

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        """Act after `step`; scalars: the step's loss scalars (0-d device tensors, valid until the next step)."""

    def close(self) -> None:
        """The session ends, finished or not."""


@dataclass
class TrainState:
    """Progress of a run, shared by the loop and its hooks; saved in the resume state."""

    step: int = 0
    bad_steps: int = 0  # steps the guard skipped, over all sessions
    train_s: float = 0.0  # seconds spent in optimiser steps (not validation), over all sessions


class HealthCheck(Hook):
    """Reads the guard's record of skipped steps (one host sync): counts them into `state.bad_steps` with a
    warning, or stops the run naming the first offending step and what was not finite once they exceed
    `max_bad_steps`. resume_path: the resume state's file, named in the stop message."""

    def __init__(self, task: Task, state: TrainState, max_bad_steps: int, resume_path: Path) -> None:
        self.task, self.state, self.max_bad_steps, self.resume_path = task, state, max_bad_steps, resume_path

    def start(self, step: int) -> None:
        self.task.start_at(step)  # the record counts steps from here

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        bad, first, failed = self.task.read_health()
        if not bad:
            return
        self.state.bad_steps += bad
        # The first failed check names the cause (terms come first; a NaN loss also makes NaN gradients).
        what = (failed[0] + (f" (and {', '.join(failed[1:])})" if len(failed) > 1 else "")) if failed else "value"
        if self.state.bad_steps > self.max_bad_steps:
            saved = (f"the last saved state is {self.resume_path} (an unchanged rerun resumes there and meets "
                     "the same step again)" if self.resume_path.is_file() else
                     "no state was saved yet (an unchanged rerun meets the same step again)")
            raise SrganError(
                f"non-finite {what} at step {first} of {self.task.experiment} ({self.state.bad_steps} bad step(s) "
                f"by step {step}, max_bad_steps is {self.max_bad_steps}); {saved}; lower learning_rate, raise "
                "max_bad_steps or check the data, then run again")
        log.warning("non-finite %s at step %d: skipped (%d step(s) in steps ..%d; %d of %d allowed)", what, first, bad,
                    step, self.state.bad_steps, self.max_bad_steps)
