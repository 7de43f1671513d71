"""Typed, checked views of `params.yaml`: one frozen dataclass per section.

`load_params(path)` reads the file and checks every key of every section: unknown keys,
missing keys, wrong types, values outside their choices or range, and the rules that tie
fields together. Every problem is found, not just the first: `check_params` returns them,
one line each (`srgan check` prints them); `load_params` raises one `SrganError` holding
them all, one per line, each naming its key (`srresnet.learning_rate`,
`srgan.variants.hybrid_vgg19_5_4.mse`, ...). Every stage runs this check on the whole file
before it starts. There are no code defaults for tracked params, so `dvc params diff` sees
every setting. A field's allowed words are written once, as its `Literal` type.

A loss variant's weights are checked here; its term names are resolved by
`srgan.losses.terms`, which only the stages that build or group a loss import. The `study_code`
section and its resolution live in `srgan.core.study_code`; the checking machinery and the views a
stage reads its params through (only its declared keys) in `srgan.core.sections`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from srgan.core.errors import SrganError
from srgan.core.sections import (
    BAD,
    Problems,
    Section,
    check_name,
    check_type,
    positive,
    replaced,
)
from srgan.core.study_code import StudyCodeParams

# The pixel-MSE variant of both experiments: experiment 1's baseline and every SRGAN's start.
BASELINE_VARIANT = "mse"
BASELINE_TERMS: dict[str, float] = {"mse": 1.0}


# ---------------------------------------------------------------- the sections


@dataclass(frozen=True)
class RuntimeParams(Section):
    device: Literal["auto", "cpu", "cuda"]  # auto picks cuda when available
    precision: Literal["fp32", "bf16", "fp16"]  # autocast on CUDA for training; the CPU always runs fp32
    channels_last: bool  # NHWC memory format for training (faster on tensor cores, and on the CPU with oneDNN)
    compile: bool  # torch.compile the generator and discriminator for training (CUDA)
    # never | auto | required: capture each whole training step as a CUDA graph (CUDA only; srgan.training.graphs):
    # eager / graphs where they apply, else eager with a warning / graphs, or stop in one line
    cuda_graphs: Literal["never", "auto", "required"]
    processes: int  # training processes: 1, or N > 1 for DistributedDataParallel under torchrun

    def check(self, problems: Problems) -> None:
        positive(problems, self.processes, "runtime.processes")


@dataclass(frozen=True)
class ExecutionParams(Section):
    """How runs are carried out, never what they compute: no stage declares these keys,
    and the resume fingerprint ignores them, so changing them reruns nothing."""

    num_workers: int  # DataLoader worker processes per training process
    log_every: int  # training steps between TensorBoard scalars and progress-bar updates (the curves: curve_every)
    checkpoint_every: int  # training steps between resume checkpoints (state/)
    progress: bool  # tqdm progress bars
    patches_on_device: bool  # CUDA: keep the training images in GPU memory and cut patches there (same patches)

    def check(self, problems: Problems) -> None:
        positive(problems, self.num_workers, "execution.num_workers", allow_zero=True)
        positive(problems, self.log_every, "execution.log_every")
        positive(problems, self.checkpoint_every, "execution.checkpoint_every")


@dataclass(frozen=True)
class DatasetParams(Section):
    source: Literal["skimage", "folder", "download"]
    images: tuple[str, ...]  # skimage: names from skimage.data; other sources: [] = all files
    path: str  # folder: a directory holding HR/ and optionally LRbicx4/
    url: str  # download: an archive URL (zip / tar); a mirror URL works too
    sha256: str  # download: expected archive sha256, "" to skip (the seen one is recorded)

    def check(self, problems: Problems, key: str) -> None:
        if self.source == "skimage" and not self.images:
            problems.add(f"params key '{key}.images' must list skimage.data image names")
        if self.source == "folder" and not self.path:
            problems.add(f"params key '{key}.path' must name a folder with HR/ (and optional LRbicx4/)")
        if self.source == "download" and not self.url:
            problems.add(f"params key '{key}.url' must give the archive URL")


@dataclass(frozen=True)
class DataParams(Section):
    scale: int  # upscaling factor; HR is mod-cropped to a multiple of it
    train: DatasetParams  # training images (prepare_train -> data/prepared/train)
    valid: DatasetParams  # validation images: best-checkpoint selection, curves (data/prepared/valid)
    test: dict[str, DatasetParams]  # evaluation sets, name -> source (data/prepared/test/<name>)

    def check(self, problems: Problems) -> None:
        if self.scale not in (2, 4, 8):
            problems.add(f"params key 'data.scale' must be 2, 4 or 8, got {self.scale}")
        self.train.check(problems, "data.train")
        self.valid.check(problems, "data.valid")
        if not self.test:
            problems.add("params key 'data.test' must name at least one evaluation set")
        for name, ds in self.test.items():
            check_name(problems, name, f"data.test.{name}")
            ds.check(problems, f"data.test.{name}")


@dataclass(frozen=True)
class ModelParams(Section):
    num_blocks: int  # residual blocks B (16 in the paper)
    channels: int  # feature channels (64 in the paper)
    # nearest: start as nearest-neighbour upsampling (srgan.nets.srresnet.init_nearest_upsampling) |
    # pytorch: PyTorch's defaults with zero-init residual BN
    init: Literal["nearest", "pytorch"]

    def check(self, problems: Problems) -> None:
        positive(problems, self.num_blocks, "model.num_blocks")
        positive(problems, self.channels, "model.channels")
        if self.init == "nearest" and self.channels < 3:
            problems.add("params key 'model.init' nearest needs model.channels >= 3")


@dataclass(frozen=True)
class FeatureParams(Section):
    weights: Literal["imagenet", "random"]  # weights of the frozen feature extractors
    allow_random_fallback: bool  # imagenet weights unavailable offline: warn and use random (false = stop)

    def check(self, problems: Problems) -> None:
        pass


@dataclass(frozen=True)
class TrainParams(Section):
    """What a training run computes; every key here can change its result.

    Lengths, `valid_every` and SRGAN `checkpoints` count optimiser steps when
    `steps` > 0, and passes over the training images when `epochs` > 0.
    """

    steps: int  # optimiser steps (iterations); 0 when `epochs` is used
    epochs: int  # 0, or passes over the training images (one patch per image per pass, as the study)
    batch_size: int  # global batch: split across processes when runtime.processes > 1
    grad_accumulation: int  # split each process's batch into N micro-batches (less memory; BN sees the micro-batch)
    patch_px: int  # HR patch side in pixels; the LR patch is patch_px / scale
    augment: Literal["none", "flip_rot90", "rot10_hflip"]  # rot10_hflip: the study's 10-degree rotation + flip
    learning_rate: float  # Adam, betas (0.9, 0.999)
    # constant | cosine (to 0 at the last step) | step (x0.1 at lr_decay_step)
    lr_schedule: Literal["constant", "cosine", "step"]
    lr_decay_step: int  # step of the x0.1 decay for lr_schedule=step (paper SRGAN: 1e5 of 2e5)
    ema_decay: float  # exponential moving average of G's weights; 0 disables it
    valid_every: int  # validate (PSNR-Y, SSIM-Y on data.valid) and keep the best every N steps (epochs)
    valid_crop_px: int  # 0: whole validation images | N: their centre N-px HR crops (cheaper; the study: 256)
    # optimiser steps between the points of the published loss curves (plots/, report/curves), also when the run
    # counts epochs; the last step is always one
    curve_every: int
    max_bad_steps: int  # non-finite loss/gradient steps to skip in total before stopping (0 = stop at once)

    @property
    def unit(self) -> str:
        """'step' or 'epoch': what `steps`/`epochs`, `valid_every` and checkpoints count."""
        return "step" if self.steps > 0 else "epoch"

    @property
    def length(self) -> int:
        """The run's length in its unit."""
        return self.steps if self.steps > 0 else self.epochs

    @property
    def length_is_valid(self) -> bool:
        """steps and epochs are both >= 0 and exactly one of them > 0 (the rules that tie them are checked
        only then: a negative `steps` is one problem, not three)."""
        return self.steps >= 0 and self.epochs >= 0 and (self.steps > 0) != (self.epochs > 0)

    def check(self, problems: Problems, section: str) -> None:
        for name in ("batch_size", "grad_accumulation", "patch_px", "valid_every", "curve_every"):
            positive(problems, getattr(self, name), f"{section}.{name}")
        for name in ("valid_crop_px", "steps", "epochs", "max_bad_steps", "lr_decay_step"):
            positive(problems, getattr(self, name), f"{section}.{name}", allow_zero=True)
        if self.steps >= 0 and self.epochs >= 0 and (self.steps > 0) == (self.epochs > 0):
            problems.add(f"params keys '{section}.steps' and '{section}.epochs': set exactly one of them > 0")
        positive(problems, self.learning_rate, f"{section}.learning_rate")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.add(f"params key '{section}.ema_decay' must be in [0, 1), got {self.ema_decay}")


