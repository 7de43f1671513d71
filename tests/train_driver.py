"""Runs a tiny pretrain (+ optional finetune) for the resume and DDP tests (not a test itself).

usage: python train_driver.py OUT_ROOT STEPS BATCH ACCUMULATION [finetune]
Under torchrun it trains with DistributedDataParallel (gloo on the CPU).
"""

import sys
from pathlib import Path

import numpy as np
import torch

from srgan.config import ModelParams, TrainParams
from srgan.data import EvalImage, bicubic_downscale
from srgan.losses import ContentLoss
from srgan.runtime import resolve_runtime, shutdown
from srgan.config import RuntimeParams
from srgan.train import StagePaths, finetune_srgan, pretrain_srresnet


def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (12, 14, 3)).astype(np.uint8)
    # Smooth-ish images (upsampled noise) so training has something to learn.
    from srgan.data import resize_bicubic
    train = [(f"img{i}", resize_bicubic(np.roll(base, i, axis=0), (64, 72))) for i in range(3)]
    hr = resize_bicubic(base, (32, 40))
    return train, [EvalImage("v", bicubic_downscale(hr, 4), hr, False)]


def main(argv):
    root, steps, batch, accumulation = Path(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])
    torch.set_num_threads(1)
    runtime = resolve_runtime(RuntimeParams(device="cpu", precision="fp32", channels_last=False, compile=False,
                                            processes=1, seed=0))
    params = TrainParams(steps=steps, epochs=0, batch_size=batch, grad_accumulation=accumulation, patch_px=32,
                         augment="flip_rot90", learning_rate=1e-3, lr_schedule="cosine", lr_decay_step=0,
                         ema_decay=0.0, valid_every=max(1, steps // 2), log_every=5, num_workers=0,
                         checkpoint_every=5, max_bad_steps=0)
    model = ModelParams(num_blocks=2, channels=8)
    train, valid = images()
    pretrain_srresnet(train_images=train, valid_images=valid, scale=4, model_params=model, train_params=params,
                      loss_name="mse", content_loss=ContentLoss({"mse": 1.0}), seed=0, runtime=runtime,
                      paths=StagePaths(root / "srresnet", root / "logs", root / "state", root / "plots"), progress=False)
    if len(argv) > 5:
        init = torch.load(root / "srresnet" / "last.pt", weights_only=True)["model"]
        finetune_srgan(init_state=init, train_images=train, valid_images=valid, scale=4, model_params=model,
                       train_params=params, adversarial_weight=1e-2, loss_name="mse",
                       content_loss=ContentLoss({"mse": 1.0}), seed=0, runtime=runtime,
                       paths=StagePaths(root / "srgan", root / "glogs", root / "gstate", root / "gplots"), progress=False)
    shutdown(runtime)


if __name__ == "__main__":
    main(sys.argv)
