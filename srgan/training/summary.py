"""What a finished training run records: its summary (`srgan.core.records.TrainingSummary`), which later
stages read, and its session's timing (`RunTiming`, beside the logs), from the records the loop and its
hooks kept; then the run is published (`srgan.training.store.RunStore.publish`). `SteadyRate` is the
loop's device-synchronised clock.
"""

from __future__ import annotations

import logging
import resource
import time

import torch

from srgan.core.records import STEADY_AFTER_STEPS, RunTiming, TrainingSummary
from srgan.core.runtime import Runtime
from srgan.datasets.patches import PatchPlan
from srgan.training.hooks import TrainState
from srgan.training.points import CheckpointPoints, RunSpec
from srgan.training.store import RunStore
from srgan.training.task import Task
from srgan.training.validation import ValidationState

log = logging.getLogger(__name__)


def _peak_memory(runtime: Runtime) -> tuple[float, str]:
    """(peak MiB, what was measured)."""
    if runtime.device.type == "cuda":
        return torch.cuda.max_memory_allocated(runtime.device) / 2**20, "CUDA allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process RSS"  # Linux: KiB


class SteadyRate:
    """Optimiser steps per second of a session after its first STEADY_AFTER_STEPS (warm-up, CUDA graph
    capture), up to its last step before that step's validation; two device syncs per session."""

    def __init__(self, device: torch.device, start_step: int) -> None:
        self.device, self.start_step = device, start_step
        self.mark: tuple[int, float] | None = None
        self.rate: float | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def before(self, step: int) -> None:
        if self.mark is None and step > self.start_step + STEADY_AFTER_STEPS:
            self._sync()
            self.mark = (step - 1, time.perf_counter())

    def stop(self, step: int) -> None:
        if self.mark is not None and step > self.mark[0]:
            self._sync()
            self.rate = (step - self.mark[0]) / (time.perf_counter() - self.mark[1])


class RunEnd:
    """Writes a finished run's summary and timing and publishes it (see the module docstring)."""

    def __init__(self, task: Task, spec: RunSpec, seed: int, plan: PatchPlan, progress: TrainState,
                 validation: ValidationState, points: CheckpointPoints, store: RunStore, runtime: Runtime) -> None:
        self.task, self.spec, self.seed, self.plan, self.progress = task, spec, seed, plan, progress
        self.validation, self.points, self.store, self.runtime = validation, points, store, runtime

    def finish(self, start_step: int, wall_s: float, steady_steps_per_s: float | None) -> TrainingSummary:
        """The summary of the run; start_step: where this session started, wall_s its seconds."""
        state, spec, validation, steps = self.progress, self.spec, self.validation, self.plan.total_steps
        summary = TrainingSummary(
            experiment=self.task.experiment, variant=spec.variant, seed=self.seed, loss_terms=spec.loss_terms,
            feature_weights=spec.feature_weights, unit=self.plan.unit, steps=steps,
            steps_per_epoch=self.plan.steps_per_epoch, best_step=validation.best_step,
            best_valid_psnr_y_db=round(validation.best_psnr_y_db, 4), bad_steps=state.bad_steps,
            processes=self.runtime.world_size, history=tuple(validation.history),
            scored=self.points.scored(), last=self.points.last(steps))
        memory_mib, memory_kind = _peak_memory(self.runtime)
        timing = RunTiming(wall_s=round(wall_s, 1), train_step_s=round(state.train_s / max(1, state.step), 4),
                           steady_steps_per_s=None if steady_steps_per_s is None else round(steady_steps_per_s, 2),
                           peak_memory_mib=round(memory_mib, 1), memory_kind=memory_kind,
                           resumed_from_step=start_step, graphed=self.task.graphed, graph_note=self.task.graph_note)
        log.info("%s %s: %d steps, %.3f s per training step, peak memory %.0f MiB (%s); CUDA graphs: %s",
                 self.task.experiment, spec.variant, steps, timing.train_step_s, timing.peak_memory_mib,
                 memory_kind, timing.graph_note)
        self.store.publish(self.points.folders, summary, timing)
        self.runtime.barrier()
        return summary
