"""Tests for srgan.report and srgan.figures: the report folder from a tiny fake pipeline output,
the automatic crop choice, and clear errors for missing inputs."""

from __future__ import annotations

import json
import re
import runpy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from srgan.artifacts import save_checkpoint
from srgan.config import ReportParams
from srgan.data import write_prepared_set
from srgan.errors import SrganError
from srgan.figures import CropBox, _spread, most_detailed_crop, smooth
from srgan.models import SRResNet
from srgan.report import build_report
from srgan.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
SCALE = 4
SET = "tiny"
LOSSES = ("mse", "hybrid_res18_4")
MODELS = ("bicubic", "srresnet", *(f"srgan_{loss}" for loss in LOSSES))
IMAGES = ("checker", "0801")  # "0801" must stay text when the per-image CSV is read back
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _hr_image(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth gradient with a noisy patch: something for the crop finder to find."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full((h, w), 90)], axis=-1).astype(np.uint8)
    img[8:24, 30:46] = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return img


def _write_logs(log_dir: Path, tags: tuple[str, ...], steps: int) -> None:
    writer = SummaryWriter(str(log_dir))
    for step in range(1, steps + 1):
        for tag in tags:
            writer.add_scalar(tag, 1.0 / step + 0.01 * (step % 3), step)
        if step % 5 == 0:
            writer.add_scalar("valid/psnr_y_db", 20.0 + step / 10, step)
    writer.close()


def _write_metrics(metrics_dir: Path, model: str, offset: float) -> None:
    rows = [
        {"set": SET, "image": name, "gray": False, "psnr_y_db": 25.0 + offset + i, "ssim_y": 0.7 + offset / 100,
         "psnr_rgb_db": 24.0 + offset, "ms_ssim_rgb": 0.9}
        for i, name in enumerate(IMAGES)
    ]
    (metrics_dir / "per_image").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(metrics_dir / "per_image" / f"{model}.csv", index=False, float_format="%.4f")
    means = pd.DataFrame(rows)[["psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb"]].mean().round(4).to_dict()
    summary = {"kind": model, "content_loss": "mse", "feature_weights": "none (pixel loss only)",
               SET: {**means, "images": len(rows)}}
    (metrics_dir / f"{model}.json").write_text(json.dumps(summary), encoding="utf-8")


def _fake_pipeline(root: Path) -> dict[str, Path]:
    """What `dvc repro` leaves behind, in miniature: prepared set, checkpoints, logs, metrics."""
    dirs = {k: root / k for k in ("metrics", "models", "logs", "prepared")}
    write_prepared_set(
        dirs["prepared"] / SET,
        [(name, _hr_image(48, 64, seed), False, None) for seed, name in enumerate(IMAGES)],
        SCALE, "test",
    )
    torch.manual_seed(0)
    checkpoints = [dirs["models"] / "srresnet" / "best.pt"] + [dirs["models"] / "srgan" / loss / "best.pt" for loss in LOSSES]
    for path in checkpoints:
        state = SRResNet(scale=SCALE, num_blocks=1, channels=8).state_dict()
        save_checkpoint(path, {"model": state, "scale": SCALE, "kind": "srresnet", "step": 1})
    # srgan.train writes event files to <log_dir>/tb; older runs wrote them to <log_dir>: read both.
    _write_logs(dirs["logs"] / "srresnet" / "tb", ("loss/content", "lr"), steps=30)
    gan_tags = ("loss/content", "loss/generator", "loss/adversarial", "loss/discriminator", "d/real_prob", "d/fake_prob")
    for loss in LOSSES:
        _write_logs(dirs["logs"] / "srgan" / loss, gan_tags, steps=10)
    for offset, model in enumerate(MODELS):
        _write_metrics(dirs["metrics"], model, float(offset))
    return dirs


def _build(dirs: dict[str, Path], out_dir: Path) -> pd.DataFrame:
    return build_report(
        metrics_dir=dirs["metrics"], models_dir=dirs["models"], logs_dir=dirs["logs"],
        prepared_dir=dirs["prepared"], out_dir=out_dir, losses=LOSSES, sets=(SET,), scale=SCALE,
        report=ReportParams(grid_images=tuple(f"{SET}/{name}" for name in IMAGES), crop_px=16), runtime=CPU,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("pipeline")
    long_table = _build(_fake_pipeline(root), root / "report")
    return root / "report", long_table


def test_report_has_tables_and_every_linked_figure(built) -> None:
    out_dir, long_table = built
    index = (out_dir / "index.md").read_text(encoding="utf-8")
    assert f"## {SET} (2 images)" in index and "PSNR-Y (dB)" in index and "SSIM-Y" in index
    header = next(line for line in index.splitlines() if line.startswith("| metric"))
    assert [cell.strip() for cell in header.strip("|").split("|")][1:] == list(MODELS)
    assert (out_dir / f"{SET}.csv").is_file() and (out_dir / f"{SET}.md").is_file()
    assert "## Feature-extractor weights used by each model" in index
    assert list(long_table["model"]) == list(MODELS)

    figures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", index)
    assert sorted(figures) == sorted(
        f"figures/{name}.png"
        for name in (f"metrics_{SET}", f"scatter_{SET}", f"grid_{SET}_checker", f"grid_{SET}_0801",
                     "training_srresnet", "training_srgan")
    )
    for rel in figures:
        data = (out_dir / rel).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, rel
        with Image.open(out_dir / rel) as img:
            assert img.width >= 500 and 250 <= img.height <= 2000, (rel, img.size)

    csv_links = [link for link in re.findall(r"\]\(([^)]+\.csv)\)", index)]
    assert csv_links == [f"{SET}.csv", f"{SET}_per_image.csv"]
    per_image = pd.read_csv(out_dir / f"{SET}_per_image.csv", dtype={"image": str})
    assert set(per_image["model"]) == set(MODELS) and set(per_image["image"]) == set(IMAGES)
    assert not list(out_dir.parent.glob(".report.*"))  # no temp folder left behind


def test_crop_finds_the_textured_square() -> None:
    hr_u8 = np.full((96, 128, 3), 128, dtype=np.uint8)
    yy, xx = np.mgrid[0:24, 0:24]
    hr_u8[40:64, 70:94] = (((yy + xx) % 2) * 255)[..., None].astype(np.uint8)  # a 1-px checkerboard
    assert most_detailed_crop(hr_u8, 24) == CropBox(top=40, left=70, size_px=24)
    inner = most_detailed_crop(hr_u8, 8)
    assert 40 <= inner.top <= 64 - 8 and 70 <= inner.left <= 94 - 8
    assert most_detailed_crop(hr_u8, 500) == CropBox(top=0, left=0, size_px=96)  # clipped to the image
    flat = np.full((20, 20, 3), 7, dtype=np.uint8)
    assert most_detailed_crop(flat, 8) == CropBox(top=0, left=0, size_px=8)  # ties: top-left


def test_smoothing_and_label_spreading() -> None:
    values = np.array([1.0, 3.0, np.nan, 5.0, 7.0])
    assert np.allclose(smooth(values, 3), [2.0, 2.0, 4.0, 6.0, 6.0])
    slots = _spread([0.5, 0.5, 0.51, 0.99], gap=0.1)
    assert np.all(np.diff(slots) >= 0.1 - 1e-9) and slots[-1] <= 0.98 and slots[0] >= 0.02


@pytest.mark.parametrize(
    "missing",
    ["metrics/srgan_hybrid_res18_4.json", "metrics/per_image/srresnet.csv", "models/srgan/mse/best.pt",
     "logs/srresnet", "logs/srgan/hybrid_res18_4"],
)
def test_missing_input_names_it_and_writes_nothing(tmp_path: Path, missing: str) -> None:
    dirs = _fake_pipeline(tmp_path)
    target = tmp_path / missing
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(SrganError, match=re.escape(str(target))):
        _build(dirs, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_grid_image_must_name_an_evaluated_set(tmp_path: Path) -> None:
    dirs = _fake_pipeline(tmp_path)
    with pytest.raises(SrganError, match="report.grid_images"):
        build_report(
            metrics_dir=dirs["metrics"], models_dir=dirs["models"], logs_dir=dirs["logs"],
            prepared_dir=dirs["prepared"], out_dir=tmp_path / "report", losses=LOSSES, sets=(SET,), scale=SCALE,
            report=ReportParams(grid_images=("other/checker",), crop_px=16), runtime=CPU,
        )


def test_stage_rejects_the_old_argument_list() -> None:
    main = runpy.run_path(str(ROOT / "stages" / "report.py"))["main"]
    with pytest.raises(SrganError, match="usage: python stages/report.py METRICS_DIR MODELS_DIR LOGS_DIR"):
        main(["stages/report.py", "metrics", "report"])
