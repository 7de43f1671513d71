"""Running a trained generator on images."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from srgan.runtime import Runtime


@torch.inference_mode()
def super_resolve(model: nn.Module, lr_img: Tensor, runtime: Runtime) -> Tensor:
    """Upscale (N, 3, h, w) LR in [0, 1] with `model` (eval mode) -> float32 CPU, clamped to [0, 1]."""
    with runtime.autocast():
        sr_img = model(runtime.to_device(lr_img))
    return sr_img.float().clamp_(0, 1).cpu()
