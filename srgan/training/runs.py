"""The two runs of the study, built the same way: `train_srresnet` (experiment 1) and
`train_srgan` (experiment 2), named as the dvc.yaml stages that call them.

A run writes, when it has finished, into its output folder:
  SRResNet: best.pt (the averaged generator with the best validation PSNR-Y) and
            last.pt (at the end); evaluation scores best.pt, labelled `best`;
  SRGAN:    <point>/{best,last}.pt for each of `srgan.checkpoints` (`step16`,
            `epoch100`); evaluation scores each point's last.pt (the weights after
            that many steps or epochs), labelled by the point;
and summary.json (`srgan.core.records.TrainingSummary`). The caller seeds the
RNGs: the generator's (SRResNet) and the discriminator's (SRGAN) initial weights
come from them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np
from torch import Tensor

from srgan.core.config import ExecutionParams, ModelParams, SRGANParams, StudyCodeParams, TrainParams
from srgan.core.errors import SrganError
from srgan.core.records import TrainingSummary
from srgan.core.runtime import Runtime
from srgan.datasets.patches import PatchPlan
from srgan.datasets.prepared import TrainImage
from srgan.losses.content import ContentLoss
from srgan.nets.discriminator import build_discriminator
from srgan.nets.srresnet import SRResNet, init_nearest_upsampling
from srgan.training.loop import RunSpec, TrainData, TrainingRun
from srgan.training.store import RunPaths, RunStore
from srgan.training.tasks import SRGANTask, SRResNetTask

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


def point_label(p: TrainParams, count: int) -> str:
    """Label (and folder) of a checkpoint point after `count` units: 'step20', 'epoch100'."""
    return f"{p.unit}{count}"


def patch_plan(p: TrainParams, data: TrainData) -> PatchPlan:
    return PatchPlan(unit=p.unit, length=p.length, batch_size=p.batch_size, num_images=len(data.train_images))


def _log_extractors(content_loss: ContentLoss) -> None:
    for term, extractor in zip(content_loss.feature_terms, content_loss.extractors):
        count = sum(p.numel() for p in extractor.parameters())
        cut = extractor.term.node or " + ".join(extractor.term.modules)
        log.info("content term %s: %s cut at %s, %.1fM frozen parameters, %s weights%s", term,
                 extractor.term.model, cut, count / 1e6, extractor.backbone_weights,
                 "" if extractor.normalise else ", unnormalised input (the study's code)")


def _train(task: SRResNetTask | SRGANTask, *, variant: str, content_loss: ContentLoss, data: TrainData,
           plan: PatchPlan, model_params: ModelParams, p: TrainParams, execution: ExecutionParams, runtime: Runtime,
           paths: RunPaths, points: dict[int, str], scored: tuple[tuple[str, int, str], ...],
           fingerprint: dict[str, str]) -> TrainingSummary:
    """What both runs share once their task is built: the spec, the store and the loop."""
    _log_extractors(content_loss)
    spec = RunSpec(variant=variant, scale=data.scale, model_params=model_params,
                   loss_terms=content_loss.term_weights, feature_weights=content_loss.backbone_weights,
                   points=points, scored=scored)
    store = RunStore(paths, runtime.is_main)
    return TrainingRun(task, spec, data, plan, p, execution, runtime, store, fingerprint).run()


def train_srresnet(
    *, variant: str, content_loss: ContentLoss, data: TrainData, model_params: ModelParams, p: TrainParams,
    study: StudyCodeParams, execution: ExecutionParams, runtime: Runtime, paths: RunPaths, settings: dict, code: str,
) -> TrainingSummary:
    """Experiment 1: train SRResNet from scratch with `content_loss` (`variant` names it).

    study: the study-code switches (`shared_bn` shapes the generator). settings, code: the
    stage's declared settings and code digest (resume fingerprint).
    """
    generator = SRResNet(scale=data.scale, num_blocks=model_params.num_blocks, channels=model_params.channels,
                         shared_bn=study.shared_bn)
    if model_params.init == "nearest":
        init_nearest_upsampling(generator)
    plan = patch_plan(p, data)
    task = SRResNetTask(generator, content_loss, p, plan.total_steps, runtime)
    fingerprint = run_fingerprint(settings=settings, code=code, data=data_digest(data.train_images), seed=data.seed,
                                  world=runtime.world_size)
    end = plan.total_steps
    return _train(task, variant=variant, content_loss=content_loss, data=data, plan=plan, model_params=model_params,
                  p=p, execution=execution, runtime=runtime, paths=paths, points={end: ""},
                  scored=(("best", end, "best.pt"),), fingerprint=fingerprint)


def train_srgan(
    *, variant: str, init_state: dict[str, Tensor], content_loss: ContentLoss, data: TrainData,
    model_params: ModelParams, p: SRGANParams, study: StudyCodeParams, execution: ExecutionParams, runtime: Runtime,
    paths: RunPaths, settings: dict, code: str,
) -> TrainingSummary:
    """Experiment 2: fine-tune a trained SRResNet (`init_state`) as SRGAN's generator against a discriminator.

    G's loss = content + p.adversarial_weight * -log D(G(LR)); D's loss = -log D(HR)
    - log(1 - D(G(LR))); both Adam at `learning_rate`, same schedule. study: the
    study-code switches (the discriminator's kind, the adversarial gradient, shared BN).
    """
    generator = SRResNet(scale=data.scale, num_blocks=model_params.num_blocks, channels=model_params.channels,
                         shared_bn=study.shared_bn)
    try:
        generator.load_state_dict(init_state)
    except RuntimeError as e:
        raise SrganError(f"the trained SRResNet does not match params.model ({str(e).splitlines()[0]})") from None
    plan = patch_plan(p, data)
    points = {count * plan.steps_per_unit: point_label(p, count) for count in p.checkpoints}
    task = SRGANTask(generator, build_discriminator(study.discriminator, p.patch_px), content_loss,
                     p.adversarial_weight, p, plan.total_steps, runtime, adversarial_gradient=study.adversarial_gradient)
    init_digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in init_state.values())).hexdigest()[:16]
    fingerprint = run_fingerprint(settings=settings, code=code, data=data_digest(data.train_images), seed=data.seed,
                                  world=runtime.world_size, init=init_digest)
    return _train(task, variant=variant, content_loss=content_loss, data=data, plan=plan, model_params=model_params,
                  p=p, execution=execution, runtime=runtime, paths=paths, points=points,
                  scored=tuple((label, step, "last.pt") for step, label in points.items()), fingerprint=fingerprint)
