"""NIQE, the no-reference "Natural Image Quality Evaluator" (lower is better).

Mittal, Soundararajan, Bovik, "Making a 'Completely Blind' Image Quality
Analyzer", IEEE SPL 2013, following the authors' MATLAB release (LIVE,
`niqe_release.zip`) step by step, as BasicSR's `basicsr/metrics/niqe.py` ports it:

1. Luma: MATLAB `rgb2ycbcr` Y of the 8-bit image, rounded to integers.
2. Crop to whole `block_px` x `block_px` blocks (top-left part kept).
3. At two scales (full, then MATLAB `imresize(im, 0.5)`: bicubic with
   antialiasing), MSCN coefficients (x - mu) / (sigma + 1) with the 7x7
   Gaussian window (sigma 7/6) and 'replicate' borders, then 18 features per
   block (block_px, then block_px / 2 at half scale): an AGGD fit of the MSCN
   coefficients (shape, mean of the two scales) and of their products with
   the four circularly shifted neighbours (shape, mean, left and right scale).
4. Mean and covariance of the 36-dimensional block features (NaN-safe, like
   MATLAB's `nanmean` / `nancov`), and the distance
   sqrt((mu_p - mu)^T pinv((cov_p + cov) / 2) (mu_p - mu)) to the pristine
   multivariate Gaussian shipped with the release (`niqe_pris_params.npz`).

Set14 `baboon.png` HR, Y, no border removed scores 5.72957338 in MATLAB
R2021a (BasicSR's copy of the image). On ../shared/data's baboon.png, a
different file, this module gives 5.7299603 and BasicSR's algorithm 5.7299613;
tests/scoring/test_niqe.py checks it against a per-block, full-grid-search reference.

Everything is float64 numpy; nothing is loaded until the first call.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import ndimage, special

from srgan.core.errors import SrganError
from srgan.core.images import BT601_LUMA, BT601_Y, BT601_Y_OFFSET

PRISTINE_PARAMS_FILE = "niqe_pris_params.npz"
# circshift offsets of the release's computefeature.m: horizontal, vertical
# and the two diagonal neighbours. Only the multiset of products matters to
# the fits, so the sign convention of the anti-diagonal is immaterial.
_NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
# estimateaggdparam.m searches the AGGD shape on the grid 0.2:0.001:10.
_SHAPE_GRID_START = 0.2
_SHAPE_GRID_STEP = 0.001
_SHAPE_GRID_SIZE = 9801
# MATLAB imresize's bicubic kernel spans 4 input pixels at scale 1.
_CUBIC_WIDTH_PX = 4.0


@dataclass(frozen=True)
class PristineModel:
    """The pristine multivariate Gaussian of the NIQE release.

    mu: (36,) feature mean; cov: (36, 36) feature covariance (18 full-scale
    features, then 18 half-scale ones); window: (7, 7) Gaussian window,
    sigma 7/6, summing to 1, for the MSCN local mean and deviation.
    """

    mu: np.ndarray
    cov: np.ndarray
    window: np.ndarray


@functools.cache
def pristine_model() -> PristineModel:
    """Load the pristine model from the package data, once per process."""
    resource = resources.files("srgan.scoring").joinpath(PRISTINE_PARAMS_FILE)
    try:
        with resource.open("rb") as stream, np.load(stream) as params:
            model = PristineModel(
                mu=np.asarray(params["mu_pris_param"], dtype=np.float64).reshape(-1),
                cov=np.asarray(params["cov_pris_param"], dtype=np.float64),
                window=np.asarray(params["gaussian_window"], dtype=np.float64),
            )
    except FileNotFoundError as err:
        raise SrganError(
            f"The NIQE model srgan/scoring/{PRISTINE_PARAMS_FILE} is missing from the installed "
            "package; reinstall srgan-pipeline."
        ) from err
    return model


@dataclass(frozen=True)
class _ShapeGrid:
    """The AGGD shape grid with the per-shape constants the fit needs, all (9801,)."""

    shape: np.ndarray  # alpha, 0.2 .. 10 in steps of 0.001
    ratio: np.ndarray  # Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)), strictly increasing
    scale_factor: np.ndarray  # sqrt(Gamma(1/a) / Gamma(3/a)): std -> AGGD scale
    mean_factor: np.ndarray  # Gamma(2/a) / Gamma(1/a): (beta_r - beta_l) -> mean


@functools.cache
def _shape_grid() -> _ShapeGrid:
    shape = _SHAPE_GRID_START + _SHAPE_GRID_STEP * np.arange(_SHAPE_GRID_SIZE)
    g1, g2, g3 = special.gamma(1.0 / shape), special.gamma(2.0 / shape), special.gamma(3.0 / shape)
    ratio = g2**2 / (g1 * g3)
    # _nearest_shape relies on this; it holds with a margin of ~1e-6 per step.
    if not np.all(np.diff(ratio) > 0):
        raise RuntimeError("The AGGD ratio function is not increasing on the shape grid.")
    return _ShapeGrid(shape=shape, ratio=ratio, scale_factor=np.sqrt(g1 / g3), mean_factor=g2 / g1)


def _nearest_shape(ratio_hat: np.ndarray) -> np.ndarray:
    """Grid index of the shape whose ratio is nearest to each value of ratio_hat.

    Same result as the release's argmin((ratio - ratio_hat)^2) over the whole
    grid, without the (n, 9801) table: the ratio is increasing, so the nearest
    entry is one of the two around ratio_hat's sorted position, and ties go to
    the lower index as MATLAB's `min` does. NaN gives index 0, as `min` over
    an all-NaN vector does.
    """
    ratio = _shape_grid().ratio
    pos = np.searchsorted(ratio, ratio_hat)
    lower = np.clip(pos - 1, 0, ratio.size - 1)
    upper = np.clip(pos, 0, ratio.size - 1)
    take_upper = (ratio[upper] - ratio_hat) ** 2 < (ratio[lower] - ratio_hat) ** 2
    index = np.where(take_upper, upper, lower)
    index[np.isnan(ratio_hat)] = 0
    return index


def _aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching AGGD fit of each row of samples, (n, m) -> four (n,) arrays.

    Returns (shape alpha, left scale beta_l, right scale beta_r, grid index of
    alpha). A row without negative (or positive) values has NaN beta_l (or
    beta_r) and alpha 0.2, as in the release.
    """
    grid = _shape_grid()
    squares = samples * samples
    negative, positive = samples < 0, samples > 0
    # Empty sides give 0/0 = NaN on purpose: NaN features are what the
    # release's nanmean/nancov are there to skip.
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(np.sum(squares, axis=1, where=negative) / negative.sum(axis=1))
        right_std = np.sqrt(np.sum(squares, axis=1, where=positive) / positive.sum(axis=1))
        skew = left_std / right_std
        mean_sq = squares.mean(axis=1)
        ratio_hat = np.abs(samples).mean(axis=1) ** 2 / mean_sq
        ratio_hat_norm = ratio_hat * (skew**3 + 1) * (skew + 1) / (skew**2 + 1) ** 2
    index = _nearest_shape(ratio_hat_norm)
    factor = grid.scale_factor[index]
    return grid.shape[index], left_std * factor, right_std * factor, index


