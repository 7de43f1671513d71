"""The training loop, shared by both experiments' tasks.

`TrainingRun` drives a task (`srgan.training.tasks`) over the batches of its
patch plan: after each optimiser step it updates the weight average (EMA),
logs at `execution.log_every`, validates (PSNR-Y / SSIM-Y of the averaged
generator on the validation set) and keeps the best-so-far weights, writes the
checkpoint points, and saves the resume state every `execution.checkpoint_every`
steps (`srgan.training.store`). A non-finite loss or gradient skips the step
(up to `max_bad_steps` in total) or stops with a clear message after saving the
last good state.
"""

from __future__ import annotations

import logging
import math
import random
import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from srgan.core.config import ExecutionParams, ModelParams, TrainParams, as_dict
from srgan.core.errors import SrganError
from srgan.core.records import (
    RunTiming,
    ScoredCheckpoint,
    TrainingSummary,
    ValidationPoint,
)
from srgan.core.runtime import Runtime
from srgan.datasets.patches import PatchDataset, PatchPlan
from srgan.datasets.prepared import EvalImage, TrainImage
from srgan.training.ema import EMA
from srgan.training.log import TrainLog
from srgan.training.steps import NonFiniteStep, unwrap
from srgan.training.store import RunStore
from srgan.training.tasks import SRGANTask, SRResNetTask
from srgan.training.validation import score_validation

log = logging.getLogger(__name__)

Task = SRResNetTask | SRGANTask


@dataclass(frozen=True)
class TrainData:
    train_images: list[TrainImage]  # decoded once, in memory
    valid_images: list[EvalImage]
    scale: int
    seed: int  # patch sampling: item i of the run is a pure function of (seed, i)


@dataclass(frozen=True)
class RunSpec:
    """What a run is: written into its checkpoints and summary."""

    variant: str
    scale: int
    model_params: ModelParams
    loss_terms: dict[str, float]  # {term: weight} of the content loss
    feature_weights: dict[str, str]  # {term: weights its extractor holds}
    points: dict[int, str]  # step -> folder of the checkpoint point written there ("" = the output folder)
    scored: tuple[tuple[str, int, str], ...]  # (label, point step, "best.pt" | "last.pt") of each
    # checkpoint that evaluation scores


@dataclass
class TrainState:
    """Progress of a run; the typed part of the resume state."""

    step: int = 0
    bad_steps: int = 0
    best_psnr_y_db: float = -math.inf
    best_step: int = 0
    train_s: float = 0.0  # seconds spent in optimiser steps (not validation), over all sessions
    history: list[dict[str, float]] = field(default_factory=list)  # one ValidationPoint per validation
    points_done: list[int] = field(default_factory=list)  # steps of checkpoint points already written
    best_step_at: dict[int, int] = field(default_factory=dict)  # point step -> the best step when it was written


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}


def _peak_memory(runtime: Runtime) -> tuple[float, str]:
    """(peak MiB, what was measured)."""
    if runtime.device.type == "cuda":
        return torch.cuda.max_memory_allocated(runtime.device) / 2**20, "CUDA allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process RSS"  # Linux: KiB


