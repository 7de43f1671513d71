"""Training: one loop for both tasks (`train_srresnet`, `finetune_srgan`).

The loop (`TrainingRun`) owns what both tasks share: the step count and the
patch loader, an exponential moving average (EMA) of the generator's weights,
validation (PSNR-Y and SSIM-Y of the averaged generator on the valid set) with
the best-so-far weights, the non-finite-step policy, logging, and the resume
checkpoint. A task (`srgan.tasks`) owns its networks, optimisers and step.

A run writes, when it has finished, for each checkpoint point (SRResNet: one,
its end; SRGAN: `srgan.checkpoints`) into `<out_dir>/<point folder>/`:
  best.pt  the averaged generator with the best validation PSNR-Y so far
  last.pt  the averaged generator at that point
and `<out_dir>/summary.json` (steps, timings, validation history, which file
of each point `srgan.evaluate` scores). TensorBoard scalars and images go to
<log_dir>, the same scalars as TSV files for `dvc plots` to <plots_dir>.

Every `checkpoint_every` steps the whole state (task, EMA, RNG, progress,
best-so-far, points already written) is saved atomically to
<state_dir>/resume.pt. A run started again continues from it when its
fingerprint matches: the stage's declared settings (`config.STAGE_PARAMS`),
its code (`code_deps`), the data, the initial weights and the world size; a
finished run deletes it. A non-finite loss or gradient skips the step (up to
`max_bad_steps` in total) or stops with a clear message after saving the last
good state.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from srgan import metrics
from srgan.artifacts import atomic_path, load_checkpoint, save_checkpoint, write_json_atomic
from srgan.config import ExecutionParams, ModelParams, SRGANParams, TrainParams, as_dict
from srgan.data import EvalImage, PatchDataset, to_tensor
from srgan.errors import SrganError
from srgan.infer import super_resolve
from srgan.losses import ContentLoss
from srgan.models import Discriminator, SRResNet, init_nearest_upsampling
from srgan.runtime import Runtime
from srgan.tasks import NonFiniteStep, SRGANTask, SRResNetTask, unwrap
from srgan.train_log import TrainLog

log = logging.getLogger(__name__)

Task = SRResNetTask | SRGANTask


@dataclass(frozen=True)
class RunPaths:
    out_dir: Path  # final artefacts (DVC output, written at each checkpoint point)
    log_dir: Path  # TensorBoard (DVC output, persist: true)
    plots_dir: Path  # one TSV per scalar for `dvc plots` (DVC plots output, persist: true)
    state_dir: Path  # resume checkpoint: scratch, not a DVC output


@dataclass
class TrainState:
    """Progress of a run; the typed part of the resume checkpoint."""

    step: int = 0
    bad_steps: int = 0
    best_psnr_y_db: float = -math.inf
    best_step: int = 0
    train_s: float = 0.0  # seconds spent in optimiser steps (not validation), over all sessions
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per validation
    points_done: list[int] = field(default_factory=list)  # steps of checkpoint points already written


class EMA:
    """Exponential moving average of a model's parameters and buffers.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates
    so that the average is not dominated by the random initial weights in
    short runs. Integer buffers (BN's num_batches_tracked) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        floats = [(a, c) for a, c in pairs if a.dtype.is_floating_point]
        if floats:  # one fused kernel for all floating tensors
            torch._foreach_lerp_([a for a, _ in floats], [c.detach() for _, c in floats], 1.0 - decay)
        for avg, cur in pairs:
            if not avg.dtype.is_floating_point:
                avg.copy_(cur)


def total_steps(p: TrainParams, num_images: int) -> int:
    """Optimiser steps of a run: `steps`, or `epochs` passes of `num_images` at `batch_size`."""
    return p.length * steps_per_unit(p, num_images)


def steps_per_epoch(p: TrainParams, num_images: int) -> int:
    return max(1, num_images // p.batch_size)


def steps_per_unit(p: TrainParams, num_images: int) -> int:
    """Optimiser steps in one unit of `p.unit`: an epoch's, or 1 step."""
    return steps_per_epoch(p, num_images) if p.unit == "epoch" else 1


def point_label(p: TrainParams, count: int) -> str:
    """Folder name of a checkpoint point: 'step20', 'epoch100'."""
    return f"{p.unit}{count}"


def validate(model: nn.Module, images: list[EvalImage], scale: int, runtime: Runtime,
             on_image: Callable[[EvalImage, Tensor], None] | None = None) -> dict[str, float]:
    """Mean PSNR-Y (dB) and SSIM-Y (paper protocol, shave = scale) of `model` on full validation images.

    on_image(item, sr_img) is called with each SR image ((1, 3, H, W) in [0, 1]), e.g. to log it.
    """
    model.eval()
    psnr, ssim = [], []
    for item in images:
        sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime)
        hr_img = to_tensor(item.hr_u8)[None]
        psnr.append(float(metrics.psnr_y(sr_img, hr_img, scale, item.gray)[0]))
        ssim.append(float(metrics.ssim_y(sr_img, hr_img, scale, item.gray)[0]))
        if on_image is not None:
            on_image(item, sr_img)
    return {"valid_psnr_y_db": float(np.mean(psnr)), "valid_ssim_y": float(np.mean(ssim))}


def run_fingerprint(**parts: Any) -> dict[str, str]:
    """{name: short hash} of everything a resumable run depends on (compared part by part)."""
    return {name: hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
            for name, value in parts.items()}


def data_digest(images: list[tuple[str, np.ndarray]]) -> list:
    """Names, shapes and a 1/256 pixel sample of the training images: cheap even for DIV2K."""
    return [(name, list(img.shape), hashlib.sha256(np.ascontiguousarray(img[::16, ::16]).tobytes()).hexdigest()[:12])
            for name, img in images]


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}


