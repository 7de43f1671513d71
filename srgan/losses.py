"""Content losses of the study, their weighted mixes, and the adversarial losses.

Terms (names as in params.yaml `losses`):
- `mse`: pixel MSE computed on intensities in [-1, 1], as the paper did (it
  scaled HR to [-1, 1]); that is 4x the MSE of [0, 1] images.
- `vgg19_<i>_<j>`: MSE between VGG-19 feature maps phi_i,j -- the output of the
  j-th conv of block i *after its ReLU* (vgg19_5_4 = torchvision
  `vgg19().features[:36]`), on ImageNet-normalised input, features rescaled by
  1/12.75 as in the paper.
- `res18_<k>`, `res34_<k>`: MSE between ResNet-18/34 features after the k-th
  BasicBlock, counting layer1..layer4 in order, 1-based (res18_4 = end of
  layer2, res34_3 = end of layer1, res34_5 = layer2[1]).

Feature extractors are frozen at construction (`requires_grad_(False)`, eval
mode) and stay in eval mode when the loss module is put in train mode.
"""

from __future__ import annotations

import logging
import re
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from srgan.errors import SrganError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_FEATURE_SCALE = 1.0 / 12.75  # the paper's rescaling of VGG feature maps
RANDOM_INIT_SEED = 0  # the same random extractor for every run and loss variant

_BACKBONES = {
    "vgg19": (torchvision.models.vgg19, torchvision.models.VGG19_Weights.IMAGENET1K_V1),
    "resnet18": (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (torchvision.models.resnet34, torchvision.models.ResNet34_Weights.IMAGENET1K_V1),
}


def imagenet_weight_file(arch: str) -> Path:
    """Where torchvision's cache keeps the ImageNet weights of `arch`."""
    _, weights = _BACKBONES[arch]
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def load_backbone(arch: str, weights: str, allow_random_fallback: bool) -> tuple[nn.Module, str]:
    """Build a torchvision backbone; returns (module, weights actually used).

    weights: "imagenet" (torchvision's cache, downloading when reachable) or
    "random" (a fixed-seed random initialisation). When ImageNet weights cannot
    be had: with allow_random_fallback, log a warning and return random weights
    (reported as "random (imagenet unavailable)"); otherwise raise SrganError
    naming the weight file and the cache folder to put it in.
    """
    builder, imagenet = _BACKBONES[arch]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model = builder(weights=None)
    if weights == "random":
        return model, "random"
    try:
        model.load_state_dict(imagenet.get_state_dict(progress=False, check_hash=True))
        return model, "imagenet"
    except (urllib.error.URLError, OSError, RuntimeError, ValueError) as e:
        target = imagenet_weight_file(arch)
        reason = f"{type(e).__name__}: {e}".splitlines()[0]
        if not allow_random_fallback:
            raise SrganError(
                f"ImageNet weights for {arch} are not available ({reason}); download {imagenet.url} "
                f"and put it at {target} (folder {target.parent}, set TORCH_HOME to move it), "
                "or set features.allow_random_fallback: true"
            ) from None
        log.warning(
            "ImageNet weights for %s unavailable (%s): using a RANDOMLY INITIALISED %s for the "
            "feature loss. Put %s at %s for the real loss.", arch, reason, arch, Path(imagenet.url).name, target
        )
        return model, "random (imagenet unavailable)"


def vgg19_feature_index(block: int, conv: int) -> int:
    """Index in `vgg19().features` of the ReLU after conv `conv` of block `block`."""
    convs_per_block = (2, 2, 4, 4, 4)
    if not (1 <= block <= 5 and 1 <= conv <= convs_per_block[block - 1]):
        raise SrganError(f"VGG-19 has no phi_{block},{conv}")
    index = 0
    for b in range(block - 1):
        index += 2 * convs_per_block[b] + 1  # conv+ReLU pairs, then a max-pool
    return index + 2 * (conv - 1) + 1


def resnet_block_layers(depth: int, block: int) -> list[tuple[str, int]]:
    """(layer name, number of its blocks to keep) up to the `block`-th BasicBlock, 1-based."""
    blocks_per_layer = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth]
    if not 1 <= block <= sum(blocks_per_layer):
        raise SrganError(f"ResNet-{depth} has {sum(blocks_per_layer)} blocks, not {block}")
    kept, left = [], block
    for i, n in enumerate(blocks_per_layer):
        if left <= 0:
            break
        kept.append((f"layer{i + 1}", min(n, left)))
        left -= n
    return kept


class FeatureExtractor(nn.Module):
    """Frozen, ImageNet-normalised feature map of a truncated torchvision backbone.

    Input (N, 3, H, W) RGB in [0, 1]; output the feature map (N, C, h, w).
    """

    def __init__(self, term: str, weights: str, allow_random_fallback: bool) -> None:
        super().__init__()
        if m := re.fullmatch(r"vgg19_(\d)_(\d)", term):
            backbone, self.weights_used = load_backbone("vgg19", weights, allow_random_fallback)
            self.body = backbone.features[: vgg19_feature_index(int(m[1]), int(m[2])) + 1]
            self.scale = VGG_FEATURE_SCALE
        elif m := re.fullmatch(r"res(18|34)_(\d+)", term):
            depth = int(m[1])
            backbone, self.weights_used = load_backbone(f"resnet{depth}", weights, allow_random_fallback)
            stem = [backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool]
            layers = [getattr(backbone, name)[:n] for name, n in resnet_block_layers(depth, int(m[2]))]
            self.body = nn.Sequential(*stem, *layers)
            self.scale = 1.0
        else:
            raise SrganError(f"unknown feature-loss term '{term}'")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        # Always eval: BN statistics of the backbone must never change.
        return super().train(False)

    def forward(self, img: Tensor) -> Tensor:
        return self.body((img - self.mean) / self.std) * self.scale


class ContentLoss(nn.Module):
    """Weighted sum of content-loss terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

    forward(sr_img, hr_img) -> (total, {term: value}); inputs (N, 3, H, W) in
    [0, 1]; total is a scalar attached to sr_img's graph, the per-term values
    are detached (for logging). Terms with weight 0 are not built.
    """

    def __init__(self, terms: dict[str, float], weights: str = "imagenet", allow_random_fallback: bool = False) -> None:
        super().__init__()
        self.weights = {t: float(w) for t, w in terms.items() if w > 0}
        if not self.weights:
            raise SrganError(f"content loss {terms} has no positive weight")
        self.extractors = nn.ModuleDict(
            {t: FeatureExtractor(t, weights, allow_random_fallback) for t in self.weights if t != "mse"}
        )
        # term -> "imagenet" | "random" | "random (imagenet unavailable)" | "none" (pixel loss)
        self.weights_used = {t: (self.extractors[t].weights_used if t in self.extractors else "none") for t in self.weights}

    def forward(self, sr_img: Tensor, hr_img: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values: dict[str, Tensor] = {}
        for term in self.weights:
            if term == "mse":
                # MSE on [-1, 1] intensities: (2a-1) - (2b-1) = 2(a-b)
                values[term] = F.mse_loss(sr_img.float(), hr_img.float()) * 4.0
            else:
                extractor = self.extractors[term]
                with torch.no_grad():
                    target = extractor(hr_img)
                values[term] = F.mse_loss(extractor(sr_img).float(), target.float())
        total = sum(self.weights[t] * v for t, v in values.items())
        return total, {t: v.detach() for t, v in values.items()}


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating -log D(G(LR)), from logits; must not be computed on detached logits."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(HR) - log(1 - D(G(LR))), batch means, from logits."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
