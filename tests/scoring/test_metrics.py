"""Tests for srgan.scoring.metrics: hand-computed cases, scikit-image agreement, published bicubic figures."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srgan.core.errors import SrganError
from srgan.scoring.metrics import (
    evaluate_pair,
    gray_luma,
    ms_ssim_rgb,
    psnr_rgb,
    psnr_y,
    quantize_u8,
    rgb_to_y,
    shave,
    ssim_y,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image -> (1, 3, H, W) float32 RGB in [0, 1], as data.py would load it."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def _bicubic_x4_roundtrip(arr_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mod-crop an HR array to a multiple of 4, PIL-bicubic it down and back up; (sr, hr) uint8."""
    hr = Image.fromarray(arr_u8)
    width_px, height_px = hr.size
    hr = hr.crop((0, 0, width_px - width_px % 4, height_px - height_px % 4))
    lr = hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)
    sr = lr.resize(hr.size, Image.BICUBIC)
    return np.asarray(sr), np.asarray(hr)


def _numpy_y(arr_u8: np.ndarray) -> np.ndarray:
    """Independent BT.601 Y of an (H, W, 3) uint8 array, float64 in [16, 235]."""
    rgb = arr_u8.astype(np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def _u8_to_tensor(arr_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr_u8.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()


# ---------------------------------------------------------------- hand-computed cases


def test_rgb_to_y_of_pure_colours() -> None:
    colours_u8 = torch.tensor([[255.0, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
    img_u8 = colours_u8.view(5, 3, 1, 1).double()
    y = rgb_to_y(img_u8)
    assert y.shape == (5, 1, 1, 1) and y.dtype == torch.float64
    expected = torch.tensor([235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], dtype=torch.float64)
    torch.testing.assert_close(y.flatten(), expected, rtol=0, atol=1e-12)


def test_gray_luma_gives_back_the_gray_value() -> None:
    gray_u8 = torch.arange(256, dtype=torch.float64).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    luma = gray_luma(gray_u8)
    assert luma.shape == (1, 1, 16, 16)
    torch.testing.assert_close(luma, gray_u8[:, :1], rtol=0, atol=1e-9)


def test_quantize_u8_clamps_and_rounds_ties_up() -> None:
    img = torch.tensor([-0.2, 0.0, 0.5, 1.0, 1.3, 0.2 / 255, 0.7 / 255]).view(1, 1, 1, 7).expand(1, 3, 1, 7)
    u8 = quantize_u8(img)
    assert u8.dtype == torch.float64
    assert u8[0, 0, 0].tolist() == [0.0, 0.0, 128.0, 255.0, 255.0, 0.0, 1.0]


def test_psnr_y_of_a_known_mse() -> None:
    hr_img = torch.full((1, 3, 16, 16), 100 / 255)
    sr_img = hr_img.clone()
    sr_img[..., :, :8] = 110 / 255  # left half off by 10 grey levels in every channel
    # Y moves by 10 * (65.481 + 128.553 + 24.966) / 255 = 10 * 219/255; half the pixels -> MSE = d^2 / 2.
    dy = 10 * 219 / 255
    expected_db = 10 * math.log10(255**2 / (dy**2 / 2))
    assert psnr_y(sr_img, hr_img, shave_px=0).item() == pytest.approx(expected_db, abs=1e-9)
    # Gray images are scored on the gray value itself: d = 10.
    expected_gray_db = 10 * math.log10(255**2 / (10**2 / 2))
    assert psnr_y(sr_img, hr_img, shave_px=0, gray=True).item() == pytest.approx(expected_gray_db, abs=1e-9)


def test_psnr_rgb_of_a_known_mse_is_not_rounded() -> None:
    hr_img = torch.full((2, 3, 8, 8), 0.25, dtype=torch.float64)
    sr_img = hr_img + 1e-3  # below half an 8-bit step
    torch.testing.assert_close(psnr_rgb(sr_img, hr_img), torch.full((2,), 60.0, dtype=torch.float64))
    # The paper protocol rounds to 8 bits first, so the same error vanishes there.
    assert torch.isinf(psnr_y(sr_img, hr_img, shave_px=0)).all()


def test_psnr_rgb_clamps_to_unit_range() -> None:
    hr_img = torch.ones(1, 3, 8, 8)
    assert torch.isinf(psnr_rgb(hr_img + 0.5, hr_img)).all()


def test_identical_images_give_inf_psnr_and_unit_ssim() -> None:
    arr_u8 = np.asarray(Image.fromarray(skdata.astronaut()).resize((64, 64), Image.BICUBIC))
    img = _u8_to_tensor(arr_u8).repeat(2, 1, 1, 1)
    for gray in (False, True):
        psnr = psnr_y(img, img, shave_px=4, gray=gray)
        ssim = ssim_y(img, img, shave_px=4, gray=gray)
        assert psnr.shape == ssim.shape == (2,)
        assert psnr.dtype == ssim.dtype == torch.float64
        assert torch.isinf(psnr).all() and (psnr > 0).all()
        torch.testing.assert_close(ssim, torch.ones(2, dtype=torch.float64))
    assert torch.isinf(psnr_rgb(img, img)).all()


def test_shave_removes_exactly_the_border() -> None:
    hr_img = torch.full((1, 3, 20, 20), 0.5)
    border_err = hr_img.clone()
    border_err[..., 3, 3:17] = 0.9  # row 3 is inside a 4-px border
    border_err[..., :, 0] = 0.0
    assert torch.isinf(psnr_y(border_err, hr_img, shave_px=4)).all()
    assert torch.isfinite(psnr_y(border_err, hr_img, shave_px=3)).all()
    assert ssim_y(border_err, hr_img, shave_px=4).item() == pytest.approx(1.0)
    inner_err = hr_img.clone()
    inner_err[..., 4, 4] = 0.9  # first pixel kept by a 4-px shave
    assert torch.isfinite(psnr_y(inner_err, hr_img, shave_px=4)).all()


def test_shave_shapes_and_errors() -> None:
    img = torch.rand(2, 1, 10, 12)
    assert shave(img, 0) is img
    assert shave(img, 2).shape == (2, 1, 6, 8)
    torch.testing.assert_close(shave(img, 2), img[:, :, 2:8, 2:10])
    with pytest.raises(SrganError):
        shave(img, 5)
    with pytest.raises(SrganError):
        shave(img, -1)


@pytest.mark.parametrize(
    "sr_shape, hr_shape",
    [((1, 3, 32, 32), (1, 3, 32, 28)), ((3, 32, 32), (3, 32, 32)), ((1, 1, 32, 32), (1, 1, 32, 32))],
)
def test_bad_shapes_raise_srgan_error(sr_shape: tuple[int, ...], hr_shape: tuple[int, ...]) -> None:
    sr_img, hr_img = torch.rand(sr_shape), torch.rand(hr_shape)
    for metric in (psnr_rgb, ms_ssim_rgb):
        with pytest.raises(SrganError):
            metric(sr_img, hr_img)
    for metric in (psnr_y, ssim_y):
        with pytest.raises(SrganError):
            metric(sr_img, hr_img, shave_px=0)


def test_integer_tensors_and_tiny_images_raise_srgan_error() -> None:
    with pytest.raises(SrganError):
        psnr_y(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 0)
    with pytest.raises(SrganError):
        ssim_y(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), shave_px=4)  # 8x8 left < 11x11 window


# ---------------------------------------------------------------- agreement with scikit-image


@pytest.mark.parametrize("image_name", ["astronaut", "coffee"])
def test_paper_protocol_agrees_with_skimage(image_name: str) -> None:
    sr_u8, hr_u8 = _bicubic_x4_roundtrip(getattr(skdata, image_name)())
    sr_y, hr_y = _numpy_y(sr_u8)[4:-4, 4:-4], _numpy_y(hr_u8)[4:-4, 4:-4]
    expected_psnr_db = peak_signal_noise_ratio(hr_y, sr_y, data_range=255)
    expected_ssim = structural_similarity(
        hr_y, sr_y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    sr_img, hr_img = _u8_to_tensor(sr_u8), _u8_to_tensor(hr_u8)
    assert psnr_y(sr_img, hr_img, shave_px=4).item() == pytest.approx(expected_psnr_db, abs=1e-3)
    assert ssim_y(sr_img, hr_img, shave_px=4).item() == pytest.approx(expected_ssim, abs=1e-3)
    assert 20 < expected_psnr_db < 40 and 0.5 < expected_ssim < 1  # a real degradation, not a no-op


@pytest.mark.parametrize("image_name", ["astronaut", "coffee"])
def test_study_protocol_sanity(image_name: str) -> None:
    hr_u8 = getattr(skdata, image_name)()
    sr4_u8, hr_u8 = _bicubic_x4_roundtrip(hr_u8)
    hr_pil = Image.fromarray(hr_u8)
    half = hr_pil.resize((hr_pil.width // 2, hr_pil.height // 2), Image.BICUBIC)
    sr2_u8 = np.asarray(half.resize(hr_pil.size, Image.BICUBIC))
    hr_img, sr4_img, sr2_img = _u8_to_tensor(hr_u8), _u8_to_tensor(sr4_u8), _u8_to_tensor(sr2_u8)

    expected_db = peak_signal_noise_ratio(hr_u8 / 255.0, sr4_u8 / 255.0, data_range=1.0)
    assert psnr_rgb(sr4_img, hr_img).item() == pytest.approx(expected_db, abs=1e-3)

    ms4, ms2 = ms_ssim_rgb(sr4_img, hr_img).item(), ms_ssim_rgb(sr2_img, hr_img).item()
    assert ms_ssim_rgb(hr_img, hr_img).item() == pytest.approx(1.0, abs=1e-6)
    assert 0.5 < ms4 < ms2 < 1.0  # a milder degradation scores higher
    assert psnr_rgb(sr4_img, hr_img).item() < psnr_rgb(sr2_img, hr_img).item()


def test_ms_ssim_rgb_is_nan_below_161_px() -> None:
    img = torch.rand(2, 3, 160, 400)
    result = ms_ssim_rgb(img, img)
    assert result.shape == (2,) and result.dtype == torch.float64 and torch.isnan(result).all()
    assert ms_ssim_rgb(torch.rand(1, 3, 161, 161), torch.rand(1, 3, 161, 161)).isfinite().all()


def test_batch_gives_the_per_image_values() -> None:
    sr_u8, hr_u8 = _bicubic_x4_roundtrip(skdata.astronaut()[:200, :200])
    sr_img, hr_img = _u8_to_tensor(sr_u8), _u8_to_tensor(hr_u8)
    sr_batch, hr_batch = torch.cat([sr_img, hr_img]), torch.cat([hr_img, hr_img])
    for metric in (psnr_rgb, ms_ssim_rgb, lambda a, b: psnr_y(a, b, 4), lambda a, b: ssim_y(a, b, 4)):
        batch = metric(sr_batch, hr_batch)
        assert batch.shape == (2,)
        torch.testing.assert_close(batch[0], metric(sr_img, hr_img)[0])
        assert batch[1].item() == pytest.approx(1.0) or math.isinf(batch[1].item())


def _ms_ssim_reference(sr: np.ndarray, hr: np.ndarray) -> float:
    """MS-SSIM (Wang et al. 2003) written out in numpy: (H, W, 3) float64 in [0, 1], sides divisible by 16.

    Per channel and scale: 11-tap Gaussian (sigma 1.5) over the valid positions, K = (0.01, 0.03),
    data range 1; contrast-structure at the first four scales and SSIM at the fifth, weighted by
    (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); 2x2 mean-pooling between scales; mean over channels.
    """
    from scipy.ndimage import correlate1d

    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    taps /= taps.sum()

    def blur(img: np.ndarray) -> np.ndarray:
        out = correlate1d(correlate1d(img, taps, axis=0), taps, axis=1)
        return out[5:-5, 5:-5]  # valid positions only

    c1, c2 = 0.01**2, 0.03**2
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    per_channel = []
    for x, y in zip(np.moveaxis(sr, 2, 0), np.moveaxis(hr, 2, 0)):
        value = 1.0
        for level, weight in enumerate(weights):
            mu_x, mu_y = blur(x), blur(y)
            var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
            cov = blur(x * y) - mu_x * mu_y
            cs = (2 * cov + c2) / (var_x + var_y + c2)
            if level < len(weights) - 1:
                value *= max(cs.mean(), 0.0) ** weight
                x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
                y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
            else:
                ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
                value *= max(ssim_map.mean(), 0.0) ** weight
        per_channel.append(value)
    return float(np.mean(per_channel))


def test_evaluate_pair_agrees_with_independent_references() -> None:
    """All four scores of one image against scikit-image (PSNR, SSIM on a numpy Y) and a numpy MS-SSIM."""
    sr_u8, hr_u8 = _bicubic_x4_roundtrip(skdata.coffee()[:384, :512])
    sr_img, hr_img = _u8_to_tensor(sr_u8), _u8_to_tensor(hr_u8)
    scores = evaluate_pair(sr_img, hr_img, scale=4, gray=False)
    assert set(scores) == {"psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb"}
    assert all(isinstance(v, float) for v in scores.values())
    sr_y, hr_y = _numpy_y(sr_u8)[4:-4, 4:-4], _numpy_y(hr_u8)[4:-4, 4:-4]
    assert scores["psnr_y_db"] == pytest.approx(peak_signal_noise_ratio(hr_y, sr_y, data_range=255), abs=1e-6)
    assert scores["ssim_y"] == pytest.approx(
        structural_similarity(hr_y, sr_y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                              data_range=255), abs=1e-4)
    sr_rgb, hr_rgb = sr_u8 / 255.0, hr_u8 / 255.0
    assert scores["psnr_rgb_db"] == pytest.approx(peak_signal_noise_ratio(hr_rgb, sr_rgb, data_range=1.0), abs=1e-6)
    assert scores["ms_ssim_rgb"] == pytest.approx(_ms_ssim_reference(sr_rgb, hr_rgb), abs=1e-5)
    assert 20 < scores["psnr_y_db"] < 40 and 0.8 < scores["ms_ssim_rgb"] < 1  # a real degradation
    with pytest.raises(SrganError):
        evaluate_pair(sr_img.repeat(2, 1, 1, 1), hr_img.repeat(2, 1, 1, 1), scale=4, gray=False)


def test_evaluate_pair_of_a_gray_image_scores_its_gray_values() -> None:
    """Grayscale files (Set14 bridge) are scored on the gray value 0..255, not on Y in [16, 235]."""
    sr_u8, hr_u8 = _bicubic_x4_roundtrip(np.repeat(skdata.camera()[:200, :200, None], 3, axis=2))
    scores = evaluate_pair(_u8_to_tensor(sr_u8), _u8_to_tensor(hr_u8), scale=4, gray=True)
    sr_gray, hr_gray = sr_u8[4:-4, 4:-4, 0].astype(np.float64), hr_u8[4:-4, 4:-4, 0].astype(np.float64)
    assert scores["psnr_y_db"] == pytest.approx(peak_signal_noise_ratio(hr_gray, sr_gray, data_range=255), abs=1e-6)
    assert scores["ssim_y"] == pytest.approx(
        structural_similarity(hr_gray, sr_gray, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                              data_range=255), abs=1e-4)


# ---------------------------------------------------------------- published bicubic figures


def _bicubic_benchmark_scores(set_name: str) -> dict[str, float]:
    """Mean paper-protocol scores of PIL-bicubic x4 upsampling of a benchmark's LRbicx4 files.

    Only PSNR-Y and SSIM-Y, the published figures' protocol: MS-SSIM in float64 would take most
    of the time (its value is checked against a numpy reference above)."""
    set_dir = SHARED_DATA / set_name
    if not (set_dir / "HR").is_dir() or not (set_dir / "LRbicx4").is_dir():
        pytest.skip(f"benchmark data not found at {set_dir}")
    rows = []
    for hr_path in sorted((set_dir / "HR").glob("*.png")):
        with Image.open(hr_path) as hr_file, Image.open(set_dir / "LRbicx4" / hr_path.name) as lr_file:
            gray = hr_file.mode == "L"  # Set14 bridge: scored as it is, not as Y
            hr = hr_file.crop((0, 0, hr_file.width - hr_file.width % 4, hr_file.height - hr_file.height % 4))
            sr = lr_file.resize(hr.size, Image.BICUBIC)
            sr_img, hr_img = _to_tensor(sr), _to_tensor(hr)
            rows.append({"psnr_y_db": psnr_y(sr_img, hr_img, shave_px=4, gray=gray).item(),
                         "ssim_y": ssim_y(sr_img, hr_img, shave_px=4, gray=gray).item()})
    assert rows, f"no PNG files in {set_dir / 'HR'}"
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def test_set5_bicubic_matches_published_figures() -> None:
    scores = _bicubic_benchmark_scores("Set5")
    assert scores["psnr_y_db"] == pytest.approx(28.42, abs=0.02)
    assert scores["ssim_y"] == pytest.approx(0.810, abs=0.002)


def test_set14_bicubic_matches_published_figures() -> None:
    scores = _bicubic_benchmark_scores("Set14")
    assert scores["psnr_y_db"] == pytest.approx(26.00, abs=0.1)
    assert scores["ssim_y"] == pytest.approx(0.702, abs=0.002)


# ---------------------------------------------------------------- whole messages, thresholds, dtypes, devices
# Equivalent mutants (no observable change), one line each:
# rgb_to_y / gray_luma `img[:, 2:4]`: on the (N, 3, H, W) input they take, 2:4 and 2:3 are the same slice.
# shave, ssim_y (its check and its message), ms_ssim_rgb `shape[+2:]`: on 4-D tensors shape[2:] is shape[-2:].
# ssim_y size_average=None, ms_ssim_rgb size_average=None: pytorch_msssim only tests its truth (None is False).
# ssim_y without data_range / win_size / win_sigma / K: pytorch_msssim's defaults are 255, 11, 1.5, (0.01, 0.03).


def test_check_pair_messages_name_the_argument() -> None:
    good = torch.rand(1, 3, 16, 16)
    cases = [
        ((np.zeros((1, 3, 16, 16)), good), "sr_img must be a torch.Tensor, got ndarray."),
        ((good, [0.5]), "hr_img must be a torch.Tensor, got list."),
        ((torch.rand(3, 16, 16), good), "sr_img must have shape (N, 3, H, W), got (3, 16, 16)."),
        ((good, torch.rand(1, 1, 16, 16)), "hr_img must have shape (N, 3, H, W), got (1, 1, 16, 16)."),
        ((good.to(torch.uint8), good), "sr_img must be a float tensor in [0, 1], got dtype torch.uint8."),
        ((good, good.to(torch.int32)), "hr_img must be a float tensor in [0, 1], got dtype torch.int32."),
        ((good, torch.rand(1, 3, 16, 20)),
         "sr_img (1, 3, 16, 16) and hr_img (1, 3, 16, 20) must have the same shape; mod-crop the HR image to a "
         "multiple of the scale."),
    ]
    for args, message in cases:
        with pytest.raises(SrganError) as info:
            psnr_rgb(*args)
        assert str(info.value) == message


def test_quantize_u8_message_names_img() -> None:
    with pytest.raises(SrganError) as info:
        quantize_u8(torch.rand(2, 4, 3, 3))
    assert str(info.value) == "img must have shape (N, 3, H, W), got (2, 4, 3, 3)."
    with pytest.raises(SrganError) as info:
        quantize_u8("img.png")
    assert str(info.value) == "img must be a torch.Tensor, got str."


def test_lumas_are_float64_for_float32_input() -> None:
    img_u8 = torch.tensor([255.0, 128.0, 3.0]).view(1, 3, 1, 1)  # float32
    y, luma = rgb_to_y(img_u8), gray_luma(img_u8)
    assert y.dtype == torch.float64 and luma.dtype == torch.float64
    assert y.item() == 16 + (65.481 * 255 + 128.553 * 128 + 24.966 * 3) / 255
    assert luma.item() == 0.299 * 255 + 0.587 * 128 + 0.114 * 3


def test_shave_at_its_limit_and_whole_messages() -> None:
    img = torch.arange(9 * 10, dtype=torch.float64).view(1, 1, 9, 10)
    # 9 px high and 4 px per border leave exactly one row: allowed.
    torch.testing.assert_close(shave(img, 4), img[..., 4:5, 4:6])
    with pytest.raises(SrganError) as info:
        shave(torch.zeros(1, 1, 8, 10), 4)
    assert str(info.value) == ("An image of 8x10 px has nothing left after shaving 4 px per border; use a larger "
                               "image or a smaller shave.")
    with pytest.raises(SrganError) as info:
        shave(img, -2)
    assert str(info.value) == "shave_px must be >= 0, got -2."


def test_ssim_y_window_threshold_and_message() -> None:
    gen = torch.Generator().manual_seed(5)
    hr = torch.rand(1, 3, 19, 20, generator=gen)
    sr = (hr + 0.1 * torch.rand(1, 3, 19, 20, generator=gen)).clamp(0, 1)
    # 19 px minus 2 x 4 px leaves exactly the 11 px window: one valid row of positions.
    value = ssim_y(sr, hr, shave_px=4)
    sr_y = rgb_to_y(quantize_u8(sr))[0, 0, 4:-4, 4:-4].numpy()
    hr_y = rgb_to_y(quantize_u8(hr))[0, 0, 4:-4, 4:-4].numpy()
    expected = structural_similarity(hr_y, sr_y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    assert value.item() == pytest.approx(expected, abs=1e-4) and value.item() < 0.999
    with pytest.raises(SrganError) as info:
        ssim_y(torch.rand(1, 3, 18, 22), torch.rand(1, 3, 18, 22), shave_px=4)
    assert str(info.value) == "SSIM needs at least 11x11 px after shaving, got (10, 14); use larger images."


def test_psnr_rgb_clamps_both_images_at_both_ends_unless_told_not_to() -> None:
    sr = torch.tensor([-0.5, 0.25, 1.5, 0.5], dtype=torch.float64).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    hr = torch.tensor([0.1, -0.25, 0.75, 1.25], dtype=torch.float64).view(1, 1, 2, 2).expand(1, 3, 2, 2)

    def psnr(a: list[float], b: list[float]) -> float:
        return 10 * math.log10(1 / np.mean((np.array(a) - np.array(b)) ** 2))

    clamped = psnr([0.0, 0.25, 1.0, 0.5], [0.1, 0.0, 0.75, 1.0])
    raw = psnr([-0.5, 0.25, 1.5, 0.5], [0.1, -0.25, 0.75, 1.25])
    assert psnr_rgb(sr, hr).item() == pytest.approx(clamped, abs=1e-12)
    assert psnr_rgb(sr, hr, clamp=False).item() == pytest.approx(raw, abs=1e-12)
    # hr alone outside [0, 1]
    assert psnr_rgb(hr.clamp(0, 1), hr).item() == math.inf
    result = psnr_rgb(sr.float(), hr.float())
    assert result.dtype == torch.float64


def test_ms_ssim_rgb_clamps_by_default() -> None:
    gen = torch.Generator().manual_seed(2)
    hr = torch.rand(1, 3, 161, 170, generator=gen)
    sr = hr + 0.4 * (torch.rand(1, 3, 161, 170, generator=gen) - 0.5)  # partly outside [0, 1]
    default = ms_ssim_rgb(sr, hr)
    torch.testing.assert_close(default, ms_ssim_rgb(sr.clamp(0, 1), hr), rtol=0, atol=1e-7)
    assert abs(default.item() - ms_ssim_rgb(sr, hr, clamp=False).item()) > 1e-4


def test_ms_ssim_rgb_nan_is_on_the_inputs_device() -> None:
    img = torch.rand(1, 3, 32, 32)
    with torch.device("meta"):  # a default device other than the inputs'
        result = ms_ssim_rgb(img, img)
    assert result.device == img.device and result.dtype == torch.float64 and torch.isnan(result).all()


def test_evaluate_pair_batch_message() -> None:
    img = torch.rand(2, 3, 20, 20)
    with pytest.raises(SrganError) as info:
        evaluate_pair(img, img, scale=4, gray=False)
    assert str(info.value) == "evaluate_pair scores one image, got a batch of 2."
