"""The params keys each dvc.yaml stage declares: exactly the settings that can change its outputs.

This table is the one place a stage's params are written: dvc.yaml is generated from it
(`srgan.pipeline.dvc_yaml`), and each stage reads its own entry back from dvc.yaml when it starts
(`srgan.core.declared`) and gets its params through a view of exactly those keys
(`srgan.core.sections.params_view`): reading any other key is an error. Keys are written as in
dvc.yaml (`${item.variant}`: the stage instance's variant; `${key}`: a test set). A run's seed is on
its command line, not a declared key: only the report, which gathers every seed, declares `seeds`. The `study_code` switches a stage
declares come from their own `stages` metadata (`srgan.core.study_code`). `execution` holds the
settings that change no output: no stage declares it, every stage may read it.
"""

from __future__ import annotations

import dataclasses

from srgan.core.config import TrainParams
from srgan.core.study_code import declared_by

_TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainParams))
_RUN = ["runtime", "data.scale", "model"]
_EVALUATE = ["runtime.device", "data.scale", "data.test", "evaluate"]


def _training(experiment: str, kind: str) -> list[str]:
    keys = [*_RUN, *(f"{experiment}.{k}" for k in _TRAIN_KEYS)]
    if experiment == "srresnet" and kind == "train_srresnet":
        keys.append("srresnet.variant_length")
    if experiment == "srgan":
        keys += ["srgan.adversarial_weight", "srgan.checkpoints"]
    if not kind.endswith("_mse"):
        keys += ["features", f"{experiment}.variants.${{item.variant}}"]
    return keys + declared_by(kind)


STAGE_PARAMS: dict[str, list[str]] = {
    "prepare_train": ["data.scale", "data.train"],
    "prepare_valid": ["data.scale", "data.valid"],
    "prepare_test": ["data.scale", "data.test.${key}"],
    "train_srresnet_mse": _training("srresnet", "train_srresnet_mse"),
    "train_srresnet": _training("srresnet", "train_srresnet"),
    "train_srgan_mse": _training("srgan", "train_srgan_mse"),
    "train_srgan": _training("srgan", "train_srgan"),
    # bicubic is 8-bit and has no BatchNorm or checkpoint: the study's evaluation switches change nothing
    "evaluate_bicubic": _EVALUATE,
    "evaluate_srresnet_mse": [*_EVALUATE, *declared_by("evaluate_srresnet_mse")],
    "evaluate_srresnet": [*_EVALUATE, *declared_by("evaluate_srresnet")],
    "evaluate_srgan_mse": [*_EVALUATE, *declared_by("evaluate_srgan_mse")],
    "evaluate_srgan": [*_EVALUATE, *declared_by("evaluate_srgan")],
    "report": ["runtime.device", "data.scale", "data.test", "seeds", "srresnet.variants", "srgan.variants",
               "report"],
}
