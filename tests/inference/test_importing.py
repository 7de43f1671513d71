"""Tests for srgan.inference.importing: published generator layouts mapped onto this project's SRResNet.

Each source state dict is built here from the source code's own module layout (key names and shapes as
its `model.py` / `Model/*.py` define them, written out independently of the importer's tables), and the
imported generator is checked against a reference forward pass written with torch.nn.functional
straight from that layout.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from srgan.core.artifacts import load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.core.study_code import StudyCodeParams
from srgan.inference.generator import load_generator
from srgan.inference.importing import identify, import_generator, read_origin
from srgan.nets.srresnet import SRResNet

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
BN_EPS = 1e-5  # nn.BatchNorm2d's default, in every source


class _Weights:
    """Random tensors with a seed; BatchNorm entries with non-trivial statistics."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.state: dict[str, Tensor] = {}

    def conv(self, key: str, c_out: int, c_in: int, k: int, bias: bool) -> None:
        self.state[f"{key}.weight"] = torch.randn(c_out, c_in, k, k, generator=self.gen) * (0.5 / (c_in * k * k) ** 0.5)
        if bias:
            self.state[f"{key}.bias"] = torch.randn(c_out, generator=self.gen) * 0.1

    def prelu(self, key: str) -> None:
        self.state[f"{key}.weight"] = 0.25 + torch.rand(1, generator=self.gen) * 0.1  # nn.PReLU(): one parameter

    def bn(self, key: str, c: int) -> None:
        self.state[f"{key}.weight"] = 0.5 + torch.rand(c, generator=self.gen)
        self.state[f"{key}.bias"] = torch.randn(c, generator=self.gen) * 0.1
        self.state[f"{key}.running_mean"] = torch.randn(c, generator=self.gen) * 0.1
        self.state[f"{key}.running_var"] = 0.5 + torch.rand(c, generator=self.gen)
        self.state[f"{key}.num_batches_tracked"] = torch.tensor(12345)


def lornatang_state(blocks: int = 16, channels: int = 64, ups: int = 2, names: tuple[str, str, str] = (
        "conv1", "conv2", "conv3"), seed: int = 0) -> dict[str, Tensor]:
    """Lornatang/SRGAN-PyTorch model.py `SRResNet` (2022-10-31 on; `names` conv_block1..3 for its 2022 `Generator`):
    conv1 = Sequential(Conv2d(3, C, 9, padding 4), PReLU()); trunk.N.rcb = Sequential(Conv2d(C, C, 3, bias=False),
    BatchNorm2d, PReLU, Conv2d(C, C, 3, bias=False), BatchNorm2d); conv2 = Sequential(Conv2d(C, C, 3, bias=False),
    BatchNorm2d); upsampling.N.upsample_block = Sequential(Conv2d(C, 4C, 3), PixelShuffle(2), PReLU);
    conv3 = Conv2d(C, 3, 9, padding 4)."""
    head, body_tail, tail = names
    w = _Weights(seed)
    w.conv(f"{head}.0", channels, 3, 9, bias=True)
    w.prelu(f"{head}.1")
    for i in range(blocks):
        w.conv(f"trunk.{i}.rcb.0", channels, channels, 3, bias=False)
        w.bn(f"trunk.{i}.rcb.1", channels)
        w.prelu(f"trunk.{i}.rcb.2")
        w.conv(f"trunk.{i}.rcb.3", channels, channels, 3, bias=False)
        w.bn(f"trunk.{i}.rcb.4", channels)
    w.conv(f"{body_tail}.0", channels, channels, 3, bias=False)
    w.bn(f"{body_tail}.1", channels)
    for j in range(ups):
        w.conv(f"upsampling.{j}.upsample_block.0", 4 * channels, channels, 3, bias=True)
        w.prelu(f"upsampling.{j}.upsample_block.2")
    w.conv(tail, 3, channels, 9, bias=True)
    return w.state


