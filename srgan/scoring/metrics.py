"""Image-quality metrics, each named after the protocol it implements.

Two protocols:

- **Paper protocol** (`psnr_y`, `ssim_y`): round to the 8-bit grid, take BT.601
  luma Y in [16, 235] (or the plain gray value for images that were grayscale
  in their file), remove `shave_px` border pixels, then PSNR with peak 255 /
  SSIM with an 11x11 Gaussian window (sigma 1.5), K = (0.01, 0.03), range 255.
- **Study protocol** (`psnr_rgb`, `ms_ssim_rgb`): the content-loss study's
  numbers, on RGB in [0, 1] clamped but *not* 8-bit rounded (the study scored
  float model outputs), with no border removed.

Every image argument is a float RGB tensor in [0, 1], shape (N, 3, H, W), and
`sr_img` and `hr_img` have the same shape. Every metric returns a float64
tensor of shape (N,), one value per image, computed on the inputs' device.
Nothing here builds an autograd graph: these are scores, not losses.
"""

import math

import torch
from pytorch_msssim import ms_ssim, ssim
from torch import Tensor

from srgan.core.errors import SrganError
from srgan.core.images import BT601_LUMA, BT601_Y, BT601_Y_OFFSET
from srgan.core.tensors import round_u8

SSIM_WIN_PX = 11
SSIM_WIN_SIGMA = 1.5
SSIM_K = (0.01, 0.03)
# pytorch_msssim asserts min(H, W) > (win - 1) * 2**4 for its 4 downsamplings.
MS_SSIM_MIN_SIDE_PX = (SSIM_WIN_PX - 1) * 2**4 + 1


def _check_rgb(img: Tensor, name: str) -> None:
    if not isinstance(img, Tensor):
        raise SrganError(f"{name} must be a torch.Tensor, got {type(img).__name__}.")
    if img.dim() != 4 or img.shape[1] != 3:
        raise SrganError(f"{name} must have shape (N, 3, H, W), got {tuple(img.shape)}.")
    if not img.is_floating_point():
        raise SrganError(f"{name} must be a float tensor in [0, 1], got dtype {img.dtype}.")


def check_pair(sr_img: Tensor, hr_img: Tensor) -> None:
    _check_rgb(sr_img, "sr_img")
    _check_rgb(hr_img, "hr_img")
    if sr_img.shape != hr_img.shape:
        raise SrganError(
            f"sr_img {tuple(sr_img.shape)} and hr_img {tuple(hr_img.shape)} must have the "
            "same shape; mod-crop the HR image to a multiple of the scale."
        )


def quantize_u8(img: Tensor) -> Tensor:
    """Round an image to the 8-bit grid, as saving it to a PNG would.

    img: (N, 3, H, W) float RGB in [0, 1]; values outside are clamped.
    Returns the same shape, float64 with integer values 0..255. Ties round up,
    like MATLAB's im2uint8 (torch.round would send 0.5 to the even integer).
    """
    _check_rgb(img, "img")
    return round_u8(img).to(torch.float64)


def rgb_to_y(img_u8: Tensor) -> Tensor:
    """BT.601 luma as MATLAB's rgb2ycbcr computes it, not rounded.

    img_u8: (N, 3, H, W) float RGB in [0, 255]. Returns (N, 1, H, W) float64
    Y in [16, 235]: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255.
    """
    img = img_u8.to(torch.float64)
    r, g, b = img[:, 0:1], img[:, 1:2], img[:, 2:3]
    kr, kg, kb = BT601_Y
    return BT601_Y_OFFSET + (kr * r + kg * g + kb * b) / 255.0


def gray_luma(img_u8: Tensor) -> Tensor:
    """Full-range luma for images that were grayscale in their file.

    img_u8: (N, 3, H, W) float RGB in [0, 255]. Returns (N, 1, H, W) float64
    in [0, 255], 0.299 R + 0.587 G + 0.114 B, which is the gray value itself
    when R = G = B; so such images are scored "as they are" (the SR literature's convention), not
    squeezed into Y's [16, 235].
    """
    img = img_u8.to(torch.float64)
    kr, kg, kb = BT601_LUMA
    return kr * img[:, 0:1] + kg * img[:, 1:2] + kb * img[:, 2:3]


def shave(img: Tensor, shave_px: int) -> Tensor:
    """Remove `shave_px` pixels from every border of an (N, C, H, W) tensor.

    shave_px = 0 returns the input unchanged. Raises SrganError when shave_px
    is negative or when nothing of the image would remain.
    """
    if shave_px < 0:
        raise SrganError(f"shave_px must be >= 0, got {shave_px}.")
    if shave_px == 0:
        return img
    height_px, width_px = img.shape[-2:]
    if min(height_px, width_px) <= 2 * shave_px:
        raise SrganError(
            f"An image of {height_px}x{width_px} px has nothing left after shaving "
            f"{shave_px} px per border; use a larger image or a smaller shave."
        )
    return img[..., shave_px:-shave_px, shave_px:-shave_px]


def _luma_u8(img: Tensor, shave_px: int, gray: bool) -> Tensor:
    """Paper-protocol preprocessing: 8-bit rounding, luma, border removal."""
    img_u8 = quantize_u8(img)
    luma = gray_luma(img_u8) if gray else rgb_to_y(img_u8)
    return shave(luma, shave_px)


