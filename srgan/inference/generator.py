"""A trained generator: loading its checkpoint, and super-resolving whole images with it.

Tensors are float32 RGB in [0, 1], NCHW. This is all that training's validation,
evaluation and the report's grids need; tiles (`srgan.inference.tiling`) and
BatchNorm folding (`srgan.inference.folding`) live apart, so that changing them
reruns no training stage.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from srgan.core.artifacts import load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.nets.srresnet import generator_from_state


def load_generator(checkpoint: Path, scale: int, runtime: Runtime) -> tuple[nn.Module, dict]:
    """Load a generator checkpoint (weights_only) onto the runtime's device, in eval mode.

    Raises SrganError naming the file when it is unreadable, not an SRResNet, or
    made for another scale. Returns (model, checkpoint metadata without weights).
    """
    ckpt = load_checkpoint(checkpoint)
    ckpt_scale = ckpt.get("scale")
    if isinstance(ckpt_scale, int) and ckpt_scale != scale:
        raise SrganError(
            f"checkpoint {checkpoint} is a x{ckpt_scale} model, but scale {scale} was asked for; "
            f"use scale {ckpt_scale} or a x{scale} checkpoint"
        )
    try:
        model = generator_from_state(ckpt["model"], scale)
    except SrganError as e:
        raise SrganError(f"checkpoint {checkpoint}: {e}") from None
    info = {k: v for k, v in ckpt.items() if k != "model"}
    return runtime.prepare_model(model).eval(), info


@torch.inference_mode()
def super_resolve(model: nn.Module, lr_img: Tensor, runtime: Runtime, clamp: bool = True) -> Tensor:
    """Upscale (N, 3, h, w) LR in [0, 1] with `model` (in the mode it is in: eval, normally), the whole
    image at once -> (N, 3, s*h, s*w) float32 on the CPU, clamped to [0, 1] (clamp=False: as computed).

    For images too large for one pass, `srgan.inference.tiling.super_resolve_tiled`.
    """
    with runtime.autocast():
        sr_img = model(runtime.to_device(lr_img)).float()
    # .contiguous(): a channels_last model returns NHWC strides; callers get plain NCHW.
    return (sr_img.clamp_(0, 1) if clamp else sr_img).cpu().contiguous()