def _bn(x: Tensor, s: dict[str, Tensor], key: str) -> Tensor:
    return F.batch_norm(x, s[f"{key}.running_mean"], s[f"{key}.running_var"], s[f"{key}.weight"], s[f"{key}.bias"],
                        training=False, eps=BN_EPS)


def lornatang_forward(s: dict[str, Tensor], lr_img: Tensor, names=("conv1", "conv2", "conv3")) -> Tensor:
    """Lornatang's `SRResNet._forward_impl`, unclamped: conv1 -> trunk -> conv2, + conv1 -> upsampling -> conv3."""
    head, body_tail, tail = names
    first = F.prelu(F.conv2d(lr_img, s[f"{head}.0.weight"], s[f"{head}.0.bias"], padding=4), s[f"{head}.1.weight"])
    x = first
    i = 0
    while f"trunk.{i}.rcb.0.weight" in s:
        p = f"trunk.{i}.rcb"
        y = F.prelu(_bn(F.conv2d(x, s[f"{p}.0.weight"], padding=1), s, f"{p}.1"), s[f"{p}.2.weight"])
        x = x + _bn(F.conv2d(y, s[f"{p}.3.weight"], padding=1), s, f"{p}.4")
        i += 1
    x = _bn(F.conv2d(x, s[f"{body_tail}.0.weight"], padding=1), s, f"{body_tail}.1") + first
    j = 0
    while f"upsampling.{j}.upsample_block.0.weight" in s:
        p = f"upsampling.{j}.upsample_block"
        x = F.prelu(F.pixel_shuffle(F.conv2d(x, s[f"{p}.0.weight"], s[f"{p}.0.bias"], padding=1), 2), s[f"{p}.2.weight"])
        j += 1
    return F.conv2d(x, s[f"{tail}.weight"], s[f"{tail}.bias"], padding=4)


def study_state(blocks: int = 16, channels: int = 64, seed: int = 1) -> dict[str, Tensor]:
    """unique-chan/SRGAN Model/Generator.py `Generator` with Model/Block.py: input_block = Sequential(Conv2d(3, 64, 9,
    bias=False), PReLU()); residual_blocks.N: conv1, conv2 (Conv2d 3x3, bias=False), bn (one BatchNorm2d), p_relu;
    intermediate_block = Sequential(Conv2d(64, 64, 3, bias=False), BatchNorm2d); upsampling_blocks.N: conv
    (Conv2d(64, 256, 3, bias=False)), pixel_shuffle, p_relu; output_block = Sequential(Conv2d(64, 3, 9, bias=False))."""
    w = _Weights(seed)
    w.conv("input_block.0", channels, 3, 9, bias=False)
    w.prelu("input_block.1")
    for i in range(blocks):
        w.conv(f"residual_blocks.{i}.conv1", channels, channels, 3, bias=False)
        w.conv(f"residual_blocks.{i}.conv2", channels, channels, 3, bias=False)
        w.bn(f"residual_blocks.{i}.bn", channels)
        w.prelu(f"residual_blocks.{i}.p_relu")
    w.conv("intermediate_block.0", channels, channels, 3, bias=False)
    w.bn("intermediate_block.1", channels)
    for j in range(2):
        w.conv(f"upsampling_blocks.{j}.conv", 4 * channels, channels, 3, bias=False)
        w.prelu(f"upsampling_blocks.{j}.p_relu")
    w.conv("output_block.0", 3, channels, 9, bias=False)
    return w.state


