"""Stage `pretrain`: SRResNet trained from scratch with params.pretrain.content_loss (MSE).

usage: python stages/pretrain.py TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR STATE_DIR PLOTS_DIR
Relaunches itself under torchrun when runtime.processes > 1.
"""

from pathlib import Path

from srgan.console import run_main
from srgan.launch import relaunch_under_torchrun
from srgan.config import load_params
from srgan.data import load_eval_set, load_hr_images
from srgan.losses import ContentLoss
from srgan.runtime import resolve_runtime, seed_everything, shutdown
from srgan.train import StagePaths, pretrain_srresnet


def main(argv: list[str]) -> None:
    train_dir, valid_dir, out_dir, log_dir, state_dir, plots_dir = map(Path, argv[1:7])
    params = load_params(Path("params.yaml"))
    if relaunch_under_torchrun(params.runtime.processes, argv):
        return
    seed_everything(params.runtime.seed)
    runtime = resolve_runtime(params.runtime)
    name = params.pretrain.content_loss
    try:
        pretrain_srresnet(
            train_images=load_hr_images(train_dir),
            valid_images=load_eval_set(valid_dir, params.data.scale),
            scale=params.data.scale,
            model_params=params.model,
            train_params=params.pretrain,
            loss_name=name,
            content_loss=ContentLoss(params.losses[name], params.features.weights, params.features.allow_random_fallback),
            seed=params.runtime.seed,
            runtime=runtime,
            paths=StagePaths(out_dir, log_dir, state_dir, plots_dir),
        )
    finally:
        shutdown(runtime)


if __name__ == "__main__":
    run_main(main)
