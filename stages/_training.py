"""The command line the four training stage scripts share (not a stage: the scripts import it).

usage: python -m stages.train_<experiment>[_mse] [VARIANT] TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR
           --seed N [--init SRRESNET_MSE_RUN_DIR]   (SRGAN: the SRResNet-MSE run of that seed it starts from)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from srgan.core.config import BASELINE_VARIANT
from srgan.training.setup import TrainingArgs
from srgan.training.store import RunPaths

FOLDERS = ("train_dir", "valid_dir", "out_dir", "log_dir", "plots_dir", "state_dir")


def training_args(argv: list[str], experiment: str, per_variant: bool, description: str) -> TrainingArgs:
    """Parse a training stage's argv. per_variant: the stage takes VARIANT first (the `mse` stages do not)."""
    prog = f"python -m stages.train_{experiment}" + ("" if per_variant else f"_{BASELINE_VARIANT}")
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if per_variant:
        parser.add_argument("variant", help=f"a key of params {experiment}.variants")
    for name in FOLDERS:
        parser.add_argument(name, type=Path, help=name.replace("_", " "))
    parser.add_argument("--seed", type=int, required=True,
                        help="the run's seed, one of params `seeds`: its initial weights, patch draws, augmentation, D")
    if experiment == "srgan":
        parser.add_argument("--init", type=Path, required=True, metavar="RUN_DIR",
                            help="the trained SRResNet-MSE run folder it starts from (models/srresnet/mse/seed<N>)")
    args = parser.parse_args(argv[1:])
    return TrainingArgs(experiment=experiment, variant=args.variant if per_variant else BASELINE_VARIANT,
                        train_dir=args.train_dir, valid_dir=args.valid_dir,
                        paths=RunPaths(args.out_dir, args.log_dir, args.plots_dir, args.state_dir),
                        seed=args.seed, init_dir=getattr(args, "init", None))
