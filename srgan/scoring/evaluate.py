"""Scoring generators, the bicubic baseline and HR itself on the evaluation sets.

Per image (all against the mod-cropped HR, `scale` px shaved unless a metric says otherwise):
- distortion, paper protocol: `psnr_y_db`, `ssim_y` (BT.601 Y, 8-bit rounded);
- distortion, study protocol: `psnr_rgb_db`, `ms_ssim_rgb` (RGB in [0, 1], no shave);
- perceptual quality: `niqe_y` (no reference; the 8-bit SR image's Y, PIRM protocol),
  `lpips_alex` (LPIPS v0.1 on AlexNet; only when its ImageNet weights are at hand);
- colour fidelity: `chroma_ratio` (mean CIELAB C* of SR / of HR; < 1 = desaturated;
  NaN for gray images) and `delta_e00` (mean CIEDE2000).
Their labels, units, directions and order are `srgan.core.metric_table.METRICS`, which `score_image`
computes exactly (tests/scoring/test_evaluate.py), and which orders every table and summary here.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    PER_IMAGE_KEYS,
    AsRunScoring,
    BaselineEvaluation,
    RunEvaluation,
)
from srgan.core.images import bicubic_upscale
from srgan.core.metric_table import METRICS
from srgan.core.records import ScoredCheckpoint, TrainingSummary, read_summary
from srgan.core.runtime import Runtime
from srgan.core.study_code import AsRunProtocol
from srgan.core.tensors import to_tensor, to_u8
from srgan.datasets.prepared import EvalImage
from srgan.inference.generator import load_generator, super_resolve
from srgan.inference.tiling import super_resolve_tiled
from srgan.scoring import metrics
from srgan.scoring.colour import colour_fidelity
from srgan.scoring.lpips import LpipsAlex, load_lpips_alex
from srgan.scoring.niqe import niqe_y

log = logging.getLogger(__name__)

TILE_OVERLAP_PX = 16  # LR px shared by neighbouring tiles with evaluate.tile_px


@dataclass(frozen=True)
class Scorer:
    """Everything that scores one SR image; `lpips` is None when its weights are unavailable."""

    scale: int
    lpips: LpipsAlex | None
    lpips_status: str  # "ok", or "unavailable: <reason>"


def make_scorer(scale: int, runtime: Runtime, lpips_required: bool) -> Scorer:
    """A Scorer; LPIPS-Alex is built when its weights are at hand (required: stop without them)."""
    lpips, status = load_lpips_alex(runtime.device, required=lpips_required)
    return Scorer(scale, lpips, status)


def _niqe(img_u8, shave_px: int, gray: bool, name: str) -> float:
    try:
        return niqe_y(img_u8, shave_px=shave_px, gray=gray)
    except SrganError as e:  # an image too small for two 96-px blocks has no NIQE
        log.warning("%s: no NIQE (%s)", name, e)
        return math.nan


def score_image(sr_img: Tensor, item: EvalImage, scorer: Scorer) -> dict[str, float]:
    """Every metric of one SR image (each METRICS key; LPIPS-Alex when its weights are at hand).
    sr_img: (1, 3, H, W) float RGB in [0, 1], HR's size."""
    hr_img = to_tensor(item.hr_u8)[None]
    scale = scorer.scale
    row = metrics.evaluate_pair(sr_img, hr_img, scale, item.gray)
    sr_u8 = to_u8(sr_img)  # NIQE and colour see the image as it would be saved
    row["niqe_y"] = _niqe(sr_u8, scale, item.gray, item.name)
    if scorer.lpips is not None:
        row["lpips_alex"] = float(scorer.lpips(sr_img, hr_img, shave_px=scale)[0])
    row.update(colour_fidelity(sr_u8, item.hr_u8, shave_px=scale))
    return row


def score_images(
    model: nn.Module | None, images: list[EvalImage], scorer: Scorer, runtime: Runtime, tile_px: int = 0,
) -> pd.DataFrame:
    """One row per image (image, gray, metrics) of `model` (None = bicubic baseline) on one set."""
    if model is not None:
        model.eval()
    rows = []
    for item in images:
        lr_img = to_tensor(item.lr_u8)[None]
        if model is None:
            sr_img = to_tensor(bicubic_upscale(item.lr_u8, scorer.scale))[None]
        elif tile_px > 0:
            sr_img = super_resolve_tiled(model, lr_img, runtime, tile_px, overlap_px=TILE_OVERLAP_PX)
        else:
            sr_img = super_resolve(model, lr_img, runtime)
        rows.append({"image": item.name, "gray": item.gray, **score_image(sr_img, item, scorer)})
    return pd.DataFrame(rows)


def summarize(per_image: pd.DataFrame) -> dict[str, float]:
    """Mean of each metric over the images of one set, in METRICS order (NaN entries skipped; absent metrics
    left out)."""
    out: dict[str, float] = {}
    for key in METRICS:
        if key not in per_image:
            continue
        value = float(per_image[key].mean(skipna=True))
        out[key] = round(value, 4) if math.isfinite(value) else value
    out["images"] = int(len(per_image))
    return out


