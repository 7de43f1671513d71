"""Tests for srgan.scoring.evaluate and stages/evaluate.py, against references computed independently here:
scikit-image's PSNR / SSIM on a BT.601 Y written out in numpy, scikit-image's CIELAB colour maths,
PIL bicubic, the generator run by hand, and the real Set5 figures when ../shared/data is present."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
import yaml
from PIL import Image
from pytorch_msssim import ms_ssim
from skimage import data as skdata
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    AsRunScoring,
    BaselineEvaluation,
    RunEvaluation,
    read_run_evaluation,
    write_run_evaluation,
)
from srgan.core.images import bicubic_upscale
from srgan.core.metric_table import METRICS, STUDY, keys_of
from srgan.core.records import ScoredCheckpoint, TrainingSummary, read_summary, write_summary
from srgan.core.runtime import Runtime
from srgan.core.study_code import AsRunProtocol
from srgan.core.tensors import to_tensor
from srgan.datasets.prepare import folder_eval_images
from srgan.datasets.prepared import EvalImage, write_prepared_set
from srgan.inference.generator import save_generator, super_resolve
from srgan.inference.tiling import super_resolve_tiled
from srgan.nets.srresnet import SRResNet
from srgan.scoring.evaluate import (
    Scorer,
    _as_run_checkpoint,
    evaluate_bicubic,
    evaluate_hr,
    evaluate_run,
    make_scorer,
    score_as_run,
    score_image,
    score_images,
    score_sets,
    summarize,
)
from srgan.scoring.niqe import niqe, niqe_y

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
SCALE = 4
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
NO_LPIPS = Scorer(SCALE, None, "unavailable: not asked for in this test")
DISTORTION_AND_COLOUR = ("psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb", "niqe_y", "chroma_ratio", "delta_e00")


# ---------------------------------------------------------------- independent references


def _y(img_u8: np.ndarray, gray: bool) -> np.ndarray:
    """BT.601 Y in [16, 235] of an 8-bit RGB image (MATLAB rgb2ycbcr, not rounded); gray: full-range
    luma 0.299 R + 0.587 G + 0.114 B in [0, 255], i.e. the gray value itself where R = G = B."""
    rgb = img_u8.astype(np.float64)
    if gray:
        return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    rgb = rgb / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def _reference(sr_u8: np.ndarray, hr_u8: np.ndarray, gray: bool) -> dict[str, float]:
    """The paper-protocol and colour scores of one image, by scikit-image."""
    s = SCALE
    sr_y, hr_y = _y(sr_u8, gray)[s:-s, s:-s], _y(hr_u8, gray)[s:-s, s:-s]
    sr_lab, hr_lab = rgb2lab(sr_u8[s:-s, s:-s]), rgb2lab(hr_u8[s:-s, s:-s])
    hr_chroma = np.hypot(hr_lab[..., 1], hr_lab[..., 2]).mean()
    return {
        "psnr_y_db": peak_signal_noise_ratio(hr_y, sr_y, data_range=255),
        "ssim_y": structural_similarity(hr_y, sr_y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        data_range=255),
        "psnr_rgb_db": peak_signal_noise_ratio(hr_u8 / 255.0, sr_u8 / 255.0, data_range=1.0),
        "chroma_ratio": np.hypot(sr_lab[..., 1], sr_lab[..., 2]).mean() / hr_chroma if hr_chroma >= 1 else math.nan,
        "delta_e00": deltaE_ciede2000(sr_lab, hr_lab).mean(),
    }


def _pil_bicubic(img_u8: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    return np.array(Image.fromarray(img_u8).resize(size_wh, Image.Resampling.BICUBIC))  # writable, as read_image gives


def _item(name: str, hr_u8: np.ndarray, gray: bool = False) -> EvalImage:
    h, w = hr_u8.shape[:2]
    return EvalImage(name, _pil_bicubic(hr_u8, (w // SCALE, h // SCALE)), hr_u8, gray)


def _images(small: bool = False) -> list[EvalImage]:
    """A colour photograph 200x240 (NIQE and MS-SSIM need > 192 / 161 px) and a gray one 200x200;
    small: 100x120 and 100x100 crops (quicker; no NIQE, no MS-SSIM)."""
    coffee = skdata.coffee()[100:300, 150:390]
    camera = np.repeat(skdata.camera()[150:350, 200:400, None], 3, axis=2)
    if small:
        coffee, camera = coffee[50:150, 60:180], camera[50:150, 50:150]
    return [_item("coffee", np.ascontiguousarray(coffee)), _item("camera", np.ascontiguousarray(camera), gray=True)]


def _check_against_reference(row: dict | pd.Series, sr_u8: np.ndarray, item: EvalImage, psnr_tol: float = 1e-3,
                             ssim_tol: float = 1e-3, colour_tol: float = 1e-6) -> None:
    """`row`'s scores of `sr_u8` against scikit-image's (colour_tol: relative; 1e-4 for CSV values)."""
    expected = _reference(sr_u8, item.hr_u8, item.gray)
    assert row["psnr_y_db"] == pytest.approx(expected["psnr_y_db"], abs=psnr_tol), item.name
    assert row["ssim_y"] == pytest.approx(expected["ssim_y"], abs=ssim_tol), item.name
    assert row["psnr_rgb_db"] == pytest.approx(expected["psnr_rgb_db"], abs=psnr_tol), item.name
    assert row["delta_e00"] == pytest.approx(expected["delta_e00"], rel=max(colour_tol, 1e-3)), item.name
    if item.gray:
        assert math.isnan(row["chroma_ratio"])  # a gray HR has no saturation to compare to
    else:
        assert row["chroma_ratio"] == pytest.approx(expected["chroma_ratio"], rel=colour_tol), item.name
    # MS-SSIM and NIQE values: see the Set5 test (NIQE is NaN for a nearly flat image, e.g. an untrained model's).
    if min(item.hr_u8.shape[:2]) >= 161:  # MS-SSIM's 5 scales fit, and NIQE's 96-px blocks
        assert 0 < row["ms_ssim_rgb"] < 1 and not row["niqe_y"] <= 0
    else:
        assert math.isnan(row["ms_ssim_rgb"]) and math.isnan(row["niqe_y"])


# ---------------------------------------------------------------- LPIPS weights, present or not


@pytest.fixture
def offline_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME, with every download failing at once (no network)."""

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # get_dir() follows TORCH_HOME, not an earlier set_dir
    return tmp_path / "torch"


