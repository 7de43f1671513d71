"""The SRGAN discriminator (Ledig et al., CVPR 2017); it returns logits.

Input float32 RGB in [0, 1], NCHW. Losses are computed from the logits
(`srgan.losses.adversarial`), the numerically sound form of the paper's
sigmoid + cross-entropy.
"""

from __future__ import annotations

from torch import Tensor, nn

from srgan.core.errors import SrganError


def _disc_block(in_ch: int, out_ch: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(negative_slope=0.2))
    return layers


class Discriminator(nn.Module):
    """The paper's discriminator; returns logits (apply sigmoid for D's probability).

    Input (N, 3, patch_px, patch_px) in [0, 1]; output (N, 1) logits. Four stride-2
    convs shrink the patch 16x, so patch_px must be a multiple of 16; for the
    paper's 96 px patches the last feature map is 512 x 6 x 6.
    """

    # (out_channels, stride) of the 7 conv-BN-LeakyReLU blocks after the first conv.
    BLOCKS = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))

    def __init__(self, patch_px: int = 96) -> None:
        super().__init__()
        if patch_px < 16 or patch_px % 16:
            raise SrganError(f"discriminator patch_px must be a positive multiple of 16, got {patch_px}")
        self.patch_px = patch_px
        layers = _disc_block(3, 64, stride=1, batch_norm=False)
        in_ch = 64
        for out_ch, stride in self.BLOCKS:
            layers += _disc_block(in_ch, out_ch, stride=stride, batch_norm=True)
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        side = patch_px // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (N, 512, side, side) -> (N, 512*side*side): Dense acts on a vector
            nn.Linear(512 * side * side, 1024),
            nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(1024, 1),
        )

    def forward(self, img: Tensor) -> Tensor:
        if img.shape[-2:] != (self.patch_px, self.patch_px):
            raise SrganError(
                f"discriminator built for {self.patch_px}x{self.patch_px} patches got {tuple(img.shape[-2:])}"
            )
        return self.classifier(self.features(img))


class AsRunDiscriminator(nn.Module):
    """The content-loss study's discriminator as its public code ran (unique-chan/SRGAN), returning one logit per batch.

    conv3x3 (no bias) + LeakyReLU, then 6 conv-BN-LeakyReLU blocks with (channels, stride)
    = (64, 2) (128, 1) (128, 2) (256, 1) (512, 1) (512, 2): the paper's (256, 2) block is
    missing, so the total stride is 8. Its head reshapes the feature map into rows of 1024
    values (`view(-1, 1024)`, mixing images and positions), applies Dense(1024) and
    LeakyReLU, and averages *everything* (an AdaptiveAvgPool2d over the 2-D rows): one
    verdict for the whole batch. Output (1, 1) logits (the study applied the sigmoid).
    """

    BLOCKS = ((64, 2), (128, 1), (128, 2), (256, 1), (512, 1), (512, 2))
    ROW = 1024  # the study's `view(-1, 1024)`

    def __init__(self, patch_px: int = 96) -> None:
        super().__init__()
        if patch_px < 8 or patch_px % 8:
            raise SrganError(f"the study's discriminator needs patch_px a positive multiple of 8, got {patch_px}")
        self.patch_px = patch_px
        layers: list[nn.Module] = [nn.Conv2d(3, 64, kernel_size=3, padding=1, bias=False),
                                   nn.LeakyReLU(negative_slope=0.2)]
        in_ch = 64
        for out_ch, stride in self.BLOCKS:
            # The study's blocks keep the conv bias before BatchNorm (ours drop it: BN's shift replaces it).
            layers += [nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1), nn.BatchNorm2d(out_ch),
                       nn.LeakyReLU(negative_slope=0.2)]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(self.ROW, self.ROW), nn.LeakyReLU(negative_slope=0.2))

    def forward(self, img: Tensor) -> Tensor:
        if img.shape[-2:] != (self.patch_px, self.patch_px):
            raise SrganError(
                f"discriminator built for {self.patch_px}x{self.patch_px} patches got {tuple(img.shape[-2:])}"
            )
        rows = self.features(img).reshape(-1, self.ROW)
        return self.classifier(rows).mean().view(1, 1)


def build_discriminator(kind: str, patch_px: int) -> nn.Module:
    """`study_code.discriminator`: "paper" (`Discriminator`) or "as_run" (`AsRunDiscriminator`)."""
    builders = {"paper": Discriminator, "as_run": AsRunDiscriminator}
    if kind not in builders:
        raise SrganError(f"unknown discriminator '{kind}'; choose one of {', '.join(builders)}")
    return builders[kind](patch_px=patch_px)
