"""An exponential moving average (EMA) of a generator's weights: what is validated and saved."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class EMA:
    """Exponential moving average of a model's parameters and buffers.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates
    so that the average is not dominated by the random initial weights in
    short runs. Integer buffers (BN's num_batches_tracked) are copied. The update
    count lives on the device and the update is a few fused kernels, so it can be
    part of a CUDA graph and never waits for the host.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        device = next(self.model.parameters()).device
        self.updates = torch.zeros((), dtype=torch.float32, device=device)
        self._pairs: list[tuple[Tensor, Tensor]] | None = None
        self._source: nn.Module | None = None

    def _tensors(self, model: nn.Module) -> list[tuple[Tensor, Tensor]]:
        # The state dicts' tensors are the live parameters and buffers: collect the pairs once.
        if self._pairs is None or self._source is not model:
            self._pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
            self._source = model
        return self._pairs

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        pairs = self._tensors(model)
        self.updates.add_(1.0)
        weight = 1.0 - torch.clamp((1.0 + self.updates) / (10.0 + self.updates), max=self.decay)
        averages = [a for a, _ in pairs if a.dtype.is_floating_point]
        if averages:  # avg += weight * (current - avg): fused kernels, the weight read on the device
            # (_foreach_lerp_ would turn a tensor weight into a host number: a sync, not capturable).
            step = torch._foreach_sub([c.detach() for a, c in pairs if a.dtype.is_floating_point], averages)
            torch._foreach_mul_(step, weight)
            torch._foreach_add_(averages, step)
        for avg, cur in pairs:
            if not avg.dtype.is_floating_point:
                avg.copy_(cur)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates.copy_(torch.as_tensor(state["updates"]))
