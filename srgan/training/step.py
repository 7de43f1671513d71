"""What every optimiser step shares: its context (runtime, micro-batches, loss scaler, guard), the
micro-batch helpers, and one common ending (`finish_step`). The experiments' steps are
`srgan.training.srresnet.pretrain_step` and `srgan.training.srgan.gan_step`.

Images are float32 RGB in [0, 1], NCHW: `lr_img` (N, 3, h, w), `hr_img` (N, 3, s*h, s*w).
The steps are graph-ready: fixed shapes, no Python branch on a tensor's value and no host
synchronisation (`srgan.training.guard` handles non-finite values on the device).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srgan.core.runtime import Runtime
from srgan.training.guard import StepGuard, nonfinite, nonfinite_grads


def _no_scaler() -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", enabled=False)


@dataclass
class StepContext:
    """What a step needs besides its networks and batch."""

    runtime: Runtime
    accumulation: int = 1  # micro-batches per step (interleaved, as DDP splits a batch)
    scaler: torch.amp.GradScaler = field(default_factory=_no_scaler)  # fp16 loss scaling (disabled otherwise)
    guard: StepGuard | None = None  # None: every step is taken whatever the values


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


def micro_batches(img: Tensor, n: int) -> list[Tensor]:
    # Interleaved, as DistributedSampler splits a global batch across processes, so that
    # N micro-batches in one process do exactly the maths of N processes.
    return [img[i::n] for i in range(n)]


def no_sync(model: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    """DDP's gradient all-reduce only after the last micro-batch."""
    if isinstance(model, DistributedDataParallel) and not last:
        return model.no_sync()
    return contextlib.nullcontext()


def add_parts(parts: dict[str, Tensor], values: dict[str, Tensor], accumulation: int) -> None:
    """Accumulate micro-batch scalars (detached, float32) into their step means."""
    for name, value in values.items():
        parts[name] = parts.get(name, 0) + value.detach().float() / accumulation


def finish_step(ctx: StepContext, parts: dict[str, Tensor],
                updates: Sequence[tuple[nn.Module, torch.optim.Optimizer]]) -> None:
    """The end every step shares, once all gradients are computed.

    With a guard: check the step's loss scalars `parts` and (except under fp16, where the scaler
    checks) each network's gradients, in that order (the guard's checks name them so), record the
    verdict, and step each optimiser — a no-op on the device when any check failed, so a bad value in
    either network skips both. Without a guard the optimisers simply step. Then the loss scaler updates.
    """
    scaler, device = ctx.scaler, ctx.runtime.device
    if ctx.guard is None:
        for _, optimizer in updates:
            scaler.step(optimizer) if scaler.is_enabled() else optimizer.step()
    else:
        failed = [nonfinite(list(parts.values()))]
        if not scaler.is_enabled():
            failed += [nonfinite_grads(list(network.parameters())) for network, _ in updates]
        ctx.guard.decide(torch.cat([f.to(device) for f in failed]))
        for _, optimizer in updates:
            ctx.guard.step(optimizer, scaler)
    scaler.update()
