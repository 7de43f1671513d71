"""Tests for srgan.losses: frozen extractors equal to the study's layers, gradients, offline weights.

References are built directly from torchvision (`vgg19(weights=None).features[:36]`,
a ResNet's stem and layers called by hand) with literal ImageNet constants and
the paper's literal 1/12.75, never from the module's own tables. CPU only, no
network: the ImageNet download is replaced by one that raises URLError.
"""

from __future__ import annotations

import logging
import math
import types
import urllib.error
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.losses import extractors
from srgan.losses.adversarial import discriminator_loss, generator_adversarial_loss
from srgan.losses.content import ContentLoss
from srgan.losses.extractors import FeatureExtractor, feature_content_loss, load_backbone, weight_file
from srgan.losses.terms import FeatureTerm, feature_term
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.srresnet import PretrainContext, pretrain_step
from srgan.training.step import StepContext

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
TV_TERMS = ["tv/mobilenet_v3_small/features.3", "tv/resnet18/layer1"]

_real_load_backbone = load_backbone


@pytest.fixture
def fast_vgg19(monkeypatch: pytest.MonkeyPatch) -> None:
    """`load_backbone("vgg19", "random", ...)` without the seconds of random init of VGG-19's classifier.

    The classifier (100M weights) is left uninitialised: every extractor's graph is
    cut inside `features`, so it is never run. The convolutions get fresh random
    weights. Every other model and weight kind goes through the real function.
    """

    def load(model: str, weights: str, allow_random_fallback: bool) -> tuple[nn.Module, str]:
        if model != "vgg19" or weights != "random":
            return _real_load_backbone(model, weights, allow_random_fallback)
        net = on_meta(torchvision.models.vgg19).to_empty(device="cpu")
        randomise(net.features, seed=0)
        return net.eval(), "random"

    monkeypatch.setattr(extractors, "load_backbone", load)


def extractor(term: str) -> FeatureExtractor:
    spec = feature_term(term, term)
    assert spec is not None
    return FeatureExtractor(spec, "random", allow_random_fallback=False)