def study_forward(s: dict[str, Tensor], lr_img: Tensor) -> Tensor:
    """The study's `Generator.forward`: the same BatchNorm after conv1 and after conv2 of each block."""
    first = F.prelu(F.conv2d(lr_img, s["input_block.0.weight"], padding=4), s["input_block.1.weight"])
    x = first
    i = 0
    while f"residual_blocks.{i}.conv1.weight" in s:
        p = f"residual_blocks.{i}"
        y = F.prelu(_bn(F.conv2d(x, s[f"{p}.conv1.weight"], padding=1), s, f"{p}.bn"), s[f"{p}.p_relu.weight"])
        x = x + _bn(F.conv2d(y, s[f"{p}.conv2.weight"], padding=1), s, f"{p}.bn")
        i += 1
    x = first + _bn(F.conv2d(x, s["intermediate_block.0.weight"], padding=1), s, "intermediate_block.1")
    for j in range(2):
        p = f"upsampling_blocks.{j}"
        x = F.prelu(F.pixel_shuffle(F.conv2d(x, s[f"{p}.conv.weight"], padding=1), 2), s[f"{p}.p_relu.weight"])
    return F.conv2d(x, s["output_block.0.weight"], padding=4)


def _lr(*shape: int) -> Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(7))


def _assert_same_function(model: torch.nn.Module, reference, state: dict[str, Tensor], **kw) -> None:
    """At two odd sizes, the imported model equals the reference forward (float32 rounding only)."""
    for shape in ((1, 3, 13, 11), (2, 3, 7, 9)):
        lr_img = _lr(*shape)
        with torch.no_grad():
            got, want = model(lr_img), reference(state, lr_img, **kw)
        assert got.shape == (shape[0], 3, 4 * shape[2], 4 * shape[3])
        assert want.std() > 0.01  # the weights drive the output: a wrong mapping could not pass by accident
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("names", [("conv1", "conv2", "conv3"), ("conv_block1", "conv_block2", "conv_block3")],
                         ids=["SRResNet-2022-10", "Generator-2022-04"])
def test_lornatang_generator_imports_and_computes_its_forward(tmp_path: Path, names) -> None:
    state = lornatang_state(names=names)
    torch.save(state, tmp_path / "plain.pth")
    record, origin = import_generator("lornatang", tmp_path / "plain.pth", tmp_path / "g.pt", scale=4)
    assert (record.architecture.num_blocks, record.architecture.channels, record.architecture.scale) == (16, 64, 4)
    assert not record.architecture.shared_bn and record.architecture.conv_bias
    assert origin.format == "lornatang" and origin.layout.startswith("Lornatang/SRGAN-PyTorch model.py")
    model, _ = load_generator(tmp_path / "g.pt", 4, CPU)
    _assert_same_function(model, lornatang_forward, state, names=names)


def test_lornatang_training_checkpoint_wrapped_and_prefixed(tmp_path: Path) -> None:
    """A .pth.tar as train_gan.py saves it (state_dict, ema_state_dict, optimizer, a scheduler's Counter), with
    DataParallel's and torch.compile's prefixes on the weights."""
    state = lornatang_state(blocks=3, channels=16, seed=3)
    wrapped = {
        "epoch": 12, "psnr": 30.1, "ssim": 0.85,
        "state_dict": {f"module._orig_mod.{k}": v for k, v in state.items()},
        "ema_state_dict": {"n_averaged": torch.tensor(5), **{f"module.{k}": v * 0 for k, v in state.items()}},
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]},
        "scheduler": {"milestones": collections.Counter({100: 1}), "_last_lr": [1e-4]},
    }
    source = tmp_path / "SRGAN_x4-ImageNet.pth.tar"
    torch.save(wrapped, source)
    _, origin = import_generator("lornatang", source, tmp_path / "g.pt", scale=4)
    assert (origin.wrapper, origin.stripped_prefixes) == ("state_dict", ("module.", "_orig_mod."))
    assert origin.source_file == "SRGAN_x4-ImageNet.pth.tar" and len(origin.source_sha256) == 64
    model, _ = load_generator(tmp_path / "g.pt", 4, CPU)
    _assert_same_function(model, lornatang_forward, state)  # state_dict, not the (zeroed) EMA copy


