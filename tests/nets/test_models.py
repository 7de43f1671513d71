import pytest
import torch
import torch.nn.functional as F

from srgan.core.errors import SrganError
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import (
    SRResNet,
    _ResidualBlock,
    architecture,
    build_generator,
    count_parameters,
)


def _srresnet_by_hand(state: dict, lr_img: torch.Tensor, num_blocks: int) -> torch.Tensor:
    """The paper's SRResNet written out with torch.nn.functional from a state dict (eval-mode BN): conv9x9
    + PReLU, B blocks [conv, BN, PReLU, conv, BN, + skip], conv + BN + the long skip, two [conv, pixel
    shuffle, PReLU], conv9x9."""
    def bn(x, key):
        return F.batch_norm(x, state[f"{key}.running_mean"], state[f"{key}.running_var"], state[f"{key}.weight"],
                            state[f"{key}.bias"], training=False, eps=1e-5)

    head = F.prelu(F.conv2d(lr_img, state["head.0.weight"], state["head.0.bias"], padding=4), state["head.1.weight"])
    x = head
    for i in range(num_blocks):
        y = F.prelu(bn(F.conv2d(x, state[f"body.{i}.conv1.weight"], padding=1), f"body.{i}.bn1"),
                    state[f"body.{i}.act.weight"])
        x = x + bn(F.conv2d(y, state[f"body.{i}.conv2.weight"], padding=1), f"body.{i}.bn2")
    x = head + bn(F.conv2d(x, state["body_tail.0.weight"], padding=1), "body_tail.1")
    for i in range(2):
        x = F.conv2d(x, state[f"upsample.{i}.conv.weight"], state[f"upsample.{i}.conv.bias"], padding=1)
        x = F.prelu(F.pixel_shuffle(x, 2), state[f"upsample.{i}.act.weight"])
    return F.conv2d(x, state["tail.weight"], state["tail.bias"], padding=4)


def test_srresnet_maps_24_to_96_as_the_paper_writes_it():
    torch.manual_seed(0)
    model = SRResNet(scale=4, num_blocks=3, channels=16)
    with torch.no_grad():  # non-trivial BN (a fresh one is the identity) and non-zero residual gains
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    lr_img = torch.rand(2, 3, 24, 24)
    out = model.eval()(lr_img)
    assert out.shape == (2, 3, 96, 96)
    expected = _srresnet_by_hand(model.state_dict(), lr_img, num_blocks=3)
    assert torch.allclose(out, expected, atol=1e-5), (out - expected).abs().max()


def test_srresnet_matches_the_paper_layout():
    model = SRResNet(scale=4)
    assert len(model.body) == 16
    assert len(model.upsample) == 2
    assert model.head[0].kernel_size == (9, 9) and model.tail.kernel_size == (9, 9)
    assert model.upsample[0].conv.out_channels == 256
    # 1.55 M parameters, the figure usually quoted for SRResNet-16 (no bias before BN).
    assert 1.5e6 < count_parameters(model) < 1.6e6


def test_each_residual_block_has_two_distinct_batchnorms():
    model = SRResNet()
    bns = []
    for block in model.body:
        assert isinstance(block, _ResidualBlock)
        assert block.bn1 is not block.bn2
        bns += [block.bn1, block.bn2]
    assert len({id(bn) for bn in bns}) == 32


def test_residual_blocks_start_as_identity():
    model = SRResNet(num_blocks=2, channels=8).eval()
    x = torch.rand(1, 8, 5, 5)
    for block in model.body:
        assert torch.equal(block.bn2.weight, torch.zeros(8))
        assert torch.allclose(block(x), x + block.bn2.bias.view(1, -1, 1, 1))


def test_generator_does_not_clamp_so_gradients_flow_everywhere():
    model = SRResNet(num_blocks=2, channels=8)
    lr_img = torch.rand(1, 3, 8, 8)
    out = model(lr_img)
    with torch.no_grad():
        model.tail.bias.fill_(5.0)  # push outputs far above 1
    out = model(lr_img)
    assert out.min() > 1.0
    out.sum().backward()
    assert model.head[0].weight.grad.abs().sum() > 0


def test_discriminator_shapes_and_last_feature_map():
    disc = Discriminator(patch_px=96)
    x = torch.rand(2, 3, 96, 96)
    assert disc.features(x).shape == (2, 512, 6, 6)
    assert disc(x).shape == (2, 1)
    convs = [m for m in disc.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 1)] + list(Discriminator.BLOCKS)
    bns = [m for m in disc.features if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 7  # none after the first conv


def test_discriminator_rejects_wrong_sizes():
    with pytest.raises(SrganError, match="multiple of 16"):
        Discriminator(patch_px=100)
    with pytest.raises(SrganError, match="96x96"):
        Discriminator(patch_px=96)(torch.rand(1, 3, 64, 64))


def test_unsupported_scale_is_a_clear_error():
    with pytest.raises(SrganError, match="scale 3"):
        SRResNet(scale=3)


@pytest.mark.parametrize(("scale", "shared_bn", "conv_bias"), [(4, False, True), (2, True, False)])
def test_the_architecture_record_rebuilds_the_generator(scale, shared_bn, conv_bias):
    model = SRResNet(scale=scale, num_blocks=3, channels=16, shared_bn=shared_bn, conv_bias=conv_bias).eval()
    rebuilt = build_generator(architecture(model)).eval()
    rebuilt.load_state_dict(model.state_dict())  # strict: the same parameters and buffers, no more
    x = torch.rand(1, 3, 10, 10)
    assert torch.equal(model(x), rebuilt(x))


def test_the_study_generator_has_no_bias_in_head_upsampling_and_tail():
    model = SRResNet(num_blocks=1, channels=8, conv_bias=False)
    assert model.head[0].bias is None and model.tail.bias is None
    assert all(block.conv.bias is None for block in model.upsample)
    assert SRResNet(num_blocks=1, channels=8).head[0].bias is not None


def test_nearest_init_starts_as_nearest_neighbour_upsampling():
    from srgan.nets.srresnet import init_nearest_upsampling

    torch.manual_seed(0)
    model = init_nearest_upsampling(SRResNet(scale=4, num_blocks=4, channels=16)).eval()
    lr_img = torch.rand(2, 3, 12, 10)
    nearest = lr_img.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    with torch.no_grad():
        sr_img = model(lr_img)
    # Up to the other channels' small random contributions to the tail (a tenth of PyTorch's init).
    assert (sr_img - nearest).abs().max() < 0.05
    default = SRResNet(scale=4, num_blocks=4, channels=16).eval()
    with torch.no_grad():
        assert (default(lr_img) - nearest).abs().mean() > 10 * (sr_img - nearest).abs().mean()
    # Every parameter still trains: one step moves the body too.
    model.train()
    loss = (model(lr_img) - nearest).pow(2).mean() + model(lr_img).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