def _write_fake_alexnet(torch_home: Path) -> None:
    """Random AlexNet weights where torchvision's cache keeps the ImageNet file (the wiring, not the values)."""
    torch.manual_seed(0)
    target = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), target)


# ---------------------------------------------------------------- one image


def test_bicubic_scores_match_scikit_image() -> None:
    frame = score_images(None, _images(), NO_LPIPS, CPU)
    assert list(frame.columns) == ["image", "gray", *DISTORTION_AND_COLOUR]
    for item, (_, row) in zip(_images(), frame.iterrows()):
        assert row["image"] == item.name and row["gray"] == item.gray
        sr_u8 = _pil_bicubic(item.lr_u8, item.hr_u8.shape[1::-1])
        _check_against_reference(row, sr_u8, item)
        assert 20 < row["psnr_y_db"] < 40 and 0.8 < row["ms_ssim_rgb"] < 1  # a real degradation, not a no-op
        assert 3 < row["niqe_y"] < 12


def test_hr_against_itself_is_perfect() -> None:
    for item in _images():
        row = score_image(to_tensor(item.hr_u8)[None], item, NO_LPIPS)
        assert math.isinf(row["psnr_y_db"]) and math.isinf(row["psnr_rgb_db"])
        assert row["ssim_y"] == pytest.approx(1.0, abs=1e-9) and row["ms_ssim_rgb"] == pytest.approx(1.0, abs=1e-6)
        assert row["delta_e00"] == 0.0
        if item.gray:
            assert math.isnan(row["chroma_ratio"])
        else:
            assert row["chroma_ratio"] == 1.0
        assert "lpips_alex" not in row


def test_desaturated_copy_has_chroma_ratio_below_one() -> None:
    item = _images(small=True)[0]
    gray_u8 = _y(item.hr_u8, gray=False)[..., None]
    washed_u8 = np.clip(0.5 * item.hr_u8 + 0.5 * gray_u8, 0, 255).round().astype(np.uint8)
    row = score_image(to_tensor(washed_u8)[None], item, NO_LPIPS)
    assert row["chroma_ratio"] == pytest.approx(_reference(washed_u8, item.hr_u8, False)["chroma_ratio"], rel=1e-6)
    assert 0.4 < row["chroma_ratio"] < 0.75 and row["delta_e00"] > 1


def test_small_images_score_nan_niqe_and_ms_ssim() -> None:
    """Below two 96-px NIQE blocks and below MS-SSIM's 161 px the metrics are NaN, not an error."""
    hr_u8 = np.ascontiguousarray(skdata.astronaut()[:96:2, :128:2])  # 48x64
    item = _item("small", hr_u8)
    row = score_image(to_tensor(_pil_bicubic(item.lr_u8, (64, 48)))[None], item, NO_LPIPS)
    assert math.isnan(row["niqe_y"]) and math.isnan(row["ms_ssim_rgb"])
    assert math.isfinite(row["psnr_y_db"]) and math.isfinite(row["chroma_ratio"])


# ---------------------------------------------------------------- sets and summaries


def test_summaries_skip_nan_and_leave_out_absent_metrics() -> None:
    frame = pd.DataFrame({"psnr_y_db": [30.0, 32.0], "ssim_y": [0.8, 0.9], "psnr_rgb_db": [28.0, 29.0],
                          "ms_ssim_rgb": [float("nan"), 0.95], "chroma_ratio": [float("nan"), float("nan")],
                          "niqe_y": [5.123456, 6.0]})
    summary = summarize(frame)
    assert math.isnan(summary.pop("chroma_ratio"))  # all NaN (gray images): NaN, not an error
    assert summary == {"psnr_y_db": 31.0, "ssim_y": 0.85, "psnr_rgb_db": 28.5, "ms_ssim_rgb": 0.95,
                       "niqe_y": 5.5617, "images": 2}  # absent metrics (lpips_alex, delta_e00) left out


def test_hr_niqe_is_the_niqe_of_the_shaved_rounded_y() -> None:
    images = _images()
    result = evaluate_hr({"tiny": images}, SCALE)
    expected = []
    for item in images:
        y = _y(item.hr_u8, item.gray)
        expected.append(niqe(np.round(y)[SCALE:-SCALE, SCALE:-SCALE]))  # MATLAB: Y rounded to integers
    expected_scores = {"tiny": {"niqe_y": round(float(np.mean(expected)), 4), "images": 2}}
    assert result == BaselineEvaluation("hr", "n/a", expected_scores)


def _point(label: str, file: str, step: int) -> ScoredCheckpoint:
    """'best' (SRResNet) or a point 'step<n>' as training records it."""
    if label == "best":
        return ScoredCheckpoint("best", file, step, "step", 20)
    return ScoredCheckpoint("point", file, step, "step", int(label.removeprefix("step")))


