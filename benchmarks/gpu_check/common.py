"""What every part of the GPU check shares: the sizes (`Setup`), the training stages' own tasks, synthetic
training images, the device patch sampler, the host-read checks and log capture."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from srgan.core.config import TrainParams
from srgan.core.images import bicubic_downscale, resize_bicubic
from srgan.core.runtime import Runtime
from srgan.datasets.patches import DevicePatches, PatchPlan, PatchSpec, device_batches, device_draws
from srgan.datasets.prepared import TrainImage
from srgan.losses.content import ContentLoss
from srgan.losses.extractors import feature_content_loss
from srgan.losses.terms import WEIGHTS_RANDOM
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.srgan import SRGANTask, gan_step
from srgan.training.srresnet import SRResNetTask, pretrain_step
from srgan.training.task import Task

KINDS = ("srresnet", "srgan")  # SRResNet-MSE; SRGAN + VGG19_5_4
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}
PROFILE_PRECISION = "fp32"  # what the GPU profiles train in (profiles/paper.yaml, study.yaml: fp32, TF32 convolutions)
SCALE = 4
StepFn = Callable[..., dict[str, Tensor]]


@dataclass(frozen=True)
class Setup:
    """Sizes of a check: the paper's on the GPU, tiny ones for the CPU dry run."""

    device: torch.device
    batch: int  # patches per step
    patch_px: int  # HR side
    blocks: int  # SRResNet residual blocks
    channels: int  # SRResNet feature channels
    warmup: int  # untimed steps before a timing (>= 4: the 3 eager warm-up steps and the capture)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def gpu_setup() -> Setup:
    return Setup(torch.device("cuda"), batch=16, patch_px=96, blocks=16, channels=64, warmup=10)


def cpu_setup() -> Setup:
    return Setup(torch.device("cpu"), batch=2, patch_px=32, blocks=2, channels=8, warmup=1)


def sync(setup: Setup) -> None:
    if setup.cuda:
        torch.cuda.synchronize()


def free(setup: Setup) -> None:
    gc.collect()  # a task and its captured step refer to each other: only the collector frees their memory
    if setup.cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- the tasks and their data


def train_params(setup: Setup, steps: int, *, lr_schedule: str = "constant", lr_decay_step: int = 0,
                 ema_decay: float = 0.0, augment: str = "none") -> TrainParams:
    return TrainParams(steps=steps, epochs=0, batch_size=setup.batch, grad_accumulation=1, patch_px=setup.patch_px,
                       augment=augment, learning_rate=1.0e-4, lr_schedule=lr_schedule, lr_decay_step=lr_decay_step,
                       ema_decay=ema_decay, valid_every=steps, valid_crop_px=0, curve_every=100, max_bad_steps=steps)


@functools.cache
def vgg_loss() -> ContentLoss:
    """The VGG19_5_4 content loss (random weights: offline, and the speed is the same), built once per
    process: its extractor is frozen, so every task can share it (building VGG-19 takes seconds)."""
    return feature_content_loss({"vgg19_5_4": 1.0}, WEIGHTS_RANDOM)


def build(setup: Setup, kind: str, precision: str, graphs: str, p: TrainParams, seed: int = 0) -> Task:
    """The task a training stage builds (channels_last; `graphs`: runtime.cuda_graphs), seeded."""
    runtime = Runtime(setup.device, PRECISIONS[precision], True, cuda_graphs=graphs)
    torch.manual_seed(seed)
    generator = SRResNet(scale=SCALE, num_blocks=setup.blocks, channels=setup.channels)
    if kind == "srresnet":
        return SRResNetTask(generator, ContentLoss({"mse": 1.0}), p, p.steps, runtime)
    return SRGANTask(generator, Discriminator(patch_px=setup.patch_px), vgg_loss(), 1.0e-3, p, p.steps, runtime)


