"""Device, precision and memory-format choices, resolved once from `runtime` params."""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from srgan.config import RuntimeParams
from srgan.errors import SrganError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None  # autocast dtype on CUDA; None = fp32
    channels_last: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def to_device(self, img: Tensor) -> Tensor:
        img = img.to(self.device, non_blocking=True)
        if self.channels_last and img.dim() == 4:
            img = img.contiguous(memory_format=torch.channels_last)
        return img


def resolve_runtime(params: RuntimeParams) -> Runtime:
    """Pick the device; AMP and channels_last apply on CUDA only (the CPU runs fp32 NCHW)."""
    if params.device == "cuda" and not torch.cuda.is_available():
        raise SrganError("runtime.device is 'cuda' but no CUDA device is available; set runtime.device: auto or cpu")
    use_cuda = params.device == "cuda" or (params.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[params.precision] if use_cuda else None
    if use_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log.info("device %s, autocast %s, channels_last %s", device, amp, use_cuda and params.channels_last)
    return Runtime(device=device, amp_dtype=amp, channels_last=use_cuda and params.channels_last)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