def _write_run(run_dir: Path, scored: dict[str, str], experiment: str = "srgan", last: str | None = None,
               seed: int = 0) -> dict[str, SRResNet]:
    """A training run's folder: summary.json and one tiny generator per listed checkpoint (label -> model);
    last: the summary's last file when it is none of them (its model under the key "last")."""
    models = {}
    files = dict(scored) if last is None else {**scored, "last": last}
    for i, (label, relative) in enumerate(files.items()):
        torch.manual_seed(i)
        model = SRResNet(scale=SCALE, num_blocks=2, channels=8)
        with torch.no_grad():  # untrained SRResNets output ~0; a skip from the input makes scores meaningful
            model.tail.bias.fill_(0.4 + 0.1 * i)
        save_generator(run_dir / relative, model, experiment=experiment, variant="hybrid_res18_4")
        models[label] = model.eval()
    write_summary(run_dir, TrainingSummary(
        experiment=experiment, variant="hybrid_res18_4", seed=seed, loss_terms={"mse": 0.6, "res18_4": 0.4},
        feature_weights={"mse": "none", "res18_4": "random"}, unit="step", steps=20, steps_per_epoch=1, best_step=20,
        best_valid_psnr_y_db=30.0, bad_steps=0, processes=1, history=(),
        scored=tuple(_point(label, file, 10 * (i + 1)) for i, (label, file) in enumerate(scored.items())),
        last=ScoredCheckpoint("last", last or list(scored.values())[-1], 20, "step", 20)))
    return models


def test_two_evaluations_of_one_run_write_the_same_bytes(tmp_path: Path) -> None:
    """The same run, copied to another folder (another host's workspace), evaluated again: the metrics
    file and the per-image CSV, written as the stage writes them, are byte-identical (they are cached
    DVC outputs; another host restores them from the run-cache)."""
    first = tmp_path / "a" / "models" / "srgan" / "hybrid_res18_4"
    _write_run(first, {"step10": "step10/last.pt", "step20": "step20/last.pt"})
    second = tmp_path / "elsewhere" / "b" / "models" / "srgan" / "hybrid_res18_4"
    shutil.copytree(first, second)
    written = []
    for run_dir in (first, second):
        run, per_image = evaluate_run(run_dir, {"tiny": _images(small=True)}, NO_LPIPS, CPU)
        write_run_evaluation(run_dir.parent / "m.json", run)
        per_image.to_csv(run_dir.parent / "m.csv", index=False, float_format="%.4f")
        written.append([(run_dir.parent / name).read_bytes() for name in ("m.json", "m.csv")])
    assert written[0] == written[1]


def _by_hand(model: SRResNet, item: EvalImage) -> np.ndarray:
    """The generator's 8-bit output, computed here: forward, clamp, floor(x * 255 + 0.5)."""
    with torch.no_grad():
        sr = model(torch.from_numpy(item.lr_u8).permute(2, 0, 1)[None].double().div(255).float())
    return np.floor(sr[0].clamp(0, 1).permute(1, 2, 0).double().numpy() * 255 + 0.5).astype(np.uint8)


def test_evaluate_run_scores_every_listed_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "models" / "srgan" / "hybrid_res18_4"
    models = _write_run(run_dir, {"step10": "step10/last.pt", "step20": "step20/last.pt"})
    images = _images(small=True)
    run, per_image = evaluate_run(run_dir, {"tiny": images}, NO_LPIPS, CPU)
    assert run.experiment == "srgan" and run.variant == "hybrid_res18_4"
    assert run.loss_terms == {"mse": 0.6, "res18_4": 0.4}
    assert run.feature_weights == {"mse": "none", "res18_4": "random"}
    assert run.lpips_alex_status == NO_LPIPS.lpips_status
    assert {c.label: c.file for c in run.checkpoints} == {"step10": "step10/last.pt", "step20": "step20/last.pt"}
    assert list(per_image.columns) == ["checkpoint", "set", "image", "gray", *DISTORTION_AND_COLOUR]
    assert list(per_image["checkpoint"]) == ["step10", "step10", "step20", "step20"]
    # Written and read back by the one module that owns the format: the same record.
    write_run_evaluation(tmp_path / "record.json", run)
    assert repr(read_run_evaluation(tmp_path / "record.json")) == repr(run)  # repr: NaN == NaN
    written = json.loads((tmp_path / "record.json").read_text(encoding="utf-8"))
    assert written["scores"]["step20"]["tiny"]["images"] == 2 and written["loss_terms"] == {"mse": 0.6, "res18_4": 0.4}
    summary = run.scores
    for label, model in models.items():
        assert set(summary[label]) == {"tiny"} and summary[label]["tiny"]["images"] == 2
        rows = per_image[per_image["checkpoint"] == label]
        for item, (_, row) in zip(images, rows.iterrows()):
            # BN folding / summation order may move a handful of pixels by one level.
            _check_against_reference(row, _by_hand(model, item), item, psnr_tol=0.05, ssim_tol=2e-3)
        means = rows[list(DISTORTION_AND_COLOUR)].mean(skipna=True)
        for key in ("psnr_y_db", "ssim_y", "delta_e00"):
            assert summary[label]["tiny"][key] == pytest.approx(means[key], abs=1e-4)
    assert summary["step10"]["tiny"]["psnr_y_db"] != summary["step20"]["tiny"]["psnr_y_db"]


