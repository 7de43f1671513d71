"""An exponential moving average (EMA) of a generator's weights: what is validated and saved."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from srgan.training.grouped import DtypeGroups


class EMA:
    """Exponential moving average of a model's parameters and buffers.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates
    so that the average is not dominated by the random initial weights in
    short runs. Integer buffers (BN's num_batches_tracked) are copied. The update
    count lives on the device and the update is a few fused kernels, so it can be
    part of a CUDA graph and never waits for the host. An update told that its step
    was skipped (`skipped`: the guard's `found_inf`) changes nothing: neither the
    count, nor the average, nor the copied integers.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        device = next(self.model.parameters()).device
        self.updates = torch.zeros((), dtype=torch.float32, device=device)
        self._source: nn.Module | None = None
        self._floats: tuple[list[Tensor], list[Tensor]] = ([], [])  # (averages, the model's tensors)
        self._others: tuple[DtypeGroups, DtypeGroups] = (DtypeGroups([]), DtypeGroups([]))  # integer buffers:
        # (the average's, the model's), grouped by dtype: one copy per dtype, not one per buffer

    def _collect(self, model: nn.Module) -> None:
        # The state dicts' tensors are the live parameters and buffers: sort them once per model.
        if self._source is model:
            return
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self._floats = ([a for a, _ in pairs if a.dtype.is_floating_point],
                        [c.detach() for a, c in pairs if a.dtype.is_floating_point])
        self._others = (DtypeGroups(a for a, _ in pairs if not a.dtype.is_floating_point),
                        DtypeGroups(c for a, c in pairs if not a.dtype.is_floating_point))
        self._source = model

    def update(self, model: nn.Module, skipped: Tensor | None = None) -> None:
        """Move the average toward `model`; `skipped` (0-d float32 on the device, 1.0 or 0.0): when 1.0
        the step was skipped and the update is a no-op (the count adds 1 - skipped, the weight is
        multiplied by it) — no host sync either way."""
        with torch.no_grad():
            self._collect(model)
            if skipped is None:
                self.updates.add_(1.0)
                weight = 1.0 - torch.clamp((1.0 + self.updates) / (10.0 + self.updates), max=self.decay)
            else:
                taken = 1.0 - skipped
                self.updates.add_(taken)
                weight = (1.0 - torch.clamp((1.0 + self.updates) / (10.0 + self.updates), max=self.decay)) * taken
            averages, current = self._floats
            if averages:  # avg += weight * (current - avg): fused kernels, the weight read on the device
                # (_foreach_lerp_ would turn a tensor weight into a host number: a sync, not capturable).
                step = torch._foreach_sub(current, averages)
                torch._foreach_mul_(step, weight)
                torch._foreach_add_(averages, step)
            averages, current = self._others
            if skipped is None:
                if averages.tensors:
                    torch._foreach_copy_(averages.tensors, current.tensors)
            else:  # a skipped step keeps the average's integers (the guard put the model's back anyway)
                averages.keep_where(skipped.bool(), current.cat())

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates.copy_(torch.as_tensor(state["updates"]))
