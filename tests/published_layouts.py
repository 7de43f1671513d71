"""Generator state dicts in other code bases' layouts, and reference forward passes written from those layouts
(not a test itself): the import tests of tests/inference/ and tests/test_cli.py build their sources here.

Key names and shapes are facts of the source code, written out here independently of
srgan.inference.importing's tables: Lornatang/SRGAN-PyTorch `model.py`, unique-chan/SRGAN `Model/Generator.py` and
`Model/Block.py`, BasicSR `basicsr/archs/srresnet_arch.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

BN_EPS = 1e-5  # nn.BatchNorm2d's default, in every source


class _Weights:
    """Random tensors with a seed; BatchNorm entries with non-trivial statistics."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.state: dict[str, Tensor] = {}

    def conv(self, key: str, c_out: int, c_in: int, k: int, bias: bool) -> None:
        self.state[f"{key}.weight"] = torch.randn(c_out, c_in, k, k, generator=self.gen) * (0.5 / (c_in * k * k) ** 0.5)
        if bias:
            self.state[f"{key}.bias"] = torch.randn(c_out, generator=self.gen) * 0.1

    def prelu(self, key: str) -> None:
        self.state[f"{key}.weight"] = 0.25 + torch.rand(1, generator=self.gen) * 0.1  # nn.PReLU(): one parameter

    def bn(self, key: str, c: int) -> None:
        self.state[f"{key}.weight"] = 0.5 + torch.rand(c, generator=self.gen)
        self.state[f"{key}.bias"] = torch.randn(c, generator=self.gen) * 0.1
        self.state[f"{key}.running_mean"] = torch.randn(c, generator=self.gen) * 0.1
        self.state[f"{key}.running_var"] = 0.5 + torch.rand(c, generator=self.gen)
        self.state[f"{key}.num_batches_tracked"] = torch.tensor(12345)


def lornatang_state(blocks: int = 16, channels: int = 64, ups: int = 2, names: tuple[str, str, str] = (
        "conv1", "conv2", "conv3"), seed: int = 0) -> dict[str, Tensor]:
    """Lornatang/SRGAN-PyTorch model.py `SRResNet` (2022-10-31 on; `names` conv_block1..3 for its 2022 `Generator`):
    conv1 = Sequential(Conv2d(3, C, 9, padding 4), PReLU()); trunk.N.rcb = Sequential(Conv2d(C, C, 3, bias=False),
    BatchNorm2d, PReLU, Conv2d(C, C, 3, bias=False), BatchNorm2d); conv2 = Sequential(Conv2d(C, C, 3, bias=False),
    BatchNorm2d); upsampling.N.upsample_block = Sequential(Conv2d(C, 4C, 3), PixelShuffle(2), PReLU);
    conv3 = Conv2d(C, 3, 9, padding 4)."""
    head, body_tail, tail = names
    w = _Weights(seed)
    w.conv(f"{head}.0", channels, 3, 9, bias=True)
    w.prelu(f"{head}.1")
    for i in range(blocks):
        w.conv(f"trunk.{i}.rcb.0", channels, channels, 3, bias=False)
        w.bn(f"trunk.{i}.rcb.1", channels)
        w.prelu(f"trunk.{i}.rcb.2")
        w.conv(f"trunk.{i}.rcb.3", channels, channels, 3, bias=False)
        w.bn(f"trunk.{i}.rcb.4", channels)
    w.conv(f"{body_tail}.0", channels, channels, 3, bias=False)
    w.bn(f"{body_tail}.1", channels)
    for j in range(ups):
        w.conv(f"upsampling.{j}.upsample_block.0", 4 * channels, channels, 3, bias=True)
        w.prelu(f"upsampling.{j}.upsample_block.2")
    w.conv(tail, 3, channels, 9, bias=True)
    return w.state


def _bn(x: Tensor, s: dict[str, Tensor], key: str) -> Tensor:
    return F.batch_norm(x, s[f"{key}.running_mean"], s[f"{key}.running_var"], s[f"{key}.weight"], s[f"{key}.bias"],
                        training=False, eps=BN_EPS)


