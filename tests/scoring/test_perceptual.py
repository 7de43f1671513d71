"""LPIPS-Alex: weights from torchvision's cache, never random, never a hanging download."""

import copy
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


def _write_wrong_weight_file() -> Path:
    """A file in AlexNet's cache place that holds no AlexNet (one unrelated key); returns its path."""
    target = alexnet_weight_file()
    target.parent.mkdir(parents=True)
    torch.save({"features.0.weight": torch.zeros(1)}, target)
    return target


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
    target = _write_wrong_weight_file()
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


# --- whole messages, thresholds, dtypes, devices, and how the weights are read ------------------------------
# Equivalent mutants (no observable change), one line each:
# __init__ pretrained=None: torchmetrics only tests its truth; net="alex", use_dropout=True, eval_mode=True are
#   its defaults; eval_mode None/False: LpipsAlex.eval() (and _NoTrainLpips.train) put every module in eval anyway.
# __init__ strict=None/False/default: _full_state yields exactly the module's keys (a missing source raises
#   KeyError first; a wrong shape fails in any mode), so the strict key check can never fire. strict=True default.
# train(mode=False default): train() ignores mode.
# forward `shape[+2:]` (the check) and `shape[+2]` (the message): on the 4-D inputs check_pair admits, they are
#   shape[-2:] and shape[-2].
# forward normalize=None / default: torchmetrics' default is False and it only tests its truth.
# (The device mutants of forward, inputs not moved to the metric or the result not moved back, are killed on the
#   CPU by test_lpips_moves_inputs_to_the_metric_and_the_result_back, with fake CUDA tensors.)


@pytest.fixture(scope="module")
def features_state() -> dict[str, torch.Tensor]:
    """A seeded random AlexNet's `features.*` weights, all LPIPS reads (the 58M-weight classifier is left out)."""
    torch.manual_seed(0)
    return {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items() if k.startswith("features.")}


@pytest.fixture(scope="module")
def metric(features_state: dict[str, torch.Tensor]) -> LpipsAlex:
    return LpipsAlex(features_state, _heads())


@pytest.fixture
def features_file(torch_home: Path, features_state: dict[str, torch.Tensor]) -> Path:
    """The features-only weights where torchvision's cache expects the ImageNet file (a small file)."""
    target = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    target.parent.mkdir(parents=True)
    torch.save(features_state, target)
    return target


def _heads() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(4)
    return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen)
            for k, c in enumerate((64, 192, 384, 256, 256))}


def test_lpips_alex_reads_no_file_when_built(monkeypatch: pytest.MonkeyPatch,
                                             features_state: dict[str, torch.Tensor]) -> None:
    backbone = features_state

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"torch.load{args} called")

    monkeypatch.setattr(torch, "load", no_load)  # torchmetrics' pretrained=True would read its wheel's heads
    heads = _heads()
    built = LpipsAlex(backbone, heads)
    assert torch.equal(built.net.lin2.model[1].weight, heads["lin2.model.1.weight"])


def test_lpips_alex_key_errors_name_the_missing_key(features_state: dict[str, torch.Tensor]) -> None:
    backbone = features_state
    with pytest.raises(KeyError) as info:
        LpipsAlex({k: v for k, v in backbone.items() if k != "features.3.bias"}, _heads())
    assert info.value.args == ("AlexNet state dict has no 'features.3.bias'",)
    heads = _heads()
    del heads["lin3.model.1.weight"]
    with pytest.raises(KeyError) as info:
        LpipsAlex(backbone, heads)
    assert info.value.args == ("LPIPS head state dict has no 'lin3.model.1.weight'",)


def test_lpips_default_shave_is_zero(metric: LpipsAlex) -> None:
    hr_img = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    ringed = hr_img.clone()
    ringed[..., 0, :] = 1.0 - ringed[..., 0, :]
    ringed[..., :, 0] = 1.0 - ringed[..., :, 0]  # only the outermost pixels differ
    assert metric(ringed, hr_img).item() > 1e-4
    assert metric(ringed, hr_img).item() == metric(ringed, hr_img, shave_px=0).item()
    assert metric(ringed, hr_img, shave_px=1).item() == pytest.approx(0.0, abs=1e-6)


