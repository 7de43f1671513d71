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

from srgan.core.artifacts import load_checkpoint, save_checkpoint
from srgan.core.errors import SrganError
from srgan.core.records import GeneratorRecord, generator_checkpoint, read_generator_record
from srgan.core.runtime import Runtime
from srgan.nets.srresnet import SRResNet, architecture, build_generator


def load_generator(checkpoint: Path, scale: int, runtime: Runtime) -> tuple[nn.Module, GeneratorRecord]:
    """Load a generator checkpoint (weights_only) onto the runtime's device, in eval mode, rebuilt from the
    architecture its record holds. Returns (model, record). SrganError naming the file when it is
    unreadable, has no record, does not match its record, or is made for another scale."""
    ckpt = load_checkpoint(checkpoint)
    record = read_generator_record(ckpt, checkpoint)
    if record.architecture.scale != scale:
        raise SrganError(
            f"checkpoint {checkpoint} is a x{record.architecture.scale} model, but scale {scale} was asked for; "
            f"use scale {record.architecture.scale} or a x{scale} checkpoint"
        )
    model = build_generator(record.architecture)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise SrganError(f"checkpoint {checkpoint}: its weights do not match its recorded architecture "
                         f"({str(e).splitlines()[0]})") from None
    return runtime.prepare_model(model).eval(), record


def save_generator(path: Path, model: SRResNet, *, experiment: str = "", variant: str = "",
                   loss_terms: dict[str, float] | None = None, feature_weights: dict[str, str] | None = None,
                   step: int = 0, valid_psnr_y_db: float | None = None, valid_ssim_y: float | None = None) -> None:
    """Save `model`'s weights with their record (atomically), as training saves its checkpoints."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    record = GeneratorRecord(architecture(model), experiment, variant, loss_terms or {}, feature_weights or {}, step,
                             valid_psnr_y_db, valid_ssim_y)
    save_checkpoint(path, generator_checkpoint(state, record))


def super_resolve(model: nn.Module, lr_img: Tensor, runtime: Runtime, clamp: bool = True) -> Tensor:
    """Upscale (N, 3, h, w) LR in [0, 1] with `model` (in the mode it is in: eval, normally), the whole
    image at once -> (N, 3, s*h, s*w) float32 on the CPU, clamped to [0, 1] (clamp=False: as computed).

    For images too large for one pass, `srgan.inference.tiling.super_resolve_tiled`.
    """
    with torch.inference_mode():
        with runtime.autocast():
            sr_img = model(runtime.to_device(lr_img)).float()
        # .contiguous(): a channels_last model returns NHWC strides; callers get plain NCHW.
        return (sr_img.clamp_(0, 1) if clamp else sr_img).cpu().contiguous()