def _mscn(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of an (H, W) float64 image.

    'nearest' is MATLAB imfilter's 'replicate'; the +1 keeps flat regions finite.
    """
    mu = ndimage.correlate(img, window, mode="nearest")
    # abs(): rounding can make E[x^2] - mu^2 slightly negative on flat patches.
    sigma = np.sqrt(np.abs(ndimage.correlate(img * img, window, mode="nearest") - mu * mu))
    return (img - mu) / (sigma + 1.0)


def _blocks(img: np.ndarray, block_px: int) -> np.ndarray:
    """(H, W) with H, W multiples of block_px -> (n_blocks, block_px, block_px)."""
    rows, cols = img.shape[0] // block_px, img.shape[1] // block_px
    tiles = img.reshape(rows, block_px, cols, block_px).swapaxes(1, 2)
    return tiles.reshape(-1, block_px, block_px)


def _block_features(mscn: np.ndarray, block_px: int) -> np.ndarray:
    """The 18 NSS features of each block of an MSCN map, shape (n_blocks, 18)."""
    grid = _shape_grid()
    blocks = _blocks(mscn, block_px)
    flat = blocks.reshape(blocks.shape[0], -1)
    alpha, beta_l, beta_r, _ = _aggd_fit(flat)
    features = [alpha, (beta_l + beta_r) / 2]
    for shift in _NEIGHBOUR_SHIFTS:
        # Circular within each block, like circshift on the block in the release.
        neighbour = np.roll(blocks, shift, axis=(1, 2)).reshape(flat.shape)
        alpha, beta_l, beta_r, index = _aggd_fit(flat * neighbour)
        features += [alpha, (beta_r - beta_l) * grid.mean_factor[index], beta_l, beta_r]
    return np.stack(features, axis=1)


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize's bicubic kernel (Keys, a = -0.5), support [-2, 2]."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2
    ) * ((ax > 1) & (ax <= 2))


def _resize_weights(in_px: int, out_px: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB imresize's bicubic weights along one axis: (out_px, taps) weights and indices.

    As imresize.m's `contributions`: when shrinking, the kernel is stretched
    by 1/scale (that is the antialiasing); each output's weights are
    normalised to sum to 1; and indices outside the image are mirrored
    (symmetric padding, edge pixel repeated). Indices are 0-based.
    """
    width_px = _CUBIC_WIDTH_PX / scale if scale < 1 else _CUBIC_WIDTH_PX
    kernel_scale = min(scale, 1.0)
    # 1-based output positions mapped to 1-based input coordinates, so that
    # the outer pixel edges of input and output coincide.
    centre = np.arange(1, out_px + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(centre - width_px / 2)
    # One spare tap per side; MATLAB drops the all-zero ones, which add nothing here.
    taps = math.ceil(width_px) + 2
    index = left[:, None] + np.arange(taps)[None, :]
    weights = kernel_scale * _cubic(kernel_scale * (centre[:, None] - index))
    weights /= weights.sum(axis=1, keepdims=True)
    # Mirror 1-based indices into 1..in_px with period 2*in_px: [1..n, n..1].
    mirrored = np.mod(index.astype(np.int64) - 1, 2 * in_px)
    mirrored = np.where(mirrored < in_px, mirrored, 2 * in_px - 1 - mirrored)
    return weights, mirrored


def _resize_rows(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize axis 0 of an (H, W) image to ceil(scale * H) rows."""
    weights, index = _resize_weights(img.shape[0], math.ceil(scale * img.shape[0]), scale)
    # A loop over the ~10 taps keeps memory at one output image, unlike a
    # gather of all taps at once or a dense (out, in) matrix.
    out = weights[:, 0:1] * img[index[:, 0]]
    for tap in range(1, weights.shape[1]):
        out += weights[:, tap : tap + 1] * img[index[:, tap]]
    return out


def imresize_bicubic(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB's `imresize(img, scale)` for a double image: bicubic, antialiased.

    img: (H, W) float array, any range. scale > 0, the same for both axes.
    Returns float64 of shape (ceil(scale * H), ceil(scale * W)), not rounded
    or clipped (bicubic overshoots near edges). Rows are resized first, then
    columns, as MATLAB does for equal scales.
    """
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise SrganError(f"imresize_bicubic takes an (H, W) image, got shape {img.shape}.")
    if not scale > 0:
        raise SrganError(f"imresize_bicubic needs a scale > 0, got {scale}.")
    return np.ascontiguousarray(_resize_rows(_resize_rows(img, scale).T, scale).T)


def _nan_mean_cov(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB nanmean and nancov of (n_blocks, d) features: (d,) and (d, d).

    nanmean skips NaNs per column; nancov keeps only rows without NaN and,
    like MATLAB's cov, normalises by n - 1 (by 1 for a single row, giving 0).
    No complete row gives an all-NaN covariance.
    """
    finite = ~np.isnan(features)
    # An all-NaN column gives 0/0 = NaN, as MATLAB's nanmean does.
    with np.errstate(invalid="ignore"):
        mean = np.sum(features, axis=0, where=finite) / finite.sum(axis=0)
    complete = features[finite.all(axis=1)]
    n_rows, dims = complete.shape
    if n_rows == 0:
        return mean, np.full((dims, dims), np.nan)
    centred = complete - complete.mean(axis=0)
    return mean, centred.T @ centred / max(n_rows - 1, 1)


def niqe(y: np.ndarray, block_px: int = 96) -> float:
    """NIQE of one luma image (lower is better; natural photos score ~2-6).

    y: (H, W) float array of integer-valued MATLAB Y (16..235), or gray values
    0..255, already shaved; only its top-left part of whole blocks is used.
    block_px: block side in pixels (96 in the release and in every published
    figure; the pristine model was fitted with it). Must be even, since the
    half scale uses block_px / 2 blocks.
    Returns a float; NaN when no block has all 36 features finite (a side of
    an AGGD fit had no sample, e.g. in a flat image).
    Raises SrganError for a non-2-D input, a bad block_px, or an image with
    fewer than two whole blocks (one block has no feature covariance).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise SrganError(f"niqe takes an (H, W) luma image, got shape {y.shape}.")
    if block_px < 2 or block_px % 2:
        raise SrganError(f"niqe needs an even block_px >= 2, got {block_px}.")
    height_px, width_px = y.shape
    block_rows, block_cols = height_px // block_px, width_px // block_px
    if block_rows * block_cols < 2:
        raise SrganError(
            f"NIQE needs at least two whole {block_px}x{block_px} px blocks (e.g. "
            f"{block_px}x{2 * block_px} px), got a {height_px}x{width_px} px image; "
            "use a larger image."
        )
    model = pristine_model()
    img = y[: block_rows * block_px, : block_cols * block_px]
    full = _block_features(_mscn(img, model.window), block_px)
    # The cropped sides are even, so the half-scale image has exactly half the
    # blocks' pixels and its blocks line up with the full-scale ones.
    half_img = imresize_bicubic(img, 0.5)
    half = _block_features(_mscn(half_img, model.window), block_px // 2)
    mean, cov = _nan_mean_cov(np.concatenate([full, half], axis=1))
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        # No block with a complete feature vector (flat image): undefined.
        return math.nan
    diff = model.mu - mean
    # pinv: the blocks' covariance is rank-deficient whenever blocks < 36.
    distance_sq = diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff
    return float(np.sqrt(distance_sq))


def niqe_y(img_u8: np.ndarray, shave_px: int, gray: bool = False) -> float:
    """NIQE of an 8-bit RGB image on its MATLAB Y channel (lower is better).

    img_u8: (H, W, 3) uint8 RGB. Y = round(16 + (65.481 R + 128.553 G +
    24.966 B) / 255) with R, G, B in 0..255, i.e. MATLAB rgb2ycbcr's Y of the
    uint8 image. gray: the image's reference was grayscale in its file; the
    full-range luma round(0.299 R + 0.587 G + 0.114 B) is scored instead of Y
    (`srgan.scoring.metrics.gray_luma`): the gray value itself when R = G = B, and a model's
    SR of a gray image, whose channels differ slightly, gets the same treatment.
    shave_px: pixels removed from every border first (PIRM 2018 shaves the SR
    scale). Then `niqe` with 96 px blocks.
    Raises SrganError for a wrong shape or dtype, a negative shave, or too little image left for two 96x96 blocks.
    """
    if not isinstance(img_u8, np.ndarray) or img_u8.dtype != np.uint8:
        kind = getattr(img_u8, "dtype", type(img_u8).__name__)
        raise SrganError(f"niqe_y takes a uint8 numpy array, got {kind}.")
    if img_u8.ndim != 3 or img_u8.shape[2] != 3:
        raise SrganError(f"niqe_y takes an (H, W, 3) RGB image, got shape {img_u8.shape}.")
    if shave_px < 0:
        raise SrganError(f"shave_px must be >= 0, got {shave_px}.")
    height_px, width_px = img_u8.shape[:2]
    if min(height_px, width_px) <= 2 * shave_px:
        raise SrganError(
            f"A {height_px}x{width_px} px image has nothing left after shaving {shave_px} px "
            "per border; use a larger image or a smaller shave."
        )
    img_u8 = img_u8[shave_px : height_px - shave_px, shave_px : width_px - shave_px]
    rgb = img_u8.astype(np.float64)
    if gray:
        r, g, b = BT601_LUMA
        y = r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]
    else:
        r, g, b = BT601_Y
        y = BT601_Y_OFFSET + (r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]) / 255.0
    # MATLAB rounds half away from zero; Y >= 0, so floor(y + 0.5) is that.
    y = np.floor(y + 0.5)
    return niqe(y)
