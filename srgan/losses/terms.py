"""The grammar of content-loss terms: one table for params validation and for the loss builder.

A content-loss variant is a mapping {term: weight}. Every term compares SR with HR by a distance of
`DISTANCES` (the one table of term kinds: `mse`, `l1`, `charbonnier`), on pixels or on the feature
maps of a frozen extractor. A term is one of
- a pixel term: a distance's name alone, `mse` (pixel MSE, scaled to the paper's [-1, 1]
  intensities by `srgan.losses.content.ContentLoss`), `l1` or `charbonnier` (on [0, 1]
  intensities, as BasicSR and ESRGAN compute them, so their weights carry over);
- a feature term, `<extractor>` or `<extractor>/<distance>`: the distance between the extractor's
  feature maps of SR and HR, MSE unless a `/l1` or `/charbonnier` suffix names another
  (`vgg19_5_4/l1`, `tv/convnext_tiny/features.3/l1`). An extractor is
- an alias of the study, resolving to a torchvision model and a node of its graph:
  `vgg19_<i>_<j>`: VGG-19 phi_i,j, the output of conv j of block i *after its ReLU*
  (vgg19_5_4 = `vgg19().features[:36]`, node `features.35`), features rescaled
  by 1/12.75 as in the paper;
  `res18_<k>` / `res34_<k>`: ResNet-18/34 after its k-th BasicBlock, counting the
  blocks of layer1..layer4 in order, 1-based (res18_4 = end of layer2 = `layer2.1`,
  res34_3 = `layer1.2`, res34_5 = `layer2.1`);
- `asrun/<study loss>`: what the content-loss study's code computed for its names
  (read from its public code, unique-chan/SRGAN): `asrun/vgg19_5_4` = `vgg19_bn` cut after conv4_4, before its BatchNorm
  and ReLU (`features[:37]`); `asrun/res18_4`, `asrun/res34_3`, `asrun/res34_5` = the
  stem, then `layer2`, `layer3`, `layer4` blocks as its loop collected them (its `break`
  leaves only the inner loop, so every later layer still gives its first block): 512
  channels at 1/32 scale. Built from the same torchvision models, weights and cache;
- `tv/<model>/<node>`: any torchvision classification model (`torchvision.models.
  list_models(module=torchvision.models)`) and any node of its graph, as
  `torchvision.models.feature_extraction.get_graph_node_names` names them (eval
  mode), or a module prefix such as `layer2.1` (the output of its last node).
  Example: `tv/convnext_tiny/features.3`.

Why `/` and not `:` between the parts: on a `dvc exp run -S` command line a `:`
is read as "params file:key", and Hydra's override grammar allows no `:` in a
mapping key, so a `:`-term could not be set from the command line; `/` can:
`dvc exp run -S '+srgan.variants.cnx={mse: 0.6, tv/convnext_tiny/features.3/l1: 0.4}'`.
A graph node never holds a `/`, so a last part that names a distance is one.

A new kind of term is one entry of `DISTANCES` (its name, its family in the report and its
function) and its tests (tests/losses/test_loss_terms.py pins each distance against
torch.nn.functional or a hand computation).

This module is torch-free at import time: a distance imports torch when it first runs, and
checking a `tv/` term imports torchvision and traces the model's graph on the meta device (no
weights, well under a second), once per model and process.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srgan.core.errors import SrganError

if TYPE_CHECKING:
    from torch import Tensor

PIXEL_TERM = "mse"  # pixel MSE: the baseline's term, and the one pixel term scaled by `mse_scale`
CHARBONNIER_EPS2 = 1.0e-12  # ε² under the root: ε = 1e-6, as BasicSR's CharbonnierLoss(eps=1e-12)
TV_PREFIX = "tv/"
ASRUN_PREFIX = "asrun/"
STUDY_FEATURE_TERMS = ("vgg19_5_4", "res18_4", "res34_3", "res34_5")  # the study's feature losses
# Which weights a term's extractor held (training summaries, metrics and the report say so).
WEIGHTS_NONE = "none"  # pixel MSE: no extractor
WEIGHTS_IMAGENET = "imagenet"
WEIGHTS_RANDOM = "random"  # asked for (features.weights: random)
WEIGHTS_RANDOM_FALLBACK = "random (imagenet unavailable)"  # offline, features.allow_random_fallback
RANDOM_WEIGHTS = (WEIGHTS_RANDOM, WEIGHTS_RANDOM_FALLBACK)
VGG_FEATURE_RESCALE = 1.0 / 12.75  # the paper's rescaling of VGG feature maps
_VGG19_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)
_RESNET_BLOCKS_PER_LAYER = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def _mse(a: Tensor, b: Tensor) -> Tensor:
    from torch.nn.functional import mse_loss  # here, not at the top: the module stays torch-free at import

    return mse_loss(a, b)


def _l1(a: Tensor, b: Tensor) -> Tensor:
    from torch.nn.functional import l1_loss

    return l1_loss(a, b)


def _charbonnier(a: Tensor, b: Tensor) -> Tensor:
    return ((a - b) ** 2 + CHARBONNIER_EPS2).sqrt().mean()


@dataclass(frozen=True)
class Distance:
    """One kind of term: how it compares SR with HR, on pixels or on feature maps."""

    family: str  # a pixel term's loss family in the report ("MSE"); a feature term's is its network's
    formula: str  # what it computes, for messages and docs: "mean (a − b)²"
    compute: Callable[[Tensor, Tensor], Tensor]  # (sr, hr) of one shape -> scalar mean, attached to sr's graph


# The kinds of term: each a pixel term by its name alone, and a feature distance as `<extractor>/<name>`.
DISTANCES = {
    "mse": Distance("MSE", "mean (a − b)²", _mse),
    "l1": Distance("L1", "mean |a − b|", _l1),
    "charbonnier": Distance("Charbonnier", "mean √((a − b)² + 1e-12)", _charbonnier),
}
FEATURE_DISTANCE = "mse"  # a feature term without a `/<distance>` suffix


def _terms_help() -> str:
    """What a term may be, for the message about one that is not."""
    return (f"use a pixel term ({', '.join(DISTANCES)}), or an extractor with an optional /<distance> "
            f"({', '.join('/' + d for d in DISTANCES)}; default /{FEATURE_DISTANCE}): vgg19_<i>_<j> (e.g. "
            "vgg19_5_4), res18_<k> (k = 1..8), res34_<k> (k = 1..16), asrun/<the study's loss> (asrun/vgg19_5_4, "
            "asrun/res18_4, asrun/res34_3, asrun/res34_5) or tv/<torchvision model>/<graph node> (e.g. "
            "tv/convnext_tiny/features.3)")


def split_term(term: str) -> tuple[str | None, str]:
    """(extractor, distance) of a term, by its spelling alone: (None, 'l1') for the pixel term `l1`,
    ('vgg19_5_4', 'mse') for `vgg19_5_4`, ('tv/resnet18/layer2.1', 'l1') for `tv/resnet18/layer2.1/l1`.
    The extractor is not checked here (`feature_term` does)."""
    if term in DISTANCES:
        return None, term
    head, _, last = term.rpartition("/")
    if head and last in DISTANCES:
        return head, last
    return term, FEATURE_DISTANCE


@dataclass(frozen=True)
class FeatureTerm:
    """A frozen feature extractor's definition: torchvision `model` cut at graph `node`, or (the
    study's ResNet cuts) its `modules` chained in order."""

    model: str  # torchvision model name, e.g. "vgg19"
    node: str  # feature_extraction node name or module prefix, e.g. "features.35", "layer2.1"; "" with modules
    rescale: float  # features are multiplied by this (VGG aliases: 1/12.75, the paper; else 1)
    modules: tuple[str, ...] = ()  # submodule names run in sequence instead of a graph cut (asrun/res*)


