"""Experiment 2: SRGAN fine-tuned from SRResNet-MSE with one content loss (`train_srgan`), its optimiser
step (`gan_step`) and its task (`SRGANTask`).

G's loss = content + adversarial_weight * -log D(G(LR)); D's loss = -log D(HR) - log(1 - D(G(LR))); both
Adam at `learning_rate`, same schedule. The run writes <point>/{best,last}.pt for each of
`srgan.checkpoints` (`step16`, `epoch100`); evaluation scores each point's last.pt (the weights after
that many steps or epochs), labelled by the point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srgan.core.artifacts import load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.records import TrainingSummary, point_label, read_summary
from srgan.core.runtime import Runtime
from srgan.losses.adversarial import discriminator_loss, generator_adversarial_loss
from srgan.losses.content import ContentLoss
from srgan.nets.discriminator import build_discriminator
from srgan.nets.srresnet import SRResNet, architecture
from srgan.training.points import PointPlan
from srgan.training.run import patch_plan, run_task
from srgan.training.setup import TrainingSetup
from srgan.training.step import StepContext, add_parts, finish_step, micro_batches, no_sync, unwrap
from srgan.training.task import TaskBase, for_training, frozen_for_training, wrapped


@dataclass
class GanContext:
    """Everything one SRGAN step needs besides its batch."""

    generator: nn.Module  # as the step runs it (DDP-wrapped and/or compiled)
    discriminator: nn.Module
    content_loss: ContentLoss
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    adversarial_weight: float  # 1e-3 in the paper
    adversarial_gradient: bool  # False: the study's detached adversarial term (no gradient into G)
    step: StepContext


def gan_checks(content_loss: ContentLoss, check_grads: bool = True) -> list[str]:
    """What a `gan_step` guard checks, in the order `finish_step` tests them."""
    names = [f"generator loss term '{t}'"
             for t in (*content_loss.term_weights, "content", "adversarial", "generator")]
    names.append("discriminator loss term 'discriminator'")
    return names + (["generator gradient", "discriminator gradient"] if check_grads else [])


def gan_step(ctx: GanContext, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
    """One SRGAN step: G against a frozen-but-differentiable D, then D on the same batch.

    The adversarial term's gradient flows through D into G (D's parameters get no update from it); D's
    loss sees G's output detached. After the call, G's parameter .grad holds the gradient of G's loss.
    Under DDP, G's step runs the plain discriminator module: its parameters are frozen there, so DDP
    must not wait for their gradients. Both gradients are computed and checked before either optimiser
    steps (`finish_step`), so with a guard (checks: `gan_checks`) a non-finite value in either skips both.
    adversarial_gradient=False is the study's code: the adversarial term is computed from D's output
    detached, so it sends no gradient into G ("SRGAN" becomes content-only fine-tuning while D trains).
    """
    step, n = ctx.step, ctx.step.accumulation
    if step.guard is not None:
        step.guard.begin()
    d_plain = unwrap(ctx.discriminator)
    lr_mbs, hr_mbs = micro_batches(lr_img, n), micro_batches(hr_img, n)
    parts: dict[str, Tensor] = {}

    ctx.discriminator.requires_grad_(False)
    ctx.opt_g.zero_grad(set_to_none=True)
    sr_imgs = []
    for i, (lr_mb, hr_mb) in enumerate(zip(lr_mbs, hr_mbs)):
        with no_sync(ctx.generator, i == n - 1):
            with step.runtime.autocast():
                sr_mb = ctx.generator(lr_mb)
                content, terms = ctx.content_loss(sr_mb, hr_mb)
                verdict = d_plain(sr_mb)
                adversarial = generator_adversarial_loss(verdict if ctx.adversarial_gradient else verdict.detach())
                g_loss = content + ctx.adversarial_weight * adversarial
            step.scaler.scale(g_loss / n).backward()
        sr_imgs.append(sr_mb.detach())
        add_parts(parts, {**terms, "content": content, "adversarial": adversarial, "generator": g_loss}, n)

    ctx.discriminator.requires_grad_(True)
    ctx.opt_d.zero_grad(set_to_none=True)
    for i, (sr_mb, hr_mb) in enumerate(zip(sr_imgs, hr_mbs)):
        with no_sync(ctx.discriminator, i == n - 1):
            with step.runtime.autocast():
                real_logits, fake_logits = ctx.discriminator(hr_mb), ctx.discriminator(sr_mb)
                d_loss = discriminator_loss(real_logits, fake_logits)
            step.scaler.scale(d_loss / n).backward()
        add_parts(parts, {"discriminator": d_loss, "real_prob": torch.sigmoid(real_logits.float()).mean(),
                          "fake_prob": torch.sigmoid(fake_logits.float()).mean()}, n)
    probs = {"d/real_prob": parts.pop("real_prob"), "d/fake_prob": parts.pop("fake_prob")}
    finish_step(step, parts, [(ctx.generator, ctx.opt_g), (ctx.discriminator, ctx.opt_d)])
    return {**{f"loss/{k}": v for k, v in parts.items()}, **probs}


class SRGANTask(TaskBase):
    """SRGAN: the generator (from a trained SRResNet) against a discriminator (the paper's, or the study's)."""

    experiment = "srgan"

    def __init__(self, generator: SRResNet, discriminator: nn.Module, content_loss: ContentLoss,
                 adversarial_weight: float, p, total_steps: int, runtime: Runtime,
                 adversarial_gradient: bool = True) -> None:
        generator = for_training(generator, runtime)
        discriminator = for_training(discriminator, runtime)
        content_loss = frozen_for_training(content_loss, runtime)
        checks = gan_checks(content_loss, check_grads=runtime.amp_dtype != torch.float16)
        super().__init__(generator, {"generator": generator, "discriminator": discriminator}, checks, p,
                         total_steps, runtime)
        self.discriminator = discriminator
        self.context = GanContext(wrapped(generator, runtime), wrapped(discriminator, runtime), content_loss,
                                  self.optimizers["generator"], self.optimizers["discriminator"], adversarial_weight,
                                  adversarial_gradient, self.step_context)

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        self.context.generator.train()
        self.context.discriminator.train()
        return gan_step(self.context, lr_img, hr_img)


def initial_generator_state(setup: TrainingSetup) -> dict[str, Tensor]:
    """The weights every SRGAN starts from: SRResNet-MSE's best checkpoint (ours), or its last (the study's
    "best" file held the last weights; `TrainingCode.init_file`), found through the run's summary record."""
    run_dir = setup.args.init_dir
    summary = read_summary(run_dir)
    if setup.code.init_file == "last":
        file = summary.last.file
    else:
        file = next(c.file for c in summary.scored if c.label == "best")
    return load_checkpoint(run_dir / file)["model"]


