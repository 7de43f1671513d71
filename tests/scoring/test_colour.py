"""Colour fidelity: CIELAB chroma ratio and CIEDE2000 against HR."""

import math

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from srgan.core.errors import SrganError
from srgan.scoring import colour
from srgan.scoring.colour import chroma_ratio, colour_fidelity, delta_e00


def _colourful(height_px: int = 32, width_px: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height_px, width_px, 3), dtype=np.uint8)


def _desaturate(img_u8: np.ndarray, amount: float) -> np.ndarray:
    """Blend each pixel toward its own gray (BT.601 luma) by `amount` in [0, 1]."""
    img = img_u8.astype(np.float64)
    gray = (0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2])[..., None]
    return np.clip(np.rint((1 - amount) * img + amount * gray), 0, 255).astype(np.uint8)


def test_identical_images() -> None:
    hr_u8 = _colourful()
    assert chroma_ratio(hr_u8, hr_u8) == 1.0
    assert delta_e00(hr_u8, hr_u8) == 0.0


def test_desaturated_copy() -> None:
    hr_u8 = _colourful()
    half = chroma_ratio(_desaturate(hr_u8, 0.5), hr_u8)
    assert 0.3 < half < 0.8
    assert chroma_ratio(_desaturate(hr_u8, 0.8), hr_u8) < half
    assert delta_e00(_desaturate(hr_u8, 0.5), hr_u8) > 1.0
    assert chroma_ratio(_desaturate(hr_u8, 1.0), hr_u8) < 0.05


def test_gray_hr_gives_nan() -> None:
    gray_u8 = np.repeat(_colourful()[..., :1], 3, axis=2)
    assert math.isnan(chroma_ratio(_colourful(), gray_u8))
    assert delta_e00(gray_u8, gray_u8) == 0.0


def test_shave_ignores_the_border() -> None:
    hr_u8 = _colourful()
    sr_u8 = hr_u8.copy()
    sr_u8[:4] = _desaturate(hr_u8[:4], 1.0)
    sr_u8[:, -4:] = 0
    assert chroma_ratio(sr_u8, hr_u8) < 1.0
    assert delta_e00(sr_u8, hr_u8) > 0.0
    assert chroma_ratio(sr_u8, hr_u8, shave_px=4) == 1.0
    assert delta_e00(sr_u8, hr_u8, shave_px=4) == 0.0
    with pytest.raises(SrganError, match="nothing left"):
        delta_e00(sr_u8, hr_u8, shave_px=16)
    with pytest.raises(SrganError, match="shave_px"):
        chroma_ratio(sr_u8, hr_u8, shave_px=-1)


def test_input_errors() -> None:
    hr_u8 = _colourful()
    with pytest.raises(SrganError, match="same shape"):
        chroma_ratio(_colourful(32, 32), hr_u8)
    with pytest.raises(SrganError, match="same shape"):
        delta_e00(hr_u8, hr_u8[:-1])
    with pytest.raises(SrganError, match="uint8"):
        delta_e00(hr_u8.astype(np.float32) / 255, hr_u8)
    with pytest.raises(SrganError, match="HxWx3"):
        chroma_ratio(hr_u8[..., 0], hr_u8[..., 0])


def test_every_input_error_names_the_argument_exactly() -> None:
    hr_u8 = _colourful()
    cases = [
        ((hr_u8.tolist(), hr_u8), "sr_u8 must be a numpy array, got list."),
        ((hr_u8, hr_u8.tolist()), "hr_u8 must be a numpy array, got list."),
        ((hr_u8.astype(np.float32), hr_u8),
         "sr_u8 must be uint8 RGB in 0..255, got dtype float32; convert it to 8 bits first."),
        ((hr_u8, hr_u8.astype(np.uint16)),
         "hr_u8 must be uint8 RGB in 0..255, got dtype uint16; convert it to 8 bits first."),
        ((hr_u8[..., 0], hr_u8), "sr_u8 must be an HxWx3 RGB array, got shape (32, 40)."),
        ((hr_u8, hr_u8[..., :2]), "hr_u8 must be an HxWx3 RGB array, got shape (32, 40, 2)."),
        ((hr_u8, hr_u8[:-1]), "sr_u8 (32, 40, 3) and hr_u8 (31, 40, 3) must have the same shape; "
                              "mod-crop the HR image to a multiple of the scale."),
    ]
    for function in (chroma_ratio, delta_e00, colour_fidelity):
        for args, message in cases:
            with pytest.raises(SrganError) as error:
                function(*args)
            assert str(error.value) == message, function.__name__


def test_shave_keeps_anything_over_twice_the_shave() -> None:
    """32x40 px: shave 15 leaves 2x10 px and scores them; shave 16 leaves nothing."""
    hr_u8 = _colourful()
    sr_u8 = _desaturate(hr_u8, 0.5)
    inner = (slice(15, -15), slice(15, -15))
    assert delta_e00(sr_u8, hr_u8, shave_px=15) == delta_e00(sr_u8[inner], hr_u8[inner])
    assert chroma_ratio(sr_u8, hr_u8, shave_px=15) == chroma_ratio(sr_u8[inner], hr_u8[inner])
    assert colour_fidelity(sr_u8, hr_u8, shave_px=15) == colour_fidelity(sr_u8[inner], hr_u8[inner])
    with pytest.raises(SrganError) as error:
        colour_fidelity(sr_u8, hr_u8, shave_px=16)
    assert str(error.value) == ("An image of 32x40 px has nothing left after shaving 16 px per border; "
                                "use a larger image or a smaller shave.")


def test_default_shave_is_none() -> None:
    """Without shave_px the one-pixel border counts: SR that differs from HR only there scores apart."""
    hr_u8 = _colourful()
    sr_u8 = hr_u8.copy()
    sr_u8[0] = _desaturate(hr_u8[:1], 1.0)[0]
    assert delta_e00(sr_u8, hr_u8, shave_px=1) == 0.0 and chroma_ratio(sr_u8, hr_u8, shave_px=1) == 1.0
    sr_lab, hr_lab = rgb2lab(sr_u8), rgb2lab(hr_u8)
    expected_de = float(deltaE_ciede2000(sr_lab, hr_lab).mean())
    expected_ratio = float(np.hypot(sr_lab[..., 1], sr_lab[..., 2]).mean() / np.hypot(hr_lab[..., 1],
                                                                                      hr_lab[..., 2]).mean())
    assert expected_de > 0.1 and expected_ratio < 0.99
    assert delta_e00(sr_u8, hr_u8) == pytest.approx(expected_de, rel=1e-12)
    assert chroma_ratio(sr_u8, hr_u8) == pytest.approx(expected_ratio, rel=1e-12)
    assert colour_fidelity(sr_u8, hr_u8) == {"chroma_ratio": pytest.approx(expected_ratio, rel=1e-12),
                                             "delta_e00": pytest.approx(expected_de, rel=1e-12)}


def test_chroma_ratio_at_the_gray_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """HR's mean C* exactly at HR_CHROMA_MIN still has a ratio; a hair below the threshold does not."""
    hr_u8 = _desaturate(_colourful(), 0.97)
    sr_u8 = _colourful()
    hr_lab, sr_lab = rgb2lab(hr_u8), rgb2lab(sr_u8)
    hr_chroma = float(np.hypot(hr_lab[..., 1], hr_lab[..., 2]).mean())
    expected = float(np.hypot(sr_lab[..., 1], sr_lab[..., 2]).mean()) / hr_chroma
    assert hr_chroma > 1.0 and chroma_ratio(sr_u8, hr_u8) == expected  # the real threshold, 1 C* unit
    monkeypatch.setattr(colour, "HR_CHROMA_MIN", hr_chroma)
    assert chroma_ratio(sr_u8, hr_u8) == expected
    assert colour_fidelity(sr_u8, hr_u8)["chroma_ratio"] == expected
    monkeypatch.setattr(colour, "HR_CHROMA_MIN", math.nextafter(hr_chroma, math.inf))
    assert math.isnan(chroma_ratio(sr_u8, hr_u8)) and math.isnan(colour_fidelity(sr_u8, hr_u8)["chroma_ratio"])
