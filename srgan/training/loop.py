"""The training loop, shared by both experiments' tasks.

`TrainingRun` drives a task through the `Task` contract (`srgan.training.task`) over the batches of
its patch plan (`BatchFeed`): from the CPU loader (DataLoader workers) or, on CUDA, from the training
set held in GPU memory (`srgan.datasets.patches`; the same patches), where each step takes its
batch's packed draws and cuts the patches itself, inside its CUDA graph (`Task.cut_in_step`). Beside
the loop stand its hooks (`srgan.training.hooks`): the curves and TensorBoard (`log`), validation
(`validation`), the checkpoint points (`points`) and the resume saves (`resume`), each called when it
is due, after the guard's record has been read (`HealthCheck`). The loop reads none of their fields:
`RunEnd` (`srgan.training.summary`) writes the run's summary and timing when the last step is done.

Nothing in a step waits for the device. A non-finite loss or gradient makes its step a no-op on the
device (`srgan.training.guard.StepGuard`); the loop has the guard's record read only at steps where a
hook is due, and at the last step, and then the skipped steps count against `max_bad_steps`, or the
run stops naming the first offending step and what was not finite.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from srgan.core.config import ExecutionParams, TrainParams
from srgan.core.records import TrainingSummary
from srgan.core.runtime import Runtime
from srgan.datasets.patches import PatchPlan, PatchSpec, patch_batches
from srgan.datasets.prepared import EvalImage, TrainImage
from srgan.training.hooks import HealthCheck, Hook, TrainState
from srgan.training.resume import ResumeSaving
from srgan.training.summary import RunEnd, SteadyRate
from srgan.training.task import Task


@dataclass(frozen=True)
class TrainData:
    train_images: list[TrainImage]  # decoded once, in memory
    valid_images: list[EvalImage]
    scale: int
    seed: int  # patch sampling: item i of the run is a pure function of (seed, i)
    rotation: str = "bicubic"  # rot10_hflip's rotation (`srgan.core.study_code.TrainingCode.rotation`)


@dataclass(frozen=True)
class BatchFeed:
    """Where a run's batches come from: its patch plan and the draws of its patches."""

    images: list[TrainImage]
    spec: PatchSpec
    plan: PatchPlan
    micro_batches: int  # gradient accumulation: each process's batch in this many parts
    on_device: bool  # execution.patches_on_device
    num_workers: int  # execution.num_workers

    def batches(self, start_step: int, runtime: Runtime, task: Task) -> Iterator[tuple[Tensor, ...]]:
        """Each remaining step's inputs on the device. With the device sampler they are the batch's packed draws,
        and `task` is told to cut its patches inside its step."""
        source = patch_batches(self.images, self.spec, self.plan, start_step, micro_batches=self.micro_batches,
                               rank=runtime.rank, world_size=runtime.world_size, device=runtime.device,
                               on_device=self.on_device, num_workers=self.num_workers)
        if source.cut is not None:  # the device sampler: each step cuts its patches from the batch's draws
            cut, layout = source.cut, torch.channels_last if runtime.channels_last else torch.contiguous_format
            task.cut_in_step(lambda packed: tuple(img.contiguous(memory_format=layout) for img in cut(packed)))
            return iter(source.batches)
        return ((runtime.to_device(lr_img), runtime.to_device(hr_img)) for lr_img, hr_img in source.batches)


def batch_feed(data: TrainData, plan: PatchPlan, p: TrainParams, execution: ExecutionParams) -> BatchFeed:
    spec = PatchSpec(patch_px=p.patch_px, scale=data.scale, augment=p.augment, seed=data.seed,
                     per_epoch=plan.per_epoch, rotation=data.rotation)
    return BatchFeed(data.train_images, spec, plan, p.grad_accumulation, execution.patches_on_device,
                     execution.num_workers)


@dataclass(frozen=True)
class RunPieces:
    """What stands beside the loop: the guard's reader, the hooks in their order, the resume and the run's end."""

    health: HealthCheck
    hooks: tuple[Hook, ...]  # called when due, in this order: log, validation, checkpoint points, resume saves
    resume: ResumeSaving  # also among the hooks: it restores before the first step
    end: RunEnd
    state: TrainState  # the progress the loop keeps (step, training seconds)


class TrainingRun:
    """Drives one task through a run: see the module docstring."""

    def __init__(self, task: Task, feed: BatchFeed, runtime: Runtime, pieces: RunPieces) -> None:
        self.task, self.feed, self.runtime, self.pieces = task, feed, runtime, pieces
        self.steps = feed.plan.total_steps
        self.clock = SteadyRate(runtime.device, 0)

    def run(self) -> TrainingSummary:
        """Train to the end (or from the resume state to the end); returns the summary."""
        started = time.time()
        pieces = self.pieces
        start_step = pieces.resume.restore()
        self.clock = SteadyRate(self.runtime.device, start_step)
        everyone = (pieces.health, *pieces.hooks)
        for hook in everyone:
            hook.start(start_step)
        self.runtime.barrier()
        try:
            for step, inputs in enumerate(self.feed.batches(start_step, self.runtime, self.task), start=start_step + 1):
                self._step(step, inputs)
        finally:
            for hook in everyone:
                hook.close()
        return pieces.end.finish(start_step, time.time() - started, self.clock.rate)

    def _step(self, step: int, inputs: tuple[Tensor, ...]) -> None:
        state = self.pieces.state
        self.clock.before(step)
        tick = time.perf_counter()
        scalars = self.task.train_step(*inputs)
        self.task.end_step()
        state.step = step
        if step == self.steps:
            self.clock.stop(step)
        due = [hook for hook in self.pieces.hooks if hook.due(step)]
        if due or step == self.steps:
            self.pieces.health.at(step, scalars)  # the one host sync of these steps
        state.train_s += time.perf_counter() - tick
        for hook in due:
            hook.at(step, scalars)
