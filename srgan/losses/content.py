"""The content loss: a weighted sum of terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

Terms and their grammar live in `srgan.losses.terms`: each term is a distance of its `DISTANCES`
table, on pixels or on the feature maps of a frozen extractor (built by
`srgan.losses.extractors.build_extractors` and handed in). Pixel MSE (`mse`) is by default computed
on intensities in [-1, 1], as the paper did (it scaled HR to [-1, 1]), i.e. 4x the MSE of [0, 1]
images (`mse_scale`); the other pixel terms (`l1`, `charbonnier`) compare [0, 1] intensities. This
module imports no extractor code, so the pixel-MSE stages depend on none.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.losses.terms import DISTANCES, PIXEL_TERM, WEIGHTS_NONE, split_term


class ContentLoss(nn.Module):
    """Weighted sum of content-loss terms, e.g. {"mse": 0.6, "vgg19_5_4": 0.4}.

    forward(sr_img, hr_img) -> (total, {term: value}); inputs (N, 3, H, W) in [0, 1]; total is a
    scalar attached to sr_img's graph, the per-term values are detached (for logging). Each term is
    its distance (`srgan.losses.terms.split_term`) between SR and HR, or between the extractor's
    feature maps of the two, computed in float32. Terms with weight 0 are left out. extractors:
    {term: frozen extractor} of every positive feature term (a module mapping an image to its
    feature map, with `backbone_weights`). mse_scale: the pixel MSE's factor on [0, 1] images, 4.0
    for [-1, 1] intensities (`srgan.core.study_code.mse_scale`); no other term is scaled.
    `term_weights`: {term: weight} of the built terms; `backbone_weights`: {term: the weights its
    extractor holds, "none" for pixel MSE}. key: the params key of the variant, to name a bad term.
    """

    def __init__(self, terms: dict[str, float], extractors: Mapping[str, nn.Module] | None = None, *,
                 mse_scale: float = 4.0, key: str = "content loss") -> None:
        super().__init__()
        self.term_weights = {t: float(w) for t, w in terms.items() if w > 0}
        if not self.term_weights:
            raise SrganError(f"{key} {terms} has no positive weight")
        extractors = dict(extractors or {})
        parts = {t: split_term(t) for t in self.term_weights}  # term -> (extractor or None for pixels, distance)
        self.feature_terms = tuple(t for t, (extractor, _) in parts.items() if extractor is not None)
        missing = [t for t in self.feature_terms if t not in extractors]
        if missing:  # a bug in the caller: the extractors are built from the same terms
            raise ValueError(f"{key}: no extractor for feature term(s) {missing}")
        self.mse_scale = mse_scale
        self.distances = {t: DISTANCES[distance].compute for t, (_, distance) in parts.items()}
        # A list, not a dict: tv/ terms hold "." and "/", which module names may not.
        self.extractors = nn.ModuleList(extractors[t] for t in self.feature_terms)
        self.backbone_weights = {t: extractors[t].backbone_weights if t in extractors else WEIGHTS_NONE
                                 for t in self.term_weights}

    @property
    def extractors_by_term(self) -> dict[str, nn.Module]:
        return dict(zip(self.feature_terms, self.extractors))

    def forward(self, sr_img: Tensor, hr_img: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values: dict[str, Tensor] = {}
        extractor_of = self.extractors_by_term
        for term in self.term_weights:
            distance, extractor = self.distances[term], extractor_of.get(term)
            if extractor is None:
                value = distance(sr_img.float(), hr_img.float())
                values[term] = value * self.mse_scale if term == PIXEL_TERM else value
            else:
                with torch.no_grad():
                    target = extractor(hr_img)
                values[term] = distance(extractor(sr_img).float(), target.float())
        total = sum(self.term_weights[t] * v for t, v in values.items())
        return total, {t: v.detach() for t, v in values.items()}