def asrun_resnet_modules(depth: int, block: int) -> tuple[str, ...]:
    """The study's `get_extractor_for_ResNet(resnet, i=block)`: the stem, then for each of layer2..layer4
    its blocks in order, counting them and stopping the layer once the count exceeds `block` (its
    `break` leaves only the inner loop, so each later layer still gives its first block; layer1 is
    never visited)."""
    modules = ["conv1", "bn1", "relu", "maxpool"]
    count = 0
    for layer, blocks in zip((2, 3, 4), _RESNET_BLOCKS_PER_LAYER[depth][1:]):
        for b in range(blocks):
            modules.append(f"layer{layer}.{b}")
            count += 1
            if count > block:
                break
    return tuple(modules)


def _asrun(name: str) -> FeatureTerm | None:
    """The study's extractor for one of its loss names, or None."""
    if name == "vgg19_5_4":  # vgg19_bn: conv4_4 is features.36, before its BatchNorm (37) and ReLU (38)
        return FeatureTerm("vgg19_bn", "features.36", VGG_FEATURE_RESCALE)
    if m := re.fullmatch(r"res(18|34)_([345])", name):
        if name in STUDY_FEATURE_TERMS:
            depth, block = int(m[1]), int(m[2])
            return FeatureTerm(f"resnet{depth}", "", 1.0, asrun_resnet_modules(depth, block))
    return None


