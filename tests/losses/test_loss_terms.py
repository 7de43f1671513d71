"""Tests for srgan.losses.terms: the one grammar of content-loss terms, and its checks at params load.

Expected layers are derived from torchvision's own model definitions (walked on
the meta device: no weights), never from the module's constants.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
import yaml

from srgan.core.config import check_weights, params_from_dict
from srgan.core.errors import SrganError
from srgan.losses.terms import (
    DISTANCES,
    FeatureTerm,
    as_run_term,
    check_all_variant_terms,
    check_variant_terms,
    feature_term,
    is_hybrid,
    split_term,
    term_family,
)

PARAMS_YAML = Path(__file__).resolve().parents[2] / "params.yaml"
KEY = "srgan.variants.x"


def _on_meta(builder: Any) -> torch.nn.Module:
    with torch.device("meta"):
        return builder(weights=None)


def _vgg19_relu_nodes() -> dict[str, str]:
    """{"vgg19_<i>_<j>": "features.<index of the ReLU after conv j of block i>"} from torchvision's vgg19."""
    nodes, block, conv = {}, 1, 0
    for index, layer in enumerate(_on_meta(torchvision.models.vgg19).features):
        if isinstance(layer, torch.nn.Conv2d):
            conv += 1
        elif isinstance(layer, torch.nn.ReLU):
            nodes[f"vgg19_{block}_{conv}"] = f"features.{index}"
        elif isinstance(layer, torch.nn.MaxPool2d):
            block, conv = block + 1, 0
    return nodes


def _resnet_block_nodes(depth: int) -> list[str]:
    """Module names of ResNet-`depth`'s BasicBlocks over layer1..layer4, in order."""
    net = _on_meta(getattr(torchvision.models, f"resnet{depth}"))
    return [f"layer{i}.{b}" for i in range(1, 5) for b in range(len(getattr(net, f"layer{i}")))]


def _one_line_error(terms: dict[str, float], key: str = KEY) -> str:
    with pytest.raises(SrganError) as err:
        check_variant(terms, key)
    message = str(err.value)
    assert "\n" not in message, message
    return message


# ---------------------------------------------------------------- the study's aliases


def test_every_vgg19_alias_is_the_relu_after_its_conv() -> None:
    expected = _vgg19_relu_nodes()
    assert len(expected) == 16  # VGG-19: 2 + 2 + 4 + 4 + 4 convs
    for alias, node in expected.items():
        assert feature_term(alias, alias) == FeatureTerm("vgg19", node, 1 / 12.75), alias


def test_vgg19_aliases_spot_checks() -> None:
    # phi_5,4 = features[:36] (ReLU 35, before the 5th max-pool at 36); phi_2,2 = features[:9].
    assert feature_term("vgg19_5_4", "k") == FeatureTerm("vgg19", "features.35", 1 / 12.75)
    assert feature_term("vgg19_2_2", "k") == FeatureTerm("vgg19", "features.8", 1 / 12.75)
    assert feature_term("vgg19_1_1", "k") == FeatureTerm("vgg19", "features.1", 1 / 12.75)
    assert feature_term("vgg19_4_4", "k") == FeatureTerm("vgg19", "features.26", 1 / 12.75)
    features = _on_meta(torchvision.models.vgg19).features
    assert isinstance(features[35], torch.nn.ReLU) and isinstance(features[36], torch.nn.MaxPool2d)


@pytest.mark.parametrize("depth", [18, 34])
def test_every_resnet_alias_is_its_kth_basic_block(depth: int) -> None:
    blocks = _resnet_block_nodes(depth)
    assert len(blocks) == {18: 8, 34: 16}[depth]
    for k, node in enumerate(blocks, start=1):
        assert feature_term(f"res{depth}_{k}", "k") == FeatureTerm(f"resnet{depth}", node, 1.0)


@pytest.mark.parametrize(
    "alias,node",
    [("res18_4", "layer2.1"), ("res34_3", "layer1.2"), ("res34_5", "layer2.1"), ("res18_1", "layer1.0"),
     ("res18_8", "layer4.1"), ("res34_16", "layer4.2")],
)
def test_resnet_aliases_of_the_study(alias: str, node: str) -> None:
    model = "resnet18" if alias.startswith("res18") else "resnet34"
    assert feature_term(alias, alias) == FeatureTerm(model, node, 1.0)


def test_mse_is_the_pixel_term() -> None:
    assert feature_term("mse", "k") is None
    check_variant({"mse": 1.0}, KEY)
    check_variant({"mse": 0.6, "vgg19_5_4": 0.4}, KEY)