def test_evaluate_run_of_an_srresnet_labels_its_best_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "srresnet" / "mse"
    _write_run(run_dir, {"best": "best.pt"}, experiment="srresnet")
    images = _images(small=True)
    run, per_image = evaluate_run(run_dir, {"a": images[:1], "b": images[1:]}, NO_LPIPS, CPU)
    assert {c.label: c.file for c in run.checkpoints} == {"best": "best.pt"}
    assert run.scores["best"]["a"]["images"] == run.scores["best"]["b"]["images"] == 1
    assert set(per_image["checkpoint"]) == {"best"} and list(per_image["set"]) == ["a", "b"]


def test_evaluate_run_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SrganError, match=str(tmp_path / "nowhere" / "summary.json")):
        evaluate_run(tmp_path / "nowhere", {"tiny": _images(small=True)}, NO_LPIPS, CPU)
    run_dir = tmp_path / "run"
    _write_run(run_dir, {"step10": "step10/last.pt", "step20": "step20/last.pt"})
    (run_dir / "step20" / "last.pt").unlink()
    with pytest.raises(SrganError, match=str(run_dir / "step20" / "last.pt")):
        evaluate_run(run_dir, {"tiny": _images(small=True)}, NO_LPIPS, CPU)


# ---------------------------------------------------------------- LPIPS


def test_without_alexnet_weights_lpips_is_unavailable(offline_torch_home: Path) -> None:
    scorer = make_scorer(SCALE, CPU, lpips_required=False)
    assert scorer.lpips is None and scorer.lpips_status.startswith("unavailable: ")
    # The status goes into metrics files: the weight file's name, not this host's cache folder.
    assert "alexnet-owt-7be5be79.pth" in scorer.lpips_status and str(offline_torch_home) not in scorer.lpips_status
    baseline, per_image = evaluate_bicubic({"tiny": _images(small=True)}, scorer, CPU)
    assert baseline.lpips_alex_status == scorer.lpips_status
    assert "lpips_alex" not in baseline.scores["tiny"] and "lpips_alex" not in per_image
    with pytest.raises(SrganError, match="alexnet-owt-7be5be79.pth"):
        make_scorer(SCALE, CPU, lpips_required=True)


def test_with_alexnet_weights_lpips_is_scored(offline_torch_home: Path) -> None:
    _write_fake_alexnet(offline_torch_home)
    scorer = make_scorer(SCALE, CPU, lpips_required=True)
    assert scorer.lpips is not None and scorer.lpips_status == "ok"
    images = _images(small=True)
    baseline, per_image = evaluate_bicubic({"tiny": images}, scorer, CPU)
    assert baseline.lpips_alex_status == "ok"
    assert list(per_image.columns) == ["checkpoint", "set", "image", "gray", "psnr_y_db", "ssim_y", "psnr_rgb_db",
                                       "ms_ssim_rgb", "niqe_y", "lpips_alex", "chroma_ratio", "delta_e00"]
    assert (per_image["lpips_alex"] > 1e-4).all()
    assert baseline.scores["tiny"]["lpips_alex"] == pytest.approx(per_image["lpips_alex"].mean(), abs=1e-4)
    same = score_image(to_tensor(images[0].hr_u8)[None], images[0], scorer)
    assert same["lpips_alex"] == pytest.approx(0.0, abs=1e-6)


def test_score_image_computes_exactly_the_metric_table_in_its_order(offline_torch_home: Path) -> None:
    """A metric is its scoring function here and its entry in srgan.core.metric_table: neither without the other."""
    _write_fake_alexnet(offline_torch_home)
    scorer = make_scorer(SCALE, CPU, lpips_required=True)
    item = _images(small=True)[0]
    row = score_image(to_tensor(bicubic_upscale(item.lr_u8, SCALE))[None], item, scorer)
    assert list(row) == list(METRICS)
    model = SRResNet(num_blocks=1, channels=8)
    as_run = score_as_run(model, [item], CPU, AsRunProtocol(scored_file="last", bn_mode="eval", clamp=True))
    assert [k for k in as_run if k != "images"] == keys_of(STUDY)


# ---------------------------------------------------------------- the real Set5


@pytest.mark.slow  # ~20 s on 2 busy cores, most of it MS-SSIM in float64
def test_set5_bicubic_and_hr_on_the_real_files() -> None:
    """Bicubic upscaling of Set5's LRbicx4 files: 28.43 dB / 0.8111 (paper protocol, shave 4),
    and the project's NIQE (shave 4) 8.43; HR itself is more natural than bicubic."""
    if not (SHARED_DATA / "Set5" / "HR").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA / 'Set5'}")
    sets = {"Set5": folder_eval_images(SHARED_DATA / "Set5", SCALE)}
    baseline, per_image = evaluate_bicubic(sets, NO_LPIPS, CPU)
    set5 = baseline.scores["Set5"]
    assert set5["images"] == 5 and len(per_image) == 5
    assert set5["psnr_y_db"] == pytest.approx(28.43, abs=0.005)
    assert set5["ssim_y"] == pytest.approx(0.8111, abs=0.005)
    assert set5["niqe_y"] == pytest.approx(8.43, abs=0.01)
    assert 0.95 < set5["chroma_ratio"] < 1.0  # bicubic smooths colour a little
    hr = evaluate_hr(sets, SCALE).scores["Set5"]
    assert 4 < hr["niqe_y"] < set5["niqe_y"]


# ---------------------------------------------------------------- the stage


