"""Scoring the generator on the validation set during training (paper protocol, whole images)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import Tensor, nn

from srgan.core.runtime import Runtime
from srgan.core.tensors import to_tensor
from srgan.datasets.prepared import EvalImage
from srgan.inference.generator import super_resolve
from srgan.scoring import metrics


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