def test_study_generator_maps_onto_the_shared_bn_switches(tmp_path: Path) -> None:
    state = study_state()
    torch.save(state, tmp_path / "SRResNet-generator-mse.pt")
    record, origin = import_generator("study", tmp_path / "SRResNet-generator-mse.pt", tmp_path / "g.pt", scale=4)
    assert record.architecture.shared_bn and not record.architecture.conv_bias
    assert origin.study_code == {"shared_bn": True, "generator_bias": False}
    assert set(origin.study_code) <= set(StudyCodeParams.__dataclass_fields__)  # the switches' real names
    model, _ = load_generator(tmp_path / "g.pt", 4, CPU)
    _assert_same_function(model, study_forward, state)


@pytest.mark.parametrize("shared_bn, conv_bias", [(False, True), (True, False), (False, False)])
def test_a_state_dict_of_this_architecture_imports_unchanged(tmp_path: Path, shared_bn: bool, conv_bias: bool) -> None:
    torch.manual_seed(0)
    model = SRResNet(scale=2, num_blocks=3, channels=8, shared_bn=shared_bn, conv_bias=conv_bias)
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    record, origin = import_generator("state_dict", tmp_path / "weights.pth", tmp_path / "g.pt", scale=2)
    assert (record.architecture.shared_bn, record.architecture.conv_bias) == (shared_bn, conv_bias)
    assert origin.study_code == {"shared_bn": shared_bn, "generator_bias": conv_bias}
    ckpt = load_checkpoint(tmp_path / "g.pt")
    assert ckpt["model"].keys() == model.state_dict().keys()
    assert all(torch.equal(ckpt["model"][k], v) for k, v in model.state_dict().items())
    assert read_origin(ckpt) == origin


def test_the_scale_is_read_from_the_upsampling_blocks(tmp_path: Path) -> None:
    torch.save({"state_dict": lornatang_state(blocks=2, channels=8, ups=1)}, tmp_path / "x2.pth.tar")
    with pytest.raises(SrganError, match=r"is a x2 generator \(1 upsampling blocks\), but scale 4 .* --scale 2"):
        import_generator("lornatang", tmp_path / "x2.pth.tar", tmp_path / "g.pt", scale=4)
    assert not (tmp_path / "g.pt").exists()
    record, _ = import_generator("lornatang", tmp_path / "x2.pth.tar", tmp_path / "g.pt", scale=2)
    assert record.architecture.scale == 2


def _msrresnet_state() -> dict[str, Tensor]:
    """BasicSR basicsr/archs/srresnet_arch.py MSRResNet (x4): conv_first, body.N.conv1/conv2, upconv1, upconv2,
    conv_hr, conv_last."""
    w = _Weights(0)
    w.conv("conv_first", 64, 3, 3, bias=True)
    for i in range(2):
        w.conv(f"body.{i}.conv1", 64, 64, 3, bias=True)
        w.conv(f"body.{i}.conv2", 64, 64, 3, bias=True)
    for key in ("upconv1", "upconv2"):
        w.conv(key, 256, 64, 3, bias=True)
    w.conv("conv_hr", 64, 64, 3, bias=True)
    w.conv("conv_last", 3, 64, 3, bias=True)
    return w.state


@pytest.mark.parametrize("fmt", ["lornatang", "study", "state_dict"])
def test_another_architecture_is_named_with_the_known_formats(tmp_path: Path, fmt: str) -> None:
    torch.save({"params": _msrresnet_state()}, tmp_path / "MSRResNet_x4.pth")
    with pytest.raises(SrganError) as err:
        import_generator(fmt, tmp_path / "MSRResNet_x4.pth", tmp_path / "g.pt", scale=4)
    message = str(err.value)
    assert "BasicSR's MSRResNet" in message and f"not the {fmt} format" in message
    assert all(name in message for name in ("lornatang (", "study (", "state_dict ("))
    assert "\n" not in message


