"""srgan.training.loop: the batch feed a run builds from its params (the patch spec, the process's share, the
device sampler's cut in the training memory format), and the loop's clocks (training seconds, wall seconds,
the steady rate) against a fake clock that the fake task and hooks move by known amounts. The hooks' order is
pinned in test_hooks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import srgan.training.loop
import srgan.training.summary
from srgan.core.runtime import Runtime
from srgan.datasets.patches import (
    DevicePatches,
    PatchPlan,
    PatchSpec,
    StepInputs,
    device_draws,
    loader_batches,
    patch_batches,
)
from srgan.training.guard import Health
from srgan.training.hooks import HealthCheck, Hook, TrainState
from srgan.training.loop import BatchFeed, RunPieces, TrainData, TrainingRun, batch_feed

from train_driver import CPU, SCALE, execution, images, srresnet_params

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ---------------------------------------------------------------- batch_feed, BatchFeed.batches


def test_the_feed_takes_its_patch_spec_from_params_and_data_and_its_sampler_from_execution():
    train, valid = images(count=3)
    data = TrainData(train, valid, SCALE, seed=11, rotation="nearest_black")
    p = srresnet_params(patch_px=16, augment="rot10_hflip", grad_accumulation=2, batch_size=4)
    plan = PatchPlan(unit="epoch", length=2, batch_size=4, num_images=3)
    for on_device, workers in ((True, 0), (False, 3)):
        feed = batch_feed(data, plan, p, execution(patches_on_device=on_device, num_workers=workers))
        assert feed.images is train and feed.plan is plan
        assert feed.spec == PatchSpec(patch_px=16, scale=SCALE, augment="rot10_hflip", seed=11, per_epoch=True,
                                      rotation="nearest_black")
        assert (feed.micro_batches, feed.on_device, feed.num_workers) == (2, on_device, workers)


def _feed(on_device: bool, steps: int = 3, batch_size: int = 4) -> BatchFeed:
    train, _ = images(count=3)
    spec = PatchSpec(patch_px=32, scale=SCALE, augment="flip_rot90", seed=5, per_epoch=False)
    return BatchFeed(train, spec, PatchPlan("step", steps, batch_size, len(train)), 1, on_device, 0)


class _CutSpy:
    def __init__(self) -> None:
        self.cuts = []

    def cut_in_step(self, cut) -> None:
        self.cuts.append(cut)


def test_each_process_takes_its_own_share_of_every_global_batch():
    """Rank 1 of 2 takes items 1 and 3 of each 4-item batch: the CPU loader's batches for rank 1, not rank 0's."""
    feed, task = _feed(on_device=False), _CutSpy()
    runtime = Runtime(CPU.device, None, False, rank=1, world_size=2)
    seen = list(feed.batches(0, runtime, task))
    share = {rank: list(loader_batches(feed.images, feed.spec, feed.plan, 0, 2, rank, 2, CPU.device, 0))
             for rank in (0, 1)}
    assert len(seen) == 3 and task.cuts == []
    for (lr_img, hr_img), (lr_1, hr_1), (lr_0, _) in zip(seen, share[1], share[0], strict=True):
        assert lr_img.shape == (2, 3, 8, 8) and hr_img.shape == (2, 3, 32, 32)
        assert torch.equal(lr_img, lr_1) and torch.equal(hr_img, hr_1) and not torch.equal(lr_img, lr_0)


def _as_on_cuda(images, spec, plan, start_step, *, micro_batches, rank, world_size, device, on_device, num_workers):
    """`patch_batches` as it runs on CUDA with a training set that fits (the device sampler), on the CPU."""
    if on_device:
        patches = DevicePatches(images, spec, device)
        return StepInputs(device_draws(patches, plan, start_step, rank, world_size), patches.cut)
    return patch_batches(images, spec, plan, start_step, micro_batches=micro_batches, rank=rank,
                         world_size=world_size, device=device, on_device=on_device, num_workers=num_workers)


@pytest.mark.parametrize("channels_last", [True, False])
def test_with_the_device_sampler_each_step_cuts_its_patches_in_the_training_memory_format(monkeypatch, channels_last):
    """The feed yields each batch's packed draws and hands the task a cut whose patches are the sampler's, in the
    runtime's memory format (NHWC for channels_last)."""
    monkeypatch.setattr(srgan.training.loop, "patch_batches", _as_on_cuda)
    feed, task = _feed(on_device=True), _CutSpy()
    seen = list(feed.batches(1, Runtime(CPU.device, None, channels_last), task))
    patches = DevicePatches(feed.images, feed.spec, CPU.device)
    draws = list(device_draws(patches, feed.plan, 1, 0, 1))
    assert len(seen) == 2 and all(torch.equal(a, b) for (a,), (b,) in zip(seen, draws, strict=True))
    (cut,) = task.cuts
    layout = torch.channels_last if channels_last else torch.contiguous_format
    for (packed,) in seen:
        mine, theirs = cut(packed), patches.cut(packed)
        assert len(mine) == 2 and [t.shape for t in mine] == [(4, 3, 8, 8), (4, 3, 32, 32)]
        assert all(torch.equal(a, b) and a.is_contiguous(memory_format=layout) for a, b in zip(mine, theirs))


