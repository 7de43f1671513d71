"""Stage `train_srgan@<variant>`: experiment 2, SRGAN fine-tuned from SRResNet-MSE with one content loss of
params `srgan.variants` (feature terms: frozen torchvision extractors).

usage: python -m stages.train_srgan VARIANT TRAIN_DIR VALID_DIR OUT_DIR LOG_DIR PLOTS_DIR STATE_DIR --init RUN_DIR
RUN_DIR: the SRResNet-MSE run (models/srresnet/mse). Relaunches itself under torchrun when runtime.processes > 1.
"""

from srgan.core.console import run_main
from srgan.losses.extractors import feature_content_loss
from srgan.training.setup import open_training_stage
from srgan.training.srgan import initial_generator_state, train_srgan
from stages._training import training_args


def main(argv: list[str]) -> None:
    args = training_args(argv, "srgan", per_variant=True, description=__doc__.splitlines()[0])
    setup = open_training_stage(args, argv)
    if setup is None:  # torchrun's processes did the work
        return
    with setup:
        features, code = setup.params.features, setup.code
        loss = feature_content_loss(setup.terms, features.weights, features.allow_random_fallback,
                                    code=code.features, mse_scale=code.mse_scale, key=setup.key)
        train_srgan(setup, loss, initial_generator_state(setup))


if __name__ == "__main__":
    run_main(main)