class TrainingRun:
    """Drives one task through a run: see the module docstring."""

    def __init__(self, task: Task, spec: RunSpec, data: TrainData, plan: PatchPlan, p: TrainParams,
                 execution: ExecutionParams, runtime: Runtime, store: RunStore, fingerprint: dict[str, str]) -> None:
        self.task, self.spec, self.data, self.plan, self.p = task, spec, data, plan, p
        self.execution, self.runtime, self.store, self.fingerprint = execution, runtime, store, fingerprint
        self.valid_every = p.valid_every * plan.steps_per_unit
        self.state = TrainState()
        self.ema = EMA(task.generator, p.ema_decay) if p.ema_decay > 0 else None
        self.best_weights: dict[str, Tensor] | None = None
        self.log: TrainLog | None = None

    @property
    def steps(self) -> int:
        return self.plan.total_steps

    def averaged(self) -> nn.Module:
        """The generator that is validated and saved: the EMA, or the raw weights without one."""
        return self.ema.model if self.ema is not None else self.task.generator

    # ------------------------------------------------------------ resume

    def _save_resume(self) -> None:
        self.store.save_resume({
            "model": self.task.generator.state_dict(),  # what load_checkpoint checks for
            "task": self.task.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "state": asdict(self.state),
            "best_weights": self.best_weights,
            "rng": _rng_state(),
        }, self.fingerprint)

    def _restore(self) -> None:
        """Continue from the resume state when it belongs to this run, else start afresh."""
        saved = self.store.load_resume(self.fingerprint)
        if saved is None:
            return
        self.task.load_state_dict(saved["task"])
        if self.ema is not None:
            self.ema.model.load_state_dict(saved["ema"])
            self.ema.updates = saved["ema_updates"]
        self.state = TrainState(**saved["state"])
        self.best_weights = saved["best_weights"]  # stays on the CPU, as _cpu_state keeps it
        _set_rng_state(saved["rng"])
        log.info("resuming %s from step %d of %d (%s)", self.task.experiment, self.state.step, self.steps,
                 self.store.resume_path)

    # ------------------------------------------------------------ the loop

    def _loader(self) -> DataLoader:
        p, runtime = self.p, self.runtime
        per_process = p.batch_size // runtime.world_size
        if per_process * runtime.world_size != p.batch_size or per_process % p.grad_accumulation:
            raise SrganError(
                f"batch_size {p.batch_size} must split evenly into {runtime.world_size} process(es) x "
                f"{p.grad_accumulation} micro-batch(es)"
            )
        dataset = PatchDataset(self.data.train_images, p.patch_px, self.data.scale, p.augment,
                               self.plan.dataset_length, self.data.seed, per_epoch=self.plan.per_epoch)
        remaining = Subset(dataset, self.plan.items(self.state.step))
        sampler = (DistributedSampler(remaining, runtime.world_size, runtime.rank, shuffle=False, drop_last=True)
                   if runtime.distributed else None)
        return DataLoader(remaining, batch_size=per_process, sampler=sampler, shuffle=False, drop_last=True,
                          num_workers=self.execution.num_workers, pin_memory=runtime.device.type == "cuda",
                          persistent_workers=self.execution.num_workers > 0)

    def run(self) -> TrainingSummary:
        """Train to the end (or from the resume state to the end); returns the summary."""
        started = time.time()
        self._restore()
        start_step = self.state.step
        self.store.open_folders(fresh=start_step == 0)
        if self.runtime.is_main:
            self.log = TrainLog(self.store.live_log_dir, self.store.live_plots_dir, start_step)
        self.runtime.barrier()
        try:
            batches = self._loader()
            if self.log is not None:
                batches = self.log.progress(batches, self.steps, start_step, self.spec.variant,
                                            self.execution.progress)
            for step, (lr_img, hr_img) in enumerate(batches, start=start_step + 1):
                self._step(step, lr_img, hr_img)
        finally:
            if self.log is not None:
                self.log.close()
        return self._finish(start_step, time.time() - started)

    def _step(self, step: int, lr_img: Tensor, hr_img: Tensor) -> None:
        tick = time.perf_counter()
        scalars = self._optimiser_step(step, self.runtime.to_device(lr_img), self.runtime.to_device(hr_img))
        self.task.end_step()
        if self.ema is not None:
            self.ema.update(self.task.generator)
        self.state.step = step
        if self.log is not None and (step % self.execution.log_every == 0 or step == self.steps):
            # Reading the values syncs with the device: only on logging steps.
            values = {k: float(v) for k, v in scalars.items()}
            values.update(lr=self.task.learning_rate, bad_steps=self.state.bad_steps)
            self.log.scalars(step, values)
        self.state.train_s += time.perf_counter() - tick
        points = self.spec.points
        if step % self.valid_every == 0 or step in points or step == self.steps:
            self._validate(step)
        if step in points and step not in self.state.points_done:
            self._write_point(step)
        if step % self.execution.checkpoint_every == 0 and step < self.steps:
            self._save_resume()

    def _optimiser_step(self, step: int, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        """The task's step under the non-finite policy: skip and count, or save and stop."""
        try:
            return self.task.train_step(lr_img, hr_img)
        except NonFiniteStep as bad:
            self.state.bad_steps += 1
            self.task.discard_step()
            if self.state.bad_steps > self.p.max_bad_steps:
                self._save_resume()
                raise SrganError(
                    f"non-finite {bad} at step {step} of {self.task.experiment} ({self.state.bad_steps} bad "
                    f"step(s), max_bad_steps is {self.p.max_bad_steps}); the last good state (step "
                    f"{self.state.step}) is in {self.store.resume_path} for inspection (an unchanged rerun meets "
                    "the same step again); lower learning_rate, raise max_bad_steps or check the data, then run again"
                ) from None
            log.warning("step %d: non-finite %s; step skipped (%d of %d allowed)", step, bad,
                        self.state.bad_steps, self.p.max_bad_steps)
            return {}

    def _validate(self, step: int) -> None:
        if self.runtime.is_main:
            first = self.data.valid_images[0]

            def log_first(item: EvalImage, sr_img: Tensor) -> None:
                if item is first:
                    self.log.image(f"valid/{item.name}", sr_img[0], step)

            psnr_db, ssim = score_validation(self.averaged(), self.data.valid_images, self.data.scale, self.runtime,
                                             log_first)
            point = ValidationPoint(step, round(psnr_db, 4), round(ssim, 4))
            self.state.history.append(asdict(point))
            self.log.scalars(step, {"valid/psnr_y_db": psnr_db, "valid/ssim_y": ssim})
            log.info("step %d: valid PSNR-Y %.3f dB, SSIM-Y %.4f", step, psnr_db, ssim)
            if psnr_db > self.state.best_psnr_y_db:
                self.state.best_psnr_y_db, self.state.best_step = psnr_db, step
                self.best_weights = _cpu_state(self.averaged())
        self.runtime.barrier()

    def _checkpoint(self, weights: dict[str, Tensor], point: dict[str, float]) -> dict[str, Any]:
        spec = self.spec
        return {"model": weights, "experiment": self.task.experiment, "variant": spec.variant, "scale": spec.scale,
                "model_params": as_dict(spec.model_params), "loss_terms": spec.loss_terms,
                "feature_weights": spec.feature_weights, **point}

    def _write_point(self, step: int) -> None:
        """best.pt (best validated so far) and last.pt (now) of the checkpoint point at `step`."""
        if self.runtime.is_main:
            last = self.state.history[-1]
            best = next(h for h in self.state.history if h["step"] == self.state.best_step)
            self.store.save_point(self.spec.points[step], {
                "best.pt": self._checkpoint(self.best_weights, best),
                "last.pt": self._checkpoint(_cpu_state(self.averaged()), last),
            })
        self.state.points_done.append(step)
        self.state.best_step_at[step] = self.state.best_step

    def _scored(self) -> tuple[ScoredCheckpoint, ...]:
        out = []
        for label, point, name in self.spec.scored:
            folder = self.spec.points[point]
            step = self.state.best_step_at[point] if name == "best.pt" else point
            out.append(ScoredCheckpoint(label, f"{folder}/{name}" if folder else name, step))
        return tuple(out)

    def _finish(self, start_step: int, wall_s: float) -> TrainingSummary:
        state, spec = self.state, self.spec
        summary = TrainingSummary(
            experiment=self.task.experiment, variant=spec.variant, loss_terms=spec.loss_terms,
            feature_weights=spec.feature_weights, unit=self.plan.unit, steps=self.steps,
            steps_per_epoch=self.plan.steps_per_epoch, best_step=state.best_step,
            best_valid_psnr_y_db=round(state.best_psnr_y_db, 4), bad_steps=state.bad_steps,
            processes=self.runtime.world_size, history=tuple(ValidationPoint(**h) for h in state.history),
            scored=self._scored())
        memory_mib, memory_kind = _peak_memory(self.runtime)
        timing = RunTiming(wall_s=round(wall_s, 1), train_step_s=round(state.train_s / max(1, state.step), 4),
                           peak_memory_mib=round(memory_mib, 1), memory_kind=memory_kind,
                           resumed_from_step=start_step)
        log.info("%s %s: %d steps, %.3f s per training step, peak memory %.0f MiB (%s)", self.task.experiment,
                 spec.variant, self.steps, timing.train_step_s, timing.peak_memory_mib, memory_kind)
        self.store.publish(list(spec.points.values()), summary, timing)
        self.runtime.barrier()
        return summary
