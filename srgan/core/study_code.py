"""The content-loss study's code as it ran, one switch per defect, behind one seam.

`StudyCodeParams` is the `study_code` params section: each switch reproduces one behaviour of the
study's public code (unique-chan/SRGAN) that this project corrects, so that `dvc exp run -S
study_code.<switch>=...` measures what one defect did. Every profile but `study_as_run` sets them
all to the corrected pipeline. A switch's allowed words are its `Literal` type; the stage kinds it
can change are its `stages` metadata: those kinds declare it in dvc.yaml (`declared_by`), so they
and only they rerun when it changes.

The switches are resolved here, once per stage, into what they change, and the stage's setup hands
each consumer its own part; no other module reads `study_code`:

  training_code    (the training setup, `srgan.training.setup`) a `TrainingCode`:
    generator      the generator's blocks and biases           `srgan.nets.srresnet.SRResNet`
    mse_scale      the pixel MSE's intensity range              `srgan.losses.content.ContentLoss`
    rotation       rot10_hflip's rotation                       `srgan.datasets.patches.PatchSpec`
    features       the extractors' cuts and input (feature-loss stages)  `srgan.losses.extractors`
    gan            the discriminator, the adversarial term (SRGAN)       `srgan.training.srgan`
    init_file      the SRResNet-MSE file every SRGAN starts from (SRGAN)  `srgan.training.srgan`
  as_run_protocol  (the evaluation stage, stages/evaluate.py) how the study's code scored
                                                                `srgan.scoring.evaluate`

Each resolver reads exactly the switches its stage kind declares (a stage reads its params through
a view of its declared keys, and tests/core/test_study_code.py compares the two for every kind).
Adding a switch: a field here with its `stages` and its effect in the resolver, its one consumer, and
its value in every profile; dvc.yaml and the docs' what-reruns table are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
    return [f"study_code.{f.name}" for f in fields(StudyCodeParams) if stage_kind in f.metadata["stages"]]


def switch_groups() -> list[tuple[str, ...]]:
    """The switches grouped by the stage kinds they change (their `stages` metadata), in the section's order."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in fields(StudyCodeParams):
        groups.setdefault(tuple(sorted(f.metadata["stages"])), []).append(f.name)
    return [tuple(names) for names in groups.values()]


# ---------------------------------------------------------------- what each switch changes


@dataclass(frozen=True)
class GeneratorCode:
    """How the generator is built: its fields are `srgan.nets.srresnet.SRResNet`'s keyword arguments."""

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


@dataclass(frozen=True)
class TrainingCode:
    """A training stage's switches, resolved once by its setup (`training_code`): each consumer takes its
    own part. `features`, `gan` and `init_file` are None in the stage kinds they cannot change."""

    generator: GeneratorCode  # the generator's keyword arguments
    mse_scale: float  # the pixel MSE's factor on [0, 1] images: 4 on [-1, 1] intensities (the paper), 1 (the study's)
    rotation: Literal["bicubic", "nearest_black"]  # rot10_hflip's rotation
    features: FeatureCode | None  # feature-loss stages: how their extractors are cut and fed
    gan: GanCode | None  # SRGAN stages: the discriminator and the adversarial term
    init_file: Literal["best", "last"] | None  # SRGAN stages: SRResNet-MSE's best file (ours) or its last (the
    # study's "best" file held the last weights)


def training_code(study: StudyCodeParams, stage_kind: str) -> TrainingCode:
    """The switches of a training stage of `stage_kind` (one of TRAIN), resolved; reads exactly the switches
    that kind declares."""
    if stage_kind not in TRAIN:
        raise ValueError(f"not a training stage kind: {stage_kind!r}")
    srgan, features = stage_kind in SRGAN_TRAIN, stage_kind in FEATURE_TRAIN
    return TrainingCode(
        generator=GeneratorCode(shared_bn=study.shared_bn, conv_bias=study.generator_bias),
        mse_scale={"signed": 4.0, "unit": 1.0}[study.mse_range],  # (2a - 1) - (2b - 1) = 2(a - b)
        rotation=study.rotation,
        features=FeatureCode(as_run_cuts=study.feature_cuts == "as_run", normalise=study.feature_normalisation)
        if features else None,
        gan=GanCode(discriminator=study.discriminator, adversarial_gradient=study.adversarial_gradient)
        if srgan else None,
        init_file=study.best_file if srgan else None)


def as_run_protocol(study: StudyCodeParams, experiment: str) -> AsRunProtocol | None:
    """How the study's code scored runs of `experiment` (an evaluation stage's switches, resolved), or None
    when that equals ours (no switch set). Reads exactly the switches that evaluation kind declares.

    SRResNet: its "best" file (`best_file`), BatchNorm mode, clamping; SRGAN: BatchNorm mode and clamping
    (each SRGAN checkpoint point is scored at the weights of that point either way).
    """
    scored_file = "last" if experiment == "srresnet" and study.best_file == "last" else "scored"
    protocol = AsRunProtocol(scored_file, study.eval_bn_mode, study.eval_clamp)
    return None if protocol == AsRunProtocol("scored", "eval", True) else protocol