def test_lpips_minimum_side_exactly(metric: LpipsAlex) -> None:
    gen = torch.Generator().manual_seed(3)
    hr_img, sr_img = torch.rand(2, 1, 3, 39, 47, generator=gen)
    # 39 - 2 x 4 = 31 px: exactly the minimum, scored.
    assert metric(sr_img, hr_img, shave_px=4).item() > 1e-4
    assert metric(sr_img[..., :31, :], hr_img[..., :31, :]).item() > 1e-4
    with pytest.raises(SrganError) as info:
        metric(sr_img[..., :38, :], hr_img[..., :38, :], shave_px=4)
    assert str(info.value) == ("LPIPS-Alex needs at least 31 px per side, got 30x39 after shaving 4 px; use larger "
                               "images or a smaller shave.")
    with pytest.raises(SrganError) as info:
        metric(sr_img[..., :30], hr_img[..., :30])
    assert str(info.value) == ("LPIPS-Alex needs at least 31 px per side, got 39x30 after shaving 0 px; use larger "
                               "images or a smaller shave.")


def test_lpips_any_float_dtype_and_clamps_hr_too(metric: LpipsAlex) -> None:
    gen = torch.Generator().manual_seed(6)
    hr_img = torch.rand(2, 3, 40, 40, generator=gen)
    sr_img = torch.rand(2, 3, 40, 40, generator=gen)
    expected = metric(sr_img, hr_img)
    got = metric(sr_img.double(), hr_img.double())
    assert got.dtype == torch.float64 and got.device == CPU and not got.requires_grad and got.grad_fn is None
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # HR outside [0, 1] (both ends) is clamped like SR.
    wide_hr = hr_img * 3.0 - 1.0
    torch.testing.assert_close(metric(sr_img, wide_hr), metric(sr_img, wide_hr.clamp(0, 1)), rtol=0, atol=0)
    assert (metric(sr_img, wide_hr) - metric(sr_img, hr_img)).abs().min() > 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device besides the CPU")
def test_lpips_across_devices(metric: LpipsAlex) -> None:
    gen = torch.Generator().manual_seed(6)
    hr_img, sr_img = torch.rand(2, 2, 3, 40, 40, generator=gen)
    expected = metric(sr_img, hr_img)
    cuda = torch.device("cuda")
    got = metric(sr_img.to(cuda), hr_img.to(cuda))  # inputs on CUDA, metric on the CPU: result on the inputs'
    assert got.device.type == "cuda" and got.dtype == torch.float64
    torch.testing.assert_close(got.cpu(), expected, rtol=0, atol=1e-6)
    on_cuda = copy.deepcopy(metric).to(cuda)  # the fixture is shared: leave it on the CPU
    back = on_cuda(sr_img, hr_img)  # inputs on the CPU, metric on CUDA
    assert back.device == CPU and back.dtype == torch.float64
    torch.testing.assert_close(back, expected, rtol=0, atol=1e-4)