def test_a_layout_of_another_format_says_which_format_reads_it(tmp_path: Path) -> None:
    torch.save(study_state(blocks=2, channels=8), tmp_path / "study.pt")
    with pytest.raises(SrganError, match=r"holds the study layout .* import it with: srgan import study"):
        import_generator("lornatang", tmp_path / "study.pt", tmp_path / "g.pt", scale=4)


def test_identify_names_unknown_keys() -> None:
    assert identify({"a.weight": torch.zeros(1), "b.bias": torch.zeros(1)}) == (
        "2 tensors in no known layout (first keys: a.weight, b.bias)")


def _edited(state: dict[str, Tensor], drop: str = "", add: str = "", reshape: str = "", nan: str = "") -> dict:
    state = dict(state)
    if drop:
        del state[drop]
    if add:
        state[add] = torch.zeros(8)
    if reshape:
        state[reshape] = torch.zeros(8, 8, 5, 5)
    if nan:
        state[nan] = state[nan].clone()
        state[nan].view(-1)[0] = float("nan")
    return state


@pytest.mark.parametrize("edit, message", [
    ({"drop": "trunk.1.rcb.4.running_var"}, r"lacks 'trunk.1.rcb.4.running_var' of the lornatang layout"),
    ({"add": "trunk.0.rcb.0.bias"}, r"has tensors the lornatang layout .* does not: 'trunk.0.rcb.0.bias'"),
    ({"reshape": "trunk.0.rcb.3.weight"}, r"'trunk.0.rcb.3.weight' has shape \(8, 8, 5, 5\), but .* \(8, 8, 3, 3\)"),
    ({"nan": "conv3.weight"}, r"'conv3.weight' holds NaN or infinite values"),
    ({"drop": "trunk.1.rcb.0.weight"}, r"lacks 'trunk.1.rcb.0.weight'"),
])
def test_a_damaged_state_dict_names_the_tensor(tmp_path: Path, edit: dict, message: str) -> None:
    torch.save(_edited(lornatang_state(blocks=2, channels=8), **edit), tmp_path / "w.pth")
    with pytest.raises(SrganError, match=message):
        import_generator("lornatang", tmp_path / "w.pth", tmp_path / "g.pt", scale=4)
    assert not (tmp_path / "g.pt").exists()


def test_batchnorm_counters_may_be_absent(tmp_path: Path) -> None:
    """Older torch wrote BatchNorm without num_batches_tracked; it changes no output."""
    state = {k: v for k, v in lornatang_state(blocks=2, channels=8).items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "w.pth")
    import_generator("lornatang", tmp_path / "w.pth", tmp_path / "g.pt", scale=4)
    model, _ = load_generator(tmp_path / "g.pt", 4, CPU)
    _assert_same_function(model, lornatang_forward, state)


def test_half_precision_weights_import_as_float32(tmp_path: Path) -> None:
    state = lornatang_state(blocks=2, channels=8)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, tmp_path / "w.pth")
    import_generator("lornatang", tmp_path / "w.pth", tmp_path / "g.pt", scale=4)
    assert load_checkpoint(tmp_path / "g.pt")["model"]["head.0.weight"].dtype == torch.float32


def test_an_srgan_checkpoint_is_not_imported_again(tmp_path: Path) -> None:
    state = lornatang_state(blocks=2, channels=8)
    torch.save(state, tmp_path / "w.pth")
    import_generator("lornatang", tmp_path / "w.pth", tmp_path / "g.pt", scale=4)
    with pytest.raises(SrganError, match="already an srgan-pipeline generator checkpoint"):
        import_generator("state_dict", tmp_path / "g.pt", tmp_path / "again.pt", scale=4)


def test_the_same_source_gives_the_same_bytes(tmp_path: Path) -> None:
    torch.save(lornatang_state(blocks=2, channels=8), tmp_path / "w.pth")
    import_generator("lornatang", tmp_path / "w.pth", tmp_path / "a.pt", scale=4)
    import_generator("lornatang", tmp_path / "w.pth", tmp_path / "b.pt", scale=4)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
