"""The content-loss study's code as it ran, one switch per defect, behind one seam.

`StudyCodeParams` is the `study_code` params section: each switch reproduces one behaviour of the
study's public code (unique-chan/SRGAN) that this project corrects, so that `dvc exp run -S
study_code.<switch>=...` measures what one defect did. Every profile but `study_as_run` sets them
all to the corrected pipeline. A switch's allowed words are its `Literal` type; the stages it can
change are its `stages` metadata (the dvc.yaml stage kinds that declare it).

The switches are resolved here, and only here, into what they change — one resolver per consumer,
each reading just the switches that change it (a stage's params view then allows exactly those):

  generator_code   the generator's blocks and biases     (training stages)
  gan_code         the discriminator, the adversarial term (SRGAN training)
  feature_code     the feature extractors' cuts and input  (feature-loss training)
  mse_scale        the pixel MSE's intensity range        (training stages)
  rotation         rot10_hflip's rotation                 (training stages)
  srgan_init_file  the SRResNet-MSE file SRGAN starts from (SRGAN training)
  as_run_protocol  how the study's code scored            (evaluations)

No other module reads `study_code`. Adding a switch: a field here with its `stages`, its resolver
(or a field of one), and the profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from srgan.core.sections import Problems, Section

TRAIN = ("train_srresnet_mse", "train_srresnet", "train_srgan_mse", "train_srgan")
SRGAN_TRAIN = ("train_srgan_mse", "train_srgan")
FEATURE_TRAIN = ("train_srresnet", "train_srgan")
SRRESNET_EVALUATE = ("evaluate_srresnet_mse", "evaluate_srresnet")
EVALUATE = (*SRRESNET_EVALUATE, "evaluate_srgan_mse", "evaluate_srgan")


def _switch(*stages: str) -> Any:
    return field(metadata={"stages": stages})


@dataclass(frozen=True)
class StudyCodeParams(Section):
    """The study's code as it ran (see the module docstring). Corrected values: adversarial_gradient true,
    shared_bn false, generator_bias true, discriminator paper, feature_cuts paper, feature_normalisation
    true, mse_range signed, best_file best, eval_bn_mode eval, eval_clamp true, rotation bicubic."""

    # false: G's adversarial term from a detached D output (no gradient: "SRGAN" = content-only fine-tuning)
    adversarial_gradient: bool = _switch(*SRGAN_TRAIN)
    # true: each residual block's two convs share one BatchNorm (and PyTorch's default init)
    shared_bn: bool = _switch(*TRAIN)
    # false: the study's head, upsampling and tail convolutions have no bias
    generator_bias: bool = _switch(*TRAIN)
    # as_run: 6 blocks (total stride 8), rows of 1024 features, one verdict per batch
    discriminator: Literal["paper", "as_run"] = _switch(*SRGAN_TRAIN)
    # as_run: vgg19_5_4, res18_4, res34_3, res34_5 mean the study's extractors (asrun/...)
    feature_cuts: Literal["paper", "as_run"] = _switch(*FEATURE_TRAIN)
    # false: no ImageNet mean/std before the extractors, no VGG x1/12.75
    feature_normalisation: bool = _switch(*FEATURE_TRAIN)
    # signed: pixel MSE on [-1, 1] intensities (the paper) | unit: on [0, 1] images (a quarter of it)
    mse_range: Literal["signed", "unit"] = _switch(*TRAIN)
    # What SRResNet's "best" checkpoint file holds: best (ours) | last (the study's, saved by reference, held the
    # last epoch's weights): SRResNet is scored at it in the study protocol as run, and every SRGAN starts from it
    best_file: Literal["best", "last"] = _switch(*SRRESNET_EVALUATE, *SRGAN_TRAIN)
    # train: the study never put the generator in eval mode at test time (BatchNorm on each image's statistics)
    eval_bn_mode: Literal["eval", "train"] = _switch(*EVALUATE)
    eval_clamp: bool = _switch(*EVALUATE)  # false: the study scored unclamped SR images
    # rot10_hflip's rotation: bicubic (ours, no padding) | nearest_black (RandomRotation(10) of the crop)
    rotation: Literal["bicubic", "nearest_black"] = _switch(*TRAIN)

    def check(self, problems: Problems) -> None:
        pass  # every switch is a bool or a Literal: the loader checks them


def declared_by(stage_kind: str) -> list[str]:
    """The `study_code.<switch>` keys a dvc.yaml stage kind declares (its `stages` metadata)."""
    return [f"study_code.{f.name}" for f in StudyCodeParams.__dataclass_fields__.values()
            if stage_kind in f.metadata.get("stages", ())]


# ---------------------------------------------------------------- what each switch changes


@dataclass(frozen=True)
class GeneratorCode:
    """How the generator is built (`srgan.nets.srresnet.SRResNet`)."""

    shared_bn: bool = False  # one BatchNorm per residual block, shared by its two convs (the study's)
    conv_bias: bool = True  # biases in the head, upsampling and tail convs (false: the study's)


@dataclass(frozen=True)
class GanCode:
    """The SRGAN objective's study switches (`srgan.training.srgan`)."""

    discriminator: Literal["paper", "as_run"] = "paper"
    adversarial_gradient: bool = True


