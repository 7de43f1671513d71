"""The training loop, shared by both experiments' tasks.

`TrainingRun` drives a task through the `Task` contract (`srgan.training.task`) over
the batches of its patch plan: from the CPU loader (DataLoader workers) or, on CUDA,
from the training set held in GPU memory (`srgan.datasets.patches`; the same
patches), where each step takes its batch's packed draws and cuts the patches itself,
inside its CUDA graph (`Task.cut_in_step`). Beside the loop stand two small pieces it
calls at their cadence: `Validation` (PSNR-Y / SSIM-Y of the averaged generator, the
best weights so far; `srgan.training.validation`) and `CheckpointPoints` (best.pt /
last.pt at each point; `srgan.training.points`). The loop logs at `execution.log_every` and saves the
resume state every `execution.checkpoint_every` steps (`srgan.training.store`).

Nothing in a step waits for the device. A non-finite loss or gradient makes its
step a no-op on the device (`srgan.training.guard.StepGuard`); the loop reads the
guard's record only at its checkpoints of attention — logging, validation,
checkpoint points, resume saves and the last step — and then counts the skipped
steps against `max_bad_steps`, or stops naming the first offending step and what
was not finite. Resume state is saved only after such a check, so it never holds
a step that should have stopped the run.
"""

from __future__ import annotations

import logging
import random
import resource
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from srgan.core.config import ExecutionParams, TrainParams
from srgan.core.errors import SrganError
from srgan.core.records import (
    STEADY_AFTER_STEPS,
    GeneratorArchitecture,
    GeneratorRecord,
    RunTiming,
    TrainingSummary,
    ValidationPoint,
    generator_checkpoint,
)
from srgan.core.runtime import Runtime
from srgan.datasets.patches import PatchPlan, PatchSpec, patch_batches
from srgan.datasets.prepared import EvalImage, TrainImage
from srgan.training.log import TrainLog
from srgan.training.points import CheckpointPoints, PointPlan
from srgan.training.store import RunStore
from srgan.training.task import Task
from srgan.training.validation import Validation, cpu_weights

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrainData:
    train_images: list[TrainImage]  # decoded once, in memory
    valid_images: list[EvalImage]
    scale: int
    seed: int  # patch sampling: item i of the run is a pure function of (seed, i)
    rotation: str = "bicubic"  # rot10_hflip's rotation (params study_code.rotation)


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
class TrainState:
    """Progress of a run; with the validation and the points, the typed part of the resume state."""

    step: int = 0
    bad_steps: int = 0
    train_s: float = 0.0  # seconds spent in optimiser steps (not validation), over all sessions


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


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


