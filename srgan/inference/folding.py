"""Inference-only speed-ups: every BatchNorm folded into the convolution before it.

`prepare_for_inference` gives a folded, gradient-free, channels_last copy of a
generator for `srgan upscale`; it equals the eval-mode model within float
rounding (about 1e-6). Training-mode BN (batch statistics) cannot be folded.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from srgan.core.records import GeneratorRecord
from srgan.core.runtime import Runtime
from srgan.inference.generator import load_generator
from srgan.nets.srresnet import SRResNet


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv computing bn(conv(x)) with BN's running statistics (eval-mode BN)."""
    # float64 so the fold itself adds no visible rounding error.
    inv_std = (bn.running_var.double() + bn.eps).rsqrt()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(inv_std)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(inv_std)
    factor = gamma * inv_std  # (C_out,)
    conv_bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(inv_std)
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(conv.weight.double() * factor[:, None, None, None])
        fused.bias.copy_((conv_bias - bn.running_mean.double()) * factor + beta)
    return fused


def fold_batchnorm(model: SRResNet) -> nn.Module:
    """A copy of `model` with each BatchNorm2d folded into the Conv2d before it.

    The folded conv computes conv -> eval-mode BN (running statistics) in one
    step; the BN is replaced by nn.Identity. The copy equals `model.eval()` up to
    float rounding (about 1e-6); `model` itself is left unchanged. Training mode
    BN (batch statistics) cannot be folded: use the copy for inference only.
    """
    if not isinstance(model, SRResNet):
        raise TypeError(f"fold_batchnorm expects an SRResNet, got {type(model).__name__}")
    folded = copy.deepcopy(model).eval()
    for block in folded.body:
        bn1, bn2 = block.norms()  # the same BatchNorm twice in the study's blocks: folded into both convs
        block.conv1 = _fold_conv_bn(block.conv1, bn1)
        block.conv2 = _fold_conv_bn(block.conv2, bn2)
        if block.shared_bn:
            block.bn = nn.Identity()
        else:
            block.bn1, block.bn2 = nn.Identity(), nn.Identity()
    folded.body_tail[0] = _fold_conv_bn(folded.body_tail[0], folded.body_tail[1])
    folded.body_tail[1] = nn.Identity()
    leftover = [name for name, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if leftover:  # SRResNet grew a BN this function does not know about
        raise TypeError(f"fold_batchnorm left BatchNorm layers unfolded: {leftover}")
    return folded


def prepare_for_inference(model: SRResNet, runtime: Runtime) -> nn.Module:
    """Eval mode, BN folded, gradients off, on the runtime's device, channels_last weights.

    channels_last: on CUDA as `runtime` says; on the CPU always, because oneDNN's
    NHWC convolutions ran the folded paper-size SRResNet about 1.25x faster than
    NCHW on this project's CPU (benchmarks/bench_infer.py). Inputs may stay NCHW:
    the first convolution follows its weights' format. Returns a new module;
    `model` is left unchanged. Run it under `torch.inference_mode()`
    (`super_resolve` and friends do).
    """
    folded = fold_batchnorm(model.eval())
    folded.requires_grad_(False)
    folded = runtime.prepare_model(folded)
    if runtime.device.type == "cpu":
        folded = folded.to(memory_format=torch.channels_last)
    return folded.eval()


def load_for_inference(checkpoint: Path, scale: int, runtime: Runtime) -> tuple[nn.Module, GeneratorRecord]:
    """`load_generator`, then `prepare_for_inference` (BatchNorm folded, channels_last)."""
    model, info = load_generator(checkpoint, scale, runtime)
    return prepare_for_inference(model, runtime), info


if __name__ == "__main__":
    raise SystemExit("error: srgan.inference.folding is a library module, not a command: run "
                     "`srgan upscale` (or `python -m srgan upscale`)")
