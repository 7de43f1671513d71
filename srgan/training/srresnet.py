"""Experiment 1: SRResNet trained from scratch with one content loss (`train_srresnet`), its optimiser
step (`pretrain_step`) and its task (`SRResNetTask`). SRResNet-MSE initialises every SRGAN.

The run writes best.pt (the averaged generator with the best validation PSNR-Y) and last.pt (at
the end) into its output folder; evaluation scores best.pt, labelled `best`. This module imports no
discriminator or adversarial code: the SRResNet stages do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srgan.core.records import TrainingSummary
from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.nets.srresnet import SRResNet, architecture, init_nearest_upsampling
from srgan.training.points import PointPlan
from srgan.training.run import patch_plan, run_task
from srgan.training.setup import TrainingSetup
from srgan.training.step import StepContext, add_parts, finish_step, micro_batches, no_sync
from srgan.training.task import TaskBase, for_training, frozen_for_training, wrapped


@dataclass
class PretrainContext:
    """Everything one SRResNet step needs besides its batch."""

    generator: nn.Module  # as the step runs it (DDP-wrapped and/or compiled)
    content_loss: ContentLoss
    optimizer: torch.optim.Optimizer
    step: StepContext


def pretrain_checks(content_loss: ContentLoss, check_grads: bool = True) -> list[str]:
    """What a `pretrain_step` guard checks, in the order `finish_step` tests them."""
    names = [f"generator loss term '{t}'" for t in (*content_loss.term_weights, "content")]
    return names + (["generator gradient"] if check_grads else [])


def pretrain_step(ctx: PretrainContext, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
    """One SRResNet optimiser step on a batch; returns the loss scalars (0-d tensors, on the device).

    With a guard (`ctx.step.guard`, checks: `pretrain_checks`), a non-finite loss term or gradient
    skips the step on the device; without one the step is taken whatever the values.
    """
    step = ctx.step
    if step.guard is not None:
        step.guard.begin()
    ctx.optimizer.zero_grad(set_to_none=True)
    parts: dict[str, Tensor] = {}
    n = step.accumulation
    for i, (lr_mb, hr_mb) in enumerate(zip(micro_batches(lr_img, n), micro_batches(hr_img, n))):
        with no_sync(ctx.generator, i == n - 1):
            with step.runtime.autocast():
                loss, terms = ctx.content_loss(ctx.generator(lr_mb), hr_mb)
            step.scaler.scale(loss / n).backward()
        # Specific terms first, so a non-finite step names the term that went wrong.
        add_parts(parts, {**terms, "content": loss}, n)
    finish_step(step, parts, [(ctx.generator, ctx.optimizer)])
    return {f"loss/{k}": v for k, v in parts.items()}


class SRResNetTask(TaskBase):
    """SRResNet trained with a content loss alone."""

    experiment = "srresnet"

    def __init__(self, generator: SRResNet, content_loss: ContentLoss, p, total_steps: int,
                 runtime: Runtime) -> None:
        generator = for_training(generator, runtime)
        content_loss = frozen_for_training(content_loss, runtime)
        checks = pretrain_checks(content_loss, check_grads=runtime.amp_dtype != torch.float16)
        super().__init__(generator, {"generator": generator}, checks, p, total_steps, runtime)
        self.context = PretrainContext(wrapped(generator, runtime), content_loss, self.optimizers["generator"],
                                       self.step_context)

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        self.context.generator.train()
        return pretrain_step(self.context, lr_img, hr_img)


def train_srresnet(setup: TrainingSetup, content_loss: ContentLoss) -> TrainingSummary:
    """Experiment 1: train SRResNet from scratch with `content_loss` (the stage's variant).

    The generator follows params `model` and the study's generator switches (`TrainingSetup.new_generator`);
    the caller seeded the RNGs (its initial weights come from them).
    """
    generator = setup.new_generator()
    if setup.params.model.init == "nearest":
        init_nearest_upsampling(generator)
    plan = patch_plan(setup)
    task = SRResNetTask(generator, content_loss, setup.p, plan.total_steps, setup.runtime)
    end = plan.total_steps
    points = PointPlan(setup.p.unit, {end: ""}, {end: setup.p.length}, (("best", end, "best.pt"),))
    return run_task(setup, task, architecture(generator), content_loss, plan, points)