@pytest.mark.slow  # a subprocess per run: ~10 s on 2 cores
def test_stage_evaluates_bicubic_and_hr(tmp_path: Path) -> None:
    """`python -m stages.evaluate bicubic ...` in a fresh workspace writes both metrics files and the CSV."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["test"] = {"tiny": {**next(iter(params["data"]["test"].values())), "images": ["coffee"]}}
    params["report"]["grid_images"] = ["tiny/#0"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")  # the stage reads its declared params from it
    images = _images()
    write_prepared_set(tmp_path / "data" / "prepared" / "test" / "tiny",
                       [(item.name, item.hr_u8, item.gray, None) for item in images], SCALE, "test")
    torch_home = tmp_path / "torch"
    _write_fake_alexnet(torch_home)  # so the stage neither downloads nor skips LPIPS
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCH_HOME": str(torch_home)}
    result = subprocess.run(
        [sys.executable, "-m", "stages.evaluate", "bicubic", "data/prepared/test", "evaluation/bicubic.json",
         "evaluation/bicubic.csv", "evaluation/hr.json"],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bicubic = json.loads((tmp_path / "evaluation" / "bicubic.json").read_text(encoding="utf-8"))
    assert bicubic["experiment"] == "bicubic" and bicubic["lpips_alex_status"] == "ok"
    assert set(bicubic["scores"]["tiny"]) == {*METRICS, "images"} and bicubic["scores"]["tiny"]["images"] == 2
    hr = json.loads((tmp_path / "evaluation" / "hr.json").read_text(encoding="utf-8"))
    assert hr["experiment"] == "hr" and set(hr["scores"]["tiny"]) == {"niqe_y", "images"}
    per_image = pd.read_csv(tmp_path / "evaluation" / "bicubic.csv", keep_default_na=False,
                            na_values=["", "NaN", "nan"])
    assert list(per_image.columns) == ["checkpoint", "set", "image", "gray", "psnr_y_db", "ssim_y", "psnr_rgb_db",
                                       "ms_ssim_rgb", "niqe_y", "lpips_alex", "chroma_ratio", "delta_e00"]
    assert list(per_image["image"]) == ["coffee", "camera"] and list(per_image["gray"]) == [False, True]
    for item, (_, row) in zip(images, per_image.iterrows()):
        # The prepared LR is PIL bicubic of HR, as _item made it; the CSV keeps 4 decimals.
        _check_against_reference(row, _pil_bicubic(item.lr_u8, item.hr_u8.shape[1::-1]), item, psnr_tol=1e-3,
                                 ssim_tol=2e-4, colour_tol=1e-4)
    assert bicubic["scores"]["tiny"]["psnr_y_db"] == pytest.approx(per_image["psnr_y_db"].mean(), abs=1e-3)
    assert not list((tmp_path / "evaluation").rglob(".*.tmp"))  # atomic writes leave nothing behind


def test_sr_niqe_is_scored_with_the_scale_shaved() -> None:
    """NIQE of an SR image is the PIRM protocol's: the 8-bit SR image's Y with `scale` px shaved from each
    border (a bicubic upscale leaves its border artefacts there, which an unshaved score would count)."""
    item = _images()[0]
    sr_img = to_tensor(bicubic_upscale(item.lr_u8, SCALE))[None]
    scores = score_image(sr_img, item, NO_LPIPS)
    sr_u8 = bicubic_upscale(item.lr_u8, SCALE)
    assert scores["niqe_y"] == niqe_y(sr_u8, shave_px=SCALE, gray=item.gray)
    assert abs(scores["niqe_y"] - niqe_y(sr_u8, shave_px=0, gray=item.gray)) > 1e-3


# ---------------------------------------------------------------- tests that bite: the paths above left out


def test_niqe_failure_is_logged_with_the_image_name_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    """An image too small for NIQE: NaN and one warning naming the image and the reason, for SR and for HR."""
    hr_u8 = np.ascontiguousarray(skdata.astronaut()[:96:2, :128:2])  # 48x64
    item = _item("small", hr_u8)
    sr_u8 = _pil_bicubic(item.lr_u8, (64, 48))
    with pytest.raises(SrganError) as sr_error:
        niqe_y(sr_u8, shave_px=SCALE)
    with pytest.raises(SrganError) as hr_error:
        niqe_y(hr_u8, shave_px=SCALE)
    with caplog.at_level(logging.WARNING, logger="srgan.scoring.evaluate"):
        row = score_image(to_tensor(sr_u8)[None], item, NO_LPIPS)
        hr = evaluate_hr({"tiny": [item]}, SCALE)
    assert math.isnan(row["niqe_y"]) and math.isnan(hr.scores["tiny"]["niqe_y"])
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("srgan.scoring.evaluate", logging.WARNING, f"small: no NIQE ({sr_error.value})"),
        ("srgan.scoring.evaluate", logging.WARNING, f"small: no NIQE ({hr_error.value})"),
    ]


def test_sr_niqe_of_a_gray_image_scores_its_gray_value() -> None:
    """A gray image's SR NIQE is taken on its full-range luma (gray=True), not on the BT.601 Y."""
    item = _images()[1]
    assert item.gray
    sr_u8 = bicubic_upscale(item.lr_u8, SCALE)
    row = score_image(to_tensor(sr_u8)[None], item, NO_LPIPS)
    assert row["niqe_y"] == niqe_y(sr_u8, shave_px=SCALE, gray=True)
    assert abs(row["niqe_y"] - niqe_y(sr_u8, shave_px=SCALE, gray=False)) > 1e-3


