"""Stages `train_srresnet_mse`, `train_srresnet@<variant>` (experiment 1: SRResNet from scratch with
one content loss) and `train_srgan_mse`, `train_srgan@<variant>` (experiment 2: SRGAN fine-tuned from
SRResNet-MSE).

usage: python -m stages.train srresnet|srgan VARIANT TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR
           [--init SRRESNET_CHECKPOINT]   (srgan: the SRResNet-MSE weights it starts from)
VARIANT `mse` is the pixel-MSE baseline, any other a key of params `<experiment>.variants`.
Relaunches itself under torchrun when runtime.processes > 1.
"""

import argparse
from pathlib import Path

from srgan.core.artifacts import load_checkpoint
from srgan.core.config import BASELINE_VARIANT, load_params, variant_terms
from srgan.core.console import run_main
from srgan.core.errors import SrganError
from srgan.core.launch import relaunch_under_torchrun
from srgan.core.runtime import resolve_runtime, seed_everything, shutdown
from srgan.datasets.prepared import centre_crop, load_eval_set, load_train_set
from srgan.losses.content import ContentLoss
from srgan.losses.terms import check_all_variant_terms
from srgan.pipeline.code_deps import code_digest
from srgan.pipeline.stage_params import stage_settings
from srgan.training.loop import TrainData
from srgan.training.runs import train_srgan, train_srresnet
from srgan.training.store import RunPaths

ROOT = Path(__file__).resolve().parents[1]


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.train", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("srresnet", "srgan"))
    parser.add_argument("variant")
    for name in ("train_dir", "valid_dir", "out_dir", "log_dir", "plots_dir", "state_dir"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--init", type=Path, help="srgan: the trained SRResNet-MSE checkpoint")
    args = parser.parse_args(argv[1:])
    if (args.experiment == "srgan") != (args.init is not None):
        raise SrganError("stages.train: --init SRRESNET_CHECKPOINT is required for srgan and only for srgan")
    return args


def main(argv: list[str]) -> None:
    args = _arguments(argv)
    params = load_params(Path("params.yaml"))
    check_all_variant_terms({"srresnet": params.srresnet.variants, "srgan": params.srgan.variants})
    section = params.srresnet if args.experiment == "srresnet" else params.srgan
    terms = variant_terms(section, args.variant)
    stage = f"train_{args.experiment}" + ("_mse" if args.variant == BASELINE_VARIANT else "")
    if relaunch_under_torchrun(params.runtime.processes, argv):
        return
    seed_everything(params.runtime.seed)
    runtime = resolve_runtime(params.runtime)
    study, scale = params.study_code, params.data.scale
    p = params.srresnet.for_variant(args.variant) if args.experiment == "srresnet" else params.srgan
    try:
        valid = load_eval_set(args.valid_dir, scale)
        if p.valid_crop_px:
            valid = [centre_crop(item, p.valid_crop_px, scale) for item in valid]
        common = dict(
            variant=args.variant,
            content_loss=ContentLoss(terms, params.features.weights, params.features.allow_random_fallback,
                                     key=f"{args.experiment}.variants.{args.variant}", mse_range=study.mse_range,
                                     as_run_cuts=study.feature_cuts == "as_run",
                                     normalise=study.feature_normalisation),
            data=TrainData(load_train_set(args.train_dir, scale), valid, scale, params.runtime.seed, study.rotation),
            model_params=params.model,
            study=study,
            execution=params.execution,
            runtime=runtime,
            paths=RunPaths(args.out_dir, args.log_dir, args.plots_dir, args.state_dir),
            settings=stage_settings(params, stage, args.variant),
            code=code_digest(Path(__file__), ROOT),
        )
        if args.experiment == "srresnet":
            train_srresnet(p=p, **common)
        else:
            train_srgan(p=p, init_state=load_checkpoint(args.init)["model"], **common)
    finally:
        shutdown(runtime)


if __name__ == "__main__":
    run_main(main)
