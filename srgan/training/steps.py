"""One optimiser step of each experiment, as plain functions: `pretrain_step` (SRResNet with a
content loss) and `gan_step` (SRGAN: G against D, then D). The tasks (`srgan.training.tasks`) call
them, eagerly or captured in a CUDA graph; the benchmarks call them directly.

Images are float32 RGB in [0, 1], NCHW: `lr_img` (N, 3, h, w), `hr_img` (N, 3, s*h, s*w).

The steps are graph-ready: fixed shapes, no Python branch on a tensor's value and no host
synchronisation. A non-finite loss term or gradient is handled on the device by a `StepGuard`:
the fused Adam optimisers skip the step (`found_inf`: weights, moments and step counts stay as
they were), the networks' BatchNorm statistics are put back, and the guard's `StepHealth`
records the step and which check failed, for the loop to read at its logging cadence.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srgan.core.runtime import Runtime
from srgan.losses.adversarial import discriminator_loss, generator_adversarial_loss
from srgan.losses.content import ContentLoss
from srgan.training.grouped import DtypeGroups


def lr_factor(schedule: str, step: int, total_steps: int, decay_step: int) -> float:
    """Learning-rate multiplier at `step` (0-based) for the schedules in params."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    if schedule == "step":
        return 0.1 if decay_step and step >= decay_step else 1.0
    return 1.0


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a torch.compile and/or DistributedDataParallel wrapper."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, DistributedDataParallel) else model


# ---------------------------------------------------------------- non-finite steps, on the device


class StepHealth:
    """Device-side record of the non-finite steps since the last `read`: no host sync per step.

    `checks` names what each flag of `record` tests ("generator loss term 'mse'", "generator
    gradient", ...). `step` counts the steps recorded (the loop sets it when a run resumes).
    """

    def __init__(self, checks: list[str], device: torch.device) -> None:
        self.checks = checks
        self.step = torch.zeros((), dtype=torch.int64, device=device)
        self.bad = torch.zeros((), dtype=torch.int64, device=device)  # bad steps in this window
        self.first_bad_step = torch.zeros((), dtype=torch.int64, device=device)  # 0: none
        self.first_bad_checks = torch.zeros(len(checks), dtype=torch.bool, device=device)

    def record(self, failed: Tensor) -> Tensor:
        """Count one step whose checks `failed` ((len(checks),) bool); returns 0-d bool "all finite"."""
        self.step.add_(1)
        bad = failed.any()
        first = bad & (self.first_bad_step == 0)
        self.first_bad_step.copy_(torch.where(first, self.step, self.first_bad_step))
        self.first_bad_checks.copy_(torch.where(first, failed, self.first_bad_checks))
        self.bad.add_(bad.to(torch.int64))
        return ~bad

    def read(self) -> tuple[int, int, list[str]]:
        """(bad steps, the first one's number, its failed checks) since the last read; resets. Syncs once."""
        values = torch.cat([self.bad.view(1), self.first_bad_step.view(1),
                            self.first_bad_checks.to(torch.int64)]).tolist()
        self.bad.zero_()
        self.first_bad_step.zero_()
        self.first_bad_checks.zero_()
        failed = [name for name, flag in zip(self.checks, values[2:]) if flag]
        return values[0], values[1], failed