def test_lpips_is_scored_with_the_scale_shaved(offline_torch_home: Path) -> None:
    _write_fake_alexnet(offline_torch_home)
    scorer = make_scorer(SCALE, CPU, lpips_required=True)
    item = _images(small=True)[0]
    sr_img, hr_img = to_tensor(bicubic_upscale(item.lr_u8, SCALE))[None], to_tensor(item.hr_u8)[None]
    row = score_image(sr_img, item, scorer)
    assert row["lpips_alex"] == float(scorer.lpips(sr_img, hr_img, shave_px=SCALE)[0])
    assert abs(row["lpips_alex"] - float(scorer.lpips(sr_img, hr_img, shave_px=0)[0])) > 1e-6


def test_lpips_is_built_on_the_runtime_device(offline_torch_home: Path) -> None:
    """The meta device stands in for a GPU: the metric's weights go where the runtime says."""
    _write_fake_alexnet(offline_torch_home)
    meta = Runtime(device=torch.device("meta"), amp_dtype=None, channels_last=False)
    scorer = make_scorer(SCALE, meta, lpips_required=True)
    assert {p.device.type for p in scorer.lpips.parameters()} == {"meta"}
    assert scorer == Scorer(SCALE, scorer.lpips, "ok")


def _tiny_model(bias: float = 0.5, seed: int = 3) -> SRResNet:
    torch.manual_seed(seed)
    model = SRResNet(scale=SCALE, num_blocks=2, channels=8)
    with torch.no_grad():
        model.tail.bias.fill_(bias)
    return model.eval()


def _frame_of(sr_imgs: list[torch.Tensor], images: list[EvalImage]) -> pd.DataFrame:
    """The per-image frame score_images should give for these SR images (each scored by score_image)."""
    return pd.DataFrame([{"image": item.name, "gray": item.gray, **score_image(sr, item, NO_LPIPS)}
                         for sr, item in zip(sr_imgs, images)])


def test_score_images_of_a_model_whole_and_tiled() -> None:
    """tile_px 0 (the default): the whole image at once; tile_px > 0: tiles of that size with a 16 px overlap."""
    model, images = _tiny_model(), _images(small=True)
    whole = [super_resolve(model, to_tensor(item.lr_u8)[None], CPU) for item in images]
    tiled = [super_resolve_tiled(model, to_tensor(item.lr_u8)[None], CPU, 20, overlap_px=16) for item in images]
    assert all(not torch.equal(w, t) for w, t in zip(whole, tiled))  # the tiles show
    pd.testing.assert_frame_equal(score_images(model, images, NO_LPIPS, CPU), _frame_of(whole, images))
    pd.testing.assert_frame_equal(score_images(model, images, NO_LPIPS, CPU, tile_px=0), _frame_of(whole, images))
    pd.testing.assert_frame_equal(score_images(model, images, NO_LPIPS, CPU, tile_px=20), _frame_of(tiled, images))
    # tile_px 1 is tiled too (and no tile holds the 16 px overlap): its error, not a silent whole-image run.
    with pytest.raises(SrganError) as error:
        score_images(model, images, NO_LPIPS, CPU, tile_px=1)
    assert str(error.value) == "tile overlap must be in [0, tile size 1) LR px, got 16"
    # The rows are the whole-image pass of the real model, computed here.
    for item, (_, row) in zip(images, score_images(model, images, NO_LPIPS, CPU).iterrows()):
        _check_against_reference(row, _by_hand(model, item), item, psnr_tol=0.05, ssim_tol=2e-3)


def test_score_sets_labels_each_frame_and_passes_the_tile_size() -> None:
    model, images = _tiny_model(), _images(small=True)
    sets = {"a": images[:1], "b": images[1:]}
    results, frames = score_sets(model, sets, NO_LPIPS, CPU)
    assert list(results) == ["a", "b"] and len(frames) == 2
    for (name, part), frame in zip(sets.items(), frames):
        whole = _frame_of([super_resolve(model, to_tensor(i.lr_u8)[None], CPU) for i in part], part)
        pd.testing.assert_frame_equal(frame, whole.assign(checkpoint="", set=name))
        assert repr(results[name]) == repr(summarize(whole))
    _, frames = score_sets(model, sets, NO_LPIPS, CPU, tile_px=20, label="step7")
    for (name, part), frame in zip(sets.items(), frames):
        tiled = [super_resolve_tiled(model, to_tensor(i.lr_u8)[None], CPU, 20, overlap_px=16) for i in part]
        pd.testing.assert_frame_equal(frame, _frame_of(tiled, part).assign(checkpoint="step7", set=name))


def test_evaluate_bicubic_whole_record_and_table() -> None:
    images = _images(small=True)
    baseline, per_image = evaluate_bicubic({"a": images[:1], "b": images[1:]}, NO_LPIPS, CPU)
    assert baseline.experiment == "bicubic" and baseline.lpips_alex_status == NO_LPIPS.lpips_status
    assert list(per_image.columns) == ["checkpoint", "set", "image", "gray", *DISTORTION_AND_COLOUR]
    assert list(per_image.index) == [0, 1]  # one index over all sets
    assert per_image[["checkpoint", "set", "image", "gray"]].values.tolist() == [
        ["bicubic", "a", "coffee", False], ["bicubic", "b", "camera", True]]
    for (name, item), (_, row) in zip((("a", images[0]), ("b", images[1])), per_image.iterrows()):
        sr_u8 = _pil_bicubic(item.lr_u8, item.hr_u8.shape[1::-1])
        _check_against_reference(row, sr_u8, item)
        expected = _reference(sr_u8, item.hr_u8, item.gray)
        scores = baseline.scores[name]
        assert list(scores) == [*DISTORTION_AND_COLOUR, "images"] and scores["images"] == 1
        assert scores["psnr_y_db"] == pytest.approx(expected["psnr_y_db"], abs=1e-3)
        assert scores["delta_e00"] == pytest.approx(expected["delta_e00"], abs=1e-4)