def on_meta(builder: Callable[..., nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return builder(weights=None)


def randomise(net: nn.Module, seed: int) -> nn.Module:
    """Fresh parameters and BN running statistics (not the library's seed), eval mode.

    Non-trivial running statistics make the check fail if an extractor normalised
    with batch statistics (train mode) instead."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
                module.reset_parameters()
            if isinstance(module, nn.BatchNorm2d):
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def load_into(fe: FeatureExtractor, reference_state: dict[str, Tensor], prefix: str = "") -> None:
    """Load the reference's weights into the extractor: strict, so the two hold exactly the same layers."""
    fe.body.load_state_dict({prefix + k: v for k, v in reference_state.items()}, strict=True)


# ---------------------------------------------------------------- each study alias is today's extractor


@pytest.mark.parametrize("alias,end", [("vgg19_5_4", 36), ("vgg19_2_2", 9), ("vgg19_1_1", 2), ("vgg19_3_4", 18),
                                       ("vgg19_4_4", 27)])
def test_vgg19_alias_equals_torchvision_features_slice(fast_vgg19: None, alias: str, end: int) -> None:
    # phi_i,j: features[:end] ends at the ReLU after conv j of block i (vgg19_5_4: features[:36]).
    reference = randomise(on_meta(torchvision.models.vgg19).features[:end].to_empty(device="cpu"), seed=1)
    assert isinstance(reference[end - 1], nn.ReLU)
    fe = extractor(alias)
    load_into(fe, reference.state_dict(), prefix="features.")
    img = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = reference((img - IMAGENET_MEAN) / IMAGENET_STD) * (1 / 12.75)
        torch.testing.assert_close(fe(img), expected)


def _resnet_stem(net: nn.Module, x: Tensor) -> Tensor:
    return net.maxpool(net.relu(net.bn1(net.conv1(x))))


RESNET_REFERENCES: dict[str, tuple[Callable[..., nn.Module], Callable[[nn.Module, Tensor], Tensor]]] = {
    # res18_4: after the 4th BasicBlock = stem + layer1 + layer2 (2 + 2 blocks)
    "res18_4": (torchvision.models.resnet18, lambda n, x: n.layer2(n.layer1(_resnet_stem(n, x)))),
    # res34_3: stem + layer1 (3 blocks)
    "res34_3": (torchvision.models.resnet34, lambda n, x: n.layer1(_resnet_stem(n, x))),
    # res34_5: stem + layer1 + the first two blocks of layer2
    "res34_5": (torchvision.models.resnet34, lambda n, x: n.layer2[:2](n.layer1(_resnet_stem(n, x)))),
}


@pytest.mark.parametrize("alias", list(RESNET_REFERENCES))
def test_resnet_alias_equals_stem_and_layers_by_hand(alias: str) -> None:
    builder, forward = RESNET_REFERENCES[alias]
    reference = randomise(on_meta(builder).to_empty(device="cpu"), seed=2)
    img = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = forward(reference, (img - IMAGENET_MEAN) / IMAGENET_STD)
    # layer1: 64 channels at 1/4 of the input side; layer2: 128 at 1/8.
    assert expected.shape == {"res18_4": (2, 128, 8, 8), "res34_3": (2, 64, 16, 16), "res34_5": (2, 128, 8, 8)}[alias]
    fe = extractor(alias)
    # The extractor holds exactly the layers the reference ran (nothing after them: the graph is pruned).
    used = {k for k in fe.body.state_dict()}
    ran = {k for k in reference.state_dict() if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")}
    if alias == "res34_3":
        ran = {k for k in ran if not k.startswith("layer2.")}
    if alias == "res34_5":
        ran = {k for k in ran if not k.startswith(("layer2.2.", "layer2.3."))}
    assert used == ran
    load_into(fe, {k: v for k, v in reference.state_dict().items() if k in ran})
    with torch.no_grad():
        torch.testing.assert_close(fe(img), expected)


# ---------------------------------------------------------------- normalisation from the weights' metadata


@pytest.mark.parametrize("term", ["vgg19_2_2", "res18_4", "res34_5", *TV_TERMS])
def test_normalisation_is_the_default_weights_preset(fast_vgg19: None, term: str) -> None:
    fe = extractor(term)
    preset = torchvision.models.get_model_weights(fe.term.model).DEFAULT.transforms()
    assert fe.mean.flatten().tolist() == pytest.approx(list(preset.mean))
    assert fe.std.flatten().tolist() == pytest.approx(list(preset.std))


def test_normalisation_follows_the_metadata_not_a_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    mean, std = (0.1, 0.7, 0.3), (0.5, 0.25, 0.125)
    real = torchvision.models.get_model_weights

    def fake_weights(model: str):
        if model != "resnet18":
            return real(model)
        preset = types.SimpleNamespace(mean=list(mean), std=list(std))
        default = types.SimpleNamespace(url=real(model).DEFAULT.url, transforms=lambda: preset)
        return types.SimpleNamespace(DEFAULT=default)

    monkeypatch.setattr(torchvision.models, "get_model_weights", fake_weights)
    fe = FeatureExtractor(FeatureTerm("resnet18", "layer1", 1.0), "random", allow_random_fallback=False)
    reference = randomise(on_meta(torchvision.models.resnet18).to_empty(device="cpu"), seed=3)
    load_into(fe, {k: v for k, v in reference.state_dict().items() if k.split(".")[0] in ("conv1", "bn1", "layer1")})
    img = torch.rand(2, 3, 32, 32)
    normalised = (img - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(fe(img), reference.layer1(_resnet_stem(reference, normalised)))


# ---------------------------------------------------------------- gradients and freezing


@pytest.mark.parametrize(
    "terms",
    [{"mse": 1.0}, {"vgg19_5_4": 1.0}, {"res18_4": 1.0}, {"res34_3": 1.0}, {"res34_5": 1.0},
     {"mse": 0.6, "vgg19_5_4": 0.4}, *({t: 1.0} for t in TV_TERMS), {"l1": 1.0}, {"charbonnier": 1.0},
     {"vgg19_5_4/l1": 1.0}, {"l1": 0.6, "res18_4/charbonnier": 0.4}],
    ids=lambda terms: "+".join(terms),
)
def test_every_loss_sends_gradient_into_sr_and_none_into_extractors(
    fast_vgg19: None, terms: dict[str, float]
) -> None:
    loss_fn = feature_content_loss(terms, "random", allow_random_fallback=False)
    sr_img = torch.rand(2, 3, 32, 32, requires_grad=True)
    hr_img = torch.rand(2, 3, 32, 32)
    total, parts = loss_fn(sr_img, hr_img)
    assert total.dim() == 0 and total.grad_fn is not None
    assert set(parts) == set(terms) and all(v.grad_fn is None for v in parts.values())
    total.backward()
    assert sr_img.grad is not None and sr_img.grad.abs().sum() > 0
    for p in loss_fn.parameters():
        assert not p.requires_grad and p.grad is None


@pytest.mark.parametrize("term", ["res18_4", "tv/mobilenet_v3_small/features.3"])
def test_extractor_weights_and_bn_stats_unchanged_by_training(term: str) -> None:
    loss_fn = feature_content_loss({term: 1.0}, "random", allow_random_fallback=False)
    generator = SRResNet(num_blocks=1, channels=8)
    before = {k: v.clone() for k, v in loss_fn.state_dict().items()}
    assert any("running_mean" in k for k in before)  # BN statistics are part of what must not move
    optimizer = torch.optim.Adam([*generator.parameters(), *loss_fn.parameters()], lr=0.1)
    loss_fn.train()  # must stay in eval mode: BN running statistics may not move
    assert not any(m.training for fe in loss_fn.extractors for m in fe.modules())
    for _ in range(2):
        total, _ = loss_fn(generator(torch.rand(2, 3, 8, 8)), torch.rand(2, 3, 32, 32))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    for key, value in loss_fn.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("term", TV_TERMS)
def test_tv_term_trains_one_srresnet_step_without_touching_the_extractor(term: str) -> None:
    torch.manual_seed(0)
    content_loss = feature_content_loss({term: 1.0}, "random", allow_random_fallback=False)
    assert content_loss.backbone_weights == {term: "random"}
    assert content_loss.term_weights == {term: 1.0}
    generator = SRResNet(num_blocks=2, channels=8).train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3)
    g_before = {k: v.clone() for k, v in generator.state_dict().items()}
    x_before = {k: v.clone() for k, v in content_loss.state_dict().items()}
    parts = pretrain_step(PretrainContext(generator, content_loss, optimizer, StepContext(CPU)),
                          torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32))
    assert set(parts) == {f"loss/{term}", "loss/content"}
    assert torch.isfinite(parts[f"loss/{term}"]) and parts[f"loss/{term}"] > 0
    assert any(not torch.equal(v, g_before[k]) for k, v in generator.state_dict().items())
    for name, p in content_loss.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    for key, value in content_loss.state_dict().items():
        assert torch.equal(value, x_before[key]), key


def test_mse_term_is_on_minus_one_to_one_range() -> None:
    loss_fn = ContentLoss({"mse": 1.0})
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    total, _ = loss_fn(a, b)
    assert total.item() == pytest.approx(4 * 0.25)
    assert loss_fn.backbone_weights == {"mse": "none"} and len(loss_fn.extractors) == 0


def test_pixel_l1_and_charbonnier_compare_unit_range_intensities() -> None:
    """Only pixel MSE takes `mse_scale` (the paper's [-1, 1]); L1 and Charbonnier are on [0, 1], as BasicSR's."""
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    for mse_scale in (4.0, 1.0):
        assert ContentLoss({"l1": 1.0}, mse_scale=mse_scale)(a, b)[0].item() == pytest.approx(0.5)
        assert ContentLoss({"charbonnier": 1.0}, mse_scale=mse_scale)(a, b)[0].item() == pytest.approx(
            math.sqrt(0.25 + 1e-12))
    total, parts = ContentLoss({"mse": 0.5, "l1": 0.5})(a, b)
    assert parts["mse"].item() == pytest.approx(4 * 0.25) and parts["l1"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)


@pytest.mark.parametrize("term,distance", [("res18_4/l1", torch.nn.functional.l1_loss),
                                           ("res18_4/mse", torch.nn.functional.mse_loss),
                                           ("res18_4", torch.nn.functional.mse_loss)])
def test_a_feature_distance_is_taken_between_the_extractors_feature_maps(term: str, distance: Callable) -> None:
    loss_fn = feature_content_loss({term: 1.0}, "random")
    sr_img, hr_img = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    reference = extractor("res18_4")  # the same fixed-seed random ResNet-18, built apart
    expected = distance(reference(sr_img), reference(hr_img))
    assert torch.equal(loss_fn(sr_img, hr_img)[0], expected)
    assert loss_fn.backbone_weights == {term: "random"}


def test_a_new_kind_is_one_entry_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A made-up kind registered in DISTANCES alone is a pixel term and a feature distance everywhere: the params
    check, the loss and its extractors, the report's families and hybrids, the plan's cost of a step."""
    from srgan.losses import terms
    from srgan.losses.terms import DISTANCES, Distance, check_variant_terms, is_hybrid, term_family
    from srgan.pipeline.plan import extractor_flops

    def cube(a: Tensor, b: Tensor) -> Tensor:
        return (a - b).abs().pow(3).mean()

    monkeypatch.setitem(DISTANCES, "cube", Distance("Cube", "mean |a − b|³", cube))
    mix = {"cube": 0.5, "res18_4/cube": 0.5}
    check_variant_terms(mix, "srgan.variants.x")
    assert "/cube" in str(pytest.raises(SrganError, terms.feature_term, "vgg16/x", "k").value)  # the help names it
    loss_fn = feature_content_loss(mix, "random")
    sr_img, hr_img = torch.rand(2, 3, 32, 32, requires_grad=True), torch.rand(2, 3, 32, 32)
    total, parts = loss_fn(sr_img, hr_img)
    reference = extractor("res18_4")
    assert torch.equal(parts["cube"], cube(sr_img, hr_img).detach())
    assert torch.equal(parts["res18_4/cube"], cube(reference(sr_img), reference(hr_img)).detach())
    total.backward()
    assert sr_img.grad is not None and sr_img.grad.abs().sum() > 0
    assert term_family(mix) == "ResNet + Cube" and is_hybrid(mix) and term_family({"cube": 1.0}) == "Cube"
    assert extractor_flops("res18_4/cube", 1, 32) == extractor_flops("res18_4", 1, 32) > 0
    assert extractor_flops("cube", 1, 32) == 0


def test_weights_mix_linearly() -> None:
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    mse = feature_content_loss({"mse": 1.0}, "random")(a, b)[0]
    res = feature_content_loss({"res18_4": 1.0}, "random")(a, b)[0]
    mix = feature_content_loss({"mse": 0.6, "res18_4": 0.4}, "random")
    assert mix.term_weights == {"mse": 0.6, "res18_4": 0.4}
    assert mix.backbone_weights == {"mse": "none", "res18_4": "random"}
    assert mix(a, b)[0].item() == pytest.approx(0.6 * mse.item() + 0.4 * res.item(), rel=1e-5)


def test_zero_weight_terms_are_not_built() -> None:
    loss_fn = feature_content_loss({"mse": 1.0, "vgg19_5_4": 0.0}, "random")
    assert loss_fn.term_weights == {"mse": 1.0} and len(loss_fn.extractors) == 0


def test_unknown_terms_and_no_positive_weight_are_rejected() -> None:
    with pytest.raises(SrganError, match="vgg16_5_4"):
        feature_content_loss({"vgg16_5_4": 1.0}, "random")
    with pytest.raises(SrganError, match="no positive weight"):
        ContentLoss({"mse": 0.0})


def test_adversarial_term_sends_gradient_into_the_generator() -> None:
    """-log D(G(LR)): its gradient in G is that of -log sigmoid(logit) written by hand (a flipped target,
    -log(1 - D), or a detached D would give another gradient or none)."""
    torch.manual_seed(0)
    generator = SRResNet(num_blocks=1, channels=8)
    disc = Discriminator(patch_px=32)
    lr_img = torch.rand(2, 3, 8, 8)
    generator_adversarial_loss(disc(generator(lr_img))).backward()
    grads = [p.grad.clone() for p in generator.parameters()]
    generator.zero_grad()
    (-torch.log(torch.sigmoid(disc(generator(lr_img)))).mean()).backward()
    expected = [p.grad for p in generator.parameters()]
    assert sum(g.abs().sum() for g in expected) > 0
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-8)


def test_adversarial_losses_match_the_paper_formulas() -> None:
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = (-torch.log(d_real)).mean() + (-torch.log(1 - d_fake)).mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert generator_adversarial_loss(fake).item() == pytest.approx((-torch.log(d_fake)).mean().item(), rel=1e-6)


# ---------------------------------------------------------------- ImageNet weights offline


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, list[str]]:
    """An empty torch hub cache in tmp_path, and a download that fails as it does without network."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    urls: list[str] = []

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        urls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    # The download itself fails: torch.hub's cache lookup (load_state_dict_from_url) runs as it does offline.
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub" / "checkpoints", urls


def test_weight_files_are_torchvisions() -> None:
    assert weight_file("vgg19").name == "vgg19-dcbb9e9d.pth"
    assert weight_file("resnet18").name == "resnet18-f37072fd.pth"
    assert weight_file("resnet34").name == "resnet34-b627a593.pth"
    assert weight_file("vgg19").parent == Path(torch.hub.get_dir()) / "checkpoints"


def test_missing_imagenet_weights_strict_names_the_file_and_folder(offline: tuple[Path, list[str]]) -> None:
    folder, urls = offline
    with pytest.raises(SrganError) as err:
        load_backbone("resnet18", "imagenet", allow_random_fallback=False)
    message = str(err.value)
    assert "\n" not in message
    assert str(folder / "resnet18-f37072fd.pth") in message and str(folder) in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert "allow_random_fallback" in message
    assert urls == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]
    with pytest.raises(SrganError, match="resnet34-b627a593.pth"):
        feature_content_loss({"mse": 0.7, "res34_3": 0.3}, "imagenet", allow_random_fallback=False)


def test_missing_imagenet_weights_fallback_is_loud(
    offline: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    folder, _ = offline
    with caplog.at_level(logging.WARNING, logger="srgan.losses.extractors"):
        loss_fn = feature_content_loss({"mse": 0.7, "res18_4": 0.3}, "imagenet", allow_random_fallback=True)
    assert loss_fn.backbone_weights == {"mse": "none", "res18_4": "random (imagenet unavailable)"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "RANDOMLY INITIALISED" in warnings[0] and str(folder / "resnet18-f37072fd.pth") in warnings[0]
    # The fallback is the same fixed-seed random network that weights "random" gives.
    random_net, used = load_backbone("resnet18", "random", allow_random_fallback=False)
    fallback_net, fallback_used = load_backbone("resnet18", "imagenet", allow_random_fallback=True)
    assert (used, fallback_used) == ("random", "random (imagenet unavailable)")
    for (k, a), b in zip(random_net.state_dict().items(), fallback_net.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("content", [b"", b"<html>Service Unavailable</html>"], ids=["empty", "html"])
def test_corrupt_cached_weights_are_treated_as_missing(
    offline: tuple[Path, list[str]], content: bytes
) -> None:
    folder, urls = offline
    folder.mkdir(parents=True)
    (folder / "resnet18-f37072fd.pth").write_bytes(content)
    with pytest.raises(SrganError, match="resnet18-f37072fd.pth"):
        load_backbone("resnet18", "imagenet", allow_random_fallback=False)
    assert load_backbone("resnet18", "imagenet", allow_random_fallback=True)[1] == "random (imagenet unavailable)"
    assert urls == []  # the cached file was read, not downloaded again


def test_cached_imagenet_weights_are_loaded(offline: tuple[Path, list[str]]) -> None:
    folder, urls = offline
    stand_in = randomise(torchvision.models.resnet18(weights=None), seed=4)
    folder.mkdir(parents=True)
    torch.save(stand_in.state_dict(), folder / "resnet18-f37072fd.pth")
    net, used = load_backbone("resnet18", "imagenet", allow_random_fallback=False)
    assert used == "imagenet" and urls == [] and not net.training
    for key, value in stand_in.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def test_random_extractors_are_reproducible_and_leave_the_global_rng_alone() -> None:
    rng_before = torch.get_rng_state()
    a, b = extractor("res34_3"), extractor("res34_3")
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert a.backbone_weights == b.backbone_weights == "random"
    assert list(a.state_dict()) == list(b.state_dict())
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
