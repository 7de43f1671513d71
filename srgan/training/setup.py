"""What every training stage sets up the same way, before its experiment's run builds networks.

`open_training_stage` reads the stage's declaration from dvc.yaml (`srgan.core.declared`), checks
the whole params file, gives the stage a view of exactly its declared keys, relaunches under
torchrun when `runtime.processes` > 1, seeds the RNGs, resolves the device and the stage's study
switches (`srgan.core.study_code.training_code`: no consumer reads `study_code` itself), and loads
the training and validation images. The resulting `TrainingSetup` is what `srgan.training.srresnet.train_srresnet`
and `srgan.training.srgan.train_srgan` take, with the content loss the stage script builds.
Seeding happens here, before any network or extractor is built, so a run's random choices (the
networks' initial weights, the patch draws and their augmentation, D's weights) depend on the run's seed
(`--seed`, one of params `seeds`) alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srgan.core.config import Params, TrainParams, load_params, variant_terms
from srgan.core.declared import DVC_YAML, Declared, code_digest, read_declared, stage_name
from srgan.core.errors import SrganError
from srgan.core.launch import relaunch_under_torchrun
from srgan.core.runtime import Runtime, resolve_runtime, seed_everything, shutdown
from srgan.core.sections import declared_values, params_view
from srgan.core.study_code import TrainingCode, training_code
from srgan.datasets.prepared import centre_crop, load_eval_set, load_train_set
from srgan.losses.terms import check_all_variant_terms
from srgan.nets.srresnet import SRResNet
from srgan.training.loop import TrainData
from srgan.training.store import RunPaths


@dataclass(frozen=True)
class TrainingArgs:
    """A training stage's command line: its run, data and folders (dvc.yaml's `cmd`)."""

    experiment: str  # "srresnet" | "srgan"
    variant: str  # "mse" or a key of params <experiment>.variants
    train_dir: Path
    valid_dir: Path
    paths: RunPaths
    seed: int  # one of params `seeds` (dvc.yaml puts it on the command line: a new seed is a new stage)
    init_dir: Path | None = None  # srgan: the SRResNet-MSE run folder it starts from


@dataclass
class TrainingSetup:
    """One training stage, set up: see the module docstring. Close it (or use `with`) to leave DDP."""

    args: TrainingArgs
    declared: Declared
    params: Params  # the stage's view: only its declared keys (and `execution`) can be read
    p: TrainParams  # this run's training settings (an SRResNet variant's length applied)
    terms: dict[str, float]  # the content loss {term: weight}
    code: TrainingCode  # the stage's study switches, resolved: each consumer takes its part
    runtime: Runtime
    data: TrainData
    fingerprint: dict[str, Any]  # what a resume must match: declared settings and code, training data

    @property
    def experiment(self) -> str:
        return self.args.experiment

    @property
    def variant(self) -> str:
        return self.args.variant

    @property
    def key(self) -> str:
        """The params key of the variant, to name a bad term: 'srgan.variants.hybrid_vgg19_5_4'."""
        return f"{self.experiment}.variants.{self.variant}"

    def new_generator(self) -> SRResNet:
        """The generator params `model` and the study's generator switches describe, freshly initialised (from
        the RNGs the setup seeded)."""
        model = self.params.model
        return SRResNet(scale=self.data.scale, num_blocks=model.num_blocks, channels=model.channels,
                        **asdict(self.code.generator))

    def close(self) -> None:
        shutdown(self.runtime)

    def __enter__(self) -> TrainingSetup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_training_stage(args: TrainingArgs, argv: list[str], params_file: Path = Path("params.yaml"),
                        dvc_yaml: Path = DVC_YAML) -> TrainingSetup | None:
    """Set the stage up (see the module docstring); None when the work was done by torchrun's processes."""
    stage = stage_name("train", args.experiment, args.variant, args.seed)
    declared = read_declared(stage, dvc_yaml)
    full = load_params(params_file)  # the whole file, every section: a typo anywhere stops here
    check_all_variant_terms({"srresnet": full.srresnet.variants, "srgan": full.srgan.variants})
    params = params_view(full, stage, declared.params)
    code = training_code(params.study_code, stage.partition("@")[0])
    if relaunch_under_torchrun(params.runtime.processes, argv):
        return None
    if args.seed < 0:
        raise SrganError(f"--seed must be >= 0, got {args.seed}")
    seed_everything(args.seed)
    runtime = resolve_runtime(params.runtime)
    section = params.srresnet if args.experiment == "srresnet" else params.srgan
    p = section.for_variant(args.variant) if args.experiment == "srresnet" else section
    terms = variant_terms(section, args.variant)
    scale = params.data.scale
    valid = load_eval_set(args.valid_dir, scale)
    if p.valid_crop_px:
        valid = [centre_crop(item, p.valid_crop_px, scale) for item in valid]
    data = TrainData(load_train_set(args.train_dir, scale), valid, scale, args.seed, code.rotation)
    fingerprint = {"settings": declared_values(full, declared.params), "code": code_digest(declared)}
    return TrainingSetup(args, declared, params, p, terms, code, runtime, data, fingerprint)
