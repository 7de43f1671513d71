"""LPIPS-Alex: weights from torchvision's cache, never random, never a hanging download."""

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from srgan.core.errors import SrganError
from srgan.scoring.lpips import LpipsAlex, alexnet_weight_file, load_lpips_alex

CPU = torch.device("cpu")


@pytest.fixture
def download_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs torch.hub was asked to download; each attempt raises URLError at once (no network)."""
    attempts: list[str] = []

    def offline(url: str, *args: object, **kwargs: object) -> None:
        attempts.append(url)
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return attempts


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, download_attempts: list[str]) -> Path:
    """An empty TORCH_HOME (restored afterwards) with downloads failing fast."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # so get_dir() follows TORCH_HOME, not an earlier set_dir
    return tmp_path


@pytest.fixture
def alexnet_state(torch_home: Path) -> dict[str, torch.Tensor]:
    """Random AlexNet weights written where torchvision's cache expects the ImageNet file."""
    torch.manual_seed(0)
    state = torchvision.models.alexnet(weights=None).state_dict()
    target = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    return state


def test_weight_file_follows_torch_home(torch_home: Path) -> None:
    assert alexnet_weight_file() == torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"


def test_lpips_uses_cached_weights(alexnet_state: dict[str, torch.Tensor], download_attempts: list[str]) -> None:
    metric, reason = load_lpips_alex(CPU, required=True)
    assert reason == "ok"
    assert isinstance(metric, LpipsAlex)
    assert download_attempts == []
    backbone = metric.backbone_state_dict()
    assert set(backbone) == {k for k in alexnet_state if k.startswith("features.")}
    for key, value in backbone.items():
        assert torch.equal(value, alexnet_state[key]), key
    assert not metric.training
    assert not any(p.requires_grad for p in metric.parameters())
    metric.train()
    assert not metric.training


def test_lpips_values(alexnet_state: dict[str, torch.Tensor]) -> None:
    metric, _ = load_lpips_alex(CPU, required=True)
    gen = torch.Generator().manual_seed(1)
    hr_img = torch.rand(2, 3, 48, 48, generator=gen)
    sr_img = (hr_img + 0.2 * torch.randn(2, 3, 48, 48, generator=gen)).clamp(0, 1)
    sr_img.requires_grad_(True)

    same = metric(hr_img, hr_img)
    assert same.shape == (2,) and same.dtype == torch.float64
    assert torch.allclose(same, torch.zeros(2, dtype=torch.float64), atol=1e-6)

    different = metric(sr_img, hr_img)
    assert different.shape == (2,) and different.dtype == torch.float64
    assert (different > 1e-4).all()
    assert different.grad_fn is None and not different.requires_grad

    # Shaving changes what is compared: differences only in the border vanish.
    bordered = hr_img.clone()
    bordered[..., :4, :] = 1.0 - bordered[..., :4, :]
    assert (metric(bordered, hr_img) > 1e-4).all()
    assert torch.allclose(metric(bordered, hr_img, shave_px=4), torch.zeros(2, dtype=torch.float64), atol=1e-6)


def test_lpips_input_errors(alexnet_state: dict[str, torch.Tensor]) -> None:
    metric, _ = load_lpips_alex(CPU, required=True)
    with pytest.raises(SrganError, match="same shape"):
        metric(torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 48))
    with pytest.raises(SrganError, match="at least 31 px"):
        metric(torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40), shave_px=8)
    with pytest.raises(SrganError, match="float"):
        metric(torch.zeros(1, 3, 40, 40, dtype=torch.uint8), torch.zeros(1, 3, 40, 40, dtype=torch.uint8))


def test_missing_weights_give_no_metric(torch_home: Path, download_attempts: list[str]) -> None:
    target = alexnet_weight_file()
    metric, reason = load_lpips_alex(CPU, required=False)
    assert metric is None
    assert reason == "unavailable: AlexNet ImageNet weights alexnet-owt-7be5be79.pth not in torch's cache (offline?)"
    assert str(target.parent) not in reason  # it goes into metrics files: nothing of the host
    assert download_attempts == [torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url]


def test_missing_weights_required_raises(torch_home: Path) -> None:
    target = alexnet_weight_file()
    with pytest.raises(SrganError) as info:
        load_lpips_alex(CPU, required=True)
    message = str(info.value)
    assert str(target) in message
    assert str(target.parent) in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    assert "TORCH_HOME" in message


def test_wrong_weight_file_gives_no_metric(torch_home: Path) -> None:
    target = alexnet_weight_file()
    target.parent.mkdir(parents=True)
    torch.save({"features.0.weight": torch.zeros(1)}, target)
    metric, reason = load_lpips_alex(CPU, required=False)
    assert metric is None
    assert reason.startswith(f"unavailable: AlexNet ImageNet weights {target.name} in torch's cache are unreadable or "
                             "not AlexNet") and str(target.parent) not in reason
    with pytest.raises(SrganError, match="not AlexNet"):
        load_lpips_alex(CPU, required=True)


def test_alexnet_url_is_torchvisions() -> None:
    from srgan.scoring.lpips import ALEXNET_URL

    assert ALEXNET_URL == torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
