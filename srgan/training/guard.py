"""Non-finite steps handled on the device: `StepGuard` makes such a step a no-op without a host sync, and
its `StepHealth` records it for the loop to read at its logging cadence.

The fused Adam optimisers skip the step (`found_inf`: weights, moments and step counts stay as they
were), the networks' BatchNorm statistics are put back, and the record keeps the window's first bad
step and which check failed (a loss term, a gradient).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn

from srgan.core.runtime import Runtime
from srgan.training.grouped import DtypeGroups


class Health(NamedTuple):
    """The non-finite steps of a window: how many, the first one's number (0: none) and its failed checks."""

    bad: int
    first_step: int
    failed: list[str]


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

    def read(self) -> Health:
        """(bad steps, the first one's number, its failed checks) since the last read; resets. Syncs once."""
        values = torch.cat([self.bad.view(1), self.first_bad_step.view(1),
                            self.first_bad_checks.to(torch.int64)]).tolist()
        self.bad.zero_()
        self.first_bad_step.zero_()
        self.first_bad_checks.zero_()
        failed = [name for name, flag in zip(self.checks, values[2:]) if flag]
        return Health(values[0], values[1], failed)


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

    def begin(self) -> None:
        """Remember the buffers (BatchNorm statistics move in the forward pass): one copy per dtype."""
        with torch.no_grad():
            self._buffers.cat_into(self._saved)

    def decide(self, failed: Tensor) -> None:
        """Record the step; when any check failed, set `found_inf` and put the buffers back."""
        with torch.no_grad():
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


def nonfinite(values: list[Tensor]) -> Tensor:
    """(len(values),) bool: which 0-d values are NaN/inf."""
    return ~torch.isfinite(torch.stack([v.detach().float().reshape(()) for v in values]))


def nonfinite_grads(params: list[nn.Parameter]) -> Tensor:
    """(1,) bool: is any gradient NaN/inf (one fused norm over all of them)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(1, dtype=torch.bool, device=params[0].device if params else None)
    return ~torch.isfinite(torch.stack(torch._foreach_norm(grads)).float().sum()).view(1)
