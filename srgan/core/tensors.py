"""The tensor edge: uint8 image arrays <-> float tensors, with the project's one rounding rule.

Arrays are uint8 HxWx3 RGB (`*_u8`); tensors are float32 RGB in [0, 1], CHW or
NCHW. Conversions between the two happen here (and in `srgan.scoring.metrics`
for Y and 8-bit scoring).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_tensor(img_u8: np.ndarray) -> Tensor:
    """HxWx3 uint8 -> 3xHxW float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img_u8)).permute(2, 0, 1).float().div_(255.0)


def round_u8(img: Tensor) -> Tensor:
    """Float in [0, 1] (clamped), any shape and device -> uint8 of the same shape.

    floor(x * 255 + 0.5) in float64: ties round up, as MATLAB's im2uint8 and
    `srgan.core.images.float_to_u8` do (torch.round would send ties to the even
    integer). float64 because x * 255 rounded to float32 can land a value just
    below a tie on it.
    """
    # copy=True: the in-place steps below must never write into the caller's tensor.
    return img.detach().to(torch.float64, copy=True).clamp_(0, 1).mul_(255.0).add_(0.5).floor_().to(torch.uint8)


def to_u8(img: Tensor) -> np.ndarray:
    """3xHxW (or 1x3xHxW) float in [0, 1] -> HxWx3 uint8, clamped and rounded by `round_u8`."""
    if img.dim() == 4:
        img = img[0]
    return round_u8(img).permute(1, 2, 0).cpu().numpy()