@dataclass(frozen=True)
class FeatureCode:
    """How feature extractors are cut and fed (`srgan.losses.extractors`)."""

    as_run_cuts: bool = False  # the study's names mean its extractors (asrun/...)
    normalise: bool = True  # ImageNet mean/std on the input, VGG features x1/12.75


@dataclass(frozen=True)
class AsRunProtocol:
    """The study protocol as the study's code scored (`srgan.scoring.evaluate`): which file, BatchNorm mode, clamp."""

    scored_file: Literal["scored", "last"]  # last: SRResNet scored at its last weights; scored: the file ours scores
    bn_mode: Literal["eval", "train"]  # train: each test image normalised with its own statistics
    clamp: bool  # False: SR scored as the generator produced it


def generator_code(study: StudyCodeParams) -> GeneratorCode:
    return GeneratorCode(shared_bn=study.shared_bn, conv_bias=study.generator_bias)


def gan_code(study: StudyCodeParams) -> GanCode:
    return GanCode(discriminator=study.discriminator, adversarial_gradient=study.adversarial_gradient)


def feature_code(study: StudyCodeParams) -> FeatureCode:
    return FeatureCode(as_run_cuts=study.feature_cuts == "as_run", normalise=study.feature_normalisation)


def mse_scale(study: StudyCodeParams) -> float:
    """The pixel MSE's factor on [0, 1] images: 4 on [-1, 1] intensities (the paper: (2a-1) - (2b-1) = 2(a-b)),
    1 on [0, 1] (the study's)."""
    return {"signed": 4.0, "unit": 1.0}[study.mse_range]


def rotation(study: StudyCodeParams) -> str:
    """rot10_hflip's rotation: 'bicubic' | 'nearest_black' (`srgan.datasets.patches.PatchSpec`)."""
    return study.rotation


def srgan_init_file(study: StudyCodeParams) -> Literal["best", "last"]:
    """The SRResNet-MSE checkpoint every SRGAN starts from: its best (ours) or its last (the study's "best"
    file held the last weights)."""
    return study.best_file


def as_run_protocol(study: StudyCodeParams, experiment: str) -> AsRunProtocol | None:
    """How the study's code scored runs of `experiment`, or None when that equals ours (no switch set).

    SRResNet: its "best" file (`best_file`), BatchNorm mode, clamping; SRGAN: BatchNorm mode and clamping
    (each SRGAN checkpoint point is scored at the weights of that point either way).
    """
    scored_file = "last" if experiment == "srresnet" and study.best_file == "last" else "scored"
    protocol = AsRunProtocol(scored_file, study.eval_bn_mode, study.eval_clamp)
    return None if protocol == AsRunProtocol("scored", "eval", True) else protocol
