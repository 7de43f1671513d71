"""Stage `train_srresnet_mse`: experiment 1's baseline, SRResNet from scratch with pixel MSE (it initialises
every SRGAN). It builds no feature extractor and depends on no extractor code.

usage: python -m stages.train_srresnet_mse TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR
Relaunches itself under torchrun when runtime.processes > 1.
"""

from srgan.core.console import run_main
from srgan.losses.content import ContentLoss
from srgan.training.setup import open_training_stage
from srgan.training.srresnet import train_srresnet
from stages._training import training_args


def main(argv: list[str]) -> None:
    args = training_args(argv, "srresnet", per_variant=False, description=__doc__.splitlines()[0])
    setup = open_training_stage(args, argv)
    if setup is None:  # torchrun's processes did the work
        return
    with setup:
        train_srresnet(setup, ContentLoss(setup.terms, mse_scale=setup.code.mse_scale, key=setup.key))


if __name__ == "__main__":
    run_main(main)
