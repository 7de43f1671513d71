"""An exponential moving average (EMA) of a generator's weights: what is validated and saved."""

from __future__ import annotations

import copy

import torch
from torch import nn


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
