"""The content loss: a weighted sum of terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

Terms and their grammar live in `srgan.losses.terms`: `mse` is pixel MSE
computed on intensities in [-1, 1], as the paper did (it scaled HR to [-1, 1]),
i.e. 4x the MSE of [0, 1] images; every other term is the MSE between feature
maps of a frozen extractor (`srgan.losses.extractors`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.losses.extractors import FeatureExtractor
from srgan.losses.terms import WEIGHTS_NONE, as_run_term, feature_term


class ContentLoss(nn.Module):
    """Weighted sum of content-loss terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

    forward(sr_img, hr_img) -> (total, {term: value}); inputs (N, 3, H, W) in
    [0, 1]; total is a scalar attached to sr_img's graph, the per-term values
    are detached (for logging). Terms with weight 0 are not built.
    `term_weights`: {term: weight} of the built terms; `feature_terms`: those with
    an extractor, in the order of `extractors`; `backbone_weights`: {term: one of
    the `srgan.losses.terms` WEIGHTS_* values ("none" for pixel MSE)}.
    key: the params key of the variant (`srgan.variants.x`), to name a bad term.
    The study's code (`params.study_code`): mse_range "unit" computes the
    pixel MSE on [0, 1] images (a quarter of the paper's); as_run_cuts makes the
    study's names mean its extractors (`srgan.losses.terms.as_run_term`);
    normalise=False feeds the extractors unnormalised input and drops the VGG rescale.
    """

    def __init__(self, terms: dict[str, float], feature_weights: str = "imagenet",
                 allow_random_fallback: bool = False, key: str = "content loss", *, mse_range: str = "signed",
                 as_run_cuts: bool = False, normalise: bool = True) -> None:
        super().__init__()
        self.term_weights = {t: float(w) for t, w in terms.items() if w > 0}
        if not self.term_weights:
            raise SrganError(f"{key} {terms} has no positive weight")
        # [-1, 1] intensities: (2a-1) - (2b-1) = 2(a-b), so 4x the MSE of [0, 1] images.
        self.mse_scale = {"signed": 4.0, "unit": 1.0}[mse_range]
        specs = {t: feature_term(as_run_term(t) if as_run_cuts else t, f"{key}.{t}") for t in self.term_weights}
        self.feature_terms = tuple(t for t, spec in specs.items() if spec is not None)
        # A list, not a dict: tv/ terms hold "." and "/", which module names may not.
        self.extractors = nn.ModuleList(
            FeatureExtractor(specs[t], feature_weights, allow_random_fallback, normalise) for t in self.feature_terms
        )
        self._extractor_of = dict(zip(self.feature_terms, self.extractors))
        self.backbone_weights = {
            t: self._extractor_of[t].backbone_weights if t in self._extractor_of else WEIGHTS_NONE for t in self.term_weights
        }

    def forward(self, sr_img: Tensor, hr_img: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values: dict[str, Tensor] = {}
        for term in self.term_weights:
            extractor = self._extractor_of.get(term)
            if extractor is None:
                values[term] = F.mse_loss(sr_img.float(), hr_img.float()) * self.mse_scale
            else:
                with torch.no_grad():
                    target = extractor(hr_img)
                values[term] = F.mse_loss(extractor(sr_img).float(), target.float())
        total = sum(self.term_weights[t] * v for t, v in values.items())
        return total, {t: v.detach() for t, v in values.items()}
