"""Typed, checked views of `params.yaml`: one frozen dataclass per section.

`load_params(path)` reads the file and checks every key: unknown keys, missing
keys, wrong types and out-of-range values raise `SrganError` naming the key
(`srresnet.learning_rate`, `srgan.variants.hybrid_vgg19_5_4.mse`, ...). There are no
code defaults for tracked params, so `dvc params diff` sees every setting.
A loss variant's weights are checked here; its term names are resolved by
`srgan.losses.terms` when a stage builds or groups the loss, so the stages that
build no loss (prepare, evaluate) do not depend on the loss grammar. Which keys
each stage declares is DVC wiring: `srgan.pipeline.stage_params`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from srgan.core.errors import SrganError

T = TypeVar("T")

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine", "step")
AUGMENTS = ("none", "flip_rot90", "rot10_hflip")
DATA_SOURCES = ("skimage", "folder", "download")
FEATURE_WEIGHTS = ("imagenet", "random")
DISCRIMINATORS = ("paper", "as_run")
FEATURE_CUTS = ("paper", "as_run")
MSE_RANGES = ("signed", "unit")
SCORED_CHECKPOINTS = ("best", "last")
EVAL_BN_MODES = ("eval", "train")
ROTATIONS = ("bicubic", "nearest_black")
CUDA_GRAPHS = ("never", "auto", "required")  # srgan.training.tasks: eager / graphs where they apply / graphs or stop
MODEL_INITS = ("nearest", "pytorch")  # srgan.nets.srresnet.init_nearest_upsampling, or PyTorch's defaults
# The pixel-MSE variant of both experiments: experiment 1's baseline and every SRGAN's start.
BASELINE_VARIANT = "mse"
BASELINE_TERMS: dict[str, float] = {"mse": 1.0}
_NAME = re.compile(r"[A-Za-z0-9_]+")

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
            extra = (" (YAML reads true/false, yes/no and on/off as booleans: write one of the key's words)"
                     if isinstance(value, bool) else "")
            raise SrganError(f"params key '{key}' must be text, got {value!r}{extra}")
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


def _name(name: str, key: str) -> None:
    if not _NAME.fullmatch(name):
        raise SrganError(f"name '{key}' may only use letters, digits and _ (it becomes a folder and a stage name)")


@dataclass(frozen=True)
class RuntimeParams:
    device: str  # auto | cpu | cuda; auto picks cuda when available
    precision: str  # fp32 | bf16 | fp16 autocast on CUDA for training; the CPU always runs fp32
    channels_last: bool  # NHWC memory format for training (faster on tensor cores, and on the CPU with oneDNN)
    compile: bool  # torch.compile the generator and discriminator for training (CUDA)
    cuda_graphs: str  # never | auto | required: capture each whole training step as a CUDA graph (CUDA only)
    processes: int  # training processes: 1, or N > 1 for DistributedDataParallel under torchrun
    seed: int

    def check(self) -> None:
        _choice(self.device, DEVICES, "runtime.device")
        _choice(self.precision, PRECISIONS, "runtime.precision")
        _choice(self.cuda_graphs, CUDA_GRAPHS, "runtime.cuda_graphs")
        # numpy's default_rng (PatchDataset) rejects negative seeds.
        _positive(self.seed, "runtime.seed", allow_zero=True)
        _positive(self.processes, "runtime.processes")


@dataclass(frozen=True)
class ExecutionParams:
    """How runs are carried out, never what they compute: no stage declares these keys,
    and the resume fingerprint ignores them, so changing them reruns nothing."""

    num_workers: int  # DataLoader worker processes per training process
    log_every: int  # training steps between TensorBoard / `dvc plots` scalars
    checkpoint_every: int  # training steps between resume checkpoints (state/)
    progress: bool  # tqdm progress bars
    patches_on_device: bool  # CUDA: keep the training images in GPU memory and cut patches there (same patches)

    def check(self) -> None:
        _positive(self.num_workers, "execution.num_workers", allow_zero=True)
        _positive(self.log_every, "execution.log_every")
        _positive(self.checkpoint_every, "execution.checkpoint_every")


@dataclass(frozen=True)
class DatasetParams:
    source: str  # skimage | folder | download
    images: tuple[str, ...]  # skimage: names from skimage.data; other sources: [] = all files
    path: str  # folder: a directory holding HR/ and optionally LRbicx4/
    url: str  # download: an archive URL (zip / tar); a mirror URL works too
    sha256: str  # download: expected archive sha256, "" to skip (the seen one is recorded)

    def check(self, key: str) -> None:
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
    train: DatasetParams  # training images (prepare_train -> data/prepared/train)
    valid: DatasetParams  # validation images: best-checkpoint selection, curves (data/prepared/valid)
    test: dict[str, DatasetParams]  # evaluation sets, name -> source (data/prepared/test/<name>)

    def check(self) -> None:
        if self.scale not in (2, 4, 8):
            raise SrganError(f"params key 'data.scale' must be 2, 4 or 8, got {self.scale}")
        self.train.check("data.train")
        self.valid.check("data.valid")
        if not self.test:
            raise SrganError("params key 'data.test' must name at least one evaluation set")
        for name, ds in self.test.items():
            _name(name, f"data.test.{name}")
            ds.check(f"data.test.{name}")


@dataclass(frozen=True)
class ModelParams:
    num_blocks: int  # residual blocks B (16 in the paper)
    channels: int  # feature channels (64 in the paper)
    init: str  # nearest (start as nearest-neighbour upsampling) | pytorch (defaults + zero-init residual)

    def check(self) -> None:
        _positive(self.num_blocks, "model.num_blocks")
        _positive(self.channels, "model.channels")
        _choice(self.init, MODEL_INITS, "model.init")
        if self.init == "nearest" and self.channels < 3:
            raise SrganError("params key 'model.init' nearest needs model.channels >= 3")


@dataclass(frozen=True)
class FeatureParams:
    weights: str  # imagenet | random: weights of the frozen feature extractors
    allow_random_fallback: bool  # imagenet weights unavailable offline: warn and use random (false = stop)

    def check(self) -> None:
        _choice(self.weights, FEATURE_WEIGHTS, "features.weights")


@dataclass(frozen=True)
class TrainParams:
    """What a training run computes; every key here can change its result.

    Lengths, `valid_every` and SRGAN `checkpoints` count optimiser steps when
    `steps` > 0, and passes over the training images when `epochs` > 0.
    """

    steps: int  # optimiser steps (iterations); 0 when `epochs` is used
    epochs: int  # 0, or passes over the training images (one patch per image per pass, as the study)
    batch_size: int  # global batch: split across processes when runtime.processes > 1
    grad_accumulation: int  # split each process's batch into N micro-batches (less memory; BN sees the micro-batch)
    patch_px: int  # HR patch side in pixels; the LR patch is patch_px / scale
    augment: str  # none | flip_rot90 | rot10_hflip (the study's 10-degree rotation + flip)
    learning_rate: float  # Adam, betas (0.9, 0.999)
    lr_schedule: str  # constant | cosine (to 0 at the last step) | step (x0.1 at lr_decay_step)
    lr_decay_step: int  # step of the x0.1 decay for lr_schedule=step (paper SRGAN: 1e5 of 2e5)
    ema_decay: float  # exponential moving average of G's weights; 0 disables it
    valid_every: int  # validate (PSNR-Y, SSIM-Y on data.valid) and keep the best every N steps (epochs)
    valid_crop_px: int  # 0: whole validation images | N: their centre N-px HR crops (cheaper; the study: 256)
    max_bad_steps: int  # non-finite loss/gradient steps to skip in total before stopping (0 = stop at once)

    @property
    def unit(self) -> str:
        """'step' or 'epoch': what `steps`/`epochs`, `valid_every` and checkpoints count."""
        return "step" if self.steps > 0 else "epoch"

    @property
    def length(self) -> int:
        """The run's length in its unit."""
        return self.steps if self.steps > 0 else self.epochs

    def check(self, section: str) -> None:
        for name in ("batch_size", "grad_accumulation", "patch_px", "valid_every"):
            _positive(getattr(self, name), f"{section}.{name}")
        _positive(self.valid_crop_px, f"{section}.valid_crop_px", allow_zero=True)
        _positive(self.steps, f"{section}.steps", allow_zero=True)
        _positive(self.epochs, f"{section}.epochs", allow_zero=True)
        if (self.steps > 0) == (self.epochs > 0):
            raise SrganError(f"params keys '{section}.steps' and '{section}.epochs': set exactly one of them > 0")
        _positive(self.max_bad_steps, f"{section}.max_bad_steps", allow_zero=True)
        _positive(self.learning_rate, f"{section}.learning_rate")
        _positive(self.lr_decay_step, f"{section}.lr_decay_step", allow_zero=True)
        _choice(self.augment, AUGMENTS, f"{section}.augment")
        _choice(self.lr_schedule, LR_SCHEDULES, f"{section}.lr_schedule")
        if not 0.0 <= self.ema_decay < 1.0:
            raise SrganError(f"params key '{section}.ema_decay' must be in [0, 1), got {self.ema_decay}")


