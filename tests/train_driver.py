"""Tiny training runs for the training and resume tests (not a test itself).

Imported by the tests for its helpers (images, params, `run_srresnet`, `run_srgan`),
and run as a script by the kill-and-resume and DDP tests:

usage: python train_driver.py OUT_ROOT [--steps N] [--batch B] [--patch P] [--accumulation K] [--stages srresnet,srgan]
           [--ema-decay D] [--checkpoints 10,300] [--num-workers W] [--log-every L] [--checkpoint-every C]

Under torchrun it trains with DistributedDataParallel (gloo on the CPU). OUT_ROOT/<stage>/
holds the outputs (out/), TensorBoard (logs/), plots (plots/) and the resume state (state/).
The srgan stage starts from OUT_ROOT/srresnet/out/last.pt when the srresnet stage ran, else
from a seeded random SRResNet.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from srgan.core.config import (
    ExecutionParams,
    ModelParams,
    RuntimeParams,
    SRGANParams,
    SRResNetParams,
    load_params,
)
from srgan.core.declared import Declared
from srgan.core.images import bicubic_downscale, resize_bicubic
from srgan.core.records import TrainingSummary
from srgan.core.runtime import Runtime, resolve_runtime, seed_everything, shutdown
from srgan.core.sections import Problems, as_dict
from srgan.core.study_code import StudyCodeParams, training_code
from srgan.datasets.prepared import EvalImage, TrainImage
from srgan.losses.content import ContentLoss
from srgan.nets.srresnet import SRResNet
from srgan.training.loop import TrainData
from srgan.training.setup import TrainingArgs, TrainingSetup
from srgan.training.srgan import train_srgan
from srgan.training.srresnet import train_srresnet
from srgan.training.store import RunPaths

ROOT = Path(__file__).resolve().parents[1]

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
TINY = ModelParams(num_blocks=2, channels=8, init="pytorch")
SCALE = 4
CODE = "code-digest-of-the-test"
# The corrected pipeline: every study-code switch off (the committed params.yaml's values).
STUDY = load_params(ROOT / "params.yaml").study_code


def train_image(name: str, hr_u8: np.ndarray) -> TrainImage:
    """A training image with its LR made as the prepare stages make it (PIL bicubic)."""
    return TrainImage(name, hr_u8, bicubic_downscale(hr_u8, SCALE))


def images(count: int = 3, seed: int = 0) -> tuple[list[TrainImage], list[EvalImage]]:
    """`count` smooth-ish 64x72 training images (upsampled noise: something to learn) and one 32x40 valid image."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (12, 14, 3)).astype(np.uint8)
    train = [train_image(f"img{i}", resize_bicubic(np.roll(base, i, axis=0), (64, 72))) for i in range(count)]
    hr = resize_bicubic(base, (32, 40))
    return train, [EvalImage("v", bicubic_downscale(hr, SCALE), hr, False)]


_TRAIN = {"steps": 6, "epochs": 0, "batch_size": 2, "grad_accumulation": 1, "patch_px": 32, "augment": "flip_rot90",
          "learning_rate": 1.0e-3, "lr_schedule": "cosine", "lr_decay_step": 0, "ema_decay": 0.0, "valid_every": 3, "valid_crop_px": 0,
          "curve_every": 1, "max_bad_steps": 0}


def _checked(section):
    problems = Problems()
    section.check(problems)
    if problems:
        raise ValueError("; ".join(problems))
    return section


def srresnet_params(**overrides) -> SRResNetParams:
    return _checked(SRResNetParams(**{**_TRAIN, "variants": {}, "variant_length": 0, **overrides}))


def srgan_params(**overrides) -> SRGANParams:
    values = {**_TRAIN, "variants": {}, "adversarial_weight": 1.0e-2, **overrides}
    values.setdefault("checkpoints", (values["steps"] or values["epochs"],))
    return _checked(SRGANParams(**values))


def execution(**overrides) -> ExecutionParams:
    return ExecutionParams(**{"num_workers": 0, "log_every": 1, "checkpoint_every": 2, "progress": False,
                              "patches_on_device": True, **overrides})


def settings_of(section: str, p: SRResNetParams | SRGANParams) -> dict:
    """The declared settings of a run on `p`, as a stage's fingerprint holds them (execution left out)."""
    return {"runtime": "cpu", "data.scale": SCALE, "model": as_dict(TINY),
            **{f"{section}.{k}": v for k, v in as_dict(p).items()}}


def paths(root: Path) -> RunPaths:
    return RunPaths(root / "out", root / "logs", root / "plots", root / "state")


def setup(root: Path, experiment: str, p: SRResNetParams | SRGANParams, *, data: TrainData | None = None,
          ex: ExecutionParams | None = None, runtime: Runtime = CPU, settings: dict | None = None, code: str = CODE,
          model: ModelParams = TINY, study: StudyCodeParams = STUDY) -> TrainingSetup:
    """What a training stage would set up (`srgan.training.setup`), from these pieces instead of dvc.yaml
    and params.yaml (`study` resolved as for the experiment's feature-loss stages; the rotation is `data`'s); the
    RNGs seeded as the stage seeds them."""
    if data is None:
        train, valid = images()
        data = TrainData(train, valid, SCALE, 0)
    params = dataclasses.replace(load_params(ROOT / "params.yaml"), model=model, study_code=study,
                                 execution=ex or execution(), **{experiment: p})
    seed_everything(data.seed)
    args = TrainingArgs(experiment, "mse", Path("unused"), Path("unused"), paths(root), data.seed)
    fingerprint = {"settings": settings_of(experiment, p) if settings is None else settings, "code": code}
    return TrainingSetup(args, Declared(f"train_{experiment}_mse@{data.seed}", (), ()), params, p, {"mse": 1.0},
                         training_code(study, f"train_{experiment}"), runtime, data, fingerprint)


def run_srresnet(root: Path, p: SRResNetParams, *, loss: ContentLoss | None = None, **pieces) -> TrainingSummary:
    """train_srresnet on tiny inputs into root/{out,logs,plots,state} (`setup`'s pieces as keywords)."""
    return train_srresnet(setup(root, "srresnet", p, **pieces), loss or ContentLoss({"mse": 1.0}))


def random_init(model: ModelParams = TINY) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    return SRResNet(scale=SCALE, num_blocks=model.num_blocks, channels=model.channels).state_dict()


def run_srgan(root: Path, p: SRGANParams, *, init_state: dict | None = None, loss: ContentLoss | None = None,
              **pieces) -> TrainingSummary:
    """train_srgan on tiny inputs into root/{out,logs,plots,state} (`setup`'s pieces as keywords)."""
    init_state = random_init(pieces.get("model", TINY)) if init_state is None else init_state
    return train_srgan(setup(root, "srgan", p, **pieces), loss or ContentLoss({"mse": 1.0}), init_state)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=32, help="HR patch side (px; a multiple of 16)")
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--stages", default="srresnet")
    parser.add_argument("--ema-decay", type=float, default=0.0)
    parser.add_argument("--checkpoints", default="", help="srgan checkpoint steps, comma-separated (default: the end)")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    args = parser.parse_args(argv[1:])
    torch.set_num_threads(1)
    runtime = resolve_runtime(RuntimeParams(device="cpu", precision="fp32", channels_last=False, compile=False,
                                            cuda_graphs="never", processes=1))
    common = {"steps": args.steps, "batch_size": args.batch, "patch_px": args.patch,
              "grad_accumulation": args.accumulation, "ema_decay": args.ema_decay,
              "valid_every": max(1, args.steps // 2)}
    ex = execution(num_workers=args.num_workers, log_every=args.log_every, checkpoint_every=args.checkpoint_every)
    stages = args.stages.split(",")
    try:
        if "srresnet" in stages:
            run_srresnet(args.root / "srresnet", srresnet_params(**common), ex=ex, runtime=runtime)
        if "srgan" in stages:
            checkpoints = tuple(int(c) for c in args.checkpoints.split(",")) if args.checkpoints else (args.steps,)
            init = None
            if "srresnet" in stages:
                init = torch.load(args.root / "srresnet" / "out" / "last.pt", weights_only=True)["model"]
            run_srgan(args.root / "srgan", srgan_params(**common, checkpoints=checkpoints), init_state=init,
                      ex=ex, runtime=runtime)
    finally:
        shutdown(runtime)


if __name__ == "__main__":
    main(sys.argv)