class TrainingRun:
    """Drives one task through a run: see the module docstring."""

    def __init__(self, task: Task, spec: RunSpec, data: TrainData, plan: PatchPlan, p: TrainParams,
                 execution: ExecutionParams, runtime: Runtime, store: RunStore, fingerprint: dict[str, str]) -> None:
        self.task, self.spec, self.data, self.plan, self.p = task, spec, data, plan, p
        self.execution, self.runtime, self.store, self.fingerprint = execution, runtime, store, fingerprint
        self.max_bad_steps = p.max_bad_steps  # non-finite steps a run may skip before it stops
        self.state = TrainState()
        self.validation = Validation(data.valid_images, data.scale, runtime, p.valid_every * plan.steps_per_unit,
                                     {*spec.points.points, plan.total_steps})
        self.points = CheckpointPoints(spec.points, store)
        self.log: TrainLog | None = None
        self.clock = SteadyRate(runtime.device, 0)
        self.patch_spec = PatchSpec(patch_px=p.patch_px, scale=data.scale, augment=p.augment, seed=data.seed,
                                    per_epoch=plan.per_epoch, rotation=data.rotation)

    @property
    def steps(self) -> int:
        return self.plan.total_steps

    # ------------------------------------------------------------ resume

    def _save_resume(self) -> None:
        self.store.save_resume({
            "model": self.task.averaged.state_dict(),  # what load_checkpoint checks for
            "task": self.task.state_dict(),
            "state": asdict(self.state),
            "validation": self.validation.state_dict(),
            "points": self.points.state_dict(),
            "rng": _rng_state(),
        }, self.fingerprint)

    def _restore(self) -> None:
        """Continue from the resume state when it belongs to this run, else start afresh."""
        saved = self.store.load_resume(self.fingerprint)
        if saved is None:
            return
        self.task.load_state_dict(saved["task"])
        self.state = TrainState(**saved["state"])
        self.validation.load_state_dict(saved["validation"])
        self.points.load_state_dict(saved["points"])
        _set_rng_state(saved["rng"])
        log.info("resuming %s from step %d of %d (%s)", self.task.experiment, self.state.step, self.steps,
                 self.store.resume_path)

    # ------------------------------------------------------------ the loop

    def run(self) -> TrainingSummary:
        """Train to the end (or from the resume state to the end); returns the summary."""
        started = time.time()
        self._restore()
        start_step = self.state.step
        self.clock = SteadyRate(self.runtime.device, start_step)
        self.task.start_at(start_step)
        self.store.open_folders(fresh=start_step == 0)
        if self.runtime.is_main:
            self.log = TrainLog(self.store.live_log_dir, self.store.live_plots_dir, start_step)
        self.runtime.barrier()
        try:
            runtime = self.runtime
            source = patch_batches(
                self.data.train_images, self.patch_spec, self.plan, start_step,
                micro_batches=self.p.grad_accumulation, rank=runtime.rank, world_size=runtime.world_size,
                device=runtime.device, on_device=self.execution.patches_on_device,
                num_workers=self.execution.num_workers)
            if source.cut is not None:  # the device sampler: each step cuts its patches from the batch's draws
                cut, layout = source.cut, torch.channels_last if runtime.channels_last else torch.contiguous_format
                self.task.cut_in_step(lambda packed: tuple(img.contiguous(memory_format=layout) for img in cut(packed)))
                batches = source.batches
            else:
                batches = ((runtime.to_device(lr_img), runtime.to_device(hr_img)) for lr_img, hr_img in source.batches)
            if self.log is not None:
                batches = self.log.progress(batches, self.steps, start_step, self.spec.variant,
                                            self.execution.progress)
            for step, inputs in enumerate(batches, start=start_step + 1):
                self._step(step, inputs)
        finally:
            if self.log is not None:
                self.log.close()
        return self._finish(start_step, time.time() - started)

    def _step(self, step: int, inputs: tuple[Tensor, ...]) -> None:
        self.clock.before(step)
        tick = time.perf_counter()
        scalars = self.task.train_step(*inputs)
        self.task.end_step()
        self.state.step = step
        if step == self.steps:
            self.clock.stop(step)
        log_now = step % self.execution.log_every == 0 or step == self.steps
        validate_now = self.validation.due(step)
        save_now = step % self.execution.checkpoint_every == 0 and step < self.steps
        if log_now or validate_now or save_now:
            self._check_health(step)  # the one host sync of these steps
        if self.log is not None and log_now:
            values = dict(zip(scalars, torch.stack([v.detach().float() for v in scalars.values()]).tolist()))
            values.update(lr=self.task.learning_rate, bad_steps=self.state.bad_steps)
            self.log.scalars(step, values)
        self.state.train_s += time.perf_counter() - tick
        if validate_now:
            self._validate(step)
        if self.points.due(step):
            self._write_point(step)
        if save_now:
            self._save_resume()

    def _check_health(self, step: int) -> None:
        """Count the steps the guard skipped since the last check; stop when they exceed max_bad_steps."""
        bad, first, failed = self.task.read_health()
        if not bad:
            return
        self.state.bad_steps += bad
        # The first failed check names the cause (terms come first; a NaN loss also makes NaN gradients).
        what = (failed[0] + (f" (and {', '.join(failed[1:])})" if len(failed) > 1 else "")) if failed else "value"
        if self.state.bad_steps > self.max_bad_steps:
            saved = (f"the last saved state is {self.store.resume_path} (an unchanged rerun resumes there and meets "
                     "the same step again)" if self.store.resume_path.is_file() else
                     "no state was saved yet (an unchanged rerun meets the same step again)")
            raise SrganError(
                f"non-finite {what} at step {first} of {self.task.experiment} ({self.state.bad_steps} bad step(s) "
                f"by step {step}, max_bad_steps is {self.max_bad_steps}); {saved}; lower learning_rate, raise "
                "max_bad_steps or check the data, then run again")
        log.warning("non-finite %s at step %d: skipped (%d step(s) in steps ..%d; %d of %d allowed)", what, first, bad,
                    step, self.state.bad_steps, self.max_bad_steps)

    def _validate(self, step: int) -> None:
        if self.runtime.is_main:
            first = self.data.valid_images[0]

            def log_first(item: EvalImage, sr_img: Tensor) -> None:
                if item is first:
                    self.log.image(f"valid/{item.name}", sr_img[0], step)

            point = self.validation.validate(step, self.task.averaged, log_first)
            self.log.scalars(step, {"valid/psnr_y_db": point.valid_psnr_y_db, "valid/ssim_y": point.valid_ssim_y})
        self.runtime.barrier()

    def _checkpoint(self, weights: dict[str, Tensor], point: ValidationPoint) -> dict[str, Any]:
        spec = self.spec
        return generator_checkpoint(weights, GeneratorRecord(
            spec.architecture, self.task.experiment, spec.variant, spec.loss_terms, spec.feature_weights, point.step,
            point.valid_psnr_y_db, point.valid_ssim_y))

    def _write_point(self, step: int) -> None:
        """best.pt (best validated so far) and last.pt (now) of the checkpoint point at `step`."""
        validation = self.validation
        files = None
        if self.runtime.is_main:
            files = {"best.pt": self._checkpoint(validation.best_weights, validation.point_at(validation.best_step)),
                     "last.pt": self._checkpoint(cpu_weights(self.task.averaged), validation.history[-1])}
        self.points.write(step, validation.best_step, files)

    def _finish(self, start_step: int, wall_s: float) -> TrainingSummary:
        state, spec, validation = self.state, self.spec, self.validation
        summary = TrainingSummary(
            experiment=self.task.experiment, variant=spec.variant, seed=self.data.seed, loss_terms=spec.loss_terms,
            feature_weights=spec.feature_weights, unit=self.plan.unit, steps=self.steps,
            steps_per_epoch=self.plan.steps_per_epoch, best_step=validation.best_step,
            best_valid_psnr_y_db=round(validation.best_psnr_y_db, 4), bad_steps=state.bad_steps,
            processes=self.runtime.world_size, history=tuple(validation.history),
            scored=self.points.scored(), last=self.points.last(self.steps))
        memory_mib, memory_kind = _peak_memory(self.runtime)
        steady = self.clock.rate
        timing = RunTiming(wall_s=round(wall_s, 1), train_step_s=round(state.train_s / max(1, state.step), 4),
                           steady_steps_per_s=None if steady is None else round(steady, 2),
                           peak_memory_mib=round(memory_mib, 1), memory_kind=memory_kind,
                           resumed_from_step=start_step, graphed=self.task.graphed, graph_note=self.task.graph_note)
        log.info("%s %s: %d steps, %.3f s per training step, peak memory %.0f MiB (%s); CUDA graphs: %s",
                 self.task.experiment, spec.variant, self.steps, timing.train_step_s, timing.peak_memory_mib,
                 memory_kind, timing.graph_note)
        self.store.publish(self.points.folders, summary, timing)
        self.runtime.barrier()
        return summary
