"""Scoring generators and the bicubic baseline on prepared evaluation sets."""

from __future__ import annotations

import logging
import math

import pandas as pd
from torch import nn
from tqdm import tqdm

from srgan import metrics
from srgan.data import EvalImage, bicubic_upscale, to_tensor
from srgan.infer import super_resolve
from srgan.runtime import Runtime

log = logging.getLogger(__name__)

METRIC_KEYS = ("psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb")


def score_images(
    model: nn.Module | None, images: list[EvalImage], scale: int, runtime: Runtime, progress: bool = False
) -> pd.DataFrame:
    """Per-image metrics of `model` (None = bicubic baseline) on one set.

    Returns one row per image: name, gray and the `METRIC_KEYS` columns
    (paper protocol: Y channel, shave = scale; study protocol: RGB PSNR, MS-SSIM).
    """
    if model is not None:
        model.eval()
    rows = []
    for item in tqdm(images, desc="evaluate", disable=not progress, leave=False):
        if model is None:
            sr_img = to_tensor(bicubic_upscale(item.lr_u8, scale))[None]
        else:
            sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime)
        hr_img = to_tensor(item.hr_u8)[None]
        rows.append({"image": item.name, "gray": item.gray, **metrics.evaluate_pair(sr_img, hr_img, scale, item.gray)})
    return pd.DataFrame(rows)


def summarize(per_image: pd.DataFrame) -> dict[str, float]:
    """Mean of each metric over the images of one set (NaN entries skipped)."""
    out = {}
    for key in METRIC_KEYS:
        value = float(per_image[key].mean(skipna=True))
        out[key] = round(value, 4) if math.isfinite(value) else value
    out["images"] = int(len(per_image))
    return out
