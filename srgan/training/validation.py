"""Validation during training: scoring the generator on the validation set (paper protocol, PSNR-Y /
SSIM-Y) at its cadence, and keeping the best weights so far. The loop asks `due(step)` and calls
`validate`; this piece keeps the history and the best, and saves and restores them for a resume.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from torch import Tensor, nn

from srgan.core.records import ValidationPoint
from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor
from srgan.datasets.prepared import EvalImage
from srgan.inference.generator import super_resolve
from srgan.scoring import metrics
from srgan.training.step import unwrap

log = logging.getLogger(__name__)


def score_validation(model: nn.Module, images: list[EvalImage], scale: int, runtime: Runtime,
                     on_image: Callable[[EvalImage, Tensor], None] | None = None) -> tuple[float, float]:
    """(mean PSNR-Y in dB, mean SSIM-Y) of `model` on full validation images, shave = scale.

    on_image(item, sr_img) is called with each SR image ((1, 3, H, W) in [0, 1]), e.g. to log it.
    Leaves `model` in eval mode.
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
    return float(np.mean(psnr)), float(np.mean(ssim))


def cpu_weights(model: nn.Module) -> dict[str, Tensor]:
    """A copy of the model's state on the CPU (the plain module inside DDP / compile wrappers)."""
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}


class Validation:
    """The run's validation points and its best weights so far (highest PSNR-Y; the first on a tie).

    every_steps: the cadence in optimiser steps; `extra` steps (the checkpoint points, the last step)
    are validated too.
    """

    def __init__(self, images: list[EvalImage], scale: int, runtime: Runtime, every_steps: int,
                 extra: set[int]) -> None:
        self.images, self.scale, self.runtime = images, scale, runtime
        self.every_steps, self.extra = every_steps, extra
        self.history: list[ValidationPoint] = []
        self.best_psnr_y_db = -math.inf
        self.best_step = 0
        self.best_weights: dict[str, Tensor] | None = None  # on the CPU

    def due(self, step: int) -> bool:
        return step % self.every_steps == 0 or step in self.extra

    def validate(self, step: int, model: nn.Module, on_image: Callable[[EvalImage, Tensor], None] | None = None
                 ) -> ValidationPoint:
        """Score `model` (the averaged generator) now; keep it when it is the best so far."""
        psnr_db, ssim = score_validation(model, self.images, self.scale, self.runtime, on_image)
        point = ValidationPoint(step, round(psnr_db, 4), round(ssim, 4))
        self.history.append(point)
        log.info("step %d: valid PSNR-Y %.3f dB, SSIM-Y %.4f", step, psnr_db, ssim)
        if psnr_db > self.best_psnr_y_db:
            self.best_psnr_y_db, self.best_step = psnr_db, step
            self.best_weights = cpu_weights(model)
        return point

    def point_at(self, step: int) -> ValidationPoint:
        return next(point for point in self.history if point.step == step)

    def state_dict(self) -> dict[str, Any]:
        return {"history": [asdict(point) for point in self.history], "best_psnr_y_db": self.best_psnr_y_db,
                "best_step": self.best_step, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [ValidationPoint(**point) for point in state["history"]]
        self.best_psnr_y_db, self.best_step = state["best_psnr_y_db"], state["best_step"]
        self.best_weights = state["best_weights"]  # stays on the CPU, as cpu_weights keeps it