def _as_run_by_hand(model: nn.Module, images: list[EvalImage], bn_mode: str, clamp: bool) -> dict[str, float]:
    """The study's test-time scoring, written out here: BN in `bn_mode` on a copy, SR clamped or not,
    PSNR (peak 1) in numpy, pytorch_msssim's MS-SSIM; means rounded to 4 decimals."""
    mine = copy.deepcopy(model).train(bn_mode == "train")
    psnr, msssim = [], []
    for item in images:
        with torch.no_grad():
            sr = mine(torch.from_numpy(item.lr_u8).permute(2, 0, 1)[None].float() / 255)
        sr = sr.clamp(0, 1) if clamp else sr
        hr = torch.from_numpy(item.hr_u8).permute(2, 0, 1)[None].float() / 255
        mse = np.mean((sr.double().numpy() - hr.double().numpy()) ** 2)
        psnr.append(10 * math.log10(1 / mse))
        msssim.append(float(ms_ssim(sr, hr, data_range=1.0)) if min(item.hr_u8.shape[:2]) >= 161 else math.nan)
    return {"psnr_rgb_db": round(float(np.mean(psnr)), 4), "ms_ssim_rgb": round(float(np.nanmean(msssim)), 4)
            if not all(math.isnan(v) for v in msssim) else math.nan, "images": len(images)}


def _assert_scores_close(got: dict, expected: dict) -> None:
    assert list(got) == list(expected) and got["images"] == expected["images"]
    for key in ("psnr_rgb_db", "ms_ssim_rgb"):
        if math.isnan(expected[key]):
            assert math.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(expected[key], abs=2e-4), key


@pytest.mark.parametrize(("bn_mode", "clamp"), [("train", False), ("train", True), ("eval", False), ("eval", True)])
def test_score_as_run_follows_bn_mode_and_clamp(bn_mode: str, clamp: bool) -> None:
    """A generator whose output leaves [0, 1] (tail bias 1.1): unclamped PSNR and MS-SSIM differ from clamped
    ones, and training-mode BN (each image's own statistics) differs from the running statistics."""
    model, item = _tiny_model(bias=1.1), _images()[0]  # 200x240: MS-SSIM's five scales fit
    model.train()  # the eval protocol puts it in eval mode itself
    before = copy.deepcopy(model.state_dict())
    got = score_as_run(model, [item], CPU, AsRunProtocol(scored_file="scored", bn_mode=bn_mode, clamp=clamp))
    expected = _as_run_by_hand(model, [item], bn_mode, clamp)
    _assert_scores_close(got, expected)
    others = [_as_run_by_hand(model, [item], b, c) for b in ("train", "eval") for c in (False, True)
              if (b, c) != (bn_mode, clamp)]
    for other in others:  # every other protocol scores apart (so this one is told from them)
        assert abs(other["psnr_rgb_db"] - expected["psnr_rgb_db"]) > 1e-2
        assert abs(other["ms_ssim_rgb"] - expected["ms_ssim_rgb"]) > 1e-4 or other["psnr_rgb_db"] != expected[
            "psnr_rgb_db"]
    # The caller's model: its weights and running statistics untouched; in eval mode after the eval protocol,
    # still in training mode after the train protocol (which works on a copy).
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert {m.training for m in model.modules()} == {bn_mode == "train"}


def test_score_as_run_train_mode_leaves_an_eval_model_alone() -> None:
    model, item = _tiny_model(bias=1.1), _images(small=True)[0]
    before = copy.deepcopy(model.state_dict())
    score_as_run(model, [item], CPU, AsRunProtocol(scored_file="last", bn_mode="train", clamp=False))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m.training for m in model.modules())


def test_score_as_run_unclamped_ms_ssim() -> None:
    """MS-SSIM follows the clamp switch on its own: with clamp=False it scores the raw output."""
    model, item = _tiny_model(bias=1.1), _images()[0]
    raw = super_resolve(model, to_tensor(item.lr_u8)[None], CPU, clamp=False)
    hr = to_tensor(item.hr_u8)[None]
    assert float(raw.max()) > 1.05
    got = score_as_run(model, [item], CPU, AsRunProtocol(scored_file="scored", bn_mode="eval", clamp=False))
    assert got["ms_ssim_rgb"] == pytest.approx(float(ms_ssim(raw, hr, data_range=1.0)), abs=1e-4)
    assert abs(got["ms_ssim_rgb"] - float(ms_ssim(raw.clamp(0, 1), hr, data_range=1.0))) > 1e-3


def test_as_run_checkpoint_is_the_last_file_or_the_scored_one() -> None:
    best = ScoredCheckpoint("best", "best.pt", 10, "step", 20)
    last = ScoredCheckpoint("last", "last.pt", 20, "step", 20)
    summary = TrainingSummary(
        experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={"mse": "none"},
        unit="step", steps=20, steps_per_epoch=1, best_step=10, best_valid_psnr_y_db=30.0, bad_steps=0, processes=1,
        history=(), scored=(best,), last=last)
    assert _as_run_checkpoint(AsRunProtocol("last", "eval", True), summary, best) is last
    assert _as_run_checkpoint(AsRunProtocol("scored", "train", False), summary, best) is best


def _expected_record(run_dir: Path, scores: dict, scoring: AsRunScoring | None, as_run: dict | None,
                     seed: int) -> RunEvaluation:
    summary = read_summary(run_dir)
    return RunEvaluation(experiment=summary.experiment, variant="hybrid_res18_4", seed=seed,
                         loss_terms={"mse": 0.6, "res18_4": 0.4}, feature_weights={"mse": "none", "res18_4": "random"},
                         lpips_alex_status=NO_LPIPS.lpips_status, checkpoints=summary.scored, scores=scores,
                         as_run_scoring=scoring, as_run=as_run)


def test_evaluate_run_without_as_run_has_no_as_run_fields(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _write_run(run_dir, {"step10": "step10/last.pt", "step20": "step20/last.pt"}, seed=7)
    run, per_image = evaluate_run(run_dir, {"tiny": _images(small=True)}, NO_LPIPS, CPU)
    assert repr(run) == repr(_expected_record(run_dir, run.scores, None, None, seed=7))
    assert list(run.scores) == ["step10", "step20"]
    assert list(per_image.index) == [0, 1, 2, 3]  # one index over all checkpoints and sets
    assert per_image[["checkpoint", "set", "image"]].values.tolist() == [
        ["step10", "tiny", "coffee"], ["step10", "tiny", "camera"], ["step20", "tiny", "coffee"],
        ["step20", "tiny", "camera"]]


def test_evaluate_run_scores_an_srresnet_as_run_at_its_last_weights(tmp_path: Path) -> None:
    """The study's SRResNet "best" file held its last weights: as run, `best` is scored from last.pt, with
    BN in training mode and unclamped; our own scores stay those of best.pt."""
    run_dir = tmp_path / "srresnet" / "mse"
    models = _write_run(run_dir, {"best": "best.pt"}, experiment="srresnet", last="last.pt", seed=5)
    images = _images(small=True)
    sets = {"a": images[:1], "b": images[1:]}
    protocol = AsRunProtocol(scored_file="last", bn_mode="train", clamp=False)
    run, per_image = evaluate_run(run_dir, sets, NO_LPIPS, CPU, as_run=protocol)
    ours, _ = evaluate_run(run_dir, sets, NO_LPIPS, CPU)
    as_run = {"best": {name: _as_run_by_hand(models["last"], part, "train", False) for name, part in sets.items()}}
    assert repr(run) == repr(_expected_record(run_dir, ours.scores, AsRunScoring({"best": "last.pt"}, "train", False),
                                              run.as_run, seed=5))
    assert list(run.as_run) == ["best"] and list(run.as_run["best"]) == ["a", "b"]
    for name in sets:
        _assert_scores_close(run.as_run["best"][name], as_run["best"][name])
        best_as_run = _as_run_by_hand(models["best"], sets[name], "train", False)
        assert abs(best_as_run["psnr_rgb_db"] - as_run["best"][name]["psnr_rgb_db"]) > 1e-2  # the file matters
    for item, (_, row) in zip(images, per_image.iterrows()):  # our scores: best.pt's
        _check_against_reference(row, _by_hand(models["best"], item), item, psnr_tol=0.05, ssim_tol=2e-3)


def test_evaluate_run_as_run_of_the_scored_files(tmp_path: Path) -> None:
    """scored_file "scored" (SRGAN runs): each label's own file, here in eval mode and clamped."""
    run_dir = tmp_path / "srgan" / "vgg22"
    models = _write_run(run_dir, {"step10": "step10/last.pt", "step20": "step20/last.pt"})
    images = _images(small=True)
    protocol = AsRunProtocol(scored_file="scored", bn_mode="eval", clamp=True)
    run, _ = evaluate_run(run_dir, {"tiny": images}, NO_LPIPS, CPU, as_run=protocol)
    assert run.as_run_scoring == AsRunScoring({"step10": "step10/last.pt", "step20": "step20/last.pt"}, "eval", True)
    assert list(run.as_run) == ["step10", "step20"]
    for label, model in models.items():
        assert list(run.as_run[label]) == ["tiny"]
        _assert_scores_close(run.as_run[label]["tiny"], _as_run_by_hand(model, images, "eval", True))
    assert abs(run.as_run["step10"]["tiny"]["psnr_rgb_db"] - run.as_run["step20"]["tiny"]["psnr_rgb_db"]) > 1e-2


@dataclasses.dataclass(frozen=True)
class _HostCuda(Runtime):
    """A runtime named CUDA whose models and tensors stay on the host (this machine may have no GPU)."""

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def to_device(self, img: torch.Tensor) -> torch.Tensor:
        return img


def test_evaluate_run_frees_the_cuda_cache_after_each_checkpoint_on_cuda_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    _write_run(run_dir, {"step10": "step10/last.pt", "step20": "step20/last.pt"})
    calls = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    images = {"tiny": _images(small=True)[:1]}
    evaluate_run(run_dir, images, NO_LPIPS, CPU)
    assert calls == []
    cuda = _HostCuda(device=torch.device("cuda"), amp_dtype=None, channels_last=False)
    evaluate_run(run_dir, images, NO_LPIPS, cuda)
    assert calls == ["empty_cache", "empty_cache"]


# Mutants judged equivalent (no observable change):
# - summarize: rounding "or True" also for NaN/inf: round(nan, 4) is nan and round(inf, 4) is inf.
# - evaluate_bicubic: runtime None, tile_px None or 1: with model None score_images takes the bicubic branch
#   before it reads either.
# - score_as_run: clamp=None to super_resolve, psnr_rgb or ms_ssim_rgb: None is falsy like False, and when
#   protocol.clamp is True the metrics clamp an unclamped SR to the same values (or get it already clamped).
