"""The two training tasks: SRResNet with a content loss, and SRGAN (generator against discriminator).

A task owns its networks, optimisers, learning-rate schedules and loss scaler,
performs one optimiser step on a batch (`train_step`, through the step functions
of `srgan.training.steps`), and saves and restores all of that (`state_dict` /
`load_state_dict`). The loop (`srgan.training.loop`) drives either task the same
way: it never looks inside one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srgan.core.config import TrainParams
from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.steps import gan_step, lr_factor, pretrain_step


def _for_training(model: nn.Module, runtime: Runtime) -> nn.Module:
    """On the device (and memory format); global-batch BatchNorm under DDP on CUDA."""
    model = runtime.prepare_model(model)
    if runtime.distributed and runtime.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def _wrapped(model: nn.Module, runtime: Runtime) -> nn.Module:
    """The module as the step functions see it: DDP-wrapped and/or compiled."""
    if runtime.distributed:
        model = DistributedDataParallel(model, device_ids=[runtime.device] if runtime.device.type == "cuda" else None)
    return torch.compile(model) if runtime.compile else model


class _Task:
    """Optimisers (Adam, betas 0.9/0.999), their schedules and the fp16 loss scaler."""

    generator: nn.Module  # the plain generator (what is averaged, validated and saved)

    def __init__(self, modules: dict[str, nn.Module], p: TrainParams, total_steps: int, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accumulation = p.grad_accumulation
        self.optimizers = {
            name: torch.optim.Adam(module.parameters(), lr=p.learning_rate, betas=(0.9, 0.999))
            for name, module in modules.items()
        }
        self.schedules = {
            name: torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: lr_factor(p.lr_schedule, s, total_steps, p.lr_decay_step))
            for name, opt in self.optimizers.items()
        }
        self.scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp_dtype == torch.float16)
        self.networks = modules
        # BatchNorm's running statistics move in the forward pass: each step first copies them
        # here, and a discarded step copies them back (they may hold its NaN/inf).
        self._buffers = [b for net in modules.values() for b in net.buffers()]
        self._saved_buffers = [b.detach().clone() for b in self._buffers]

    @property
    def learning_rate(self) -> float:
        return self.optimizers["generator"].param_groups[0]["lr"]

    def end_step(self) -> None:
        """Advance the learning-rate schedules (after every step, taken or skipped)."""
        for schedule in self.schedules.values():
            schedule.step()

    @torch.no_grad()
    def _remember_buffers(self) -> None:
        """Copy the networks' buffers aside (one fused copy; load_state_dict keeps them in place)."""
        if self._buffers:
            torch._foreach_copy_(self._saved_buffers, self._buffers)

    def discard_step(self) -> None:
        """Undo a step that was not taken (non-finite): its gradients and its BatchNorm statistics."""
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        if self._buffers:
            with torch.no_grad():
                torch._foreach_copy_(self._buffers, self._saved_buffers)
        if self.scaler.is_enabled():
            # The step unscaled its gradients but never reached update(): without it the
            # scaler refuses the next unscale_(); the non-finite gradients also back off its scale.
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {name: net.state_dict() for name, net in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedules": {name: s.state_dict() for name, s in self.schedules.items()},
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            self.schedules[name].load_state_dict(state["schedules"][name])
        self.scaler.load_state_dict(state["scaler"])


class SRResNetTask(_Task):
    """SRResNet trained with a content loss alone (experiment 1; SRResNet-MSE initialises SRGAN)."""

    experiment = "srresnet"

    def __init__(self, generator: SRResNet, content_loss: ContentLoss, p: TrainParams, total_steps: int,
                 runtime: Runtime) -> None:
        self.generator = _for_training(generator, runtime)
        self.content_loss = content_loss.to(runtime.device)
        super().__init__({"generator": self.generator}, p, total_steps, runtime)
        self._g_train = _wrapped(self.generator, runtime)

    def train_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        """One optimiser step; returns loss scalars (device tensors). Raises NonFiniteStep."""
        self._remember_buffers()
        self._g_train.train()
        return pretrain_step(self._g_train, self.content_loss, self.optimizers["generator"], lr_img, hr_img,
                             self.runtime, self.accumulation, self.scaler)


class SRGANTask(_Task):
    """SRGAN: the generator (from a trained SRResNet) against the paper's discriminator."""

    experiment = "srgan"

    def __init__(self, generator: SRResNet, discriminator: Discriminator, content_loss: ContentLoss,
                 adversarial_weight: float, p: TrainParams, total_steps: int, runtime: Runtime) -> None:
        self.generator = _for_training(generator, runtime)
        self.discriminator = _for_training(discriminator, runtime)
        self.content_loss = content_loss.to(runtime.device)
        self.adversarial_weight = adversarial_weight
        super().__init__({"generator": self.generator, "discriminator": self.discriminator}, p, total_steps, runtime)
        self._g_train = _wrapped(self.generator, runtime)
        self._d_train = _wrapped(self.discriminator, runtime)

    def train_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        """One G step then one D step; returns loss scalars and D's mean outputs. Raises NonFiniteStep."""
        self._remember_buffers()
        self._g_train.train()
        self._d_train.train()
        return gan_step(self._g_train, self._d_train, self.content_loss, self.optimizers["generator"],
                        self.optimizers["discriminator"], lr_img, hr_img, self.adversarial_weight, self.runtime,
                        self.accumulation, self.scaler)
