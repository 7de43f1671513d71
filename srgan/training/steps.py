"""One optimiser step of each experiment, as plain functions: `pretrain_step` (SRResNet with a
content loss) and `gan_step` (SRGAN: G against D, then D). The tasks (`srgan.training.tasks`)
call them; the benchmarks call them directly.

Images are float32 RGB in [0, 1], NCHW: `lr_img` (N, 3, h, w), `hr_img` (N, 3, s*h, s*w).
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


class NonFiniteStep(Exception):
    """A loss or gradient was NaN/inf in this step (raised on every process alike)."""


def lr_factor(schedule: str, step: int, total_steps: int, decay_step: int) -> float:
    """Learning-rate multiplier at `step` (0-based) for the schedules in params."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    if schedule == "step":
        return 0.1 if decay_step and step >= decay_step else 1.0
    return 1.0


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


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a torch.compile and/or DistributedDataParallel wrapper."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, DistributedDataParallel) else model


def pretrain_step(
    generator: nn.Module, content_loss: ContentLoss, optimizer: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, runtime: Runtime, accumulation: int = 1,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, Tensor]:
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
) -> dict[str, Tensor]:
    """One SRGAN step: G against a frozen-but-differentiable D, then D on the same batch.

    G's loss = content + adversarial_weight * -log D(G(LR)); the adversarial term's
    gradient flows through D into G (D's parameters get no update from it). D's
    loss = -log D(HR) - log(1 - D(G(LR))), on G's output detached.
    After the call, G's parameter .grad holds the gradient of G's loss.
    Under DDP, G's step runs the plain discriminator module: its parameters are
    frozen there, so DDP must not wait for their gradients.
    Both gradients are computed and checked before either optimiser steps, so a
    non-finite D loss leaves G untouched too (D's loss sees G's output detached,
    from before G's update either way: the order changes no result).
    """
    scaler = scaler or _no_scaler()
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
                adversarial = generator_adversarial_loss(d_plain(sr_mb))
                g_loss = content + adversarial_weight * adversarial
            scaler.scale(g_loss / accumulation).backward()
        sr_imgs.append(sr_mb.detach())
        add({**terms, "content": content, "adversarial": adversarial, "generator": g_loss})
    g_parts = dict(parts)

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
    scaler.unscale_(opt_g)
    scaler.unscale_(opt_d)
    _check_finite(g_parts, list(generator.parameters()), runtime, "generator", check_grads=not scaler.is_enabled())
    _check_finite({"discriminator": parts["discriminator"]}, list(discriminator.parameters()), runtime,
                  "discriminator", check_grads=not scaler.is_enabled())
    scaler.step(opt_g)
    scaler.step(opt_d)
    scaler.update()
    probs = {"d/real_prob": parts.pop("real_prob"), "d/fake_prob": parts.pop("fake_prob")}
    return {**{f"loss/{k}": v for k, v in parts.items()}, **probs}
