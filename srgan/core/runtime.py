"""Device, precision, memory format and process group, resolved once from `runtime` params."""

from __future__ import annotations

import contextlib
import logging
import os
import random
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from srgan.core.config import RuntimeParams
from srgan.core.errors import SrganError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None  # autocast dtype; None = fp32
    channels_last: bool
    compile: bool = False  # torch.compile the training forward passes
    cuda_graphs: str = "never"  # never | auto | required: whole training steps as CUDA graphs (srgan.training.graphs)
    rank: int = 0  # this process in a DistributedDataParallel group
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, metrics and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision when `amp_dtype` is set. The weight-cast cache is off: a CUDA graph must
        not capture a cache that is freed when the autocast region ends."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, cache_enabled=False)

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

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def resolve_eval_runtime(device: str) -> Runtime:
    """The runtime of evaluation and the report's grids on `device` (runtime.device: auto | cpu | cuda): one
    process, fp32, NHWC, eager. Only the device is read: the training settings change no score."""
    return resolve_runtime(RuntimeParams(device=device, precision="fp32", channels_last=True, compile=False,
                                         cuda_graphs="never", processes=1))


def resolve_runtime(params: RuntimeParams) -> Runtime:
    """Pick the device; AMP and compile apply on CUDA only (the CPU runs fp32 eager).

    channels_last (NHWC) applies on both: oneDNN's NHWC convolutions trained the
    paper-size SRResNet 1.2x faster than NCHW on this project's 2-core CPU
    (64-px patches, batch 16: 1.08 vs 1.31 s/step).

    Under torchrun (WORLD_SIZE > 1) this also joins the process group (NCCL on
    CUDA, gloo on the CPU) and binds the process to GPU LOCAL_RANK.
    """
    if params.device == "cuda" and not torch.cuda.is_available():
        raise SrganError("runtime.device is 'cuda' but no CUDA device is available; set runtime.device: auto or cpu")
    use_cuda = params.device == "cuda" or (params.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[params.precision] if use_cuda else None
    runtime = Runtime(device=device, amp_dtype=amp, channels_last=params.channels_last,
                      compile=use_cuda and params.compile, cuda_graphs=params.cuda_graphs)
    if use_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        runtime = _join_process_group(runtime, world_size)
    log.info("device %s, autocast %s, channels_last %s, compile %s, CUDA graphs %s, process %d of %d",
             runtime.device, amp, runtime.channels_last, runtime.compile, runtime.cuda_graphs, runtime.rank,
             runtime.world_size)
    return runtime


def _join_process_group(runtime: Runtime, world_size: int) -> Runtime:
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = runtime.device
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise SrganError(f"process {local_rank} has no GPU (only {torch.cuda.device_count()}); lower runtime.processes")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return replace(runtime, device=device, rank=dist.get_rank(), world_size=dist.get_world_size())


def shutdown(runtime: Runtime) -> None:
    """Leave the process group (if any) cleanly."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