def test_lpips_moves_inputs_to_the_metric_and_the_result_back(metric: LpipsAlex) -> None:
    """Inputs go to the metric's device and the distance comes back to theirs, checked without a GPU: torch's
    FakeTensorMode makes tensors that claim device cuda (shapes, dtypes and devices only, no values), and a
    convolution with inputs and weights on different devices fails there as it does on a real GPU."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    cuda = torch.device("cuda")
    with FakeTensorMode(allow_non_fake_inputs=True):
        hr_img, sr_img = torch.rand(2, 2, 3, 40, 40, device=cuda)  # fake CUDA inputs, metric on the CPU
        got = metric(sr_img, hr_img)
        assert (got.device.type, got.dtype, tuple(got.shape)) == ("cuda", torch.float64, (2,))
        # Fake CUDA weights and buffers (functional_call swaps them in for the call), inputs on the CPU.
        on_cuda = {name: t.to(cuda) for name, t in [*metric.named_parameters(), *metric.named_buffers()]}
        back = torch.func.functional_call(metric, on_cuda, (torch.rand(2, 3, 40, 40), torch.rand(2, 3, 40, 40)))
        assert (back.device, back.dtype, tuple(back.shape)) == (CPU, torch.float64, (2,))


def test_load_lpips_alex_puts_the_metric_on_the_device(features_file: Path) -> None:
    meta = torch.device("meta")
    built, reason = load_lpips_alex(meta, required=True)
    assert reason == "ok" and built is not None
    assert {p.device for p in built.parameters()} == {meta}


def test_load_lpips_alex_reads_weights_only_onto_the_cpu(features_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = torch.load
    calls: list[tuple[str, dict[str, object]]] = []

    def spy(f: object, *args: object, **kwargs: object) -> object:
        calls.append((Path(str(f)).name, {**dict(zip(("map_location",), args)), **kwargs}))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    built, reason = load_lpips_alex(CPU, required=False)
    assert reason == "ok" and built is not None
    assert [(name, kwargs.get("map_location"), kwargs.get("weights_only")) for name, kwargs in calls] == [
        ("alexnet-owt-7be5be79.pth", "cpu", True), ("alex.pth", "cpu", True)]


def test_download_is_quiet_and_hash_checked(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def offline(*args: object, **kwargs: object) -> None:
        calls.append((args, kwargs))
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert load_lpips_alex(CPU, required=False)[0] is None
    (args, kwargs), = calls
    # download_url_to_file(url, dst, hash_prefix, progress): torchvision's file name carries the sha256 prefix.
    named = dict(zip(("url", "dst", "hash_prefix", "progress"), args)) | kwargs
    assert named["url"] == "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
    assert named["hash_prefix"] == "7be5be79"
    assert named["progress"] is False


def test_missing_weights_whole_messages(torch_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = alexnet_weight_file()
    url = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
    with caplog.at_level("WARNING", logger="srgan.scoring.lpips"):
        metric, reason = load_lpips_alex(CPU, required=False)
    assert metric is None
    assert [r.getMessage() for r in caplog.records] == [
        f"LPIPS-Alex is NOT computed: {reason} (URLError: <urlopen error offline (test)>). Put {url} at {target} "
        "to get it."]
    with pytest.raises(SrganError) as info:
        load_lpips_alex(CPU, required=True)
    assert str(info.value) == (
        f"LPIPS-Alex needs torchvision's AlexNet ImageNet weights, which are not in {target} (URLError: <urlopen "
        f"error offline (test)>); download {url} and put it in the cache folder {target.parent} (set TORCH_HOME to "
        "move the cache: the folder is $TORCH_HOME/hub/checkpoints).")


def test_wrong_weight_file_whole_messages(torch_home: Path) -> None:
    target = _write_wrong_weight_file()
    metric, reason = load_lpips_alex(CPU, required=False)
    assert metric is None
    assert reason == ("unavailable: AlexNet ImageNet weights alexnet-owt-7be5be79.pth in torch's cache are "
                      "unreadable or not AlexNet (KeyError)")
    with pytest.raises(SrganError) as info:
        load_lpips_alex(CPU, required=True)
    assert str(info.value) == (
        f"LPIPS-Alex needs torchvision's AlexNet ImageNet weights, which are unreadable or not AlexNet at {target} "
        "(KeyError: \"AlexNet state dict has no 'features.0.bias'\"); download "
        f"https://download.pytorch.org/models/alexnet-owt-7be5be79.pth and put it in the cache folder {target.parent} "
        "(set TORCH_HOME to move the cache: the folder is $TORCH_HOME/hub/checkpoints).")
    target.write_bytes(b"not a\nzip or pickle\n")  # a multi-line error: only its first line is quoted
    with pytest.raises(SrganError) as info:
        load_lpips_alex(CPU, required=True)
    assert "\n" not in str(info.value)