def lornatang_forward(s: dict[str, Tensor], lr_img: Tensor, names=("conv1", "conv2", "conv3")) -> Tensor:
    """Lornatang's `SRResNet._forward_impl`, unclamped: conv1 -> trunk -> conv2, + conv1 -> upsampling -> conv3."""
    head, body_tail, tail = names
    first = F.prelu(F.conv2d(lr_img, s[f"{head}.0.weight"], s[f"{head}.0.bias"], padding=4), s[f"{head}.1.weight"])
    x = first
    i = 0
    while f"trunk.{i}.rcb.0.weight" in s:
        p = f"trunk.{i}.rcb"
        y = F.prelu(_bn(F.conv2d(x, s[f"{p}.0.weight"], padding=1), s, f"{p}.1"), s[f"{p}.2.weight"])
        x = x + _bn(F.conv2d(y, s[f"{p}.3.weight"], padding=1), s, f"{p}.4")
        i += 1
    x = _bn(F.conv2d(x, s[f"{body_tail}.0.weight"], padding=1), s, f"{body_tail}.1") + first
    j = 0
    while f"upsampling.{j}.upsample_block.0.weight" in s:
        p = f"upsampling.{j}.upsample_block"
        x = F.pixel_shuffle(F.conv2d(x, s[f"{p}.0.weight"], s[f"{p}.0.bias"], padding=1), 2)
        x = F.prelu(x, s[f"{p}.2.weight"])
        j += 1
    return F.conv2d(x, s[f"{tail}.weight"], s[f"{tail}.bias"], padding=4)


def study_state(blocks: int = 16, channels: int = 64, seed: int = 1) -> dict[str, Tensor]:
    """unique-chan/SRGAN Model/Generator.py `Generator` with Model/Block.py: input_block = Sequential(Conv2d(3, 64, 9,
    bias=False), PReLU()); residual_blocks.N: conv1, conv2 (Conv2d 3x3, bias=False), bn (one BatchNorm2d), p_relu;
    intermediate_block = Sequential(Conv2d(64, 64, 3, bias=False), BatchNorm2d); upsampling_blocks.N: conv
    (Conv2d(64, 256, 3, bias=False)), pixel_shuffle, p_relu; output_block = Sequential(Conv2d(64, 3, 9, bias=False))."""
    w = _Weights(seed)
    w.conv("input_block.0", channels, 3, 9, bias=False)
    w.prelu("input_block.1")
    for i in range(blocks):
        w.conv(f"residual_blocks.{i}.conv1", channels, channels, 3, bias=False)
        w.conv(f"residual_blocks.{i}.conv2", channels, channels, 3, bias=False)
        w.bn(f"residual_blocks.{i}.bn", channels)
        w.prelu(f"residual_blocks.{i}.p_relu")
    w.conv("intermediate_block.0", channels, channels, 3, bias=False)
    w.bn("intermediate_block.1", channels)
    for j in range(2):
        w.conv(f"upsampling_blocks.{j}.conv", 4 * channels, channels, 3, bias=False)
        w.prelu(f"upsampling_blocks.{j}.p_relu")
    w.conv("output_block.0", 3, channels, 9, bias=False)
    return w.state


def study_forward(s: dict[str, Tensor], lr_img: Tensor) -> Tensor:
    """The study's `Generator.forward`: the same BatchNorm after conv1 and after conv2 of each block."""
    first = F.prelu(F.conv2d(lr_img, s["input_block.0.weight"], padding=4), s["input_block.1.weight"])
    x = first
    i = 0
    while f"residual_blocks.{i}.conv1.weight" in s:
        p = f"residual_blocks.{i}"
        y = F.prelu(_bn(F.conv2d(x, s[f"{p}.conv1.weight"], padding=1), s, f"{p}.bn"), s[f"{p}.p_relu.weight"])
        x = x + _bn(F.conv2d(y, s[f"{p}.conv2.weight"], padding=1), s, f"{p}.bn")
        i += 1
    x = first + _bn(F.conv2d(x, s["intermediate_block.0.weight"], padding=1), s, "intermediate_block.1")
    for j in range(2):
        p = f"upsampling_blocks.{j}"
        x = F.prelu(F.pixel_shuffle(F.conv2d(x, s[f"{p}.conv.weight"], padding=1), 2), s[f"{p}.p_relu.weight"])
    return F.conv2d(x, s["output_block.0.weight"], padding=4)


def msrresnet_state() -> dict[str, Tensor]:
    """BasicSR basicsr/archs/srresnet_arch.py MSRResNet (x4): conv_first, body.N.conv1/conv2, upconv1, upconv2,
    conv_hr, conv_last."""
    w = _Weights(0)
    w.conv("conv_first", 64, 3, 3, bias=True)
    for i in range(2):
        w.conv(f"body.{i}.conv1", 64, 64, 3, bias=True)
        w.conv(f"body.{i}.conv2", 64, 64, 3, bias=True)
    for key in ("upconv1", "upconv2"):
        w.conv(key, 256, 64, 3, bias=True)
    w.conv("conv_hr", 64, 64, 3, bias=True)
    w.conv("conv_last", 3, 64, 3, bias=True)
    return w.state
