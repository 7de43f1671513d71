"""The contract between the training loop and what it trains (`Task`), and what both experiments'
tasks share (`TaskBase`).

The loop (`srgan.training.loop`) and its hooks call a task through `Task` and nothing else: one whole
step, the end-of-step schedule update, the non-finite record read when a hook is due, the generator
that is validated and saved, and the state a run resumes from. The tasks are `SRResNetTask`
(`srgan.training.srresnet`) and `SRGANTask` (`srgan.training.srgan`).

A task owns its networks, fused Adam optimisers (betas 0.9/0.999, learning rate in a device
tensor), learning-rate schedules, fp16 loss scaler, the non-finite guard and the weight average
(EMA) of its generator. Its step runs eagerly or, on CUDA with `runtime.cuda_graphs` auto or
required, captured once as a CUDA graph and replayed (`srgan.training.graphs`) — the same step
function either way; `graphed` / `graph_note` say which (for timing.json). With the device patch
sampler the step takes its batch's packed draws and cuts the patches itself (`cut_in_step`), inside
the graph when it is graphed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srgan.core.config import TrainParams
from srgan.core.runtime import Runtime
from srgan.training.ema import EMA
from srgan.training.graphs import CapturedStep, graph_plan
from srgan.training.guard import Health, StepGuard
from srgan.training.step import StepContext, lr_factor

log = logging.getLogger(__name__)


class Task(Protocol):
    """What the loop drives (see the module docstring)."""

    experiment: str  # "srresnet" | "srgan"

    def train_step(self, *inputs: Tensor) -> dict[str, Tensor]:
        """One whole step on (lr_img, hr_img), or on a batch's packed draws after `cut_in_step`; returns its loss
        scalars (device tensors, read before the next step)."""

    def cut_in_step(self, cut: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
        """From now on each step takes a batch's packed draws and cuts its patches with `cut` (the device
        sampler's, `srgan.datasets.patches.DevicePatches.cut`) as its first work: inside the CUDA graph when
        the step is graphed, eagerly otherwise."""

    def end_step(self) -> None:
        """After every step, taken or skipped: advance the learning-rate schedules."""

    def start_at(self, step: int) -> None:
        """A session starts after `step` steps (0, or where it resumed): the health record counts from there."""

    def read_health(self) -> Health:
        """The non-finite steps since the last read (one host sync)."""

    @property
    def averaged(self) -> nn.Module:
        """The generator that is validated and saved."""

    @property
    def learning_rate(self) -> float: ...

    @property
    def graphed(self) -> bool: ...

    @property
    def graph_note(self) -> str: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def for_training(model: nn.Module, runtime: Runtime) -> nn.Module:
    """On the device (and memory format); global-batch BatchNorm under DDP on CUDA."""
    model = runtime.prepare_model(model)
    if runtime.distributed and runtime.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def frozen_for_training(module: nn.Module, runtime: Runtime) -> nn.Module:
    """A loss and its frozen networks (the content loss's feature extractors) as the step runs them: on the
    device in the training memory format (`Runtime.prepare_model`), eval mode, no gradients for their weights.

    channels_last matters on CUDA: a convolution whose input is NHWC and whose weights are NCHW converts the
    weights on every call (every VGG-19 layer, twice per step). On the CPU oneDNN already ran those convolutions
    in NHWC (the input decides), and the weights' own format gives the same bits (tested)."""
    return runtime.prepare_model(module).requires_grad_(False).eval()


def wrapped(model: nn.Module, runtime: Runtime) -> nn.Module:
    """The module as the step functions see it: DDP-wrapped and/or compiled."""
    if runtime.distributed:
        model = DistributedDataParallel(model, device_ids=[runtime.device] if runtime.device.type == "cuda" else None)
    return torch.compile(model) if runtime.compile else model


class TaskBase:
    """Optimisers, schedules, loss scaler, guard, EMA and the (captured) step: see the module docstring.

    Subclasses build their networks (`for_training`), pass the generator and every optimised network
    here, and implement `_optimiser_step` (their experiment's step function on `self.step_context`).
    """

    experiment: str

    def __init__(self, generator: nn.Module, networks: dict[str, nn.Module], checks: list[str], p: TrainParams,
                 total_steps: int, runtime: Runtime) -> None:
        self.runtime = runtime
        self.generator = generator  # the plain generator: what is averaged, validated and saved
        self.networks = networks
        self.optimizers = {
            # fused: one kernel per step, the learning rate read from a device tensor, and `found_inf`
            # (the guard's skip) honoured on the device; capturable: allowed inside a CUDA graph capture
            # (the same fused kernel; PyTorch checks the flag when a step is captured).
            name: torch.optim.Adam(module.parameters(), betas=(0.9, 0.999), fused=True, capturable=True,
                                   lr=torch.tensor(p.learning_rate, dtype=torch.float32, device=runtime.device))
            for name, module in networks.items()
        }
        self.schedules = {
            name: torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: lr_factor(p.lr_schedule, s, total_steps, p.lr_decay_step))
            for name, opt in self.optimizers.items()
        }
        self.scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp_dtype == torch.float16)
        self.guard = StepGuard(list(networks.values()), checks, runtime)
        self.step_context = StepContext(runtime, p.grad_accumulation, self.scaler, self.guard)
        self.ema = EMA(generator, p.ema_decay) if p.ema_decay > 0 else None
        graphs, self._no_graph_note = graph_plan(runtime)
        self.cut: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None  # `cut_in_step`
        self.captured: CapturedStep | None = (
            CapturedStep(self._eager_step, list(self.optimizers.values()), runtime.device, runtime.cuda_graphs)
            if graphs else None)

    def _optimiser_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def _eager_step(self, lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        scalars = self._optimiser_step(lr_img, hr_img)
        if self.ema is not None:  # a step the guard skipped leaves the average (and its count) as it was
            self.ema.update(self.generator, skipped=self.guard.found_inf)
        return scalars

    def train_step(self, *inputs: Tensor) -> dict[str, Tensor]:
        """One whole step (optimisers, EMA) on (lr_img, hr_img), or on packed draws after `cut_in_step`; a
        non-finite loss or gradient makes it a no-op on the device, recorded for `read_health`."""
        if self.captured is not None:
            return self.captured(*inputs)
        return self._eager_step(*(self.cut(*inputs) if self.cut is not None else inputs))

    def cut_in_step(self, cut: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
        """Each step cuts its own patches from packed draws (see `Task`); a captured step is captured afresh."""
        self.cut = cut
        if self.captured is not None:
            self.captured = self.captured.fresh(cut)

    def end_step(self) -> None:
        for schedule in self.schedules.values():
            schedule.step()

    def start_at(self, step: int) -> None:
        self.guard.health.step.fill_(step)

    def read_health(self) -> Health:
        return self.guard.health.read()

    @property
    def graphed(self) -> bool:
        """Whether the steps now replay a captured CUDA graph."""
        return self.captured is not None and self.captured.graph is not None

    @property
    def graph_note(self) -> str:
        """Why the steps are (not) graphed: one line for timing.json."""
        return self.captured.note if self.captured is not None else self._no_graph_note

    @property
    def averaged(self) -> nn.Module:
        """The EMA, or the raw generator without one."""
        return self.ema.model if self.ema is not None else self.generator

    @property
    def learning_rate(self) -> float:
        return float(self.optimizers["generator"].param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {name: net.state_dict() for name, net in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedules": {name: s.state_dict() for name, s in self.schedules.items()},
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved task. It replaces the optimisers' state and learning-rate tensors, which a
        captured graph would go on reading: the captured step is dropped, and a fresh one captures again."""
        if self.captured is not None:
            self.captured = self.captured.fresh()
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