@pytest.mark.parametrize(
    "term",
    ["vgg19_1_3",  # block 1 has 2 convs
     "vgg19_2_3", "vgg19_6_1", "vgg19_0_1", "vgg19_5_0", "res18_9", "res18_0", "res34_17", "res34_05",
     "vgg16_5_4", "resnet18_4", "MSE", "", " mse"],
)
def test_invalid_aliases_are_one_line_naming_the_key(term: str) -> None:
    message = _one_line_error({term: 1.0})
    assert f"'{KEY}.{term}'" in message
    assert "vgg19_<i>_<j>" in message and "tv/" in message  # says what is valid


# ---------------------------------------------------------------- tv/<model>/<node>


@pytest.mark.parametrize(
    "term,model,node",
    [("tv/resnet18/layer2.1", "resnet18", "layer2.1"),  # a module prefix
     ("tv/resnet18/layer2.1.relu_1", "resnet18", "layer2.1.relu_1"),  # an exact graph node
     ("tv/mobilenet_v3_small/features.3", "mobilenet_v3_small", "features.3"),
     ("tv/regnet_y_400mf/trunk_output.block2", "regnet_y_400mf", "trunk_output.block2")],  # not traceable on meta
)
def test_tv_terms_are_accepted(term: str, model: str, node: str) -> None:
    assert feature_term(term, term) == FeatureTerm(model, node, 1.0)
    check_variant({"mse": 0.6, term: 0.4}, KEY)


def test_tv_unknown_model_lists_close_models() -> None:
    message = _one_line_error({"tv/resnet19/layer2": 1.0})
    assert f"'{KEY}.tv/resnet19/layer2'" in message
    closest = message.split("closest:", 1)[1]
    assert "resnet18" in closest


def test_tv_unknown_node_lists_close_nodes() -> None:
    message = _one_line_error({"mse": 0.5, "tv/resnet18/layer9": 0.5})
    assert f"'{KEY}.tv/resnet18/layer9'" in message and "layer9" in message
    closest = message.split("closest:", 1)[1]
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        assert layer in closest


@pytest.mark.parametrize("term", ["tv/resnet18", "tv/resnet18/", "tv//layer1", "tv/"])
def test_tv_malformed_terms_are_rejected(term: str) -> None:
    message = _one_line_error({term: 1.0})
    assert f"'{KEY}.{term}'" in message and "tv/<model>/<node>" in message


def test_tv_prefix_must_end_at_a_module_boundary() -> None:
    # "layer2.1" is a module; "layer2.1." and "layer" are not names of anything.
    _one_line_error({"tv/resnet18/layer2.1.": 1.0})
    _one_line_error({"tv/resnet18/layer": 1.0})


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("weight", [-0.1, math.nan, math.inf])
def test_bad_weights_are_rejected(weight: float) -> None:
    message = _one_line_error({"mse": 1.0, "res18_4": weight})
    assert f"'{KEY}.res18_4'" in message


@pytest.mark.parametrize("terms", [{"mse": 0.0}, {"mse": 0.0, "vgg19_5_4": 0.0}, {}])
def test_a_variant_needs_a_positive_weight(terms: dict[str, float]) -> None:
    assert f"'{KEY}'" in _one_line_error(terms)


def test_zero_weight_terms_are_allowed_beside_a_positive_one() -> None:
    check_variant({"mse": 1.0, "vgg19_5_4": 0.0}, KEY)


# ---------------------------------------------------------------- through params.yaml


@pytest.fixture(scope="module")
def committed_params() -> dict[str, Any]:
    with PARAMS_YAML.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture
