"""Scoring generators and the bicubic baseline on prepared evaluation sets."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
from torch import nn
from tqdm import tqdm

from srgan import metrics
from srgan.data import EvalImage, bicubic_upscale, to_tensor
from srgan.infer import load_generator, super_resolve
from srgan.runtime import Runtime

log = logging.getLogger(__name__)

METRIC_KEYS = ("psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb")


def score_images(
    model: nn.Module | None, images: list[EvalImage], scale: int, runtime: Runtime, progress: bool = False,
    tile_px: int = 0,
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
            sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime, tile_px=tile_px)
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


def describe_feature_weights(feature_weights: dict[str, str]) -> str:
    """One line for metrics/report: which weights each feature term used."""
    parts = [f"{term}: {used}" for term, used in feature_weights.items() if used != "none"]
    return "; ".join(parts) if parts else "none (pixel loss only)"


def evaluate_model(
    checkpoint: Path | None, sets: dict[str, list[EvalImage]], scale: int, runtime: Runtime, tile_px: int = 0
) -> tuple[dict, pd.DataFrame]:
    """Score a generator checkpoint (None = bicubic) on every set (tile_px > 0: tiled inference).

    Returns ({set: {metric: mean}, plus model metadata}, per-image rows with a `set` column).
    """
    model, info = (None, {"kind": "bicubic"}) if checkpoint is None else load_generator(checkpoint, scale, runtime)
    summary: dict = {
        "kind": info["kind"],
        "content_loss": info.get("content_loss", "none"),
        "feature_weights": describe_feature_weights(info.get("feature_weights", {})),
    }
    frames = []
    for set_name, images in sets.items():
        per_image = score_images(model, images, scale, runtime, tile_px=tile_px)
        summary[set_name] = summarize(per_image)
        frames.append(per_image.assign(set=set_name))
    per_image = pd.concat(frames, ignore_index=True)
    return summary, per_image[["set", "image", "gray", *METRIC_KEYS]]


def evaluate_model_on_folders(model: str, folders: list[Path], scale: int, runtime: Runtime) -> dict:
    """`srgan evaluate`: score a checkpoint or 'bicubic' on benchmark folders (HR/ + optional LRbicx4/)."""
    from srgan.prepare import folder_eval_images

    sets = {folder.name: folder_eval_images(folder, scale) for folder in folders}
    summary, _ = evaluate_model(None if model == "bicubic" else Path(model), sets, scale, runtime)
    return summary
