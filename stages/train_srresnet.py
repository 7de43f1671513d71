"""Stage `train_srresnet@<variant>`: experiment 1, SRResNet from scratch with one content loss of params
`srresnet.variants` (feature terms: frozen torchvision extractors).

usage: python -m stages.train_srresnet VARIANT TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR
Relaunches itself under torchrun when runtime.processes > 1.
"""

from srgan.core.console import run_main
from srgan.losses.extractors import feature_content_loss
from srgan.training.setup import open_training_stage
from srgan.training.srresnet import train_srresnet
from stages._training import training_args


def main(argv: list[str]) -> None:
    args = training_args(argv, "srresnet", per_variant=True, description=__doc__.splitlines()[0])
    setup = open_training_stage(args, argv)
    if setup is None:  # torchrun's processes did the work
        return
    with setup:
        features, code = setup.params.features, setup.code
        train_srresnet(setup, feature_content_loss(setup.terms, features.weights, features.allow_random_fallback,
                                                   code=code.features, mse_scale=code.mse_scale, key=setup.key))


if __name__ == "__main__":
    run_main(main)
