"""Stages `train_srresnet_mse` and `train_srresnet@<variant>`: experiment 1, SRResNet from scratch with one content loss.

usage: python -m stages.train_srresnet VARIANT TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR
VARIANT `mse` is the pixel-MSE baseline (every SRGAN starts from it), any other
a key of params `srresnet.variants`. Relaunches itself under torchrun when
runtime.processes > 1.
"""

from pathlib import Path

from srgan.code_deps import code_digest
from srgan.config import BASELINE_VARIANT, load_params, stage_settings, variant_terms
from srgan.console import run_main
from srgan.data import load_eval_set, load_hr_images
from srgan.launch import relaunch_under_torchrun
from srgan.losses import ContentLoss
from srgan.runtime import resolve_runtime, seed_everything, shutdown
from srgan.train import RunPaths, TrainData, train_srresnet

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    variant = argv[1]
    train_dir, valid_dir, out_dir, log_dir, plots_dir, state_dir = map(Path, argv[2:8])
    params = load_params(Path("params.yaml"))
    terms = variant_terms(params.srresnet, variant)
    stage = "train_srresnet_mse" if variant == BASELINE_VARIANT else "train_srresnet"
    if relaunch_under_torchrun(params.runtime.processes, argv):
        return
    seed_everything(params.runtime.seed)
    runtime = resolve_runtime(params.runtime)
    try:
        train_srresnet(
            variant=variant,
            content_loss=ContentLoss(terms, params.features.weights, params.features.allow_random_fallback),
            data=TrainData(load_hr_images(train_dir), load_eval_set(valid_dir, params.data.scale),
                           params.data.scale, params.runtime.seed),
            model_params=params.model,
            p=params.srresnet.for_variant(variant),
            execution=params.execution,
            runtime=runtime,
            paths=RunPaths(out_dir, log_dir, plots_dir, state_dir),
            settings=stage_settings(params, stage, variant),
            code=code_digest(Path(__file__), ROOT),
        )
    finally:
        shutdown(runtime)


if __name__ == "__main__":
    run_main(main)
