"""SRResNet pretraining (`pretrain_srresnet`) and SRGAN fine-tuning (`finetune_srgan`).

Both run a fixed number of optimiser steps over random patches, keep an
exponential moving average (EMA) of the generator's weights, validate the
averaged generator by PSNR-Y on the valid set every `valid_every` steps and at
the end, and write, when training has finished:
  <out_dir>/best.pt       the averaged generator with the best validation PSNR-Y
  <out_dir>/last.pt       the averaged generator after the last step
  <out_dir>/summary.json  steps, timings, best step, validation history, weights used
TensorBoard scalars/images go to <log_dir>, the same curves as TSV files for
`dvc plots` to <plots_dir>. Every `checkpoint_every` steps the whole training state
(G, D, optimisers, schedules, EMA, RNG, step, best-so-far) is saved atomically
to <state_dir>/resume.pt; a run started again with the same inputs continues
from it, and a finished run deletes it. A non-finite loss or gradient skips the
step (up to `max_bad_steps` in total) or stops with a clear message after
saving the last good state.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import json
import logging
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from srgan import metrics
from srgan.artifacts import load_checkpoint, save_checkpoint, write_json_atomic
from srgan.config import ModelParams, TrainParams, as_dict
from srgan.data import EvalImage, PatchDataset, to_tensor
from srgan.errors import SrganError
from srgan.infer import super_resolve
from srgan.losses import ContentLoss, discriminator_loss, generator_adversarial_loss
from srgan.models import Discriminator, SRResNet
from srgan.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagePaths:
    out_dir: Path  # final artefacts (DVC output, written at the end)
    log_dir: Path  # TensorBoard (DVC output with persist: true)
    state_dir: Path  # resume checkpoint (DVC output with persist: true, not cached)
    plots_dir: Path  # one TSV per scalar for `dvc plots` (DVC plots output with persist: true)


class NonFiniteStep(Exception):
    """A loss or gradient was NaN/inf in this step (raised on every process alike)."""


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
        for avg, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.dtype.is_floating_point:
                avg.lerp_(cur.detach(), 1.0 - decay)
            else:
                avg.copy_(cur)


def lr_factor(schedule: str, step: int, total_steps: int, decay_step: int) -> float:
    """Learning-rate multiplier at `step` (0-based) for the schedules in params."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    if schedule == "step":
        return 0.1 if decay_step and step >= decay_step else 1.0
    return 1.0


def total_steps(params: TrainParams, num_images: int) -> int:
    """Optimiser steps of a run: `steps`, or `epochs` passes of `num_images` at `batch_size`."""
    if params.steps:
        return params.steps
    return params.epochs * max(1, num_images // params.batch_size)


def validate(model: nn.Module, images: list[EvalImage], scale: int, runtime: Runtime) -> float:
    """Mean PSNR-Y (dB, shave = scale) of `model` on full validation images."""
    model.eval()
    scores = []
    for item in images:
        sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime)
        scores.append(float(metrics.psnr_y(sr_img, to_tensor(item.hr_u8)[None], scale, item.gray)[0]))
    return float(np.mean(scores))


# ---------------------------------------------------------------- one optimiser step


def _micro_batches(img: Tensor, n: int) -> list[Tensor]:
    # Interleaved, as DistributedSampler splits a global batch across processes, so that
    # N micro-batches in one process do exactly the maths of N processes.
    return [img[i::n] for i in range(n)]


