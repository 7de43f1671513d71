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
        self._source: nn.Module | None = None
        self._floats: tuple[list[Tensor], list[Tensor]] = ([], [])  # (averages, the model's tensors)
        self._others: list[tuple[Tensor, Tensor]] = []  # integer buffers: (average's, the model's)

    def _collect(self, model: nn.Module) -> None:
        # The state dicts' tensors are the live parameters and buffers: sort them once per model.
        if self._source is model:
            return
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self._floats = ([a for a, _ in pairs if a.dtype.is_floating_point],
                        [c.detach() for a, c in pairs if a.dtype.is_floating_point])
        self._others = [(a, c) for a, c in pairs if not a.dtype.is_floating_point]
        self._source = model

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self._collect(model)
        self.updates.add_(1.0)
        weight = 1.0 - torch.clamp((1.0 + self.updates) / (10.0 + self.updates), max=self.decay)
        averages, current = self._floats
        if averages:  # avg += weight * (current - avg): fused kernels, the weight read on the device
            # (_foreach_lerp_ would turn a tensor weight into a host number: a sync, not capturable).
            step = torch._foreach_sub(current, averages)
            torch._foreach_mul_(step, weight)
            torch._foreach_add_(averages, step)
        for avg, cur in self._others:
            avg.copy_(cur)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates.copy_(torch.as_tensor(state["updates"]))