def _peak_memory_mib(runtime: Runtime) -> float:
    if runtime.device.type == "cuda":
        return torch.cuda.max_memory_allocated(runtime.device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@dataclass(frozen=True)
class TrainData:
    train_images: list[tuple[str, np.ndarray]]  # (name, HxWx3 uint8) HR training images
    valid_images: list[EvalImage]
    scale: int
    seed: int  # patch sampling: item i of the run is a pure function of (seed, i)


class TrainingRun:
    """Drives one task through a run: see the module docstring."""

    def __init__(self, task: Task, data: TrainData, p: TrainParams, execution: ExecutionParams, runtime: Runtime,
                 paths: RunPaths, fingerprint: dict[str, str], points: dict[int, str], info: dict) -> None:
        self.task, self.data, self.p, self.execution = task, data, p, execution
        self.runtime, self.paths, self.fingerprint, self.info = runtime, paths, fingerprint, info
        self.steps = total_steps(p, len(data.train_images))
        self.per_epoch = steps_per_epoch(p, len(data.train_images))
        self.valid_every = p.valid_every * steps_per_unit(p, len(data.train_images))
        self.points = points  # step -> folder under out_dir ("" = out_dir itself)
        self.state = TrainState()
        self.ema = EMA(task.generator, p.ema_decay) if p.ema_decay > 0 else None
        self.best_weights: dict[str, Tensor] | None = None
        self.resume_path = paths.state_dir / "resume.pt"
        self.log: TrainLog | None = None

    def averaged(self) -> nn.Module:
        """The generator that is validated and saved: the EMA, or the raw weights without one."""
        return self.ema.model if self.ema is not None else self.task.generator

    # ------------------------------------------------------------ resume

    def _save_resume(self) -> None:
        if not self.runtime.is_main:
            return
        save_checkpoint(self.resume_path, {
            "model": self.task.generator.state_dict(),  # what load_checkpoint checks for
            "task": self.task.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "state": asdict(self.state),
            "best_weights": self.best_weights,
            "rng": _rng_state(),
            "fingerprint": self.fingerprint,
        })

    def _restore(self) -> None:
        """Continue from resume.pt when it belongs to this run (same fingerprint), else start afresh."""
        if not self.resume_path.is_file():
            return
        # On the CPU: torch.set_rng_state takes only a CPU tensor, and best_weights stay on the CPU
        # as _cpu_state keeps them; load_state_dict moves weights and optimiser state to the device.
        ckpt = load_checkpoint(self.resume_path, map_location="cpu")
        saved = ckpt.get("fingerprint") or {}
        changed = [name for name in self.fingerprint if saved.get(name) != self.fingerprint[name]]
        if changed:
            log.warning("%s is from a run with other %s: starting afresh", self.resume_path, ", ".join(changed))
            return
        self.task.load_state_dict(ckpt["task"])
        if self.ema is not None:
            self.ema.model.load_state_dict(ckpt["ema"])
            self.ema.updates = ckpt["ema_updates"]
        self.state = TrainState(**ckpt["state"])
        self.best_weights = ckpt["best_weights"]
        _set_rng_state(ckpt["rng"])
        log.info("resuming %s from step %d of %d (%s)", self.task.kind, self.state.step, self.steps, self.resume_path)

    def _prepare_folders(self) -> None:
        """A fresh run clears its folders (logs of an older run, a stale resume.pt); a resumed one keeps them."""
        if self.runtime.is_main:
            folders = (self.paths.log_dir, self.paths.plots_dir, self.paths.state_dir)
            if self.state.step == 0:
                for folder in folders:
                    if Path.cwd().resolve().is_relative_to(folder.resolve()):
                        raise SrganError(f"refusing to clear {folder}: it holds the working directory")
                    shutil.rmtree(folder, ignore_errors=True)
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
            self.log = TrainLog(self.paths.log_dir, self.paths.plots_dir, self.state.step)
        self.runtime.barrier()

    # ------------------------------------------------------------ the loop

    def _items(self) -> tuple[Sequence[int], int]:
        """PatchDataset items of the steps still to run (batch after batch), and the dataset's length.

        In epochs mode the dataset's pass k is items [k*n, (k+1)*n) of the n images, each
        image once. An epoch takes `per_epoch` whole batches from the start of a fresh pass
        (as many as it needs); images that do not fill a last batch sit that epoch out, as
        with drop_last, rather than starting the next epoch in the middle of a pass.
        """
        batch = self.p.batch_size
        start, end = self.state.step * batch, self.steps * batch
        if self.p.unit != "epoch":
            return range(start, end), end
        n, used = len(self.data.train_images), self.per_epoch * batch
        stride = -(-used // n) * n  # items per epoch, rounded up to whole passes
        return [k // used * stride + k % used for k in range(start, end)], self.p.epochs * stride

    def _loader(self) -> DataLoader:
        p, runtime = self.p, self.runtime
        per_process = p.batch_size // runtime.world_size
        if per_process * runtime.world_size != p.batch_size or per_process % p.grad_accumulation:
            raise SrganError(
                f"batch_size {p.batch_size} must split evenly into {runtime.world_size} process(es) x "
                f"{p.grad_accumulation} micro-batch(es)"
            )
        items, length = self._items()
        dataset = PatchDataset(self.data.train_images, p.patch_px, self.data.scale, p.augment, length,
                               self.data.seed, per_epoch=p.unit == "epoch")
        remaining = Subset(dataset, items)
        sampler = (DistributedSampler(remaining, runtime.world_size, runtime.rank, shuffle=False, drop_last=True)
                   if runtime.distributed else None)
        return DataLoader(remaining, batch_size=per_process, sampler=sampler, shuffle=False, drop_last=True,
                          num_workers=self.execution.num_workers, pin_memory=runtime.device.type == "cuda",
                          persistent_workers=self.execution.num_workers > 0)

    def run(self) -> dict:
        """Train to the end (or from resume.pt to the end); returns the summary."""
        started = time.time()
        self._restore()
        start_step = self.state.step
        self._prepare_folders()
        try:
            batches = self.log.progress(self._loader(), self.steps, start_step, self.info["variant"],
                                        self.execution.progress) if self.log else self._loader()
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
        if step % self.valid_every == 0 or step in self.points or step == self.steps:
            self._validate(step)
        if step in self.points and step not in self.state.points_done:
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
                    f"non-finite {bad} at step {step} of {self.task.kind} ({self.state.bad_steps} bad step(s), "
                    f"max_bad_steps is {self.p.max_bad_steps}); the last good state (step {self.state.step}) is in "
                    f"{self.resume_path} for inspection (an unchanged rerun meets the same step again); lower "
                    "learning_rate, raise max_bad_steps or check the data, then run again"
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

            scores = validate(self.averaged(), self.data.valid_images, self.data.scale, self.runtime, log_first)
            self.state.history.append({"step": step, **{k: round(v, 4) for k, v in scores.items()}})
            self.log.scalars(step, {"valid/psnr_y_db": scores["valid_psnr_y_db"],
                                    "valid/ssim_y": scores["valid_ssim_y"]})
            log.info("step %d: valid PSNR-Y %.3f dB, SSIM-Y %.4f", step, scores["valid_psnr_y_db"],
                     scores["valid_ssim_y"])
            if scores["valid_psnr_y_db"] > self.state.best_psnr_y_db:
                self.state.best_psnr_y_db, self.state.best_step = scores["valid_psnr_y_db"], step
                self.best_weights = _cpu_state(self.averaged())
        self.runtime.barrier()

    def _write_point(self, step: int) -> None:
        """best.pt (best validated so far) and last.pt (now) of the checkpoint point at `step`.

        They wait in <state_dir>/points until the run ends (DVC deletes the output
        folder before a stage runs, so a resumed run must keep them elsewhere).
        """
        if self.runtime.is_main:
            folder = self.paths.state_dir / "points" / self.points[step]
            last = self.state.history[-1]
            best = next(h for h in self.state.history if h["step"] == self.state.best_step)
            for name, weights, entry in (("best.pt", self.best_weights, best), ("last.pt", _cpu_state(self.averaged()), last)):
                save_checkpoint(folder / name, {"model": weights, **self.info, "step": entry["step"],
                                                "valid_psnr_y_db": entry["valid_psnr_y_db"],
                                                "valid_ssim_y": entry["valid_ssim_y"]})
        self.state.points_done.append(step)

    def _finish(self, start_step: int, wall_s: float) -> dict:
        runtime, state = self.runtime, self.state
        summary = {
            "kind": self.task.kind,
            "variant": self.info["variant"],
            "steps": self.steps,
            "steps_per_epoch": self.per_epoch,
            "points": {label: step for step, label in self.points.items()},
            "best_step": state.best_step,
            "best_valid_psnr_y_db": round(state.best_psnr_y_db, 4),
            "bad_steps": state.bad_steps,
            "resumed_from_step": start_step,
            "wall_s": round(wall_s, 1),
            "train_step_s": round(state.train_s / max(1, state.step), 4),
            "peak_memory_mib": round(_peak_memory_mib(runtime), 1),
            "processes": runtime.world_size,
            "history": state.history,
            "loss_terms": self.info["loss_terms"],
            "feature_weights": self.info["feature_weights"],
            "scored": self.info["scored"],  # label -> the checkpoint srgan.evaluate scores ("" = no label)
        }
        log.info("%s %s: %d steps, %.3f s per training step, peak memory %.0f MiB (%s)", self.task.kind,
                 self.info["variant"], self.steps, summary["train_step_s"], summary["peak_memory_mib"],
                 "CUDA allocated" if runtime.device.type == "cuda" else "process RSS")
        if runtime.is_main:
            self.paths.out_dir.mkdir(parents=True, exist_ok=True)
            for folder in dict.fromkeys(self.points.values()):
                for name in ("best.pt", "last.pt"):
                    # Copied, not moved: until resume.pt is gone below, a killed run must find them again.
                    with atomic_path(self.paths.out_dir / folder / name) as tmp:
                        shutil.copy2(self.paths.state_dir / "points" / folder / name, tmp)
            write_json_atomic(self.paths.out_dir / "summary.json", summary)
            # Finished: only the final artefacts remain.
            self.resume_path.unlink(missing_ok=True)
            shutil.rmtree(self.paths.state_dir / "points", ignore_errors=True)
        runtime.barrier()
        return summary


# ---------------------------------------------------------------- the two runs


def _info(kind: str, variant: str, scale: int, model_params: ModelParams, content_loss: ContentLoss) -> dict:
    return {
        "kind": kind,
        "variant": variant,
        "scale": scale,
        "model_params": as_dict(model_params),
        "loss_terms": content_loss.term_weights,
        "feature_weights": content_loss.backbone_weights,
    }


def _log_extractors(content_loss: ContentLoss) -> None:
    for term, extractor in zip(content_loss.feature_terms, content_loss.extractors):
        count = sum(p.numel() for p in extractor.parameters())
        log.info("content term %s: %s cut at %s, %.1fM frozen parameters, %s weights", term,
                 extractor.term.model, extractor.term.node, count / 1e6, extractor.backbone_weights)


def train_srresnet(
    *, variant: str, content_loss: ContentLoss, data: TrainData, model_params: ModelParams, p: TrainParams,
    execution: ExecutionParams, runtime: Runtime, paths: RunPaths, settings: dict, code: str,
) -> dict:
    """Experiment 1: train SRResNet from scratch with `content_loss` (`variant` names it).

    settings, code: the stage's declared settings and code digest (resume fingerprint).
    Writes <out_dir>/{best,last}.pt and summary.json; returns the summary.
    The caller seeds the RNGs (the generator's initial weights come from them).
    """
    generator = SRResNet(scale=data.scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    if model_params.init == "nearest":
        init_nearest_upsampling(generator)
    steps = total_steps(p, len(data.train_images))
    task = SRResNetTask(generator, content_loss, p, steps, runtime)
    _log_extractors(content_loss)
    fingerprint = run_fingerprint(settings=settings, code=code, data=data_digest(data.train_images), seed=data.seed,
                         world=runtime.world_size)
    info = {**_info("srresnet", variant, data.scale, model_params, content_loss), "scored": {"": "best.pt"}}
    return TrainingRun(task, data, p, execution, runtime, paths, fingerprint, {steps: ""}, info).run()


def finetune_srgan(
    *, variant: str, init_state: dict[str, Tensor], content_loss: ContentLoss, data: TrainData,
    model_params: ModelParams, p: SRGANParams, execution: ExecutionParams, runtime: Runtime, paths: RunPaths,
    settings: dict, code: str,
) -> dict:
    """Experiment 2: fine-tune a trained SRResNet (`init_state`) as SRGAN's generator against the paper's D.

    G's loss = content + p.adversarial_weight * -log D(G(LR)); D's loss = -log D(HR)
    - log(1 - D(G(LR))); both Adam at `learning_rate`, same schedule. At each of
    `p.checkpoints` (steps or epochs) writes <out_dir>/<step20|epoch100>/{best,last}.pt;
    `srgan.evaluate` scores last.pt (the weights after that many steps/epochs).
    The caller seeds the RNGs (D's initial weights come from them).
    """
    generator = SRResNet(scale=data.scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    try:
        generator.load_state_dict(init_state)
    except RuntimeError as e:
        raise SrganError(f"the trained SRResNet does not match params.model ({str(e).splitlines()[0]})") from None
    steps = total_steps(p, len(data.train_images))
    per_point = steps_per_unit(p, len(data.train_images))
    points = {count * per_point: point_label(p, count) for count in p.checkpoints}
    task = SRGANTask(generator, Discriminator(patch_px=p.patch_px), content_loss, p.adversarial_weight, p, steps, runtime)
    _log_extractors(content_loss)
    init_digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in init_state.values())).hexdigest()[:16]
    fingerprint = run_fingerprint(settings=settings, code=code, data=data_digest(data.train_images), seed=data.seed,
                         world=runtime.world_size, init=init_digest)
    info = {**_info("srgan", variant, data.scale, model_params, content_loss),
            "scored": {label: f"{label}/last.pt" for label in points.values()}}
    return TrainingRun(task, data, p, execution, runtime, paths, fingerprint, points, info).run()