def raw_params(committed_params: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(committed_params)


@pytest.mark.parametrize("section", ["srresnet", "srgan"])
@pytest.mark.parametrize(
    "term,hint",
    [("vgg19_1_3", "vgg19_<i>_<j>"), ("res34_17", "res34_<k>"), ("tv/resnet19/layer2", "resnet18"),
     ("tv/resnet18/layer9", "layer1")],
)
def test_bad_terms_fail_the_check_of_all_variants(raw_params: dict[str, Any], section: str, term: str,
                                                 hint: str) -> None:
    raw_params[section]["variants"]["x"] = {"mse": 0.6, term: 0.4}
    params = params_from_dict(raw_params)  # the params themselves are well-formed
    with pytest.raises(SrganError) as err:
        check_all_variant_terms({"srresnet": params.srresnet.variants, "srgan": params.srgan.variants})
    message = str(err.value)
    assert "\n" not in message
    assert f"{section}.variants.x.{term}" in message and hint in message


def test_the_brief_example_fails_the_check(raw_params: dict[str, Any]) -> None:
    raw_params["srgan"]["variants"]["x"] = {"vgg19_1_3": 1.0}
    params = params_from_dict(raw_params)
    with pytest.raises(SrganError, match=r"srgan\.variants\.x\.vgg19_1_3"):
        check_all_variant_terms({"srgan": params.srgan.variants})


def test_bad_weight_fails_at_params_load(raw_params: dict[str, Any]) -> None:
    raw_params["srresnet"]["variants"]["x"] = {"mse": 1.0, "res18_4": -0.5}
    with pytest.raises(SrganError, match=r"srresnet\.variants\.x\.res18_4"):
        params_from_dict(raw_params)


def test_tv_variant_loads_from_params(raw_params: dict[str, Any]) -> None:
    mix = {"mse": 0.7, "tv/mobilenet_v3_small/features.3": 0.3}
    raw_params["srresnet"]["variants"]["mnv3"] = mix
    raw_params["srgan"]["variants"]["r18"] = {"tv/resnet18/layer2.1": 1.0}
    params = params_from_dict(raw_params)
    assert params.srresnet.variants["mnv3"] == mix
    assert params.srgan.variants["r18"] == {"tv/resnet18/layer2.1": 1.0}


def test_module_is_torch_free_at_import() -> None:
    code = "import sys, srgan.losses.terms, srgan.core.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=PARAMS_YAML.parent).returncode == 0


def check_variant(terms: dict[str, float], key: str) -> None:
    """What a variant goes through: its weights with the params, its terms when a stage builds the loss."""
    check_weights(terms, key)
    check_variant_terms(terms, key)


@pytest.mark.parametrize("terms,family", [
    ({"mse": 1.0}, "MSE"),
    ({"vgg19_5_4": 1.0}, "VGG"),
    ({"mse": 0.6, "vgg19_5_4": 0.4}, "VGG + MSE"),
    ({"res18_4": 1.0}, "ResNet"),
    ({"mse": 0.7, "res34_3": 0.3}, "ResNet + MSE"),
    ({"tv/resnet50/layer2": 1.0}, "ResNet"),
    ({"tv/vgg16/features.15": 1.0, "mse": 0.5}, "VGG + MSE"),
    ({"mse": 0.6, "tv/convnext_tiny/features.3": 0.4}, "convnext_tiny + MSE"),
    ({"vgg19_5_4": 0.5, "res18_4": 0.5}, "VGG + ResNet"),
    ({"mse": 1.0, "vgg19_5_4": 0.0}, "MSE"),
    ({"l1": 1.0}, "L1"),
    ({"charbonnier": 0.5, "mse": 0.5}, "Charbonnier + MSE"),
    ({"l1": 0.6, "vgg19_5_4/l1": 0.4}, "VGG + L1"),
    ({"res18_4/charbonnier": 1.0}, "ResNet"),
])
def test_term_family_groups_by_the_resolved_model(terms: dict[str, float], family: str) -> None:
    assert term_family(terms) == family


@pytest.mark.parametrize("terms,hybrid", [
    ({"mse": 0.6, "vgg19_5_4": 0.4}, True), ({"l1": 0.7, "res34_3/l1": 0.3}, True), ({"mse": 1.0}, False),
    ({"mse": 0.5, "l1": 0.5}, False), ({"vgg19_5_4": 0.5, "res18_4": 0.5}, False),
    ({"mse": 1.0, "vgg19_5_4": 0.0}, False),
])
def test_a_hybrid_mixes_a_pixel_term_and_a_feature_term(terms: dict[str, float], hybrid: bool) -> None:
    assert is_hybrid(terms) is hybrid


# ---------------------------------------------------------------- the kinds of term (DISTANCES)


def test_the_kinds_are_mse_l1_and_charbonnier() -> None:
    assert list(DISTANCES) == ["mse", "l1", "charbonnier"]


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.tensor([[0.0, 0.25], [0.5, 1.0]]).view(1, 1, 2, 2)
    b = torch.tensor([[0.0, 0.75], [0.5 + 3e-6, 0.0]]).view(1, 1, 2, 2)
    return a, b


def test_mse_and_l1_are_torch_nn_functional_and_the_hand_sums() -> None:
    a, b = _pair()
    diffs = [0.0, -0.5, -3e-6, 1.0]  # a − b, element by element
    assert torch.equal(DISTANCES["mse"].compute(a, b), torch.nn.functional.mse_loss(a, b))
    assert torch.equal(DISTANCES["l1"].compute(a, b), torch.nn.functional.l1_loss(a, b))
    assert DISTANCES["mse"].compute(a, b).item() == pytest.approx(sum(d * d for d in diffs) / 4, rel=1e-6)
    assert DISTANCES["l1"].compute(a, b).item() == pytest.approx(sum(abs(d) for d in diffs) / 4, rel=1e-6)


def test_charbonnier_is_basicsrs_root_of_the_square_plus_1e_12() -> None:
    """sqrt((a − b)² + 1e-12), averaged (BasicSR's CharbonnierLoss(eps=1e-12)): ε = 1e-6, so a zero difference
    costs 1e-6 and a difference far above ε costs its absolute value."""
    a, b = _pair()
    diffs = [0.0, -0.5, float(a[0, 0, 1, 0] - b[0, 0, 1, 0]), 1.0]  # the 3e-6 difference as float32 rounds it
    expected = sum(math.sqrt(d * d + 1e-12) for d in diffs) / 4
    assert DISTANCES["charbonnier"].compute(a, b).item() == pytest.approx(expected, rel=1e-6)
    zero = DISTANCES["charbonnier"].compute(torch.zeros(3), torch.zeros(3)).item()
    assert zero == pytest.approx(1e-6, rel=1e-6)  # ε, not 0: a distance that is smooth at 0


@pytest.mark.parametrize("kind", list(DISTANCES))
def test_every_kind_sends_gradient_into_sr(kind: str) -> None:
    sr_img = torch.rand(2, 3, 8, 8, requires_grad=True)
    value = DISTANCES[kind].compute(sr_img, torch.rand(2, 3, 8, 8))
    assert value.dim() == 0 and value.grad_fn is not None
    value.backward()
    assert sr_img.grad is not None and sr_img.grad.abs().sum() > 0


@pytest.mark.parametrize("term,parts", [
    ("mse", (None, "mse")), ("l1", (None, "l1")), ("charbonnier", (None, "charbonnier")),
    ("vgg19_5_4", ("vgg19_5_4", "mse")), ("vgg19_5_4/l1", ("vgg19_5_4", "l1")),
    ("vgg19_5_4/mse", ("vgg19_5_4", "mse")), ("asrun/res18_4/charbonnier", ("asrun/res18_4", "charbonnier")),
    ("tv/resnet18/layer2.1/l1", ("tv/resnet18/layer2.1", "l1")),
    ("tv/resnet18/layer2.1", ("tv/resnet18/layer2.1", "mse")),
])
def test_a_term_is_an_extractor_and_a_distance(term: str, parts: tuple[str | None, str]) -> None:
    assert split_term(term) == parts


def test_a_feature_distance_keeps_the_extractor_of_its_term() -> None:
    assert feature_term("vgg19_5_4/l1", "k") == feature_term("vgg19_5_4", "k") == FeatureTerm("vgg19", "features.35",
                                                                                             1.0 / 12.75)
    assert feature_term("tv/resnet18/layer2.1/charbonnier", "k") == FeatureTerm("resnet18", "layer2.1", 1.0)
    assert feature_term("l1", "k") is None and feature_term("charbonnier", "k") is None
    assert as_run_term("vgg19_5_4/l1") == "asrun/vgg19_5_4/l1" and as_run_term("l1") == "l1"
    check_variant({"l1": 0.6, "charbonnier": 0.2, "vgg19_5_4/l1": 0.1, "tv/resnet18/layer1/charbonnier": 0.1}, KEY)


@pytest.mark.parametrize("term,says", [("mse/l1", "takes no /l1"), ("l1/mse", "takes no /mse"),
                                       ("vgg19_5_4/huber", "/charbonnier"), ("L1", "l1, charbonnier")])
def test_a_bad_distance_is_one_line_naming_the_key(term: str, says: str) -> None:
    message = _one_line_error({term: 1.0})
    assert f"'{KEY}.{term}'" in message and says in message


def test_the_kinds_can_be_set_from_the_command_line(tmp_path: Path, raw_params: dict[str, Any]) -> None:
    """`dvc exp run -S` writes params.yaml through `dvc.utils.hydra.apply_overrides`: a pixel L1 variant and a
    feature L1 term set that way load and check."""
    from dvc.utils.hydra import apply_overrides

    work = tmp_path / "params.yaml"
    work.write_text(yaml.safe_dump(raw_params), encoding="utf-8")
    apply_overrides(work, ["+srgan.variants.x={l1: 1.0}",
                           "+srresnet.variants.y={charbonnier: 0.6, vgg19_5_4/l1: 0.2, tv/resnet18/layer1/l1: 0.2}"])
    params = params_from_dict(yaml.safe_load(work.read_text(encoding="utf-8")))
    assert params.srgan.variants["x"] == {"l1": 1.0}
    assert params.srresnet.variants["y"] == {"charbonnier": 0.6, "vgg19_5_4/l1": 0.2, "tv/resnet18/layer1/l1": 0.2}
    check_all_variant_terms({"srresnet": params.srresnet.variants, "srgan": params.srgan.variants})