def _check_variants(variants: dict[str, dict[str, float]], section: str) -> None:
    for name, terms in variants.items():
        _name(name, f"{section}.variants.{name}")
        if name == BASELINE_VARIANT:
            raise SrganError(
                f"params key '{section}.variants.{name}': '{BASELINE_VARIANT}' (pixel MSE) always runs as the "
                "baseline; give this variant another name"
            )
        check_weights(terms, f"{section}.variants.{name}")


def check_weights(terms: dict[str, float], key: str) -> None:
    """The weights of one content-loss variant {term: weight} at params key `key`: each finite and
    >= 0, at least one > 0. Term names are resolved by `srgan.losses.terms.check_variant_terms`."""
    if not terms:
        raise SrganError(f"params key '{key}' must give at least one term, e.g. {{mse: 1.0}}")
    for term, weight in terms.items():
        if not 0 <= weight < math.inf:  # also catches NaN
            raise SrganError(f"params key '{key}.{term}' must be a finite weight >= 0, got {weight}")
    if sum(terms.values()) <= 0:
        raise SrganError(f"params key '{key}' needs at least one positive weight")


@dataclass(frozen=True)
class SRResNetParams(TrainParams):
    """Experiment 1: one SRResNet from scratch per content loss; `mse` (the baseline) always runs."""

    variants: dict[str, dict[str, float]]  # name -> {term: weight}, besides the pixel-MSE baseline
    variant_length: int  # steps (epochs) of the other variants; 0 = the baseline's (a fair comparison)

    def check(self, section: str = "srresnet") -> None:
        super().check(section)
        _check_variants(self.variants, section)
        _positive(self.variant_length, f"{section}.variant_length", allow_zero=True)

    def for_variant(self, variant: str) -> SRResNetParams:
        """The training settings of `variant`: the baseline's, or with `variant_length` when it is set, and
        `valid_every` scaled by the same factor, so the shorter run is validated as many times."""
        if variant == BASELINE_VARIANT or not self.variant_length:
            return self
        unit = "steps" if self.unit == "step" else "epochs"
        valid_every = max(1, self.valid_every * self.variant_length // self.length)
        return dataclasses.replace(self, **{unit: self.variant_length, "valid_every": valid_every})


@dataclass(frozen=True)
class SRGANParams(TrainParams):
    """Experiment 2: one SRGAN per content loss, each fine-tuned from SRResNet-MSE of experiment 1."""

    variants: dict[str, dict[str, float]]  # name -> {term: weight}, besides the pixel-MSE baseline
    adversarial_weight: float  # weight of -log D(G(LR)) in G's loss (1.0e-3 in the paper)
    checkpoints: tuple[int, ...]  # points (in the run's unit) whose weights are kept and evaluated; the last = length

    def check(self, section: str = "srgan") -> None:
        super().check(section)
        _check_variants(self.variants, section)
        _positive(self.adversarial_weight, f"{section}.adversarial_weight", allow_zero=True)
        points = list(self.checkpoints)
        if not points or points != sorted(set(points)) or points[0] < 1 or points[-1] != self.length:
            raise SrganError(
                f"params key '{section}.checkpoints' must be increasing {self.unit} counts >= 1 ending at the run's "
                f"length ({self.length}), got {points}"
            )
        if self.patch_px % 16:
            raise SrganError(f"params key '{section}.patch_px' must be a multiple of 16 (the discriminator halves it 4 times)")


@dataclass(frozen=True)
class StudyCodeParams:
    """The content-loss study's code as it ran (the defects read from its public code, unique-chan/SRGAN), one switch
    per behaviour, so that `dvc exp run -S study_code.<switch>=...` measures one defect's effect.

    Every profile but `study_as_run` sets them all to the corrected pipeline: adversarial_gradient true,
    shared_bn false, discriminator paper, feature_cuts paper, feature_normalisation true, mse_range signed,
    scored_checkpoint best, eval_bn_mode eval, eval_clamp true, rotation bicubic.
    The last three evaluation switches and scored_checkpoint define the "study protocol as run" that
    evaluation reports beside ours; they change no training.
    """

    adversarial_gradient: bool  # false: G's adversarial term from a detached D output (no gradient: content-only)
    shared_bn: bool  # true: each residual block's two convs share one BatchNorm (and PyTorch's default init)
    discriminator: str  # paper | as_run: 6 blocks (total stride 8), rows of 1024 features, one verdict per batch
    feature_cuts: str  # paper | as_run: vgg19_5_4, res18_4, res34_3, res34_5 mean the study's extractors (asrun/...)
    feature_normalisation: bool  # false: no ImageNet mean/std before the extractors, no VGG x1/12.75
    mse_range: str  # signed: pixel MSE on [-1, 1] intensities (the paper) | unit: on [0, 1] images (a quarter of it)
    scored_checkpoint: str  # best | last: the study's SRResNet "best" file held the last epoch's weights
    eval_bn_mode: str  # eval | train: the study never put the generator in eval mode at test time
    eval_clamp: bool  # false: the study scored unclamped SR images
    rotation: str  # rot10_hflip's rotation: bicubic (ours, no padding) | nearest_black (RandomRotation(10) of the crop)

    def check(self, scale: int) -> None:
        _choice(self.discriminator, DISCRIMINATORS, "study_code.discriminator")
        _choice(self.feature_cuts, FEATURE_CUTS, "study_code.feature_cuts")
        _choice(self.mse_range, MSE_RANGES, "study_code.mse_range")
        _choice(self.scored_checkpoint, SCORED_CHECKPOINTS, "study_code.scored_checkpoint")
        _choice(self.eval_bn_mode, EVAL_BN_MODES, "study_code.eval_bn_mode")
        _choice(self.rotation, ROTATIONS, "study_code.rotation")

    @property
    def as_run_protocol(self) -> bool:
        """Whether evaluation scores the study protocol as the study ran it too (any evaluation switch set)."""
        return self.scored_checkpoint == "last" or self.eval_bn_mode == "train" or not self.eval_clamp


@dataclass(frozen=True)
class EvaluateParams:
    tile_px: int  # LR tile side for inference on big images (>= 32; tiles overlap by 16 px); 0 = whole image
    lpips_required: bool  # LPIPS needs AlexNet's ImageNet weights: true = stop without them, false = record "unavailable"

    def check(self) -> None:
        if self.tile_px != 0 and self.tile_px < 32:
            raise SrganError(f"params key 'evaluate.tile_px' must be 0 (whole images) or >= 32 LR px (tiles overlap by 16), got {self.tile_px}")


@dataclass(frozen=True)
class ReportParams:
    grid_images: tuple[str, ...]  # "<test set>/<image>" (or "<set>/#<k>", the k-th image) shown in the visual grids
    crop_px: int  # side of the zoomed HR crop in the grids

    def check(self, data: DataParams) -> None:
        _positive(self.crop_px, "report.crop_px")
        for entry in self.grid_images:
            set_name, _, image = entry.partition("/")
            if set_name not in data.test or not image:
                raise SrganError(
                    f"params key 'report.grid_images' has '{entry}'; write '<set>/<image>' or '<set>/#<k>' with a "
                    f"set from data.test ({', '.join(data.test)})"
                )


@dataclass(frozen=True)
class Params:
    runtime: RuntimeParams
    execution: ExecutionParams
    data: DataParams
    model: ModelParams
    features: FeatureParams
    srresnet: SRResNetParams
    srgan: SRGANParams
    study_code: StudyCodeParams
    evaluate: EvaluateParams
    report: ReportParams

    def check(self) -> None:
        self.runtime.check()
        self.execution.check()
        self.data.check()
        self.model.check()
        self.features.check()
        self.srresnet.check()
        self.srgan.check()
        self.study_code.check(self.data.scale)
        self.evaluate.check()
        self.report.check(self.data)
        for section, train in (("srresnet", self.srresnet), ("srgan", self.srgan)):
            if train.patch_px % self.data.scale:
                raise SrganError(f"params key '{section}.patch_px' must be a multiple of data.scale")
            if train.valid_crop_px % self.data.scale:
                raise SrganError(f"params key '{section}.valid_crop_px' must be a multiple of data.scale")


def variant_terms(section: SRResNetParams | SRGANParams, variant: str) -> dict[str, float]:
    """{term: weight} of an experiment's variant; the baseline `mse` is pixel MSE."""
    if variant == BASELINE_VARIANT:
        return dict(BASELINE_TERMS)
    if variant not in section.variants:
        raise SrganError(f"variant '{variant}' is not defined (defined: {', '.join([BASELINE_VARIANT, *section.variants])})")
    return dict(section.variants[variant])


def variant_names(section: SRResNetParams | SRGANParams) -> list[str]:
    """The experiment's variants in report order: the baseline first, then params order."""
    return [BASELINE_VARIANT, *section.variants]


def params_from_dict(raw: Any) -> Params:
    """Check a parsed params mapping and return the typed `Params`."""
    params = _from_dict(Params, raw, "")
    params.check()
    return params


def load_params(path: Path) -> Params:
    """Read and check `params.yaml`; raises SrganError naming the file or key."""
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
    """Plain-data (JSON/YAML-safe) copy of a params dataclass, for checkpoints, logs and fingerprints."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [as_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj
