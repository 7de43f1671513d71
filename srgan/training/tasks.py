"""The two training tasks: SRResNet with a content loss, and SRGAN (generator against discriminator).

A task owns its networks, fused Adam optimisers (learning rate in a device tensor),
learning-rate schedules, fp16 loss scaler, the non-finite guard and the weight average
(EMA) of its generator. `train_step` is one whole step (the step function of
`srgan.training.steps`, then the EMA update): on CUDA with `runtime.cuda_graphs` it is
captured once as a CUDA graph and replayed (`CapturedStep`); elsewhere it runs eagerly —
the same code either way. `state_dict` / `load_state_dict` save and restore all of it.
The loop (`srgan.training.loop`) drives either task the same way: it never looks inside one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srgan.core.config import TrainParams
from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.nets.srresnet import SRResNet
from srgan.training.ema import EMA
from srgan.training.steps import StepGuard, gan_checks, gan_step, lr_factor, pretrain_checks, pretrain_step

log = logging.getLogger(__name__)

StepFn = Callable[[Tensor, Tensor], dict[str, Tensor]]


class CapturedStep:
    """A training step replayed as one CUDA graph (whole-network capture, PyTorch's CUDA graphs recipe).

    The first `warmup` calls run eagerly on a side stream (cuDNN picks its algorithms, the
    fused optimisers create their state); the next call captures the step from static input
    buffers, and every call then copies its batch into those buffers and replays the graph.
    Every call is a real training step. The outputs are static tensors that the next call
    overwrites: read them (or copy them) before the next step.
    """

    def __init__(self, step: StepFn, warmup: int = 3) -> None:
        self.step, self.warmup = step, warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager = False  # the capture failed: every step runs eagerly (the same step function)
        self.inputs: tuple[Tensor, Tensor] | None = None
        self.outputs: dict[str, Tensor] = {}

    def __call__(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        if self.eager:
            return self.step(lr_img, hr_img)
        if self.graph is None and self.calls < self.warmup:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step(lr_img, hr_img)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None and not self._capture(lr_img, hr_img):
            return self.step(lr_img, hr_img)
        self.inputs[0].copy_(lr_img, non_blocking=True)
        self.inputs[1].copy_(hr_img, non_blocking=True)
        self.graph.replay()
        return self.outputs

    def _capture(self, lr_img: Tensor, hr_img: Tensor) -> bool:
        """Record the step into a graph (nothing runs while capturing); False, with a warning, when the
        capture fails (the step then runs eagerly from here on)."""
        self.inputs = (lr_img.clone(), hr_img.clone())  # clone keeps the memory format
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.outputs = self.step(*self.inputs)
        except RuntimeError as e:
            self.eager, self.inputs, self.outputs = True, None, {}
            torch.cuda.synchronize()
            log.warning("CUDA graph capture of the training step failed, training goes on with eager steps: %s",
                        str(e).splitlines()[0])
            return False
        self.graph = graph
        log.info("training step captured as a CUDA graph after %d eager steps", self.calls)
        return True


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


def use_cuda_graphs(runtime: Runtime) -> tuple[bool, str]:
    """Whether training steps are captured as CUDA graphs, and why not when `runtime.cuda_graphs` asks."""
    if not runtime.cuda_graphs:
        return False, "runtime.cuda_graphs is off"
    if runtime.device.type != "cuda":
        return False, f"CUDA graphs apply on CUDA only (device {runtime.device})"
    if runtime.distributed:
        return False, "CUDA graphs are not used with DistributedDataParallel (eager steps)"
    if runtime.amp_dtype == torch.float16:
        return False, "CUDA graphs are not used with fp16 loss scaling (eager steps; bf16 needs no scaler)"
    return True, "training steps run as CUDA graphs"


class _Task:
    """Optimisers (fused Adam, betas 0.9/0.999), their schedules, the fp16 loss scaler, the guard and the EMA."""

    experiment: str
    generator: nn.Module  # the plain generator (what is averaged, validated and saved)

    def __init__(self, modules: dict[str, nn.Module], checks: list[str], p: TrainParams, total_steps: int,
                 runtime: Runtime) -> None:
        self.runtime = runtime
        self.accumulation = p.grad_accumulation
        self.optimizers = {
            # fused: one kernel per step, the learning rate read from a device tensor, and `found_inf`
            # (the guard's skip) honoured on the device; capturable: allowed inside a CUDA graph capture
            # (the same fused kernel; PyTorch checks the flag when a step is captured).
            name: torch.optim.Adam(module.parameters(), betas=(0.9, 0.999), fused=True, capturable=True,
                                   lr=torch.tensor(p.learning_rate, dtype=torch.float32, device=runtime.device))
            for name, module in modules.items()
        }
        self.schedules = {
            name: torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: lr_factor(p.lr_schedule, s, total_steps, p.lr_decay_step))
            for name, opt in self.optimizers.items()
        }
        self.scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp_dtype == torch.float16)
        self.networks = modules
        self.guard = StepGuard(list(modules.values()), checks, runtime)
        self.ema = EMA(self.generator, p.ema_decay) if p.ema_decay > 0 else None
        graphs, why = use_cuda_graphs(runtime)
        if runtime.cuda_graphs and not graphs:
            log.info("%s", why)
        self._step: StepFn = CapturedStep(self._eager_step) if graphs else self._eager_step

    def _eager_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        scalars = self._optimiser_step(lr_img, hr_img)
        if self.ema is not None:  # a step the guard skipped leaves the average (and its count) as it was
            self.ema.update(self.generator, skipped=self.guard.found_inf)
        return scalars

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def train_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        """One whole step (optimisers, EMA); returns loss scalars (device tensors; read before the next step).

        A non-finite loss or gradient makes it a no-op on the device, recorded in `self.guard.health`.
        """
        return self._step(lr_img, hr_img)

    @property
    def averaged(self) -> nn.Module:
        """The generator that is validated and saved: the EMA, or the raw weights without one."""
        return self.ema.model if self.ema is not None else self.generator

    @property
    def learning_rate(self) -> float:
        return float(self.optimizers["generator"].param_groups[0]["lr"])

    def end_step(self) -> None:
        """Advance the learning-rate schedules (after every step, taken or skipped; no host sync)."""
        for schedule in self.schedules.values():
            schedule.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {name: net.state_dict() for name, net in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedules": {name: s.state_dict() for name, s in self.schedules.items()},
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved task (before the first step of a session: a CUDA graph is captured after it)."""
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            for group in opt.param_groups:  # the saved learning rate comes back on the CPU
                group["lr"] = torch.as_tensor(group["lr"], dtype=torch.float32).to(self.runtime.device)
            self.schedules[name].load_state_dict(state["schedules"][name])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])


class SRResNetTask(_Task):
    """SRResNet trained with a content loss alone (experiment 1; SRResNet-MSE initialises SRGAN)."""

    experiment = "srresnet"

    def __init__(self, generator: SRResNet, content_loss: ContentLoss, p: TrainParams, total_steps: int,
                 runtime: Runtime) -> None:
        self.generator = _for_training(generator, runtime)
        self.content_loss = content_loss.to(runtime.device)
        checks = pretrain_checks(content_loss, check_grads=runtime.amp_dtype != torch.float16)
        super().__init__({"generator": self.generator}, checks, p, total_steps, runtime)
        self._g_train = _wrapped(self.generator, runtime)

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        self._g_train.train()
        return pretrain_step(self._g_train, self.content_loss, self.optimizers["generator"], lr_img, hr_img,
                             self.runtime, self.accumulation, self.scaler, self.guard)


class SRGANTask(_Task):
    """SRGAN: the generator (from a trained SRResNet) against a discriminator (the paper's, or the study's)."""

    experiment = "srgan"

    def __init__(self, generator: SRResNet, discriminator: nn.Module, content_loss: ContentLoss,
                 adversarial_weight: float, p: TrainParams, total_steps: int, runtime: Runtime,
                 adversarial_gradient: bool = True) -> None:
        self.generator = _for_training(generator, runtime)
        self.discriminator = _for_training(discriminator, runtime)
        self.content_loss = content_loss.to(runtime.device)
        self.adversarial_weight = adversarial_weight
        self.adversarial_gradient = adversarial_gradient  # false: the study's detached adversarial term
        checks = gan_checks(content_loss, check_grads=runtime.amp_dtype != torch.float16)
        super().__init__({"generator": self.generator, "discriminator": self.discriminator}, checks, p,
                         total_steps, runtime)
        self._g_train = _wrapped(self.generator, runtime)
        self._d_train = _wrapped(self.discriminator, runtime)

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        self._g_train.train()
        self._d_train.train()
        return gan_step(self._g_train, self._d_train, self.content_loss, self.optimizers["generator"],
                        self.optimizers["discriminator"], lr_img, hr_img, self.adversarial_weight, self.runtime,
                        self.accumulation, self.scaler, self.guard, self.adversarial_gradient)