def train_srgan(setup: TrainingSetup, content_loss: ContentLoss, init_state: dict[str, Tensor]) -> TrainingSummary:
    """Experiment 2: fine-tune a trained SRResNet (`init_state`) as SRGAN's generator against a discriminator
    (see the module docstring). The caller seeded the RNGs (D's initial weights come from them)."""
    p, gan = setup.p, setup.code.gan
    generator = setup.new_generator()
    try:
        generator.load_state_dict(init_state)
    except RuntimeError as e:
        raise SrganError(f"the trained SRResNet does not match params.model ({str(e).splitlines()[0]})") from None
    plan = patch_plan(setup)
    counts = {count * plan.steps_per_unit: count for count in p.checkpoints}
    points = {step: point_label(p.unit, count) for step, count in counts.items()}
    task = SRGANTask(generator, build_discriminator(gan.discriminator, p.patch_px), content_loss,
                     p.adversarial_weight, p, plan.total_steps, setup.runtime,
                     adversarial_gradient=gan.adversarial_gradient)
    init_digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in init_state.values())).hexdigest()[:16]
    scored = tuple(("point", step, "last.pt") for step in points)
    return run_task(setup, task, architecture(generator), content_loss, plan, PointPlan(p.unit, points, counts, scored),
                    init=init_digest)