def as_run_term(term: str) -> str:
    """`feature_cuts: as_run`: the study's names stand for its extractors (`vgg19_5_4` -> `asrun/vgg19_5_4`,
    `vgg19_5_4/l1` -> `asrun/vgg19_5_4/l1`)."""
    return ASRUN_PREFIX + term if split_term(term)[0] in STUDY_FEATURE_TERMS else term


def vgg19_feature_index(block: int, conv: int) -> int:
    """Index in `vgg19().features` of the ReLU after conv `conv` of block `block` (1-based)."""
    index = 0
    for b in range(block - 1):
        index += 2 * _VGG19_CONVS_PER_BLOCK[b] + 1  # conv+ReLU pairs, then a max-pool
    return index + 2 * (conv - 1) + 1


def resnet_block_node(depth: int, block: int) -> str:
    """Module name of the `block`-th BasicBlock of ResNet-`depth`, counted over layer1..layer4, 1-based."""
    left = block
    for layer, count in enumerate(_RESNET_BLOCKS_PER_LAYER[depth], start=1):
        if left <= count:
            return f"layer{layer}.{left - 1}"
        left -= count
    raise ValueError(f"ResNet-{depth} has no block {block}")  # callers check the range first


def _alias(term: str) -> FeatureTerm | None:
    """The FeatureTerm of a study alias, or None when `term` is not a (valid) alias."""
    if m := re.fullmatch(r"vgg19_([1-5])_([1-4])", term):
        block, conv = int(m[1]), int(m[2])
        if conv > _VGG19_CONVS_PER_BLOCK[block - 1]:
            return None
        return FeatureTerm("vgg19", f"features.{vgg19_feature_index(block, conv)}", VGG_FEATURE_RESCALE)
    if m := re.fullmatch(r"res(18|34)_([1-9][0-9]?)", term):
        depth, block = int(m[1]), int(m[2])
        if block > sum(_RESNET_BLOCKS_PER_LAYER[depth]):
            return None
        return FeatureTerm(f"resnet{depth}", resnet_block_node(depth, block), 1.0)
    return None


def feature_term(term: str, key: str) -> FeatureTerm | None:
    """Resolve a content-loss term's extractor: None for a pixel term, else its FeatureTerm (its
    distance: `split_term`).

    `key` is the params key the term sits at (for messages). Raises SrganError
    with one line naming the key, and for a `tv/` term with a wrong model or
    node, listing the closest valid names.
    """
    term, distance = split_term(term)
    if term is None:
        return None
    if term in DISTANCES:
        raise SrganError(f"content-loss term '{key}': the pixel term '{term}' takes no /{distance}; "
                         f"write '{term}' alone, or an extractor such as vgg19_5_4/{distance}")
    if term.startswith(ASRUN_PREFIX):
        spec = _asrun(term[len(ASRUN_PREFIX):])
        if spec is None:
            raise SrganError(f"unknown content-loss term '{key}'; the study's extractors are "
                             f"{', '.join(ASRUN_PREFIX + t for t in STUDY_FEATURE_TERMS)}")
        return spec
    if term.startswith(TV_PREFIX):
        model, _, node = term[len(TV_PREFIX):].partition("/")
        if not model or not node:
            raise SrganError(f"content-loss term '{key}' must read tv/<model>/<node>, e.g. tv/resnet50/layer2")
        _check_tv_node(model, node, key)
        return FeatureTerm(model, node, 1.0)
    alias = _alias(term)
    if alias is None:
        raise SrganError(f"unknown content-loss term '{key}'; {_terms_help()}")
    return alias


def _closest(word: str, choices: list[str], n: int = 5) -> str:
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.0)
    return ", ".join(close)


@functools.cache
def torchvision_models() -> tuple[str, ...]:
    """Names of torchvision's classification models (the ones with ImageNet weights)."""
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


@functools.cache
def graph_nodes(model: str) -> tuple[str, ...]:
    """Eval-mode graph node names of torchvision `model` (traced on the meta device: no weights; RegNets on the CPU)."""
    import torch
    import torchvision
    from torchvision.models.feature_extraction import get_graph_node_names

    try:
        with torch.device("meta"):
            net = torchvision.models.get_model(model, weights=None)
    except NotImplementedError:
        # A few builders (RegNets) compute their widths with tensors and read them back, which the
        # meta device cannot: build those on the CPU, leaving the global RNG as it was.
        with torch.random.fork_rng(devices=[]):
            net = torchvision.models.get_model(model, weights=None)
    _, eval_nodes = get_graph_node_names(net)
    return tuple(n for n in eval_nodes if n != "x")


