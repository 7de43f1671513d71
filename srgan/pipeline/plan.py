"""The study on several hosts: which dvc.yaml stages each host runs (`srgan plan`).

Phase 1, on one host that pushes its results before the others start: the prepare
stages, SRResNet-MSE of every seed (a seed's SRGANs start from it) and the evaluations
that need nothing else (bicubic, SRResNet-MSE). Two hosts must not both run a shared upstream
stage: the newest run-cache entry wins, and on a GPU two runs of one stage may differ
in the last bits, which would make the other host's downstream stages look stale.

Phase 2: every other run (a variant and a seed) is a job, its training stage and its
evaluation (`train_srgan@vgg19_5_4-0 evaluate_srgan@vgg19_5_4-0`, the SRGAN-MSE baseline included),
dealt to N hosts greedily, longest first, each to the host with the least expected
work so far (within 4/3 of the best possible longest host). A run's expected cost is
its optimiser steps x the FLOPs of one step, counted with
`torch.utils.flop_counter.FlopCounterMode` on the meta device (no weights, no data):
the generator forward and backward; per feature term, its extractor on HR (no grad)
and on SR (backward to the input); for SRGAN the discriminator in G's step (backward
to its input) and in its own step (HR and SR, backward to its weights). Evaluation
is not counted: a small share, about the same for every run.

What is done is not dealt again (`srgan.pipeline.done`: settled in dvc.lock, outputs in the DVC
remote): a run whose training and evaluation are both done is left out, one whose training is done
but not its evaluation (the scoring code changed) is an evaluation job, dealt after the training
jobs so that every host gets as many evaluations as the others (ties: the least training work).
Phase 1 lists only its stages that are not done. A host may then get nothing: its targets are empty.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from srgan.core.config import (
    BASELINE_VARIANT,
    DataParams,
    ModelParams,
    Params,
    TrainParams,
    variant_names,
    variant_terms,
)
from srgan.core.declared import stage_name
from srgan.core.errors import SrganError
from srgan.datasets.patches import PatchPlan
from srgan.datasets.prepare import KNOWN_SET_SIZES, known_set
from srgan.datasets.prepared import read_manifest
from srgan.losses.extractors import FeatureExtractor
from srgan.losses.terms import WEIGHTS_RANDOM, feature_term
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet

PREPARED_TRAIN = Path("data/prepared/train")  # as dvc.yaml writes it (srgan.pipeline.dvc_yaml)


@dataclass(frozen=True)
class Job:
    """One run for a phase-2 host: its training stage, then its evaluation."""

    experiment: str  # "srresnet" | "srgan"
    variant: str
    seed: int
    steps: int  # optimiser steps of the run
    step_gflop: float  # GFLOP of one optimiser step
    train: bool = True  # False: its training is done; only its evaluation is dealt

    @property
    def stages(self) -> tuple[str, str]:
        """Its training stage and its evaluation, done or not."""
        return (stage_name("train", self.experiment, self.variant, self.seed),
                stage_name("evaluate", self.experiment, self.variant, self.seed))

    @property
    def targets(self) -> tuple[str, ...]:
        """The stages a host runs for it."""
        return self.stages if self.train else self.stages[1:]

    @property
    def cost_gflop(self) -> float:
        return self.steps * self.step_gflop if self.train else 0.0


@dataclass(frozen=True)
class Plan:
    first: tuple[str, ...]  # phase 1: stage targets of the one host that runs before the others
    hosts: tuple[tuple[Job, ...], ...]  # phase 2: each host's jobs, longest first
    runs_done: int = 0  # phase-2 runs left out: training and evaluation done
    first_done: int = 0  # phase-1 stages left out: done

    @property
    def dealt(self) -> int:
        """Phase-2 runs dealt (evaluation jobs included)."""
        return sum(len(jobs) for jobs in self.hosts)

    def targets(self, host: int) -> list[str]:
        """The stage targets of phase-2 host `host` (0-based), for `dvc repro --pull`."""
        return [target for job in self.hosts[host] for target in job.targets]

    def cost_gflop(self, host: int) -> float:
        return sum(job.cost_gflop for job in self.hosts[host])


def first_phase(params: Params) -> tuple[str, ...]:
    """Stage targets of phase 1: what every other run needs, and the evaluations that need nothing else."""
    return ("prepare_train", "prepare_valid", *(f"prepare_test@{name}" for name in params.data.test),
            *(stage_name("train", "srresnet", BASELINE_VARIANT, seed) for seed in params.seeds), "evaluate_bicubic",
            *(stage_name("evaluate", "srresnet", BASELINE_VARIANT, seed) for seed in params.seeds))


def balance(costs: Sequence[float], hosts: int) -> list[list[int]]:
    """Indices into `costs`, per host: longest first, each to the least loaded host (ties: lower index)."""
    loads, slices = [0.0] * hosts, [[] for _ in range(hosts)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        host = min(range(hosts), key=lambda h: (loads[h], h))
        slices[host].append(i)
        loads[host] += costs[i]
    return slices


def balance_evaluations(count: int, evaluations: Sequence[int], loads: Sequence[float]) -> list[int]:
    """The host of each of `count` evaluation jobs: each to the host with the fewest evaluations so far
    (`evaluations[h]`, one per dealt run), ties to the least training work (`loads[h]`), then the lower index."""
    evaluations, hosts = list(evaluations), []
    for _ in range(count):
        host = min(range(len(evaluations)), key=lambda h: (evaluations[h], loads[h], h))
        evaluations[host] += 1
        hosts.append(host)
    return hosts


# ---------------------------------------------------------------- cost of a training step


def _flops(work: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops()


@functools.cache
def generator_flops(num_blocks: int, channels: int, scale: int, batch: int, patch_px: int) -> int:
    """SRResNet forward and backward (to its weights) on `batch` LR patches of patch_px / scale."""
    with torch.device("meta"):
        generator = SRResNet(scale=scale, num_blocks=num_blocks, channels=channels)
        lr_img = torch.empty(batch, 3, patch_px // scale, patch_px // scale)
    return _flops(lambda: generator(lr_img).sum().backward())


@functools.cache
def extractor_flops(term: str, batch: int, patch_px: int) -> int:
    """A feature term's frozen extractor: forward on HR without grad, forward and backward to SR (0 for a
    pixel term; a distance's own cost is one pass over the images or features, left out)."""
    spec = feature_term(term, term)
    if spec is None:
        return 0
    with torch.device("meta"):
        extractor = FeatureExtractor(spec, WEIGHTS_RANDOM, allow_random_fallback=True)
        hr_img = torch.empty(batch, 3, patch_px, patch_px)
        sr_img = torch.empty(batch, 3, patch_px, patch_px, requires_grad=True)

    def work() -> None:
        with torch.no_grad():
            extractor(hr_img)
        extractor(sr_img).sum().backward()

    return _flops(work)


