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
from torch import Tensor

from srgan.core.artifacts import load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.core.study_code import StudyCodeParams
from srgan.inference.generator import load_generator
from srgan.inference.importing import identify, import_generator, read_origin
from srgan.nets.srresnet import SRResNet

from published_layouts import lornatang_forward, lornatang_state, msrresnet_state, study_forward, study_state

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


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


@pytest.mark.parametrize("fmt", ["lornatang", "study", "state_dict"])
def test_another_architecture_is_named_with_the_known_formats(tmp_path: Path, fmt: str) -> None:
    torch.save({"params": msrresnet_state()}, tmp_path / "MSRResNet_x4.pth")
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