def _check_tv_node(model: str, node: str, key: str) -> None:
    models = torchvision_models()
    if model not in models:
        raise SrganError(
            f"content-loss term '{key}' names torchvision model '{model}', which is not a classification model; "
            f"closest: {_closest(model, list(models))}"
        )
    nodes = graph_nodes(model)
    if node in nodes or any(n.startswith(node + ".") for n in nodes):
        return
    prefixes = sorted({n.rsplit(".", k)[0] for n in nodes for k in range(1, n.count(".") + 1)})
    raise SrganError(
        f"content-loss term '{key}': {model} has no graph node '{node}'; closest: "
        f"{_closest(node, list(nodes) + prefixes)} (all: torchvision.models.feature_extraction.get_graph_node_names)"
    )


def check_variant_terms(terms: dict[str, float], key: str) -> None:
    """Resolve every term of one content-loss variant found at params key `key`.

    Raises SrganError naming `key.<term>` for a term that does not resolve (see
    `feature_term`); the weights are checked with the params (`srgan.core.config`).
    """
    for term in terms:
        feature_term(term, f"{key}.{term}")


def variant_term_problems(variants_by_section: dict[str, Any]) -> list[str]:
    """One line per term that does not resolve, in every variant of {"srresnet": variants, "srgan": ...}
    (raw or checked mappings of {name: {term: weight}}; anything else is left to the params check)."""
    problems = []
    for section, variants in variants_by_section.items():
        for name, terms in (variants.items() if isinstance(variants, dict) else ()):
            for term in (terms if isinstance(terms, dict) else ()):
                try:
                    feature_term(str(term), f"{section}.variants.{name}.{term}")
                except SrganError as e:
                    problems.append(str(e))
    return problems


def params_file_problems(path: Path) -> list[str]:
    """Every problem of a whole params file, one line each naming the file and the key: its schema
    (`srgan.core.config.check_params`: sections, keys, types, choices, ranges, the rules between fields)
    and every loss term of every variant. What `srgan check` prints and what the `check_params` stage
    runs before any other stage; [] when the file is fine."""
    from srgan.core.config import check_params, read_params_file

    try:
        raw = read_params_file(path)
    except SrganError as e:
        return [str(e)]
    _, problems = check_params(raw)
    problems = list(problems)
    if isinstance(raw, dict):
        problems += variant_term_problems({section: (raw.get(section) or {}).get("variants")
                                           for section in ("srresnet", "srgan") if isinstance(raw.get(section), dict)})
    return [f"{path}: {problem}" for problem in problems]


def check_all_variant_terms(variants_by_section: dict[str, dict[str, dict[str, float]]]) -> None:
    """Resolve the terms of every variant, e.g. {"srresnet": params.srresnet.variants, "srgan": ...}.

    Training stages and the report call this before they load any data, so a misspelt term in
    any variant stops the first of them that runs, not the one that trains that variant hours
    later. SrganError with one line per bad term.
    """
    problems = variant_term_problems(variants_by_section)
    if problems:
        raise SrganError("\n".join(f"params.yaml: {problem}" for problem in problems))


def term_family(terms: dict[str, float]) -> str:
    """The loss family of a variant {term: weight}, for grouping in the report.

    Feature terms are grouped by the torchvision model they cut (the study's
    aliases resolve to theirs), whatever their distance: VGG models -> 'VGG',
    ResNets -> 'ResNet', any other model by its own name ('convnext_tiny');
    then the pixel terms by their distance's family ('MSE', 'L1'); all joined
    by ' + ' ('VGG + MSE', 'MSE' for MSE alone). Only terms with a positive
    weight count.
    """
    families: list[str] = []
    pixels: list[str] = []
    for term, weight in terms.items():
        if weight <= 0:
            continue
        spec = feature_term(term, term)
        if spec is None:
            family, into = DISTANCES[term].family, pixels
        else:
            family = ("VGG" if spec.model.startswith("vgg") else "ResNet" if spec.model.startswith("resnet")
                      else spec.model)
            into = families
        if family not in into:
            into.append(family)
    return " + ".join(families + pixels)


def is_hybrid(terms: dict[str, float]) -> bool:
    """A mix of a pixel term and a feature term, both with a positive weight ('VGG + MSE', 'ResNet + L1')."""
    kinds = {feature_term(term, term) is None for term, weight in terms.items() if weight > 0}
    return kinds == {True, False}
