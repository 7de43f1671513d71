"""Typed, validated views of `params.yaml`: one frozen dataclass per section.

`load_params(path)` reads the file and checks every key: unknown keys, missing
keys, wrong types and out-of-range values raise `SrganError` naming the key
(`pretrain.learning_rate`, `losses.hybrid_vgg19_5_4.mse`, ...). There are no
code defaults for tracked params, so `dvc params diff` sees every setting.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from srgan.errors import SrganError

T = TypeVar("T")

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine", "step")
AUGMENTS = ("none", "flip_rot90", "rot10_hflip")
DATA_SOURCES = ("skimage", "folder", "download")
FEATURE_WEIGHTS = ("imagenet", "random")
# Content-loss terms: pixel MSE, VGG-19 phi_i,j, ResNet-18/34 after the k-th BasicBlock.
LOSS_TERM_PATTERN = re.compile(r"^(mse|vgg19_[1-5]_[1-4]|res18_[1-8]|res34_(?:[1-9]|1[0-6]))$")


def _check_type(value: Any, hint: Any, key: str) -> Any:
    """Return `value` converted to `hint` or raise SrganError naming `key`."""
    origin = typing.get_origin(hint)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = " (write exponents with a dot, e.g. 1.0e-4: YAML reads 1e-4 as text)" if isinstance(value, str) else ""
            raise SrganError(f"params key '{key}' must be a number, got {value!r}{extra}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SrganError(f"params key '{key}' must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SrganError(f"params key '{key}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SrganError(f"params key '{key}' must be text, got {value!r}")
        return value
    if origin is tuple:
        (item_hint, _) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SrganError(f"params key '{key}' must be a list, got {value!r}")
        return tuple(_check_type(v, item_hint, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            raise SrganError(f"params key '{key}' must be a mapping, got {value!r}")
        return {
            _check_type(k, key_hint, key): _check_type(v, value_hint, f"{key}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, key)
    raise TypeError(f"unsupported type hint {hint!r} for {key}")  # a bug, not a user error


def _from_dict(cls: type[T], raw: Any, prefix: str) -> T:
    """`prefix` is the section's dotted key ("" at the top), so errors name keys as DVC does."""

    def key(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    if not isinstance(raw, dict):
        where = f"params section '{prefix}'" if prefix else "the params file"
        raise SrganError(f"{where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - fields, key=str)
    if unknown:
        raise SrganError(f"unknown params key '{key(unknown[0])}'; valid keys: {', '.join(sorted(fields))}")
    missing = sorted(fields - set(raw))
    if missing:
        raise SrganError(f"missing params key '{key(missing[0])}'")
    values = {name: _check_type(raw[name], hints[name], key(name)) for name in fields}
    return cls(**values)


def _choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise SrganError(f"params key '{key}' is {value!r}; choose one of {', '.join(choices)}")


def _positive(value: float, key: str, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise SrganError(f"params key '{key}' must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass(frozen=True)
class RuntimeParams:
    device: str  # auto | cpu | cuda; auto picks cuda when available
    precision: str  # fp32 | bf16 | fp16 autocast on CUDA; the CPU always runs fp32
    channels_last: bool  # NHWC memory format on CUDA (faster convolutions on tensor cores)
    compile: bool  # torch.compile the generator and discriminator for training (CUDA)
    processes: int  # training processes: 1, or N > 1 for DistributedDataParallel under torchrun
    seed: int

    def validate(self) -> None:
        _choice(self.device, DEVICES, "runtime.device")
        _choice(self.precision, PRECISIONS, "runtime.precision")
        # numpy's default_rng (PatchDataset) rejects negative seeds.
        _positive(self.seed, "runtime.seed", allow_zero=True)
        _positive(self.processes, "runtime.processes")


@dataclass(frozen=True)
class DatasetParams:
    source: str  # skimage | folder | download
    images: tuple[str, ...]  # skimage: names from skimage.data; other sources: [] = all files
    path: str  # folder: a directory holding HR/ and optionally LRbicx4/
    url: str  # download: an archive URL (zip / tar); a mirror URL works too
    sha256: str  # download: expected archive sha256, "" to skip (the seen one is recorded)

    def validate(self, key: str) -> None:
        _choice(self.source, DATA_SOURCES, f"{key}.source")
        if self.source == "skimage" and not self.images:
            raise SrganError(f"params key '{key}.images' must list skimage.data image names")
        if self.source == "folder" and not self.path:
            raise SrganError(f"params key '{key}.path' must name a folder with HR/ (and optional LRbicx4/)")
        if self.source == "download" and not self.url:
            raise SrganError(f"params key '{key}.url' must give the archive URL")


@dataclass(frozen=True)
class DataParams:
    scale: int  # upscaling factor; HR is mod-cropped to a multiple of it
    train_set: str  # name in `sets` to train on
    valid_set: str  # name in `sets` to validate on (best-checkpoint selection)
    sets: dict[str, DatasetParams]  # name -> source; prepare@<name> writes data/prepared/<name>

    def validate(self) -> None:
        if self.scale not in (2, 4, 8):
            raise SrganError(f"params key 'data.scale' must be 2, 4 or 8, got {self.scale}")
        for role in ("train_set", "valid_set"):
            if getattr(self, role) not in self.sets:
                raise SrganError(f"params key 'data.{role}' names '{getattr(self, role)}', which is not in data.sets")
        for name, ds in self.sets.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise SrganError(f"dataset name 'data.sets.{name}' may only use letters, digits and _")
            ds.validate(f"data.sets.{name}")


@dataclass(frozen=True)
class ModelParams:
    num_blocks: int  # residual blocks B (16 in the paper)
    channels: int  # feature channels (64 in the paper)

    def validate(self) -> None:
        _positive(self.num_blocks, "model.num_blocks")
        _positive(self.channels, "model.channels")


@dataclass(frozen=True)
class FeatureParams:
    weights: str  # imagenet | random: weights of the frozen VGG/ResNet extractors
    allow_random_fallback: bool  # imagenet weights unavailable offline: warn and use random (false = stop)

    def validate(self) -> None:
        _choice(self.weights, FEATURE_WEIGHTS, "features.weights")


@dataclass(frozen=True)
class TrainParams:
    steps: int  # optimiser steps (iterations); 0 when `epochs` is used
    epochs: int  # 0, or passes over the training images (one patch per image per pass, as the study)
    batch_size: int  # global batch: split across processes when runtime.processes > 1
    grad_accumulation: int  # split each process's batch into N micro-batches (same maths, less memory)
    patch_px: int  # HR patch side in pixels; the LR patch is patch_px / scale
    augment: str  # none | flip_rot90 | rot10_hflip (the study's 10-degree rotation + flip)
    learning_rate: float  # Adam, betas (0.9, 0.999)
    lr_schedule: str  # constant | cosine (to 0 at the last step) | step (x0.1 at lr_decay_step)
    lr_decay_step: int  # step of the x0.1 decay for lr_schedule=step (paper SRGAN: 1e5 of 2e5)
    ema_decay: float  # exponential moving average of G's weights; 0 disables it
    valid_every: int  # validate (PSNR-Y on the valid set) and keep the best every N steps
    log_every: int  # TensorBoard scalars every N steps
    num_workers: int  # DataLoader worker processes
    checkpoint_every: int  # save the resume checkpoint every N steps (and on a non-finite stop)
    max_bad_steps: int  # non-finite loss/gradient steps to skip in total before stopping (0 = stop at once)

    def validate(self, section: str) -> None:
        for name in ("batch_size", "grad_accumulation", "patch_px", "valid_every", "log_every", "checkpoint_every"):
            _positive(getattr(self, name), f"{section}.{name}")
        _positive(self.steps, f"{section}.steps", allow_zero=True)
        _positive(self.epochs, f"{section}.epochs", allow_zero=True)
        if (self.steps > 0) == (self.epochs > 0):
            raise SrganError(f"params keys '{section}.steps' and '{section}.epochs': set exactly one of them > 0")
        _positive(self.max_bad_steps, f"{section}.max_bad_steps", allow_zero=True)
        _positive(self.learning_rate, f"{section}.learning_rate")
        _positive(self.num_workers, f"{section}.num_workers", allow_zero=True)
        _positive(self.lr_decay_step, f"{section}.lr_decay_step", allow_zero=True)
        _choice(self.augment, AUGMENTS, f"{section}.augment")
        _choice(self.lr_schedule, LR_SCHEDULES, f"{section}.lr_schedule")
        if not 0.0 <= self.ema_decay < 1.0:
            raise SrganError(f"params key '{section}.ema_decay' must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class PretrainParams(TrainParams):
    content_loss: str  # key into `losses` (mse for SRResNet-MSE)


@dataclass(frozen=True)
class FinetuneParams(TrainParams):
    losses: tuple[str, ...]  # one SRGAN per entry: keys into `losses`
    adversarial_weight: float  # weight of -log D(G(LR)) in G's loss (1.0e-3 in the paper)


@dataclass(frozen=True)
class EvaluateParams:
    sets: tuple[str, ...]  # names in data.sets to score every model on
    tile_px: int  # LR tile side for inference on big images (>= 32; tiles overlap by 16 px); 0 = whole image

    def validate(self, data: DataParams) -> None:
        if not self.sets:
            raise SrganError("params key 'evaluate.sets' must list at least one dataset")
        for name in self.sets:
            if name not in data.sets:
                raise SrganError(f"params key 'evaluate.sets' names '{name}', which is not in data.sets")
        if self.tile_px != 0 and self.tile_px < 32:
            raise SrganError(f"params key 'evaluate.tile_px' must be 0 (whole images) or >= 32 LR px (tiles overlap by 16), got {self.tile_px}")


@dataclass(frozen=True)
class ReportParams:
    grid_images: tuple[str, ...]  # "set/image" names shown in the comparison grids
    crop_px: int  # side of the zoomed HR crop in the grids

    def validate(self) -> None:
        _positive(self.crop_px, "report.crop_px")


@dataclass(frozen=True)
class Params:
    runtime: RuntimeParams
    data: DataParams
    model: ModelParams
    features: FeatureParams
    losses: dict[str, dict[str, float]]  # variant name -> {term: weight}
    pretrain: PretrainParams
    finetune: FinetuneParams
    evaluate: EvaluateParams
    report: ReportParams

    def validate(self) -> None:
        self.runtime.validate()
        self.data.validate()
        self.model.validate()
        self.features.validate()
        for name, terms in self.losses.items():
            validate_loss_terms(name, terms)
        self.pretrain.validate("pretrain")
        self.finetune.validate("finetune")
        self.evaluate.validate(self.data)
        self.report.validate()
        for key, name in [("pretrain.content_loss", self.pretrain.content_loss)] + [
            (f"finetune.losses[{i}]", n) for i, n in enumerate(self.finetune.losses)
        ]:
            if name not in self.losses:
                raise SrganError(
                    f"params key '{key}' names loss '{name}', which is not defined in 'losses' "
                    f"(defined: {', '.join(self.losses)})"
                )
        if len(set(self.finetune.losses)) != len(self.finetune.losses):
            raise SrganError("params key 'finetune.losses' lists a loss twice")
        for section in (self.pretrain, self.finetune):
            name = "pretrain" if section is self.pretrain else "finetune"
            if section.patch_px % self.data.scale:
                raise SrganError(f"params key '{name}.patch_px' must be a multiple of data.scale")
        if self.finetune.patch_px % 16:
            raise SrganError("params key 'finetune.patch_px' must be a multiple of 16 (the discriminator halves it 4 times)")


def validate_loss_terms(name: str, terms: dict[str, float]) -> None:
    """Check one loss variant {term: weight}; raises SrganError naming `losses.<name>...`."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SrganError(f"loss name 'losses.{name}' may only use letters, digits and _")
    if not terms:
        raise SrganError(f"params key 'losses.{name}' must give at least one term, e.g. {{mse: 1.0}}")
    for term, weight in terms.items():
        if not LOSS_TERM_PATTERN.match(term):
            raise SrganError(
                f"unknown content-loss term 'losses.{name}.{term}'; use mse, vgg19_<i>_<j> "
                "(e.g. vgg19_5_4), res18_<k> (k=1..8) or res34_<k> (k=1..16)"
            )
        if not weight >= 0:
            raise SrganError(f"params key 'losses.{name}.{term}' must be a weight >= 0, got {weight}")
    if sum(terms.values()) <= 0:
        raise SrganError(f"params key 'losses.{name}' needs at least one positive weight")


def params_from_dict(raw: Any) -> Params:
    """Validate a parsed params mapping and return the typed `Params`."""
    params = _from_dict(Params, raw, "")
    params.validate()
    return params


def load_params(path: Path) -> Params:
    """Read and validate `params.yaml`; raises SrganError naming the file or key."""
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise SrganError(f"params file {path} not found; run from the project root") from None
    except yaml.YAMLError as e:
        raise SrganError(f"params file {path} is not valid YAML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SrganError(f"params file {path} cannot be read as UTF-8 text: {e}") from None
    try:
        return params_from_dict(raw)
    except SrganError as e:
        raise SrganError(f"{path}: {e}") from None


def as_dict(obj: Any) -> Any:
    """Plain-data (JSON/YAML-safe) copy of a params dataclass, for checkpoints and logs."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [as_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj

