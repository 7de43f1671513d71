import math

import numpy as np
import pandas as pd
import pytest
import torch

from srgan.artifacts import save_checkpoint
from srgan.data import EvalImage, bicubic_downscale, resize_bicubic
from srgan.errors import SrganError
from srgan.evaluate import describe_feature_weights, evaluate_model, summarize
from srgan.models import SRResNet
from srgan.runtime import Runtime

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _images():
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        hr = resize_bicubic(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), (160, 224))
        out.append(EvalImage(f"img{i}", bicubic_downscale(hr, 4), hr, False))
    return out


def test_bicubic_and_checkpoint_summaries(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "g.pt"
    save_checkpoint(ckpt, {"model": SRResNet(num_blocks=1, channels=8).state_dict(), "scale": 4, "kind": "srresnet",
                           "content_loss": "hybrid", "feature_weights": {"mse": "none", "res18_4": "random"}})
    sets = {"tiny": _images()}
    bicubic, rows = evaluate_model(None, sets, 4, CPU)
    assert bicubic["kind"] == "bicubic" and bicubic["tiny"]["images"] == 2
    assert list(rows.columns) == ["set", "image", "gray", "psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb"]
    model, _ = evaluate_model(ckpt, sets, 4, CPU)
    tiled, _ = evaluate_model(ckpt, sets, 4, CPU, tile_px=32)
    assert model["feature_weights"] == "res18_4: random" and model["content_loss"] == "hybrid"
    assert tiled["tiny"]["psnr_y_db"] == pytest.approx(model["tiny"]["psnr_y_db"], abs=0.1)
    assert math.isnan(model["tiny"]["ms_ssim_rgb"])  # 160 px is too small for MS-SSIM's 5 scales


def test_wrong_scale_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "x2.pt"
    save_checkpoint(ckpt, {"model": SRResNet(scale=2, num_blocks=1, channels=8).state_dict(), "scale": 2})
    with pytest.raises(SrganError, match="x2"):
        evaluate_model(ckpt, {"tiny": _images()}, 4, CPU)


def test_summaries_skip_nan_and_describe_weights():
    frame = pd.DataFrame({"psnr_y_db": [30.0, 32.0], "ssim_y": [0.8, 0.9], "psnr_rgb_db": [28.0, 29.0],
                          "ms_ssim_rgb": [float("nan"), 0.95]})
    summary = summarize(frame)
    assert summary == {"psnr_y_db": 31.0, "ssim_y": 0.85, "psnr_rgb_db": 28.5, "ms_ssim_rgb": 0.95, "images": 2}
    assert describe_feature_weights({"mse": "none"}) == "none (pixel loss only)"
