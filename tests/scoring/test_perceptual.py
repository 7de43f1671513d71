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


def test_lpips_equals_the_reference_implementation_with_the_same_weights(tmp_path: Path) -> None:
    """Against `lpips` 0.1.4 (Zhang et al.'s own package, the `test` extra), both given the same seeded random
    AlexNet and random non-negative linear heads from files written here (nothing downloaded, nothing from
    either wheel): two 48x48 pairs, plain, shaved 4 px, and with SR outside [0, 1] (clamped first), within
    1e-5. The reference takes [-1, 1] inputs (normalize=False)."""
    import lpips  # the reference: imported here so that the other tests of this module do not need it

    torch.manual_seed(3)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), tmp_path / "alexnet.pth")
    channels = (64, 192, 384, 256, 256)
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(channels)},
               tmp_path / "heads.pth")
    backbone = torch.load(tmp_path / "alexnet.pth", weights_only=True)
    heads = torch.load(tmp_path / "heads.pth", weights_only=True)
    ours = LpipsAlex(backbone, heads)
    with pytest.warns(UserWarning):  # lpips builds its AlexNet with torchvision's deprecated `pretrained`
        reference = lpips.LPIPS(pretrained=False, net="alex", pnet_rand=True, verbose=False).eval()
    # Its keys: net.slice<j>.<i>.<param> (AlexNet's features[i]), lin<k> and lins.<k> (one module registered
    # twice) and its ScalingLayer's constant buffers, which it keeps.
    state = reference.state_dict()
    loaded = {key: backbone[f"features.{key.split('.')[2]}.{key.split('.')[3]}"] for key in state
              if key.startswith("net.")}
    loaded.update({f"{name}.model.1.weight": heads[f"lin{k}.model.1.weight"] for k in range(5)
                   for name in (f"lin{k}", f"lins.{k}")})
    assert set(state) - set(loaded) == {"scaling_layer.shift", "scaling_layer.scale"}
    reference.load_state_dict({**state, **loaded}, strict=True)

    gen = torch.Generator().manual_seed(1)
    hr_img = torch.rand(2, 3, 48, 48, generator=gen)
    sr_img = hr_img + 0.15 * torch.randn(2, 3, 48, 48, generator=gen)  # partly outside [0, 1]
    for shave_px in (0, 4):
        crop = slice(shave_px, 48 - shave_px)
        sr_ref, hr_ref = (x[..., crop, crop].clamp(0, 1) * 2 - 1 for x in (sr_img, hr_img))
        with torch.no_grad():
            expected = reference(sr_ref, hr_ref, normalize=False).reshape(2).double()
        got = ours(sr_img, hr_img, shave_px=shave_px)
        assert float(expected.min()) > 1e-3  # a real distance, not two zeros
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
