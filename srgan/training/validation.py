"""Validation during training: scoring the generator on the validation set (paper protocol, PSNR-Y /
SSIM-Y) at its cadence, and keeping the best weights so far. `Validation` is a hook of the loop
(`srgan.training.hooks`): the main process scores the averaged generator when it is due and hands the
scores to the log; the history and the best so far are its `ValidationState`, saved and restored for a
resume (`srgan.training.resume`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor, nn

from srgan.core.records import ValidationPoint
from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor
from srgan.datasets.prepared import EvalImage
from srgan.inference.generator import super_resolve
from srgan.scoring import metrics
from srgan.training.hooks import Hook
from srgan.training.log import TrainLog
from srgan.training.step import unwrap
from srgan.training.task import Task

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


@dataclass
class ValidationState:
    """The validation points so far and the best of them (highest PSNR-Y; the first on a tie)."""

    history: list[ValidationPoint] = field(default_factory=list)
    best_psnr_y_db: float = -math.inf
    best_step: int = 0
    best_weights: dict[str, Tensor] | None = None  # the averaged generator's at best_step, on the CPU

    def point_at(self, step: int) -> ValidationPoint:
        return next(point for point in self.history if point.step == step)


class Validation(Hook):
    """Scores `task.averaged` every `every_steps` steps and at the `extra` steps (the checkpoint points, the last
    step), on the main process (the others wait at a barrier), into `state`; logs the scores and the first image to
    `log`."""

    def __init__(self, task: Task, images: list[EvalImage], scale: int, runtime: Runtime, every_steps: int,
                 extra: set[int], state: ValidationState, log: TrainLog | None) -> None:
        self.task, self.images, self.scale, self.runtime = task, images, scale, runtime
        self.every_steps, self.extra, self.state, self.log = every_steps, extra, state, log

    def due(self, step: int) -> bool:
        return step % self.every_steps == 0 or step in self.extra

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        if self.runtime.is_main:
            first = self.images[0]

            def log_first(item: EvalImage, sr_img: Tensor) -> None:
                if item is first and self.log is not None:
                    self.log.image(f"valid/{item.name}", sr_img[0], step)

            point = self.validate(step, self.task.averaged, log_first)
            if self.log is not None:
                self.log.scalars(step, {"valid/psnr_y_db": point.valid_psnr_y_db, "valid/ssim_y": point.valid_ssim_y})
        self.runtime.barrier()

    def validate(self, step: int, model: nn.Module, on_image: Callable[[EvalImage, Tensor], None] | None = None
                 ) -> ValidationPoint:
        """Score `model` (the averaged generator) now; keep it when it is the best so far."""
        psnr_db, ssim = score_validation(model, self.images, self.scale, self.runtime, on_image)
        point = ValidationPoint(step, round(psnr_db, 4), round(ssim, 4))
        state = self.state
        state.history.append(point)
        log.info("step %d: valid PSNR-Y %.3f dB, SSIM-Y %.4f", step, psnr_db, ssim)
        if psnr_db > state.best_psnr_y_db:
            state.best_psnr_y_db, state.best_step = psnr_db, step
            state.best_weights = cpu_weights(model)
        return point