@functools.cache
def discriminator_flops(batch: int, patch_px: int) -> int:
    """The discriminator in G's step (frozen, backward to SR) and in its own (HR and SR, backward to D)."""
    with torch.device("meta"):
        discriminator = Discriminator(patch_px=patch_px)
        hr_img = torch.empty(batch, 3, patch_px, patch_px)
        sr_img = torch.empty(batch, 3, patch_px, patch_px, requires_grad=True)
    discriminator.requires_grad_(False)
    g_step = _flops(lambda: discriminator(sr_img).sum().backward())
    discriminator.requires_grad_(True)
    d_step = _flops(lambda: (discriminator(hr_img).sum() + discriminator(sr_img.detach()).sum()).backward())
    return g_step + d_step


def step_gflop(model: ModelParams, scale: int, p: TrainParams, terms: dict[str, float], adversarial: bool) -> float:
    """GFLOP of one optimiser step: the generator, each feature term with a positive weight, D for SRGAN."""
    flops = generator_flops(model.num_blocks, model.channels, scale, p.batch_size, p.patch_px)
    flops += sum(extractor_flops(term, p.batch_size, p.patch_px) for term, w in terms.items() if w > 0)
    if adversarial:
        flops += discriminator_flops(p.batch_size, p.patch_px)
    return flops / 1e9


# ---------------------------------------------------------------- the plan


def train_image_count(data: DataParams, prepared: Path = PREPARED_TRAIN) -> int:
    """Training images, for runs counted in epochs: the listed names, else the prepared set's
    manifest, else the known size of the set (DIV2K train: 800)."""
    if data.train.images:
        return len(data.train.images)
    if (prepared / "manifest.json").is_file():
        return len(read_manifest(prepared, data.scale)["images"])
    key = known_set("train", data.train.url)
    if key is None:
        raise SrganError("data.train lists no images and its size is not known: pass --train-images N "
                         "(runs counted in epochs take their steps from it)")
    return KNOWN_SET_SIZES[key]


def make_plan(params: Params, hosts: int, train_images: int | None = None,
              done: frozenset[str] | None = None) -> Plan:
    """Phase 1, then the other runs dealt to `hosts` hosts by expected cost.

    train_images: training images, when a run counts epochs (default: `train_image_count`).
    done: the stage instances already done (`srgan.pipeline.done`), left out; None: deal every run.
    """
    if hosts < 1:
        raise SrganError(f"--hosts must be at least 1, got {hosts}")
    needs_count = params.srresnet.unit == "epoch" or params.srgan.unit == "epoch"
    count = (train_images or train_image_count(params.data)) if needs_count else 1
    jobs = []
    for experiment, section in (("srresnet", params.srresnet), ("srgan", params.srgan)):
        for variant in variant_names(section):
            if experiment == "srresnet" and variant == BASELINE_VARIANT:
                continue  # phase 1
            p = section.for_variant(variant) if experiment == "srresnet" else section
            steps = PatchPlan(p.unit, p.length, p.batch_size, count).total_steps
            gflop = step_gflop(params.model, params.data.scale, p, variant_terms(section, variant),
                               adversarial=experiment == "srgan")
            jobs += [Job(experiment, variant, seed, steps, gflop) for seed in params.seeds]
    if hosts > len(jobs):
        raise SrganError(f"--hosts {hosts}: after the first phase the study has {len(jobs)} runs; use at most "
                         f"{len(jobs)} hosts (an empty slice would make `dvc repro` run every stage)")
    done = done or frozenset()
    runs_done = sum(1 for job in jobs if set(job.stages) <= done)
    training = [job for job in jobs if job.stages[0] not in done]
    evaluations = [dataclasses.replace(job, train=False) for job in jobs
                   if job.stages[0] in done and job.stages[1] not in done]
    dealt: list[list[Job]] = [[training[i] for i in indices]
                              for indices in balance([job.cost_gflop for job in training], hosts)]
    loads = [sum(job.cost_gflop for job in host) for host in dealt]
    for job, host in zip(evaluations, balance_evaluations(len(evaluations), [len(h) for h in dealt], loads)):
        dealt[host].append(job)
    first = first_phase(params)
    return Plan(tuple(t for t in first if t not in done), tuple(tuple(host) for host in dealt), runs_done,
                sum(1 for t in first if t in done))


if __name__ == "__main__":
    raise SystemExit("error: srgan.pipeline.plan is a library module, not a command: run `srgan plan` "
                     "(or `python -m srgan plan`)")
