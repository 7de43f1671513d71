"""srgan.inference.generator: a generator checkpoint saved with its record and loaded back, and the one line a
checkpoint whose weights do not match its record gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srgan.core.artifacts import load_checkpoint, save_checkpoint
from srgan.core.errors import SrganError
from srgan.core.records import GeneratorArchitecture, GeneratorRecord
from srgan.core.runtime import Runtime
from srgan.inference.generator import load_generator, save_generator
from srgan.nets.srresnet import SRResNet

CPU = Runtime(torch.device("cpu"), None, False)
ARCH = GeneratorArchitecture(scale=2, num_blocks=1, channels=4, shared_bn=False, conv_bias=True)


def _model() -> SRResNet:
    torch.manual_seed(0)
    return SRResNet(scale=2, num_blocks=1, channels=4)


def test_save_generator_records_empty_provenance_by_default(tmp_path: Path) -> None:
    save_generator(tmp_path / "g.pt", _model())
    model, record = load_generator(tmp_path / "g.pt", 2, CPU)
    assert record == GeneratorRecord(ARCH, "", "", {}, {}, 0, None, None)
    assert not model.training
    for key, value in _model().state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)


def test_save_generator_records_what_it_is_given(tmp_path: Path) -> None:
    save_generator(tmp_path / "g.pt", _model(), experiment="srgan", variant="hybrid", loss_terms={"mse": 0.6},
                   feature_weights={"vgg19_5_4": "imagenet"}, step=12, valid_psnr_y_db=25.5, valid_ssim_y=0.75)
    assert load_generator(tmp_path / "g.pt", 2, CPU)[1] == GeneratorRecord(
        ARCH, "srgan", "hybrid", {"mse": 0.6}, {"vgg19_5_4": "imagenet"}, 12, 25.5, 0.75)


def test_weights_that_do_not_match_the_record_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "g.pt"
    save_generator(path, _model())
    ckpt = load_checkpoint(path)
    ckpt["model"].pop(next(iter(ckpt["model"])))
    save_checkpoint(path, ckpt)
    with pytest.raises(SrganError) as error:
        load_generator(path, 2, CPU)
    assert str(error.value) == (f"checkpoint {path}: its weights do not match its recorded architecture "
                                "(Error(s) in loading state_dict for SRResNet:)")


class _Overshoot(torch.nn.Module):
    """Nearest x2, then 3x - 1: values below 0 and above 1, as a generator's raw output can be."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3 * x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) - 1


def test_super_resolve_clamps_to_0_1_unless_asked_not_to() -> None:
    from srgan.inference.generator import super_resolve

    lr = torch.tensor([0.0, 0.2, 0.5, 0.9]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    raw = 3 * lr.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) - 1
    clamped = super_resolve(_Overshoot(), lr, CPU)
    torch.testing.assert_close(clamped, raw.clamp(0, 1), rtol=0, atol=0)
    assert clamped.max().item() == 1.0 and clamped.min().item() == 0.0
    torch.testing.assert_close(super_resolve(_Overshoot(), lr, CPU, clamp=False), raw, rtol=0, atol=0)
