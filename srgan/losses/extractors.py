"""Frozen feature extractors of the content losses: a torchvision model cut at a graph node.

A term's model is built with its default ImageNet weights through torchvision's
weights API and cache (`TORCH_HOME`), or a fixed-seed random initialisation
when asked for (or offline, when allowed: loudly). The graph is cut with
`torchvision.models.feature_extraction.create_feature_extractor`, the input is
normalised with the mean/std of the model's own default weights, and the
extractor is frozen at construction (`requires_grad_(False)`, eval mode, and it
stays in eval mode when a parent module is put in train mode).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sys
import urllib.error
from pathlib import Path

import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.core.study_code import FeatureCode
from srgan.losses.content import ContentLoss
from srgan.losses.terms import (
    WEIGHTS_IMAGENET,
    WEIGHTS_RANDOM,
    WEIGHTS_RANDOM_FALLBACK,
    FeatureTerm,
    as_run_term,
    feature_term,
)

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
    if weights == WEIGHTS_RANDOM:
        return net, WEIGHTS_RANDOM
    default = _default_weights(model)
    try:
        # torch.hub announces downloads on stdout (the CLI's output): send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            net.load_state_dict(default.get_state_dict(progress=False, check_hash=True))
        return net, WEIGHTS_IMAGENET
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
        return net, WEIGHTS_RANDOM_FALLBACK


class _Chain(nn.Sequential):
    """Modules run in order, returning {"features": output} like a feature extractor (the study's ResNet cuts)."""

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"features": super().forward(x)}


class FeatureExtractor(nn.Module):
    """Frozen feature map of a torchvision model cut at one graph node (or its modules chained, `term.modules`).

    Input (N, 3, H, W) RGB in [0, 1], normalised with the mean/std of the
    model's default weights (`weights.transforms()`); output the node's tensor,
    usually a feature map (N, C, h, w), times `term.rescale` (VGG aliases:
    1/12.75, the paper's). normalise=False (the study's code): neither the
    mean/std nor the rescale. `backbone_weights` says which weights it holds.
    """

    def __init__(self, term: FeatureTerm, weights: str, allow_random_fallback: bool, normalise: bool = True) -> None:
        from torchvision.models.feature_extraction import create_feature_extractor

        super().__init__()
        self.term, self.normalise = term, normalise
        backbone, self.backbone_weights = load_backbone(term.model, weights, allow_random_fallback)
        if term.modules:
            self.body = _Chain(*(backbone.get_submodule(name) for name in term.modules))
        else:
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
        if not self.normalise:
            return self.body(img)["features"]
        features = self.body((img - self.mean) / self.std)["features"]
        return features * self.term.rescale if self.term.rescale != 1.0 else features


def build_extractors(terms: dict[str, float], weights: str, allow_random_fallback: bool,
                     code: FeatureCode = FeatureCode(), key: str = "content loss") -> dict[str, FeatureExtractor]:
    """{term: frozen extractor} of every feature term with a positive weight (pixel terms need none).

    weights / allow_random_fallback: params `features`; code: the study's cuts and input
    (`srgan.core.study_code.FeatureCode`, as the training setup resolved it): with `as_run_cuts` the study's
    names mean its extractors (`asrun/...`), without `normalise` the input is not normalised and VGG features
    not rescaled.
    key: the params key of the variant, to name a bad term.
    """
    out = {}
    for term, weight in terms.items():
        spec = feature_term(as_run_term(term) if code.as_run_cuts else term, f"{key}.{term}") if weight > 0 else None
        if spec is not None:
            out[term] = FeatureExtractor(spec, weights, allow_random_fallback, code.normalise)
    return out


def feature_content_loss(terms: dict[str, float], weights: str, allow_random_fallback: bool = False, *,
                         code: FeatureCode = FeatureCode(), mse_scale: float = 4.0,
                         key: str = "content loss") -> ContentLoss:
    """`ContentLoss` of `terms` with their extractors built (`build_extractors`)."""
    return ContentLoss(terms, build_extractors(terms, weights, allow_random_fallback, code, key),
                       mse_scale=mse_scale, key=key)