class StepGuard:
    """Makes a non-finite step a no-op on the device (see the module docstring).

    networks: whose BatchNorm statistics (and other buffers) a skipped step puts back.
    The optimisers must be fused Adam (they read `found_inf`); with fp16 loss scaling the
    GradScaler passes its own `found_inf` and the guard checks the loss terms only.
    """

    def __init__(self, networks: list[nn.Module], checks: list[str], runtime: Runtime) -> None:
        self.runtime = runtime
        self.health = StepHealth(checks, runtime.device)
        self.found_inf = torch.zeros((), dtype=torch.float32, device=runtime.device)  # 1.0: this step is skipped
        # Grouped by dtype (float32 statistics, int64 counts): a few kernels per step, not three per buffer.
        self._buffers = DtypeGroups(b for net in networks for b in net.buffers())
        self._saved = self._buffers.cat()  # one flat copy per dtype

    @torch.no_grad()
    def begin(self) -> None:
        """Remember the buffers (BatchNorm statistics move in the forward pass): one copy per dtype."""
        self._buffers.cat_into(self._saved)

    @torch.no_grad()
    def decide(self, failed: Tensor) -> None:
        """Record the step; when any check failed, set `found_inf` and put the buffers back."""
        if self.runtime.distributed:  # every process skips alike
            failed = failed.to(torch.int32)
            dist.all_reduce(failed, op=dist.ReduceOp.MAX)
            failed = failed.bool()
        ok = self.health.record(failed)
        self.found_inf.copy_((~ok).to(torch.float32))
        self._buffers.keep_where(ok, self._saved)

    def step(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        """The optimiser step, skipped on the device when `decide` found a non-finite value."""
        if scaler.is_enabled():
            scaler.step(optimizer)  # fp16: the scaler skips on its own overflow check
            return
        optimizer.found_inf = self.found_inf  # read by fused Adam; no host sync
        try:
            optimizer.step()
        finally:
            del optimizer.found_inf


def _nonfinite(values: list[Tensor]) -> Tensor:
    """(len(values),) bool: which 0-d values are NaN/inf."""
    return ~torch.isfinite(torch.stack([v.detach().float().reshape(()) for v in values]))


def _nonfinite_grads(params: list[nn.Parameter]) -> Tensor:
    """(1,) bool: is any gradient NaN/inf (one fused norm over all of them)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(1, dtype=torch.bool, device=params[0].device if params else None)
    return ~torch.isfinite(torch.stack(torch._foreach_norm(grads)).float().sum()).view(1)


# ---------------------------------------------------------------- one optimiser step


def _micro_batches(img: Tensor, n: int) -> list[Tensor]:
    # Interleaved, as DistributedSampler splits a global batch across processes, so that
    # N micro-batches in one process do exactly the maths of N processes.
    return [img[i::n] for i in range(n)]


def _no_sync(model: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    if isinstance(model, DistributedDataParallel) and not last:
        return model.no_sync()
    return contextlib.nullcontext()


def _no_scaler() -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", enabled=False)


def pretrain_checks(content_loss: ContentLoss, check_grads: bool = True) -> list[str]:
    """What a `pretrain_step` guard checks, in the order of its flags."""
    names = [f"generator loss term '{t}'" for t in (*content_loss.term_weights, "content")]
    return names + (["generator gradient"] if check_grads else [])


def pretrain_step(
    generator: nn.Module, content_loss: ContentLoss, optimizer: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, runtime: Runtime, accumulation: int = 1,
    scaler: torch.amp.GradScaler | None = None, guard: StepGuard | None = None,
) -> dict[str, Tensor]:
    """One SRResNet optimiser step on a batch; returns the loss scalars (0-d tensors, on the device).

    With a `guard` (checks: `pretrain_checks`), a non-finite loss term or gradient skips
    the step on the device; without one the step is taken whatever the values.
    """
    scaler = scaler or _no_scaler()
    if guard is not None:
        guard.begin()
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
    if guard is None:
        scaler.step(optimizer) if scaler.is_enabled() else optimizer.step()
    else:
        failed = [_nonfinite(list(parts.values()))]
        if not scaler.is_enabled():
            failed.append(_nonfinite_grads(list(generator.parameters())).to(runtime.device))
        guard.decide(torch.cat([f.to(runtime.device) for f in failed]))
        guard.step(optimizer, scaler)
    scaler.update()
    return {f"loss/{k}": v for k, v in parts.items()}


def gan_checks(content_loss: ContentLoss, check_grads: bool = True) -> list[str]:
    """What a `gan_step` guard checks, in the order of its flags."""
    names = [f"generator loss term '{t}'"
             for t in (*content_loss.term_weights, "content", "adversarial", "generator")]
    names.append("discriminator loss term 'discriminator'")
    return names + (["generator gradient", "discriminator gradient"] if check_grads else [])


def gan_step(
    generator: nn.Module, discriminator: nn.Module, content_loss: ContentLoss,
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, adversarial_weight: float, runtime: Runtime, accumulation: int = 1,
    scaler: torch.amp.GradScaler | None = None, guard: StepGuard | None = None, adversarial_gradient: bool = True,
) -> dict[str, Tensor]:
    """One SRGAN step: G against a frozen-but-differentiable D, then D on the same batch.

    G's loss = content + adversarial_weight * -log D(G(LR)); the adversarial term's
    gradient flows through D into G (D's parameters get no update from it). D's
    loss = -log D(HR) - log(1 - D(G(LR))), on G's output detached.
    After the call, G's parameter .grad holds the gradient of G's loss.
    Under DDP, G's step runs the plain discriminator module: its parameters are
    frozen there, so DDP must not wait for their gradients.
    Both gradients are computed and checked before either optimiser steps, so with a
    `guard` (checks: `gan_checks`) a non-finite value in either skips both (D's loss
    sees G's output detached, from before G's update either way: the order changes no result).
    adversarial_gradient=False is the study's code (BRIEF §1): the adversarial term is
    computed from D's output detached, so it sends no gradient into G ("SRGAN" becomes
    content-only fine-tuning while D still trains).
    """
    scaler = scaler or _no_scaler()
    if guard is not None:
        guard.begin()
    d_plain = unwrap(discriminator)
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
                verdict = d_plain(sr_mb)
                adversarial = generator_adversarial_loss(verdict if adversarial_gradient else verdict.detach())
                g_loss = content + adversarial_weight * adversarial
            scaler.scale(g_loss / accumulation).backward()
        sr_imgs.append(sr_mb.detach())
        add({**terms, "content": content, "adversarial": adversarial, "generator": g_loss})

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
    probs = {"d/real_prob": parts.pop("real_prob"), "d/fake_prob": parts.pop("fake_prob")}
    if guard is None:
        for opt in (opt_g, opt_d):
            scaler.step(opt) if scaler.is_enabled() else opt.step()
    else:
        failed = [_nonfinite(list(parts.values()))]
        if not scaler.is_enabled():
            failed += [_nonfinite_grads(list(generator.parameters())).to(runtime.device),
                       _nonfinite_grads(list(discriminator.parameters())).to(runtime.device)]
        guard.decide(torch.cat([f.to(runtime.device) for f in failed]))
        guard.step(opt_g, scaler)
        guard.step(opt_d, scaler)
    scaler.update()
    return {**{f"loss/{k}": v for k, v in parts.items()}, **probs}
