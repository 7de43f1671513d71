import pytest
import torch
import torchvision

from srgan.errors import SrganError
from srgan.losses import (
    ContentLoss,
    FeatureExtractor,
    VGG_FEATURE_SCALE,
    discriminator_loss,
    generator_adversarial_loss,
    imagenet_weight_file,
    load_backbone,
    resnet_block_layers,
    vgg19_feature_index,
)
from srgan.models import Discriminator, SRResNet

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def test_vgg19_5_4_is_features_up_to_36_after_relu():
    assert vgg19_feature_index(5, 4) == 35
    reference = torchvision.models.vgg19(weights=None).features
    assert isinstance(reference[35], torch.nn.ReLU) and isinstance(reference[36], torch.nn.MaxPool2d)
    assert vgg19_feature_index(2, 2) == 8 and isinstance(reference[8], torch.nn.ReLU)
    assert vgg19_feature_index(1, 1) == 1


def test_vgg_extractor_equals_torchvision_features_36_on_normalised_input():
    extractor = FeatureExtractor("vgg19_5_4", "random", allow_random_fallback=False)
    reference = torchvision.models.vgg19(weights=None).features[:36]
    reference.load_state_dict(extractor.body.state_dict())
    img = torch.rand(1, 3, 48, 48)
    expected = reference((img - IMAGENET_MEAN) / IMAGENET_STD) * VGG_FEATURE_SCALE
    assert torch.allclose(extractor(img), expected, atol=1e-6)
    assert len(extractor.body) == 36


@pytest.mark.parametrize(
    "depth,block,expected",
    [
        (18, 4, [("layer1", 2), ("layer2", 2)]),  # end of layer2
        (34, 3, [("layer1", 3)]),  # end of layer1
        (34, 5, [("layer1", 3), ("layer2", 2)]),  # layer2[1]
        (18, 1, [("layer1", 1)]),
        (34, 16, [("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)]),
    ],
)
def test_resnet_block_counting(depth, block, expected):
    assert resnet_block_layers(depth, block) == expected


def test_resnet_extractors_end_at_the_named_block():
    res18_4 = FeatureExtractor("res18_4", "random", False)
    resnet18 = torchvision.models.resnet18(weights=None)
    resnet18.load_state_dict(load_backbone("resnet18", "random", False)[0].state_dict())
    resnet18.eval()
    img = torch.rand(1, 3, 64, 64)
    x = (img - IMAGENET_MEAN) / IMAGENET_STD
    x = resnet18.layer2(resnet18.layer1(resnet18.maxpool(resnet18.relu(resnet18.bn1(resnet18.conv1(x))))))
    assert torch.allclose(res18_4(img), x, atol=1e-5)
    # layer2 of ResNet-34 has 128 channels at 1/8 resolution; layer1 has 64 at 1/4.
    assert FeatureExtractor("res34_5", "random", False)(img).shape == (1, 128, 8, 8)
    assert FeatureExtractor("res34_3", "random", False)(img).shape == (1, 64, 16, 16)


@pytest.mark.parametrize("terms", [{"mse": 1.0}, {"vgg19_5_4": 1.0}, {"res18_4": 1.0}, {"res34_3": 1.0},
                                   {"res34_5": 1.0}, {"mse": 0.6, "vgg19_5_4": 0.4}])
def test_every_loss_sends_gradient_into_sr_and_none_into_extractors(terms):
    loss_fn = ContentLoss(terms, "random", allow_random_fallback=False)
    sr_img = torch.rand(2, 3, 32, 32, requires_grad=True)
    hr_img = torch.rand(2, 3, 32, 32)
    total, parts = loss_fn(sr_img, hr_img)
    assert total.dim() == 0 and total.grad_fn is not None
    assert set(parts) == set(terms)
    total.backward()
    assert sr_img.grad is not None and sr_img.grad.abs().sum() > 0
    for p in loss_fn.parameters():
        assert not p.requires_grad and p.grad is None


def test_extractor_weights_and_bn_stats_unchanged_by_training():
    loss_fn = ContentLoss({"res18_4": 1.0}, "random", False)
    generator = SRResNet(num_blocks=1, channels=8)
    before = {k: v.clone() for k, v in loss_fn.state_dict().items()}
    params = list(generator.parameters()) + list(loss_fn.parameters())
    optimizer = torch.optim.Adam(params, lr=0.1)
    loss_fn.train()  # must stay in eval mode: BN running stats may not move
    assert not loss_fn.extractors["res18_4"].training
    for _ in range(2):
        total, _ = loss_fn(generator(torch.rand(2, 3, 8, 8)), torch.rand(2, 3, 32, 32))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    for key, value in loss_fn.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_mse_term_is_on_minus_one_to_one_range():
    loss_fn = ContentLoss({"mse": 1.0})
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    total, _ = loss_fn(a, b)
    assert total.item() == pytest.approx(4 * 0.25)


def test_weights_mix_linearly():
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    mse = ContentLoss({"mse": 1.0}, "random")(a, b)[0]
    res = ContentLoss({"res18_4": 1.0}, "random")(a, b)[0]
    mix = ContentLoss({"mse": 0.6, "res18_4": 0.4}, "random")(a, b)[0]
    assert mix.item() == pytest.approx(0.6 * mse.item() + 0.4 * res.item(), rel=1e-5)


def test_adversarial_term_sends_gradient_into_the_generator():
    generator = SRResNet(num_blocks=1, channels=8)
    disc = Discriminator(patch_px=32)
    sr_img = generator(torch.rand(2, 3, 8, 8))
    generator_adversarial_loss(disc(sr_img)).backward()
    grads = [p.grad for p in generator.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_adversarial_losses_match_the_paper_formulas():
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = (-torch.log(d_real)).mean() + (-torch.log(1 - d_fake)).mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert generator_adversarial_loss(fake).item() == pytest.approx((-torch.log(d_fake)).mean().item(), rel=1e-6)


def test_missing_imagenet_weights_strict_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(SrganError) as err:
        load_backbone("vgg19", "imagenet", allow_random_fallback=False)
    message = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    model, used = load_backbone("vgg19", "imagenet", allow_random_fallback=True)
    assert used == "random (imagenet unavailable)"
    assert imagenet_weight_file("vgg19").name == "vgg19-dcbb9e9d.pth"


def test_random_extractors_are_reproducible():
    a = FeatureExtractor("res34_3", "random", False)
    b = FeatureExtractor("res34_3", "random", False)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), ka


def test_unknown_terms_are_rejected():
    with pytest.raises(SrganError):
        FeatureExtractor("vgg16_5_4", "random", False)
    with pytest.raises(SrganError, match="no positive weight"):
        ContentLoss({"mse": 0.0})
