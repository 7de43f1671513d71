"""Stage `train_srgan_mse`: experiment 2's baseline, SRGAN with pixel MSE, fine-tuned from SRResNet-MSE. It
builds no feature extractor and depends on no extractor code.

usage: python -m stages.train_srgan_mse TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR --init RUN_DIR
RUN_DIR: the SRResNet-MSE run (models/srresnet/mse). Relaunches itself under torchrun when runtime.processes > 1.
"""

from srgan.core.console import run_main
from srgan.losses.content import ContentLoss
from srgan.training.setup import open_training_stage
from srgan.training.srgan import initial_generator_state, train_srgan
from stages._training import training_args


def main(argv: list[str]) -> None:
    args = training_args(argv, "srgan", per_variant=False, description=__doc__.splitlines()[0])
    setup = open_training_stage(args, argv)
    if setup is None:  # torchrun's processes did the work
        return
    with setup:
        loss = ContentLoss(setup.terms, mse_scale=setup.code.mse_scale, key=setup.key)
        train_srgan(setup, loss, initial_generator_state(setup))


if __name__ == "__main__":
    run_main(main)