def _check_variants(problems: Problems, variants: dict[str, dict[str, float]], section: str) -> None:
    for name, terms in variants.items():
        check_name(problems, name, f"{section}.variants.{name}")
        if name == BASELINE_VARIANT:
            problems.add(f"params key '{section}.variants.{name}': '{BASELINE_VARIANT}' (pixel MSE) always runs as "
                         "the baseline; give this variant another name")
        weight_problems(problems, terms, f"{section}.variants.{name}")


def weight_problems(problems: Problems, terms: dict[str, float], key: str) -> None:
    """The weights of one content-loss variant {term: weight} at params key `key`: each finite and
    >= 0, at least one > 0. Term names are resolved by `srgan.losses.terms.check_variant_terms`."""
    if not terms:
        problems.add(f"params key '{key}' must give at least one term, e.g. {{mse: 1.0}}")
        return
    for term, weight in terms.items():
        if not 0 <= weight < math.inf:  # also catches NaN
            problems.add(f"params key '{key}.{term}' must be a finite weight >= 0, got {weight}")
    if not any(w > 0 for w in terms.values()):  # NaN > 0 is False: a NaN-only mix has no positive weight either
        problems.add(f"params key '{key}' needs at least one positive weight")


def check_weights(terms: dict[str, float], key: str) -> None:
    """`weight_problems` for one variant, raising SrganError with the first problem."""
    problems = Problems()
    weight_problems(problems, terms, key)
    if problems:
        raise SrganError(problems[0])