def score_sets(model: nn.Module | None, sets: dict[str, list[EvalImage]], scorer: Scorer, runtime: Runtime,
               tile_px: int = 0, label: str = "") -> tuple[dict, list[pd.DataFrame]]:
    """({set: mean metrics}, per-image frames with `checkpoint` = label and `set` columns) of one model."""
    results, frames = {}, []
    for set_name, images in sets.items():
        per_image = score_images(model, images, scorer, runtime, tile_px)
        results[set_name] = summarize(per_image)
        frames.append(per_image.assign(checkpoint=label, set=set_name))
    return results, frames


def _per_image_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat(frames, ignore_index=True)
    return table[[*PER_IMAGE_KEYS, *(k for k in METRICS if k in table)]]


def evaluate_bicubic(sets: dict[str, list[EvalImage]], scorer: Scorer,
                     runtime: Runtime) -> tuple[BaselineEvaluation, pd.DataFrame]:
    """Scores of bicubic upscaling; returns (metrics, per-image rows; checkpoint "bicubic")."""
    results, frames = score_sets(None, sets, scorer, runtime, 0, "bicubic")
    return BaselineEvaluation("bicubic", scorer.lpips_status, results), _per_image_table(frames)


def evaluate_hr(sets: dict[str, list[EvalImage]], scale: int) -> BaselineEvaluation:
    """NIQE of the HR images themselves (shave = scale): the natural-image reference of every table."""
    results = {}
    for set_name, images in sets.items():
        scores = [_niqe(item.hr_u8, scale, item.gray, item.name) for item in images]
        results[set_name] = summarize(pd.DataFrame({"niqe_y": scores}))
    return BaselineEvaluation("hr", "n/a", results)


def _as_run_checkpoint(protocol: AsRunProtocol, summary: TrainingSummary, scored: ScoredCheckpoint) -> ScoredCheckpoint:
    """The file the study protocol as run scores in place of `scored`: the run's last weights when the
    study's "best" file held them (SRResNet), else the same file."""
    return summary.last if protocol.scored_file == "last" else scored


def score_as_run(model: nn.Module, images: list[EvalImage], runtime: Runtime, protocol: AsRunProtocol) -> dict:
    """Mean study-protocol scores (PSNR-RGB, MS-SSIM) of `model` on one set, as the study's code ran:
    whole images, BatchNorm in `protocol.bn_mode` (train: the image's own statistics), clamped or not."""
    if protocol.bn_mode == "train":
        model = copy.deepcopy(model).train()  # its running statistics move; the caller's model stays as it was
    else:
        model.eval()
    rows = []
    for item in images:
        sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime, clamp=protocol.clamp)
        hr_img = to_tensor(item.hr_u8)[None]
        rows.append({"psnr_rgb_db": float(metrics.psnr_rgb(sr_img, hr_img, clamp=protocol.clamp)[0]),
                     "ms_ssim_rgb": float(metrics.ms_ssim_rgb(sr_img, hr_img, clamp=protocol.clamp)[0])})
    return summarize(pd.DataFrame(rows))


def evaluate_run(run_dir: Path, sets: dict[str, list[EvalImage]], scorer: Scorer, runtime: Runtime,
                 tile_px: int = 0, as_run: AsRunProtocol | None = None) -> tuple[RunEvaluation, pd.DataFrame]:
    """Score every checkpoint that a training run's summary lists (`scored`), on every set; with `as_run`,
    also the study protocol as the study ran it.

    Returns (the run's metrics, per-image rows with the checkpoint label in `checkpoint`).
    """
    summary = read_summary(run_dir)
    scores, frames, as_run_scores, as_run_files = {}, [], {}, {}
    for checkpoint in summary.scored:
        model, _ = load_generator(run_dir / checkpoint.file, scorer.scale, runtime)
        scores[checkpoint.label], set_frames = score_sets(model, sets, scorer, runtime, tile_px, checkpoint.label)
        frames += set_frames
        if as_run is not None:
            theirs = _as_run_checkpoint(as_run, summary, checkpoint)
            if theirs.file != checkpoint.file:
                model, _ = load_generator(run_dir / theirs.file, scorer.scale, runtime)
            as_run_files[checkpoint.label] = theirs.file
            as_run_scores[checkpoint.label] = {name: score_as_run(model, images, runtime, as_run)
                                               for name, images in sets.items()}
        del model
        if runtime.device.type == "cuda":
            torch.cuda.empty_cache()
    scoring = None if as_run is None else AsRunScoring(as_run_files, as_run.bn_mode, as_run.clamp)
    record = RunEvaluation(
        experiment=summary.experiment, variant=summary.variant, seed=summary.seed, loss_terms=summary.loss_terms,
        feature_weights=summary.feature_weights, lpips_alex_status=scorer.lpips_status,
        checkpoints=summary.scored, scores=scores, as_run_scoring=scoring,
        as_run=as_run_scores if as_run is not None else None)
    return record, _per_image_table(frames)