def _psnr_db(sr: Tensor, hr: Tensor, peak: float) -> Tensor:
    """Per-image PSNR in dB of float64 (N, C, H, W) tensors; zero MSE gives inf."""
    mse = (sr - hr).pow(2).flatten(1).mean(dim=1)
    # 10*log10(peak^2 / 0) is +inf in IEEE arithmetic, which is what we want.
    return 10.0 * torch.log10(peak**2 / mse)


def psnr_y(sr_img: Tensor, hr_img: Tensor, shave_px: int, gray: bool = False) -> Tensor:
    """Per-image PSNR in dB on BT.601 Y after 8-bit rounding (paper protocol).

    sr_img, hr_img: (N, 3, H, W) float RGB in [0, 1], same shape.
    shave_px: border removed before scoring (the scale, for x`scale` SR).
    gray: score `gray_luma` instead of Y (for images stored as grayscale).
    Returns float64 shape (N,), peak 255; identical images give inf.
    """
    check_pair(sr_img, hr_img)
    return _psnr_db(_luma_u8(sr_img, shave_px, gray), _luma_u8(hr_img, shave_px, gray), 255.0)


def ssim_y(sr_img: Tensor, hr_img: Tensor, shave_px: int, gray: bool = False) -> Tensor:
    """Per-image SSIM on BT.601 Y after 8-bit rounding (paper protocol).

    Same inputs and preprocessing as `psnr_y`; Gaussian window 11 px, sigma
    1.5, K = (0.01, 0.03), data range 255, mean over the valid window positions.
    Returns float64 shape (N,), at most 1 (identical images give 1).
    Raises SrganError when the shaved image is smaller than the window.
    """
    check_pair(sr_img, hr_img)
    sr_y = _luma_u8(sr_img, shave_px, gray)
    hr_y = _luma_u8(hr_img, shave_px, gray)
    if min(sr_y.shape[-2:]) < SSIM_WIN_PX:
        raise SrganError(
            f"SSIM needs at least {SSIM_WIN_PX}x{SSIM_WIN_PX} px after shaving, got "
            f"{tuple(sr_y.shape[-2:])}; use larger images."
        )
    return ssim(
        sr_y, hr_y, data_range=255, size_average=False,
        win_size=SSIM_WIN_PX, win_sigma=SSIM_WIN_SIGMA, K=SSIM_K,
    )


def _rgb64(img: Tensor, clamp: bool) -> Tensor:
    img = img.detach().to(torch.float64)
    return img.clamp(0.0, 1.0) if clamp else img


def psnr_rgb(sr_img: Tensor, hr_img: Tensor, clamp: bool = True) -> Tensor:
    """Per-image PSNR in dB on RGB in [0, 1], peak 1 (the study's protocol).

    sr_img, hr_img: (N, 3, H, W) float RGB, same shape; clamped to [0, 1] but
    not 8-bit rounded, no border removed, MSE over all three channels.
    clamp=False scores the values as given (the study's code scored unclamped SR).
    Returns float64 shape (N,); identical images give inf.
    """
    check_pair(sr_img, hr_img)
    return _psnr_db(_rgb64(sr_img, clamp), _rgb64(hr_img, clamp), 1.0)


def ms_ssim_rgb(sr_img: Tensor, hr_img: Tensor, clamp: bool = True) -> Tensor:
    """Per-image MS-SSIM on RGB in [0, 1] (the study's protocol; its "SSIM" column).

    sr_img, hr_img: (N, 3, H, W) float RGB, same shape; clamped to [0, 1] (unless
    clamp=False, as the study's code), not rounded, no border removed;
    `pytorch_msssim.ms_ssim` defaults (5 scales, window 11, sigma 1.5), data range
    1, averaged over channels, computed in float32 (5x faster on the CPU than float64; on the sample
    test images the two agree to 3e-7, far below the 4 decimals reported). Returns float64 shape (N,).
    When min(H, W) < 161 px
    the 5 scales do not fit and every value is NaN (pytorch_msssim would assert),
    so a batch mean needs `nanmean` or a check.
    """
    check_pair(sr_img, hr_img)
    if min(sr_img.shape[-2:]) < MS_SSIM_MIN_SIDE_PX:
        return torch.full((sr_img.shape[0],), math.nan, dtype=torch.float64, device=sr_img.device)
    sr32, hr32 = (_rgb64(img, clamp).float() for img in (sr_img, hr_img))
    return ms_ssim(sr32, hr32, data_range=1.0, size_average=False).double()


def evaluate_pair(sr_img: Tensor, hr_img: Tensor, scale: int, gray: bool) -> dict[str, float]:
    """All four scores of one image, as plain floats.

    sr_img, hr_img: (1, 3, H, W) float RGB in [0, 1], HR already mod-cropped.
    scale: the SR factor; the paper protocol shaves that many border pixels.
    gray: the image was grayscale in its file (paper protocol scores its gray
    value instead of Y).
    Returns {"psnr_y_db", "ssim_y"} (paper protocol) and {"psnr_rgb_db",
    "ms_ssim_rgb"} (study protocol; ms_ssim_rgb is NaN below 161 px).
    """
    check_pair(sr_img, hr_img)
    if sr_img.shape[0] != 1:
        raise SrganError(f"evaluate_pair scores one image, got a batch of {sr_img.shape[0]}.")
    return {
        "psnr_y_db": float(psnr_y(sr_img, hr_img, shave_px=scale, gray=gray)[0]),
        "ssim_y": float(ssim_y(sr_img, hr_img, shave_px=scale, gray=gray)[0]),
        "psnr_rgb_db": float(psnr_rgb(sr_img, hr_img)[0]),
        "ms_ssim_rgb": float(ms_ssim_rgb(sr_img, hr_img)[0]),
    }