def synthetic_images(setup: Setup, count: int = 6) -> list[TrainImage]:
    """Smooth random photographs (upsampled noise), 3 x 3.3 patches in size, with LR as prepare makes it."""
    rng = np.random.default_rng(0)
    height, width = 3 * setup.patch_px, 3 * setup.patch_px + 32
    out = []
    for i in range(count):
        base = rng.integers(0, 256, (height // 8, width // 8, 3)).astype(np.uint8)
        hr = resize_bicubic(base, (height, width))
        out.append(TrainImage(f"synthetic{i}", hr, bicubic_downscale(hr, SCALE)))
    return out


def device_patches(setup: Setup, images: list[TrainImage], augment: str) -> DevicePatches:
    spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment=augment, seed=0, per_epoch=False)
    return DevicePatches(images, spec, setup.device)


def _plan(setup: Setup, images: list[TrainImage], steps: int) -> PatchPlan:
    return PatchPlan(unit="step", length=steps, batch_size=setup.batch, num_images=len(images))


def sampler(setup: Setup, images: list[TrainImage], augment: str, steps: int,
            patches: DevicePatches | None = None) -> Iterator[tuple[Tensor, Tensor]]:
    """`steps` batches (LR, HR) of the device patch sampler, cut before the step (NHWC)."""
    patches = patches or device_patches(setup, images, augment)
    yield from device_batches(patches, _plan(setup, images, steps), 0, 0, 1)


def draws(setup: Setup, images: list[TrainImage], augment: str, steps: int,
          patches: DevicePatches) -> Iterator[tuple[Tensor]]:
    """`steps` batches of packed draws, as the loop feeds a step that cuts its own patches (`Task.cut_in_step`)."""
    yield from device_draws(patches, _plan(setup, images, steps), 0, 0, 1)


def unguarded_step(task: Task) -> StepFn:
    """The task's whole step without the non-finite guard (optimisers and EMA): what the guard costs. Not the
    loop's contract: it reaches into the task's step context, the one place a step without its guard exists."""
    ctx = dataclasses.replace(task.context, step=dataclasses.replace(task.context.step, guard=None))

    def step(lr_img: Tensor, hr_img: Tensor) -> dict[str, Tensor]:
        ctx.generator.train()
        if isinstance(task, SRResNetTask):
            out = pretrain_step(ctx, lr_img, hr_img)
        else:
            ctx.discriminator.train()
            out = gan_step(ctx, lr_img, hr_img)
        if task.ema is not None:
            task.ema.update(task.generator)
        return out
    return step


# ---------------------------------------------------------------- host reads, log records


@contextlib.contextmanager
def no_host_reads() -> Iterator[None]:
    """Every read of a tensor's value by the host (item, tolist, bool, float, int) raises: the CPU's
    stand-in for CUDA's sync check (on a GPU each is a synchronisation, inside a capture an error)."""
    names = ("item", "tolist", "__bool__", "__float__", "__int__")
    saved = {name: getattr(Tensor, name) for name in names}

    def refuse(name: str) -> Callable:
        def read(self: Tensor, *args: object, **kwargs: object) -> None:
            raise RuntimeError(f"a host read of a tensor's value (Tensor.{name})")
        return read

    for name in names:
        setattr(Tensor, name, refuse(name))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(Tensor, name, method)


@contextlib.contextmanager
def sync_check(setup: Setup) -> Iterator[None]:
    """Any host synchronisation inside raises: CUDA's sync debug mode "error", or `no_host_reads` on the CPU."""
    if not setup.cuda:
        with no_host_reads():
            yield
        return
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


class _EagerReplay:
    """What `host_read_capture` returns when the step read nothing: replay runs the step on the static inputs."""

    def __init__(self, step: StepFn, inputs: tuple[Tensor, ...], outputs: dict[str, Tensor]) -> None:
        self.step, self.inputs, self.outputs = step, inputs, outputs

    def replay(self) -> None:
        self.outputs.update(self.step(*self.inputs))


def host_read_capture(step: StepFn, inputs: tuple[Tensor, ...]) -> tuple[_EagerReplay, dict[str, Tensor]]:
    """The CPU dry run's stand-in for `cuda_capture`: runs the step with host reads refused, and fails as a
    CUDA capture fails when the step reads a value on the host."""
    try:
        with no_host_reads():
            outputs = dict(step(*inputs))
    except RuntimeError as e:
        raise RuntimeError("the capture was invalidated (CPU stand-in for a CUDA graph capture)") from e
    return _EagerReplay(step, inputs, outputs), outputs


class LogRecords(logging.Handler):
    """Collects the records of one logger (INFO and up) while it is entered."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.logger, self.records = logging.getLogger(name), []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogRecords:
        self._level = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def text(self, level: int = logging.INFO) -> str:
        return "\n".join(r.getMessage() for r in self.records if r.levelno >= level)