def _no_sync(model: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    if isinstance(model, DistributedDataParallel) and not last:
        return model.no_sync()
    return contextlib.nullcontext()


def _check_finite(
    loss_parts: dict[str, Tensor], params: list[nn.Parameter], runtime: Runtime, what: str, check_grads: bool = True
) -> None:
    """Raise NonFiniteStep on every process if any loss part or gradient is NaN/inf.

    One fused norm over all gradients and one host sync per call. With fp16 loss
    scaling the gradients are not checked: GradScaler itself skips the (expected,
    occasional) overflowing steps while it calibrates its scale.
    """
    checks = [torch.stack([v.detach().float().reshape(()) for v in loss_parts.values()])]
    grads = [p.grad for p in params if p.grad is not None] if check_grads else []
    if grads:
        checks.append(torch.stack(torch._foreach_norm(grads)).float())
    flag = torch.stack([(~torch.isfinite(c)).any() for c in checks]).float().reshape(-1)
    if runtime.distributed:
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.max().item() > 0:
        bad_terms = [name for name, value in loss_parts.items() if not torch.isfinite(value).all()]
        if bad_terms:
            raise NonFiniteStep(f"{what} loss term '{bad_terms[0]}'")
        raise NonFiniteStep(f"{what} gradient" if flag[-1].item() > 0 and grads else f"{what} loss on another process")


def _no_scaler() -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", enabled=False)


def pretrain_step(
    generator: nn.Module, content_loss: ContentLoss, optimizer: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, runtime: Runtime, accumulation: int = 1,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One SRResNet optimiser step on a batch; returns the loss scalars (0-d tensors, on the device).

    Raises NonFiniteStep (without stepping) when a loss term or gradient is not finite.
    """
    scaler = scaler or _no_scaler()
    optimizer.zero_grad(set_to_none=True)
    parts: dict[str, Tensor] = {}
    for i, (lr_mb, hr_mb) in enumerate(zip(_micro_batches(lr_img, accumulation), _micro_batches(hr_img, accumulation))):
        with _no_sync(generator, i == accumulation - 1):
            with runtime.autocast():
                loss, terms = content_loss(generator(lr_mb), hr_mb)
            scaler.scale(loss / accumulation).backward()
        # Specific terms first, so a non-finite step names the term that went wrong.
        for name, value in {**terms, "content": loss.detach()}.items():
            parts[name] = parts.get(name, 0) + value.float() / accumulation
    scaler.unscale_(optimizer)
    _check_finite(parts, list(generator.parameters()), runtime, "generator", check_grads=not scaler.is_enabled())
    scaler.step(optimizer)
    scaler.update()
    return {f"loss/{k}": v for k, v in parts.items()}


def gan_step(
    generator: nn.Module, discriminator: nn.Module, content_loss: ContentLoss,
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, adversarial_weight: float, runtime: Runtime, accumulation: int = 1,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One SRGAN step: G against a frozen-but-differentiable D, then D on the same batch.

    G's loss = content + adversarial_weight * -log D(G(LR)); the adversarial term's
    gradient flows through D into G (D's parameters get no update from it). D's
    loss = -log D(HR) - log(1 - D(G(LR))), on G's output detached.
    After the call, G's parameter .grad holds the gradient of G's loss.
    Under DDP, G's step runs the plain discriminator module: its parameters are
    frozen there, so DDP must not wait for their gradients.
    """
    scaler = scaler or _no_scaler()
    d_plain = _unwrap(discriminator)
    lr_mbs, hr_mbs = _micro_batches(lr_img, accumulation), _micro_batches(hr_img, accumulation)
    parts: dict[str, Tensor] = {}

    def add(values: dict[str, Tensor]) -> None:
        for name, value in values.items():
            parts[name] = parts.get(name, 0) + value.detach().float() / accumulation

    discriminator.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    sr_imgs = []
    for i, (lr_mb, hr_mb) in enumerate(zip(lr_mbs, hr_mbs)):
        with _no_sync(generator, i == accumulation - 1):
            with runtime.autocast():
                sr_mb = generator(lr_mb)
                content, terms = content_loss(sr_mb, hr_mb)
                adversarial = generator_adversarial_loss(d_plain(sr_mb))
                g_loss = content + adversarial_weight * adversarial
            scaler.scale(g_loss / accumulation).backward()
        sr_imgs.append(sr_mb.detach())
        add({**terms, "content": content, "adversarial": adversarial, "generator": g_loss})
    scaler.unscale_(opt_g)
    _check_finite(parts, list(generator.parameters()), runtime, "generator", check_grads=not scaler.is_enabled())
    scaler.step(opt_g)

    discriminator.requires_grad_(True)
    opt_d.zero_grad(set_to_none=True)
    for i, (sr_mb, hr_mb) in enumerate(zip(sr_imgs, hr_mbs)):
        with _no_sync(discriminator, i == accumulation - 1):
            with runtime.autocast():
                real_logits, fake_logits = discriminator(hr_mb), discriminator(sr_mb)
                d_loss = discriminator_loss(real_logits, fake_logits)
            scaler.scale(d_loss / accumulation).backward()
        add({"discriminator": d_loss, "real_prob": torch.sigmoid(real_logits.float()).mean(),
             "fake_prob": torch.sigmoid(fake_logits.float()).mean()})
    scaler.unscale_(opt_d)
    _check_finite({"discriminator": parts["discriminator"]}, list(discriminator.parameters()), runtime,
                  "discriminator", check_grads=not scaler.is_enabled())
    scaler.step(opt_d)
    scaler.update()
    probs = {"d/real_prob": parts.pop("real_prob"), "d/fake_prob": parts.pop("fake_prob")}
    return {**{f"loss/{k}": v for k, v in parts.items()}, **probs}


# ---------------------------------------------------------------- the loop


def run_fingerprint(**inputs) -> str:
    """Hash of everything a resumable run depends on; a resume checkpoint with another one is ignored."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)  # torch.compile
    return model.module if isinstance(model, DistributedDataParallel) else model


class _Live:
    """TensorBoard writer plus one TSV per scalar for `dvc plots`; main process only.

    dvclive was considered: its summary metrics.json inside the plots folder
    stops `dvc plots show` from rendering a folder that spans all matrix
    instances (DVC 3.67), so the plot files are written here, one per scalar:
    <plots_dir>/<tag>.tsv with columns step and the tag's last part.
    """

    def __init__(self, log_dir: Path, plots_dir: Path, resume_step: int) -> None:
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step + 1 if resume_step else None)
        self.plots_dir = plots_dir
        if resume_step:
            _truncate_tsv(plots_dir, resume_step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)
            path = self.plots_dir / f"{key}.tsv"
            header = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                if header:
                    fh.write(f"step\t{key.rsplit('/', 1)[-1]}\n")
                fh.write(f"{step}\t{value:.6g}\n")

    def image(self, tag: str, img: Tensor, step: int) -> None:
        self.writer.add_image(tag, img, step)

    def close(self) -> None:
        self.writer.close()


def _truncate_tsv(plots_dir: Path, step: int) -> None:
    """Drop plot rows logged after `step` by a run that was killed before its next checkpoint."""
    for path in plots_dir.rglob("*.tsv") if plots_dir.is_dir() else []:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        kept = [rows[0]] + [r for r in rows[1:] if int(r[rows[0].index("step")]) <= step]
        with path.open("w", newline="") as fh:
            csv.writer(fh, delimiter="\t").writerows(kept)


def _train(
    *,
    kind: str,
    generator: SRResNet,
    discriminator: Discriminator | None,
    content_loss: ContentLoss,
    adversarial_weight: float,
    train_images: list[tuple[str, np.ndarray]],
    valid_images: list[EvalImage],
    scale: int,
    p: TrainParams,
    seed: int,
    runtime: Runtime,
    paths: StagePaths,
    fingerprint: str,
    info: dict,
    progress: bool,
) -> dict:
    started = time.time()
    steps = total_steps(p, len(train_images))
    per_process = p.batch_size // runtime.world_size
    if per_process * runtime.world_size != p.batch_size or per_process % p.grad_accumulation:
        raise SrganError(
            f"batch_size {p.batch_size} must split evenly into {runtime.world_size} process(es) x "
            f"{p.grad_accumulation} micro-batch(es)"
        )
    generator = runtime.prepare_model(generator)
    if runtime.distributed and runtime.device.type == "cuda":
        # Global-batch BatchNorm statistics, as in one process with the same batch.
        generator = nn.SyncBatchNorm.convert_sync_batchnorm(generator)
    ema = EMA(generator, p.ema_decay) if p.ema_decay > 0 else None
    optimizers = {"generator": torch.optim.Adam(generator.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))}
    if discriminator is not None:
        discriminator = runtime.prepare_model(discriminator)
        if runtime.distributed and runtime.device.type == "cuda":
            discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
        optimizers["discriminator"] = torch.optim.Adam(discriminator.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))
    schedulers = {
        name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(p.lr_schedule, s, steps, p.lr_decay_step))
        for name, opt in optimizers.items()
    }
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp_dtype == torch.float16)

    state = {"step": 0, "best_psnr": -math.inf, "best_step": 0, "bad_steps": 0, "history": []}
    best_weights: dict[str, Tensor] | None = None
    resume_path = paths.state_dir / "resume.pt"
    if resume_path.is_file():
        ckpt = load_checkpoint(resume_path, map_location=runtime.device)
        if ckpt.get("fingerprint") == fingerprint:
            generator.load_state_dict(ckpt["model"])
            if discriminator is not None:
                discriminator.load_state_dict(ckpt["discriminator"])
            for name, opt in optimizers.items():
                opt.load_state_dict(ckpt["optimizers"][name])
                schedulers[name].load_state_dict(ckpt["schedulers"][name])
            if ema is not None:
                ema.model.load_state_dict(ckpt["ema"])
                ema.updates = ckpt["ema_updates"]
            scaler.load_state_dict(ckpt["scaler"])
            state = ckpt["state"]
            best_weights = ckpt["best_weights"]
            _set_rng_state(ckpt["rng"])
            log.info("resuming %s from step %d of %d (%s)", kind, state["step"], steps, resume_path)
        else:
            log.warning("%s holds another run's state (inputs changed): starting afresh", resume_path)
    start_step = state["step"]
    if runtime.is_main:
        if start_step == 0:
            for folder in (paths.log_dir, paths.state_dir, paths.plots_dir):
                if Path.cwd().resolve().is_relative_to(folder.resolve()):
                    raise SrganError(f"refusing to clear {folder}: it holds the working directory")
                shutil.rmtree(folder, ignore_errors=True)
        for folder in (paths.log_dir, paths.state_dir, paths.plots_dir):
            folder.mkdir(parents=True, exist_ok=True)
    runtime.barrier()

    def averaged() -> nn.Module:
        return ema.model if ema is not None else generator

    def save_resume() -> None:
        if not runtime.is_main:
            return
        save_checkpoint(resume_path, {
            "model": generator.state_dict(),
            "discriminator": discriminator.state_dict() if discriminator is not None else None,
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in schedulers.items()},
            "ema": ema.model.state_dict() if ema is not None else None,
            "ema_updates": ema.updates if ema is not None else 0,
            "scaler": scaler.state_dict(),
            "state": state,
            "best_weights": best_weights,
            "rng": _rng_state(),
            "fingerprint": fingerprint,
        })

    # Models as the step functions see them: DDP-wrapped and/or compiled.
    g_train: nn.Module = generator
    d_train: nn.Module | None = discriminator
    if runtime.distributed:
        g_train = DistributedDataParallel(generator, device_ids=[runtime.device] if runtime.device.type == "cuda" else None)
        if discriminator is not None:
            d_train = DistributedDataParallel(discriminator, device_ids=[runtime.device] if runtime.device.type == "cuda" else None)
    if runtime.compile:
        g_train = torch.compile(g_train)
        d_train = torch.compile(d_train) if d_train is not None else None

    dataset = PatchDataset(train_images, p.patch_px, scale, p.augment, steps * p.batch_size, seed, per_epoch=p.epochs > 0)
    remaining = Subset(dataset, range(start_step * p.batch_size, steps * p.batch_size))
    sampler = (DistributedSampler(remaining, runtime.world_size, runtime.rank, shuffle=False, drop_last=True)
               if runtime.distributed else None)
    loader = DataLoader(remaining, batch_size=per_process, sampler=sampler, shuffle=False, drop_last=True,
                        num_workers=p.num_workers, pin_memory=runtime.device.type == "cuda",
                        persistent_workers=p.num_workers > 0)
    live = _Live(paths.log_dir, paths.plots_dir, start_step) if runtime.is_main else None
    content_loss = content_loss.to(runtime.device)
    bar = tqdm(loader, total=steps, initial=start_step, desc=f"{kind} {info['content_loss']}",
               disable=not (progress and runtime.is_main), mininterval=1.0)
    g_train.train()
    for step, (lr_img, hr_img) in enumerate(bar, start=start_step + 1):
        lr_img, hr_img = runtime.to_device(lr_img), runtime.to_device(hr_img)
        try:
            if d_train is None:
                scalars = pretrain_step(g_train, content_loss, optimizers["generator"], lr_img, hr_img, runtime,
                                        p.grad_accumulation, scaler)
            else:
                d_train.train()
                scalars = gan_step(g_train, d_train, content_loss, optimizers["generator"], optimizers["discriminator"],
                                   lr_img, hr_img, adversarial_weight, runtime, p.grad_accumulation, scaler)
        except NonFiniteStep as bad:
            state["bad_steps"] += 1
            for opt in optimizers.values():
                opt.zero_grad(set_to_none=True)
            if state["bad_steps"] > p.max_bad_steps:
                save_resume()
                if live is not None:
                    live.close()
                raise SrganError(
                    f"non-finite {bad} at step {step} of {kind} ({state['bad_steps']} bad step(s), "
                    f"max_bad_steps is {p.max_bad_steps}); the last good state (step {state['step']}) is in "
                    f"{resume_path}; lower learning_rate or check the data, then run again"
                ) from None
            log.warning("step %d: non-finite %s; step skipped (%d of %d allowed)", step, bad,
                        state["bad_steps"], p.max_bad_steps)
            scalars = {}
        for sched in schedulers.values():
            sched.step()
        if ema is not None:
            ema.update(generator)
        state["step"] = step
        if live is not None and (step % p.log_every == 0 or step == steps):
            # Reading the values syncs with the device: only on logging steps.
            values = {k: float(v) for k, v in scalars.items()}
            values.update(lr=optimizers["generator"].param_groups[0]["lr"], bad_steps=state["bad_steps"])
            if "loss/content" in values:
                bar.set_postfix(loss=f"{values['loss/content']:.4f}", refresh=False)
            live.scalars(step, values)
        if step % p.valid_every == 0 or step == steps:
            if runtime.is_main:
                psnr = validate(averaged(), valid_images, scale, runtime)
                state["history"].append({"step": step, "valid_psnr_y_db": round(psnr, 4)})
                live.scalars(step, {"valid/psnr_y_db": psnr})
                if valid_images:
                    item = valid_images[0]
                    live.image(f"valid/{item.name}", super_resolve(averaged(), to_tensor(item.lr_u8)[None], runtime)[0], step)
                log.info("step %d: valid PSNR-Y %.3f dB", step, psnr)
                if psnr > state["best_psnr"]:
                    state["best_psnr"], state["best_step"] = psnr, step
                    best_weights = {k: v.detach().cpu().clone() for k, v in averaged().state_dict().items()}
            runtime.barrier()
            g_train.train()
        if step % p.checkpoint_every == 0 and step < steps:
            save_resume()
    bar.close()

    summary = {
        "steps": steps,
        "best_step": state["best_step"],
        "best_valid_psnr_y_db": round(state["best_psnr"], 4),
        "bad_steps": state["bad_steps"],
        "resumed_from_step": start_step,
        "wall_s": round(time.time() - started, 1),
        "processes": runtime.world_size,
        "history": state["history"],
        "content_loss": info["content_loss"],
        "feature_weights": info["feature_weights"],
    }
    if runtime.is_main:
        live.close()
        last = {k: v.detach().cpu().clone() for k, v in _unwrap(averaged()).state_dict().items()}
        for name, weights, step, psnr in (
            ("best.pt", best_weights, state["best_step"], state["best_psnr"]),
            ("last.pt", last, steps, state["history"][-1]["valid_psnr_y_db"]),
        ):
            save_checkpoint(paths.out_dir / name, {"model": weights, "step": step, "valid_psnr_y_db": psnr, **info})
        write_json_atomic(paths.out_dir / "summary.json", summary)
        resume_path.unlink(missing_ok=True)  # finished: only the final artefacts remain
        # A marker instead of an empty folder (DVC warns about empty outputs).
        write_json_atomic(paths.state_dir / "finished.json", {"steps": steps, "resume_checkpoint": "deleted"})
    runtime.barrier()
    return summary


def _checkpoint_info(kind: str, scale: int, model_params: ModelParams, loss_name: str, content: ContentLoss) -> dict:
    return {
        "kind": kind,
        "scale": scale,
        "model_params": as_dict(model_params),
        "content_loss": loss_name,
        "loss_terms": content.weights,
        "feature_weights": content.weights_used,
    }


def _manifest_digest(images: list[tuple[str, np.ndarray]]) -> list:
    # Names, shapes and a 1/256 pixel sample: cheap even for DIV2K, and changes with the data.
    return [(name, list(img.shape), hashlib.sha256(np.ascontiguousarray(img[::16, ::16]).tobytes()).hexdigest()[:12])
            for name, img in images]


def pretrain_srresnet(
    *,
    train_images: list[tuple[str, np.ndarray]],
    valid_images: list[EvalImage],
    scale: int,
    model_params: ModelParams,
    train_params: TrainParams,
    loss_name: str,
    content_loss: ContentLoss,
    seed: int,
    runtime: Runtime,
    paths: StagePaths,
    progress: bool = True,
) -> dict:
    """Train SRResNet from scratch with `content_loss` (SRResNet-MSE: pixel MSE).

    Returns the summary written to <out_dir>/summary.json.
    """
    torch.manual_seed(seed)
    generator = SRResNet(scale=scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    fingerprint = run_fingerprint(
        kind="srresnet", scale=scale, model=as_dict(model_params), train=as_dict(train_params),
        loss=content_loss.weights, weights=content_loss.weights_used, seed=seed,
        world=runtime.world_size, data=_manifest_digest(train_images),
    )
    return _train(
        kind="srresnet", generator=generator, discriminator=None, content_loss=content_loss, adversarial_weight=0.0,
        train_images=train_images, valid_images=valid_images, scale=scale, p=train_params, seed=seed,
        runtime=runtime, paths=paths, fingerprint=fingerprint,
        info=_checkpoint_info("srresnet", scale, model_params, loss_name, content_loss), progress=progress,
    )


def finetune_srgan(
    *,
    init_state: dict[str, Tensor],
    train_images: list[tuple[str, np.ndarray]],
    valid_images: list[EvalImage],
    scale: int,
    model_params: ModelParams,
    train_params: TrainParams,
    adversarial_weight: float,
    loss_name: str,
    content_loss: ContentLoss,
    seed: int,
    runtime: Runtime,
    paths: StagePaths,
    progress: bool = True,
) -> dict:
    """Fine-tune a pretrained SRResNet as SRGAN's generator against the paper's discriminator.

    G's loss = content + adversarial_weight * -log D(G(LR)) (gradient flows through D
    into G; D's weights are not updated by G's step); D's loss = -log D(HR) -
    log(1 - D(G(LR))). Both use Adam at `learning_rate` with the same schedule.
    """
    torch.manual_seed(seed)
    generator = SRResNet(scale=scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    try:
        generator.load_state_dict(init_state)
    except RuntimeError as e:
        raise SrganError(f"the pretrained SRResNet does not match params.model ({str(e).splitlines()[0]})") from None
    init_digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in init_state.values())).hexdigest()[:16]
    fingerprint = run_fingerprint(
        kind="srgan", scale=scale, model=as_dict(model_params), train=as_dict(train_params),
        loss=content_loss.weights, weights=content_loss.weights_used, adversarial=adversarial_weight,
        seed=seed, world=runtime.world_size, data=_manifest_digest(train_images), init=init_digest,
    )
    return _train(
        kind="srgan", generator=generator, discriminator=Discriminator(patch_px=train_params.patch_px),
        content_loss=content_loss, adversarial_weight=adversarial_weight, train_images=train_images,
        valid_images=valid_images, scale=scale, p=train_params, seed=seed, runtime=runtime, paths=paths,
        fingerprint=fingerprint, info=_checkpoint_info("srgan", scale, model_params, loss_name, content_loss),
        progress=progress,
    )