@dataclass(frozen=True)
class SRResNetParams(TrainParams):
    """Experiment 1: one SRResNet from scratch per content loss; `mse` (the baseline) always runs."""

    variants: dict[str, dict[str, float]]  # name -> {term: weight}, besides the pixel-MSE baseline
    variant_length: int  # steps (epochs) of the other variants; 0 = the baseline's (a fair comparison)

    def check(self, problems: Problems, section: str = "srresnet") -> None:
        super().check(problems, section)
        _check_variants(problems, self.variants, section)
        positive(problems, self.variant_length, f"{section}.variant_length", allow_zero=True)

    def for_variant(self, variant: str) -> SRResNetParams:
        """The training settings of `variant`: the baseline's, or with `variant_length` when it is set, and
        `valid_every` scaled by the same factor, so the shorter run is validated as many times."""
        if variant == BASELINE_VARIANT or not self.variant_length:
            return self
        unit = "steps" if self.unit == "step" else "epochs"
        valid_every = max(1, self.valid_every * self.variant_length // self.length)
        return replaced(self, **{unit: self.variant_length, "valid_every": valid_every})


@dataclass(frozen=True)
class SRGANParams(TrainParams):
    """Experiment 2: one SRGAN per content loss, each fine-tuned from SRResNet-MSE of experiment 1."""

    variants: dict[str, dict[str, float]]  # name -> {term: weight}, besides the pixel-MSE baseline
    adversarial_weight: float  # weight of -log D(G(LR)) in G's loss (1.0e-3 in the paper)
    checkpoints: tuple[int, ...]  # points (in the run's unit) whose weights are kept and evaluated; the last = length

    def check(self, problems: Problems, section: str = "srgan") -> None:
        super().check(problems, section)
        _check_variants(problems, self.variants, section)
        positive(problems, self.adversarial_weight, f"{section}.adversarial_weight", allow_zero=True)
        points = list(self.checkpoints)
        if self.length_is_valid and (not points or points != sorted(set(points)) or points[0] < 1
                                     or points[-1] != self.length):
            problems.add(f"params key '{section}.checkpoints' must be increasing {self.unit} counts >= 1 ending at "
                         f"the run's length ({self.length}), got {points}")
        if self.patch_px % 16:
            problems.add(f"params key '{section}.patch_px' must be a multiple of 16 (the discriminator halves it "
                         "4 times)")


@dataclass(frozen=True)
class EvaluateParams(Section):
    tile_px: int  # LR tile side for inference on big images (>= 32; tiles overlap by 16 px); 0 = whole image
    lpips_required: bool  # LPIPS needs AlexNet's ImageNet weights: true = stop without them, false = record "unavailable"

    def check(self, problems: Problems) -> None:
        if self.tile_px != 0 and self.tile_px < 32:
            problems.add(f"params key 'evaluate.tile_px' must be 0 (whole images) or >= 32 LR px (tiles overlap by "
                         f"16), got {self.tile_px}")


@dataclass(frozen=True)
class ReportParams(Section):
    grid_images: tuple[str, ...]  # "<test set>/<image>" (or "<set>/#<k>", the k-th image) shown in the visual grids
    crop_px: int  # side of the zoomed HR crop in the grids

    def check(self, problems: Problems, data: DataParams | None) -> None:
        positive(problems, self.crop_px, "report.crop_px")
        if data is None:  # data itself has problems: the sets to check against are unknown
            return
        for entry in self.grid_images:
            set_name, _, image = entry.partition("/")
            if set_name not in data.test or not image:
                problems.add(f"params key 'report.grid_images' has '{entry}'; write '<set>/<image>' or '<set>/#<k>' "
                             f"with a set from data.test ({', '.join(data.test)})")


@dataclass(frozen=True)
class Params(Section):
    seeds: tuple[int, ...]  # one replicate of every training run and its evaluation per seed (matrix stages)
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


def _check_sections(sections: dict[str, Any], problems: Problems) -> None:
    """Each well-formed section's own rules, then the rules between sections (where both are well-formed)."""
    for name, section in sections.items():
        if section is BAD:
            continue
        if name == "seeds":
            check_seeds(problems, section)
            continue
        if name == "report":
            section.check(problems, sections["data"] if sections.get("data", BAD) is not BAD else None)
        else:
            section.check(problems)
    data = sections.get("data", BAD)
    if data is BAD:
        return
    for name in ("srresnet", "srgan"):
        train = sections.get(name, BAD)
        if train is BAD:
            continue
        if train.patch_px % data.scale:
            problems.add(f"params key '{name}.patch_px' must be a multiple of data.scale")
        if train.valid_crop_px % data.scale:
            problems.add(f"params key '{name}.valid_crop_px' must be a multiple of data.scale")


def check_seeds(problems: Problems, seeds: tuple[int, ...]) -> None:
    """At least one, each >= 0 (numpy's default_rng, which draws the patches, rejects negative seeds), no repeats."""
    if not seeds:
        problems.add("params key 'seeds' must list at least one seed, e.g. [0]")
    for i, seed in enumerate(seeds):
        positive(problems, seed, f"seeds[{i}]", allow_zero=True)
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        problems.add(f"params key 'seeds' lists {', '.join(map(str, repeated))} more than once (each seed is one run)")


def check_params(raw: Any) -> tuple[Params | None, Problems]:
    """(the typed params, or None; every problem found, one line each, in file order of sections)."""
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add(f"the params file must be a mapping of sections, got {raw!r}")
        return None, problems
    hints = typing.get_type_hints(Params)
    names = [f.name for f in dataclasses.fields(Params)]
    for name in sorted(set(raw) - set(names), key=str):
        problems.add(f"unknown params section '{name}'; valid sections: {', '.join(names)}")
    sections: dict[str, Any] = {}
    for name in names:
        if name not in raw:
            problems.add(f"missing params section '{name}'")
            sections[name] = BAD
        else:
            sections[name] = check_type(raw[name], hints[name], name, problems)
    _check_sections(sections, problems)
    if problems:
        return None, problems
    return Params(**sections), problems


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
    """Check a parsed params mapping and return the typed `Params`; SrganError with every problem, one per line."""
    params, problems = check_params(raw)
    if problems:
        raise SrganError("\n".join(problems))
    return params


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading floats as YAML 1.2 does (and DVC, whose writer puts `1e-05` into params.yaml
    for `dvc exp run -S 'srgan.learning_rate=1.0e-5'`): an exponent without a dot is a number, not text."""


_ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_params_file(path: Path) -> Any:
    """The parsed YAML of a params file (floats as YAML 1.2 reads them); SrganError naming the file when it
    cannot be read."""
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_ParamsLoader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise SrganError(f"params file {path} not found; run from the project root") from None
    except IsADirectoryError:
        raise SrganError(f"params file {path} is a folder; give the params file (e.g. {path / 'params.yaml'})") from None
    except yaml.YAMLError as e:
        raise SrganError(f"params file {path} is not valid YAML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SrganError(f"params file {path} cannot be read as UTF-8 text: {e}") from None


def load_params(path: Path) -> Params:
    """Read and check `params.yaml` (every section); SrganError naming the file, one line per problem."""
    params, problems = check_params(read_params_file(path))
    if problems:
        raise SrganError("\n".join(f"{path}: {problem}" for problem in problems))
    return params


