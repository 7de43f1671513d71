"""Colour fidelity: CIELAB chroma ratio and CIEDE2000 against HR."""

import math

import numpy as np
import pytest

from srgan.core.errors import SrganError
from srgan.scoring.colour import chroma_ratio, delta_e00


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
