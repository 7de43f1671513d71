"""What both experiments' runs share once their task is built: the run's record (`RunSpec`), its
resume fingerprint, its store, the pieces beside the loop (its hooks) and the loop.

`srgan.training.srresnet.train_srresnet` and `srgan.training.srgan.train_srgan` build their task
and checkpoint points, then call `run_task`. A run writes, when it has finished, its checkpoint
points, summary.json (`srgan.core.records.TrainingSummary`), logs and curves (`srgan.training.store`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np

from srgan.core.records import GeneratorArchitecture, TrainingSummary
from srgan.datasets.patches import PatchPlan
from srgan.datasets.prepared import TrainImage
from srgan.losses.content import ContentLoss
from srgan.training.hooks import HealthCheck, TrainState
from srgan.training.log import TrainLog
from srgan.training.loop import RunPieces, TrainingRun, batch_feed
from srgan.training.points import CheckpointPoints, PointPlan, PointsState, RunSpec
from srgan.training.resume import ResumeSaving
from srgan.training.setup import TrainingSetup
from srgan.training.store import RunStore
from srgan.training.summary import RunEnd
from srgan.training.task import Task
from srgan.training.validation import Validation, ValidationState

log = logging.getLogger(__name__)


def run_fingerprint(**parts: Any) -> dict[str, str]:
    """{name: short hash} of everything a resumable run depends on (compared part by part)."""
    return {name: hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
            for name, value in parts.items()}


def data_digest(images: list[TrainImage]) -> list:
    """Names, shapes and a 1/256 pixel sample of the training images: cheap even for DIV2K."""
    return [(image.name, list(image.hr_u8.shape),
             hashlib.sha256(np.ascontiguousarray(image.hr_u8[::16, ::16]).tobytes()).hexdigest()[:12])
            for image in images]


def patch_plan(setup: TrainingSetup) -> PatchPlan:
    p = setup.p
    return PatchPlan(unit=p.unit, length=p.length, batch_size=p.batch_size,
                     num_images=len(setup.data.train_images))


def log_extractors(content_loss: ContentLoss) -> None:
    for term, extractor in content_loss.extractors_by_term.items():
        count = sum(p.numel() for p in extractor.parameters())
        cut = extractor.term.node or " + ".join(extractor.term.modules)
        log.info("content term %s: %s cut at %s, %.1fM frozen parameters, %s weights%s", term,
                 extractor.term.model, cut, count / 1e6, extractor.backbone_weights,
                 "" if extractor.normalise else ", unnormalised input (the study's code)")


def run_pieces(setup: TrainingSetup, task: Task, spec: RunSpec, plan: PatchPlan, store: RunStore,
               fingerprint: dict[str, str]) -> RunPieces:
    """The pieces beside the loop, sharing the run's records: its progress, validation state and points."""
    p, execution, runtime, data = setup.p, setup.params.execution, setup.runtime, setup.data
    progress, validated, written = TrainState(), ValidationState(), PointsState()
    log = TrainLog(store.live_log_dir, store.live_plots_dir, task, progress, plan.total_steps,
                   curve_every=p.curve_every, board_every=execution.log_every, name=spec.variant,
                   progress=execution.progress) if runtime.is_main else None
    validation = Validation(task, data.valid_images, data.scale, runtime, p.valid_every * plan.steps_per_unit,
                            {*spec.points.points, plan.total_steps}, validated, log)
    points = CheckpointPoints(spec, store, task, validated, written, runtime.is_main)
    resume = ResumeSaving(store, fingerprint, execution.checkpoint_every, plan.total_steps, task, progress, validated,
                          written)
    hooks = (*([log] if log is not None else []), validation, points, resume)
    return RunPieces(HealthCheck(task, progress, p.max_bad_steps, store.resume_path), hooks, resume,
                     RunEnd(task, spec, data.seed, plan, progress, validated, points, store, runtime), progress)


def run_task(setup: TrainingSetup, task: Task, architecture: GeneratorArchitecture, content_loss: ContentLoss,
             plan: PatchPlan, points: PointPlan, **extra_fingerprint: Any) -> TrainingSummary:
    """Train `task` (whose generator has `architecture`) to the end of `plan`, or resume it there, and publish
    the run."""
    log_extractors(content_loss)
    spec = RunSpec(variant=setup.variant, scale=setup.data.scale, architecture=architecture,
                   loss_terms=content_loss.term_weights, feature_weights=content_loss.backbone_weights, points=points)
    fingerprint = run_fingerprint(**setup.fingerprint, data=data_digest(setup.data.train_images),
                                  seed=setup.data.seed, world=setup.runtime.world_size, **extra_fingerprint)
    store = RunStore(setup.args.paths, setup.runtime.is_main)
    feed = batch_feed(setup.data, plan, setup.p, setup.params.execution)
    return TrainingRun(task, feed, setup.runtime, run_pieces(setup, task, spec, plan, store, fingerprint)).run()
