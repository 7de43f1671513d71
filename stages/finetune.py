"""Stage `finetune@<loss>`: SRGAN fine-tuning of the pretrained SRResNet with one content loss.

usage: python stages/finetune.py LOSS_NAME INIT_CHECKPOINT TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR STATE_DIR PLOTS_DIR
Relaunches itself under torchrun when runtime.processes > 1.
"""

from pathlib import Path

from srgan.artifacts import load_checkpoint
from srgan.console import run_main
from srgan.launch import relaunch_under_torchrun
from srgan.config import load_params
from srgan.data import load_eval_set, load_hr_images
from srgan.errors import SrganError
from srgan.losses import ContentLoss
from srgan.runtime import resolve_runtime, seed_everything, shutdown
from srgan.train import StagePaths, finetune_srgan


def main(argv: list[str]) -> None:
    name = argv[1]
    init_ckpt, train_dir, valid_dir, out_dir, log_dir, state_dir, plots_dir = map(Path, argv[2:9])
    params = load_params(Path("params.yaml"))
    if name not in params.losses:
        raise SrganError(f"loss '{name}' is not defined in params.yaml 'losses'")
    if relaunch_under_torchrun(params.runtime.processes, argv):
        return
    seed_everything(params.runtime.seed)
    runtime = resolve_runtime(params.runtime)
    try:
        finetune_srgan(
            init_state=load_checkpoint(init_ckpt)["model"],
            train_images=load_hr_images(train_dir),
            valid_images=load_eval_set(valid_dir, params.data.scale),
            scale=params.data.scale,
            model_params=params.model,
            train_params=params.finetune,
            adversarial_weight=params.finetune.adversarial_weight,
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
