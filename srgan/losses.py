"""Content losses, their weighted mixes, frozen feature extractors, and the adversarial losses.

Terms and their grammar live in `srgan.loss_terms` (the same table validates
params): `mse` is pixel MSE computed on intensities in [-1, 1], as the paper
did (it scaled HR to [-1, 1]), i.e. 4x the MSE of [0, 1] images; every other
term is the MSE between feature maps of a frozen torchvision model cut at a
graph node (`torchvision.models.feature_extraction.create_feature_extractor`),
on input normalised with the mean/std of the model's own default weights.

Extractors are frozen at construction (`requires_grad_(False)`, eval mode) and
stay in eval mode when the loss module is put in train mode.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sys
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srgan.errors import SrganError
from srgan.loss_terms import FeatureTerm, feature_term

log = logging.getLogger(__name__)

RANDOM_INIT_SEED = 0  # the same random extractor for every run and loss variant


def _default_weights(model: str):
    """torchvision's default (ImageNet) weights enum member for `model`."""
    import torchvision

    return torchvision.models.get_model_weights(model).DEFAULT


def weight_file(model: str) -> Path:
    """Where torchvision's cache keeps the default ImageNet weights of `model`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_default_weights(model).url).name


def load_backbone(model: str, weights: str, allow_random_fallback: bool) -> tuple[nn.Module, str]:
    """Build torchvision `model` (eval mode); returns (module, weights actually used).

    weights: "imagenet" (the model's default weights through torchvision's cache,
    downloading when reachable) or "random" (a fixed-seed random initialisation).
    When ImageNet weights cannot be had: with allow_random_fallback, log a warning
    and return random weights (reported as "random (imagenet unavailable)");
    otherwise raise SrganError naming the weight file and the cache folder.
    """
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        net = torchvision.models.get_model(model, weights=None)
    net.eval()
    if weights == "random":
        return net, "random"
    default = _default_weights(model)
    try:
        # torch.hub announces downloads on stdout (the CLI's output): send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            net.load_state_dict(default.get_state_dict(progress=False, check_hash=True))
        return net, "imagenet"
    # A corrupt or truncated file in the cache (e.g. an HTML page saved as the .pth) fails in torch.load
    # with EOFError / UnpicklingError / RuntimeError: the same fix (replace the file) as a missing one.
    except (urllib.error.URLError, OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        target = weight_file(model)
        reason = f"{type(e).__name__}: {e}".splitlines()[0]
        if not allow_random_fallback:
            raise SrganError(
                f"ImageNet weights for {model} are not available ({reason}); download {default.url} "
                f"and put it at {target} (folder {target.parent}, set TORCH_HOME to move it), "
                "or set features.allow_random_fallback: true"
            ) from None
        log.warning(
            "ImageNet weights for %s unavailable (%s): using a RANDOMLY INITIALISED %s for the "
            "feature loss. Put %s at %s for the real loss.", model, reason, model, Path(default.url).name, target
        )
        return net, "random (imagenet unavailable)"


class FeatureExtractor(nn.Module):
    """Frozen feature map of a torchvision model cut at one graph node.

    Input (N, 3, H, W) RGB in [0, 1], normalised with the mean/std of the
    model's default weights (`weights.transforms()`); output the node's tensor,
    usually a feature map (N, C, h, w), times `term.rescale` (VGG aliases:
    1/12.75, the paper's). `backbone_weights` says which weights it holds.
    """

    def __init__(self, term: FeatureTerm, weights: str, allow_random_fallback: bool) -> None:
        from torchvision.models.feature_extraction import create_feature_extractor

        super().__init__()
        self.term = term
        backbone, self.backbone_weights = load_backbone(term.model, weights, allow_random_fallback)
        # The graph is pruned after the node: nothing past it is computed or kept.
        self.body = create_feature_extractor(backbone, return_nodes={term.node: "features"})
        preset = _default_weights(term.model).transforms()
        self.register_buffer("mean", torch.tensor(preset.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preset.std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        # Always eval: BN statistics of the backbone must never change.
        return super().train(False)

    def forward(self, img: Tensor) -> Tensor:
        features = self.body((img - self.mean) / self.std)["features"]
        return features * self.term.rescale if self.term.rescale != 1.0 else features


class ContentLoss(nn.Module):
    """Weighted sum of content-loss terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

    forward(sr_img, hr_img) -> (total, {term: value}); inputs (N, 3, H, W) in
    [0, 1]; total is a scalar attached to sr_img's graph, the per-term values
    are detached (for logging). Terms with weight 0 are not built.
    `term_weights`: {term: weight} of the built terms; `feature_terms`: those with
    an extractor, in the order of `extractors`; `backbone_weights`:
    {term: "imagenet" | "random" | "random (imagenet unavailable)" | "none" (pixel)}.
    """

    def __init__(self, terms: dict[str, float], feature_weights: str = "imagenet",
                 allow_random_fallback: bool = False) -> None:
        super().__init__()
        self.term_weights = {t: float(w) for t, w in terms.items() if w > 0}
        if not self.term_weights:
            raise SrganError(f"content loss {terms} has no positive weight")
        specs = {t: feature_term(t, t) for t in self.term_weights}
        self.feature_terms = tuple(t for t, spec in specs.items() if spec is not None)
        # A list, not a dict: tv/ terms hold "." and "/", which module names may not.
        self.extractors = nn.ModuleList(
            FeatureExtractor(specs[t], feature_weights, allow_random_fallback) for t in self.feature_terms
        )
        self._extractor_of = dict(zip(self.feature_terms, self.extractors))
        self.backbone_weights = {
            t: self._extractor_of[t].backbone_weights if t in self._extractor_of else "none" for t in self.term_weights
        }

    def forward(self, sr_img: Tensor, hr_img: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values: dict[str, Tensor] = {}
        for term in self.term_weights:
            extractor = self._extractor_of.get(term)
            if extractor is None:
                # MSE on [-1, 1] intensities: (2a-1) - (2b-1) = 2(a-b)
                values[term] = F.mse_loss(sr_img.float(), hr_img.float()) * 4.0
            else:
                with torch.no_grad():
                    target = extractor(hr_img)
                values[term] = F.mse_loss(extractor(sr_img).float(), target.float())
        total = sum(self.term_weights[t] * v for t, v in values.items())
        return total, {t: v.detach() for t, v in values.items()}


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating -log D(G(LR)), from logits; must not be computed on detached logits."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(HR) - log(1 - D(G(LR))), batch means, from logits."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