def test_without_the_device_sampler_the_feed_yields_patches_and_cuts_nothing(monkeypatch):
    monkeypatch.setattr(srgan.training.loop, "patch_batches", _as_on_cuda)
    feed, task = _feed(on_device=False), _CutSpy()
    seen = list(feed.batches(0, Runtime(CPU.device, None, True), task))
    assert task.cuts == [] and len(seen) == 3
    assert all(len(b) == 2 and b[1].is_contiguous(memory_format=torch.channels_last) for b in seen)


# ---------------------------------------------------------------- the loop's clocks


class _Clock:
    """time.perf_counter and time.time (the epoch at 1000 s) that move only when `advance` is called."""

    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return 1000.0 + self.now


class _TimedTask:
    """A step takes 0.25 s (the last one 1.25 s); reading the guard's record takes 0.5 s."""

    experiment = "srresnet"

    def __init__(self, clock: _Clock, steps: int) -> None:
        self.clock, self.steps, self.done = clock, steps, 0

    def train_step(self, *inputs):
        self.done += 1
        self.clock.advance(1.25 if self.done == self.steps else 0.25)
        return {"loss/content": torch.tensor(float(self.done))}

    def end_step(self) -> None:
        pass

    def start_at(self, step: int) -> None:
        self.done = step

    def read_health(self) -> Health:
        self.clock.advance(0.5)
        return Health(0, 0, [])


class _Validation(Hook):
    """Due every 8 steps; takes 3 s (not training time)."""

    def __init__(self, clock: _Clock) -> None:
        self.clock, self.seen = clock, []

    def due(self, step: int) -> bool:
        return step % 8 == 0

    def at(self, step: int, scalars) -> None:
        self.seen.append((step, float(scalars["loss/content"])))
        self.clock.advance(3.0)


class _Resume(Hook):
    def restore(self) -> int:
        return 0


class _End:
    def __init__(self) -> None:
        self.finished = []

    def finish(self, start_step: int, wall_s: float, rate: float | None) -> str:
        self.finished.append((start_step, wall_s, rate))
        return "summary"


class _Feed:
    def __init__(self, steps: int) -> None:
        self.plan = PatchPlan("step", steps, 1, 1)

    def batches(self, start_step: int, runtime, task):
        return iter([(torch.zeros(1),)] * (self.plan.total_steps - start_step))


def test_the_loop_counts_training_seconds_wall_seconds_and_the_steady_rate_by_the_clock(monkeypatch):
    """24 steps of 0.25 s, the last 1.25 s; the guard read (0.5 s) at steps 8, 16, 24 with the 3 s validation.
    Training time: the steps and the reads, 23 x 0.25 + 1.25 + 3 x 0.5 = 8.5 s. Wall time: that and the
    validations, 17.5 s. The steady rate counts steps 21..24 (after the first 20), from before step 21 to the
    end of step 24 (before its validation): 4 steps in 3 x 0.25 + 1.25 = 2 s."""
    clock = _Clock()
    monkeypatch.setattr(srgan.training.loop, "time", clock)
    monkeypatch.setattr(srgan.training.summary, "time", clock)
    task, state, validation, end = _TimedTask(clock, 24), TrainState(), _Validation(clock), _End()
    resume = _Resume()
    pieces = RunPieces(HealthCheck(task, state, 0, Path("no-resume.pt")), (validation, resume), resume, end, state)
    run = TrainingRun(task, _Feed(24), CPU, pieces)
    assert run.run() == "summary"
    assert end.finished == [(0, 17.5, 2.0)]
    assert (state.step, state.train_s, state.bad_steps) == (24, 8.5, 0)
    assert validation.seen == [(8, 8.0), (16, 16.0), (24, 24.0)]
    assert run.clock.rate == 2.0 and run.clock.mark == (20, 12.0)
