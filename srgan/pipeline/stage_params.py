"""The params keys each dvc.yaml stage declares: exactly the settings that can change its outputs.

Keys are written as in dvc.yaml (`${key}`: the stage instance's variant or set).
A training stage's resume fingerprint hashes the same keys (`stage_settings`);
`execution` holds the settings no stage declares. dvc.yaml is generated from this
table and the stages' code closures (`srgan.pipeline.dvc_yaml`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from srgan.core.config import Params, TrainParams, as_dict

_TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainParams))
_RUN = ["runtime", "data.scale", "model"]
# The study-code switches each kind of stage can be changed by.
_STUDY_TRAIN = ["study_code.shared_bn", "study_code.mse_range", "study_code.rotation"]
_STUDY_FEATURES = ["study_code.feature_cuts", "study_code.feature_normalisation"]
_STUDY_GAN = ["study_code.adversarial_gradient", "study_code.discriminator"]
_EVALUATE = ["runtime.device", "data.scale", "evaluate"]
_STUDY_EVALUATE = ["study_code.eval_bn_mode", "study_code.eval_clamp"]

STAGE_PARAMS: dict[str, list[str]] = {
    "prepare_train": ["data.scale", "data.train"],
    "prepare_valid": ["data.scale", "data.valid"],
    "prepare_test": ["data.scale", "data.test.${key}"],
    "train_srresnet_mse": [*_RUN, *(f"srresnet.{k}" for k in _TRAIN_KEYS), *_STUDY_TRAIN],
    "train_srresnet": [*_RUN, *(f"srresnet.{k}" for k in _TRAIN_KEYS), "srresnet.variant_length", "features",
                       *_STUDY_TRAIN, *_STUDY_FEATURES, "srresnet.variants.${key}"],
    "train_srgan_mse": [*_RUN, *(f"srgan.{k}" for k in _TRAIN_KEYS), "srgan.adversarial_weight", "srgan.checkpoints",
                        *_STUDY_TRAIN, *_STUDY_GAN],
    "train_srgan": [*_RUN, *(f"srgan.{k}" for k in _TRAIN_KEYS), "srgan.adversarial_weight", "srgan.checkpoints",
                    "features", *_STUDY_TRAIN, *_STUDY_GAN, *_STUDY_FEATURES, "srgan.variants.${key}"],
    "evaluate_bicubic": _EVALUATE,  # bicubic is 8-bit and has no BatchNorm or checkpoint: the switches change nothing
    "evaluate_srresnet_mse": [*_EVALUATE, "study_code.scored_checkpoint", *_STUDY_EVALUATE],
    "evaluate_srresnet": [*_EVALUATE, "study_code.scored_checkpoint", *_STUDY_EVALUATE],
    "evaluate_srgan_mse": [*_EVALUATE, *_STUDY_EVALUATE],  # SRGAN points are scored at their last weights anyway
    "evaluate_srgan": [*_EVALUATE, *_STUDY_EVALUATE],
    "report": ["runtime.device", "data.scale", "srresnet.variants", "srgan.variants", "report"],
}


def stage_settings(params: Params, stage: str, key: str = "") -> dict[str, Any]:
    """{dotted key: value} of what `stage` (a STAGE_PARAMS name; `key` = its instance) declares.

    The resume fingerprint of a training stage is a hash of this mapping.
    """
    plain = as_dict(params)
    out = {}
    for dotted in STAGE_PARAMS[stage]:
        dotted = dotted.replace("${key}", key)
        value: Any = plain
        for part in dotted.split("."):
            value = value[part]
        out[dotted] = value
    return out
