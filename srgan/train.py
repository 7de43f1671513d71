"""SRResNet pretraining (`pretrain_srresnet`) and SRGAN fine-tuning (`finetune_srgan`).

Both run a fixed number of optimiser steps over random patches, keep an
exponential moving average (EMA) of the generator's weights, validate the
averaged generator by PSNR-Y on the valid set every `valid_every` steps and
at the end, and write:
  <out_dir>/best.pt  the averaged generator with the best validation PSNR-Y
  <out_dir>/last.pt  the averaged generator after the last step
  <out_dir>/summary.json  steps, timings, best step, loss weights used
TensorBoard scalars and validation images go to `log_dir`.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from srgan import metrics
from srgan.artifacts import save_checkpoint, write_json_atomic
from srgan.config import ModelParams, TrainParams, as_dict
from srgan.data import EvalImage, PatchDataset, to_tensor
from srgan.infer import super_resolve
from srgan.losses import ContentLoss, discriminator_loss, generator_adversarial_loss
from srgan.models import Discriminator, SRResNet
from srgan.runtime import Runtime

log = logging.getLogger(__name__)


class EMA:
    """Exponential moving average of a model's parameters and buffers.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates
    so that the average is not dominated by the random initial weights in
    short runs. Integer buffers (BN's num_batches_tracked) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.dtype.is_floating_point:
                avg.lerp_(cur.detach(), 1.0 - decay)
            else:
                avg.copy_(cur)


class _StepRangeSampler(Sampler[int]):
    """Indices start..stop-1 in order: PatchDataset items are already random."""

    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def lr_factor(schedule: str, step: int, total_steps: int, decay_step: int) -> float:
    """Learning-rate multiplier at `step` (0-based) for the schedules in params."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    if schedule == "step":
        return 0.1 if decay_step and step >= decay_step else 1.0
    return 1.0


def validate(model: nn.Module, images: list[EvalImage], scale: int, runtime: Runtime) -> float:
    """Mean PSNR-Y (dB, shave = scale) of `model` on full validation images."""
    model.eval()
    scores = []
    for item in images:
        sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], runtime)
        scores.append(float(metrics.psnr_y(sr_img, to_tensor(item.hr_u8)[None], scale, item.gray)[0]))
    return float(np.mean(scores))


def pretrain_step(
    generator: nn.Module, content_loss: ContentLoss, optimizer: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, runtime: Runtime,
) -> dict[str, float]:
    """One SRResNet optimiser step on a batch; returns the loss scalars for logging."""
    with runtime.autocast():
        sr_img = generator(lr_img)
        loss, terms = content_loss(sr_img, hr_img)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss/content": loss.item(), **{f"loss/{k}": v.item() for k, v in terms.items()}}


def gan_step(
    generator: nn.Module, discriminator: nn.Module, content_loss: ContentLoss,
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
    lr_img: Tensor, hr_img: Tensor, adversarial_weight: float, runtime: Runtime,
) -> dict[str, float]:
    """One SRGAN step: G against a frozen-but-differentiable D, then D on the same batch.

    G's loss = content + adversarial_weight * -log D(G(LR)); the adversarial term's
    gradient flows through D into G (D's parameters get no update from it). D's
    loss = -log D(HR) - log(1 - D(G(LR))), on G's output detached.
    After the call, G's parameter .grad holds the gradient of G's loss.
    """
    discriminator.requires_grad_(False)
    with runtime.autocast():
        sr_img = generator(lr_img)
        content, terms = content_loss(sr_img, hr_img)
        adversarial = generator_adversarial_loss(discriminator(sr_img))
        g_loss = content + adversarial_weight * adversarial
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    discriminator.requires_grad_(True)
    with runtime.autocast():
        real_logits = discriminator(hr_img)
        fake_logits = discriminator(sr_img.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    return {
        "loss/generator": g_loss.item(),
        "loss/content": content.item(),
        "loss/adversarial": adversarial.item(),
        "loss/discriminator": d_loss.item(),
        "d/real_prob": torch.sigmoid(real_logits.detach().float()).mean().item(),
        "d/fake_prob": torch.sigmoid(fake_logits.detach().float()).mean().item(),
        **{f"loss/{k}": v.item() for k, v in terms.items()},
    }


@dataclass
class _Trainer:
    """State shared by the two training stages."""

    generator: SRResNet
    train_params: TrainParams
    scale: int
    valid_images: list[EvalImage]
    runtime: Runtime
    out_dir: Path
    log_dir: Path
    checkpoint_info: dict
    progress: bool
    best_psnr: float = -math.inf
    best_step: int = 0
    history: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.generator = self.runtime.prepare_model(self.generator)
        self.ema = EMA(self.generator, self.train_params.ema_decay) if self.train_params.ema_decay > 0 else None
        self.writer = SummaryWriter(str(self.log_dir))

    def averaged(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    def loader(self, dataset: PatchDataset) -> DataLoader:
        p = self.train_params
        return DataLoader(
            dataset,
            batch_size=p.batch_size,
            sampler=_StepRangeSampler(0, p.steps * p.batch_size),
            num_workers=p.num_workers,
            pin_memory=self.runtime.device.type == "cuda",
            drop_last=True,
            persistent_workers=p.num_workers > 0,
        )

    def after_step(self, step: int, scalars: dict[str, float]) -> None:
        """EMA update, logging and periodic validation after 1-based `step`."""
        p = self.train_params
        if self.ema is not None:
            self.ema.update(self.generator)
        if step % p.log_every == 0 or step == p.steps:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)
        if step % p.valid_every == 0 or step == p.steps:
            model = self.averaged()
            psnr = validate(model, self.valid_images, self.scale, self.runtime)
            model.train(False)
            self.writer.add_scalar("valid/psnr_y_db", psnr, step)
            self.history.append({"step": step, "valid_psnr_y_db": round(psnr, 4)})
            log.info("step %d: valid PSNR-Y %.3f dB", step, psnr)
            if psnr > self.best_psnr:
                self.best_psnr, self.best_step = psnr, step
                self._save("best.pt", step, psnr)
            if self.valid_images:
                item = self.valid_images[0]
                sr_img = super_resolve(model, to_tensor(item.lr_u8)[None], self.runtime)
                self.writer.add_image(f"valid/{item.name}", sr_img[0], step)
        if step == p.steps:
            self._save("last.pt", step, self.history[-1]["valid_psnr_y_db"])

    def _save(self, name: str, step: int, psnr: float) -> None:
        state = {k: v.detach().cpu().clone() for k, v in self.averaged().state_dict().items()}
        save_checkpoint(
            self.out_dir / name,
            {"model": state, "step": step, "valid_psnr_y_db": psnr, **self.checkpoint_info},
        )

    def finish(self, started: float, extra: dict) -> dict:
        self.writer.close()
        summary = {
            "steps": self.train_params.steps,
            "best_step": self.best_step,
            "best_valid_psnr_y_db": round(self.best_psnr, 4),
            "wall_s": round(time.time() - started, 1),
            "history": self.history,
            **extra,
        }
        write_json_atomic(self.out_dir / "summary.json", summary)
        return summary


def _checkpoint_info(kind: str, scale: int, model_params: ModelParams, loss_name: str, content: ContentLoss) -> dict:
    return {
        "kind": kind,
        "scale": scale,
        "model_params": as_dict(model_params),
        "content_loss": loss_name,
        "loss_terms": content.weights,
        "feature_weights": content.weights_used,
    }


def pretrain_srresnet(
    *,
    train_images: list[tuple[str, np.ndarray]],
    valid_images: list[EvalImage],
    scale: int,
    model_params: ModelParams,
    train_params: TrainParams,
    loss_name: str,
    content_loss: ContentLoss,
    seed: int,
    runtime: Runtime,
    out_dir: Path,
    log_dir: Path,
    progress: bool = True,
) -> dict:
    """Train SRResNet from scratch with `content_loss` (SRResNet-MSE: pixel MSE).

    Returns the summary written to <out_dir>/summary.json.
    """
    started = time.time()
    torch.manual_seed(seed)
    generator = SRResNet(scale=scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    info = _checkpoint_info("srresnet", scale, model_params, loss_name, content_loss)
    trainer = _Trainer(generator, train_params, scale, valid_images, runtime, out_dir, log_dir, info, progress)
    content_loss = content_loss.to(runtime.device)
    p = train_params
    optimizer = torch.optim.Adam(trainer.generator.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(p.lr_schedule, s, p.steps, p.lr_decay_step)
    )
    dataset = PatchDataset(train_images, p.patch_px, scale, p.augment, p.steps * p.batch_size, seed)
    trainer.generator.train()
    bar = tqdm(trainer.loader(dataset), total=p.steps, desc="pretrain", disable=not progress)
    for step, (lr_img, hr_img) in enumerate(bar, start=1):
        scalars = pretrain_step(
            trainer.generator, content_loss, optimizer, runtime.to_device(lr_img), runtime.to_device(hr_img), runtime
        )
        scheduler.step()
        scalars["lr"] = optimizer.param_groups[0]["lr"]
        bar.set_postfix(loss=f"{scalars['loss/content']:.4f}")
        trainer.after_step(step, scalars)
        trainer.generator.train()
    return trainer.finish(started, {"content_loss": loss_name, "feature_weights": content_loss.weights_used})


def finetune_srgan(
    *,
    init_state: dict[str, Tensor],
    train_images: list[tuple[str, np.ndarray]],
    valid_images: list[EvalImage],
    scale: int,
    model_params: ModelParams,
    train_params: TrainParams,
    adversarial_weight: float,
    loss_name: str,
    content_loss: ContentLoss,
    seed: int,
    runtime: Runtime,
    out_dir: Path,
    log_dir: Path,
    progress: bool = True,
) -> dict:
    """Fine-tune a pretrained SRResNet as SRGAN's generator against the paper's discriminator.

    G's loss = content + adversarial_weight * -log D(G(LR)) (gradient flows through D
    into G; D's weights are not updated by G's step); D's loss = -log D(HR) -
    log(1 - D(G(LR))). Both use Adam at `learning_rate` with the same schedule.
    """
    started = time.time()
    torch.manual_seed(seed)
    generator = SRResNet(scale=scale, num_blocks=model_params.num_blocks, channels=model_params.channels)
    generator.load_state_dict(init_state)
    discriminator = Discriminator(patch_px=train_params.patch_px)
    info = _checkpoint_info("srgan", scale, model_params, loss_name, content_loss)
    trainer = _Trainer(generator, train_params, scale, valid_images, runtime, out_dir, log_dir, info, progress)
    discriminator = runtime.prepare_model(discriminator).train()
    content_loss = content_loss.to(runtime.device)
    p = train_params
    opt_g = torch.optim.Adam(trainer.generator.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))
    schedules = [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(p.lr_schedule, s, p.steps, p.lr_decay_step))
        for opt in (opt_g, opt_d)
    ]
    dataset = PatchDataset(train_images, p.patch_px, scale, p.augment, p.steps * p.batch_size, seed)
    trainer.generator.train()
    bar = tqdm(trainer.loader(dataset), total=p.steps, desc=f"finetune {loss_name}", disable=not progress)
    for step, (lr_img, hr_img) in enumerate(bar, start=1):
        scalars = gan_step(
            trainer.generator, discriminator, content_loss, opt_g, opt_d,
            runtime.to_device(lr_img), runtime.to_device(hr_img), adversarial_weight, runtime,
        )
        for sched in schedules:
            sched.step()
        scalars["lr"] = opt_g.param_groups[0]["lr"]
        bar.set_postfix(g=f"{scalars['loss/generator']:.4f}", d=f"{scalars['loss/discriminator']:.3f}")
        trainer.after_step(step, scalars)
        trainer.generator.train()
    return trainer.finish(
        started,
        {"content_loss": loss_name, "adversarial_weight": adversarial_weight, "feature_weights": content_loss.weights_used},
    )
