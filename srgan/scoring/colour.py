"""Colour fidelity of an SR image against its HR reference, in CIELAB.

Both images are HxWx3 uint8 RGB, taken as sRGB with a D65 white (2-degree
observer), converted with scikit-image's `skimage.color.rgb2lab` (float64).

- `chroma_ratio`: mean chroma C* = sqrt(a*^2 + b*^2) of SR over mean C* of HR;
  1 = same saturation on average, < 1 = desaturated (washed-out colours), > 1
  = over-saturated.
- `delta_e00`: mean CIEDE2000 colour difference over pixels; 0 = identical
  colours, about 1 is a just-noticeable difference.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from srgan.core.errors import SrganError

# Below this mean HR chroma (C* units, where a just-noticeable difference is
# about 2.3) the image is gray for practical purposes and a ratio against it is
# undefined or noise. sRGB grays (R = G = B) have C* of about 1e-5.
HR_CHROMA_MIN = 1.0


def _check_pair(sr_u8: np.ndarray, hr_u8: np.ndarray) -> None:
    for name, img in (("sr_u8", sr_u8), ("hr_u8", hr_u8)):
        if not isinstance(img, np.ndarray):
            raise SrganError(f"{name} must be a numpy array, got {type(img).__name__}.")
        if img.dtype != np.uint8:
            raise SrganError(f"{name} must be uint8 RGB in 0..255, got dtype {img.dtype}; convert it to 8 bits first.")
        if img.ndim != 3 or img.shape[2] != 3:
            raise SrganError(f"{name} must be an HxWx3 RGB array, got shape {img.shape}.")
    if sr_u8.shape != hr_u8.shape:
        raise SrganError(
            f"sr_u8 {sr_u8.shape} and hr_u8 {hr_u8.shape} must have the same shape; "
            "mod-crop the HR image to a multiple of the scale."
        )


def _shave(img: np.ndarray, shave_px: int) -> np.ndarray:
    if shave_px < 0:
        raise SrganError(f"shave_px must be >= 0, got {shave_px}.")
    if shave_px == 0:
        return img
    height_px, width_px = img.shape[:2]
    if min(height_px, width_px) <= 2 * shave_px:
        raise SrganError(
            f"An image of {height_px}x{width_px} px has nothing left after shaving "
            f"{shave_px} px per border; use a larger image or a smaller shave."
        )
    return img[shave_px:-shave_px, shave_px:-shave_px]


def _lab_pair(sr_u8: np.ndarray, hr_u8: np.ndarray, shave_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked, shaved, CIELAB (float64, HxWx3: L* in [0, 100], a*, b*) versions of both."""
    _check_pair(sr_u8, hr_u8)
    return rgb2lab(_shave(sr_u8, shave_px)), rgb2lab(_shave(hr_u8, shave_px))


def chroma_ratio(sr_u8: np.ndarray, hr_u8: np.ndarray, shave_px: int = 0) -> float:
    """Mean CIELAB chroma of SR divided by mean chroma of HR; < 1 = desaturated.

    sr_u8, hr_u8: HxWx3 uint8 sRGB (D65), same shape. shave_px: pixels removed
    from every border first. C* = sqrt(a*^2 + b*^2) per pixel; the result is a
    ratio of means (mean C* of SR / mean C* of HR), not a mean of per-pixel
    ratios, which explode on gray pixels where the HR chroma is near 0.
    Identical images give exactly 1.0. Returns NaN when HR's mean C* is below
    HR_CHROMA_MIN (1.0 C* unit): a gray image has no saturation to compare to.
    """
    sr_lab, hr_lab = _lab_pair(sr_u8, hr_u8, shave_px)
    return _chroma_ratio(sr_lab, hr_lab)


def delta_e00(sr_u8: np.ndarray, hr_u8: np.ndarray, shave_px: int = 0) -> float:
    """Mean CIEDE2000 colour difference between SR and HR over pixels; lower is better.

    sr_u8, hr_u8: HxWx3 uint8 sRGB (D65), same shape. shave_px: pixels removed
    from every border first. Returns a float >= 0 in Delta E 2000 units
    (kL = kC = kH = 1); identical images give 0.0.
    """
    sr_lab, hr_lab = _lab_pair(sr_u8, hr_u8, shave_px)
    return float(deltaE_ciede2000(sr_lab, hr_lab).mean())


def _chroma_ratio(sr_lab: np.ndarray, hr_lab: np.ndarray) -> float:
    hr_chroma = float(np.hypot(hr_lab[..., 1], hr_lab[..., 2]).mean())
    if hr_chroma < HR_CHROMA_MIN:
        return math.nan
    return float(np.hypot(sr_lab[..., 1], sr_lab[..., 2]).mean()) / hr_chroma


def colour_fidelity(sr_u8: np.ndarray, hr_u8: np.ndarray, shave_px: int = 0) -> dict[str, float]:
    """{"chroma_ratio": ..., "delta_e00": ...} of one image pair, converting each image to CIELAB once.

    Same inputs and definitions as `chroma_ratio` and `delta_e00`.
    """
    sr_lab, hr_lab = _lab_pair(sr_u8, hr_u8, shave_px)
    return {"chroma_ratio": _chroma_ratio(sr_lab, hr_lab), "delta_e00": float(deltaE_ciede2000(sr_lab, hr_lab).mean())}
