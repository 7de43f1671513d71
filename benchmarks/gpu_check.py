"""One-command GPU check of the training speed work: no network, under 5 minutes on one H200.

usage: python benchmarks/gpu_check.py [--cpu] [--out gpu_check.json] [--parts abcdefg]
                                      [--loop-steps 500] [--step-steps 100] [--parity-steps 30]

Writes one JSON file (--out, default gpu_check.json; rewritten after every part, so a run cut
short keeps what finished) and prints a markdown table per part, then the verdicts. Each part
runs on its own: one that fails records its error and the others still run. Both tasks are the
training stages' own (`srgan.training.srresnet`, `srgan.training.srgan`): SRResNet-MSE, and SRGAN + VGG19_5_4 (adversarial
weight 1e-3; the extractor has random weights: offline, and the speed is the same).

  (a) captured: whether each task's whole step captures as a CUDA graph (runtime.cuda_graphs auto),
      fp32 and bf16, channels_last; the cause when it does not.
  (b) parity: graphed against eager steps from the same state and batches (30 steps, EMA 0.999) in
      the profiles' configuration (fp32 + channels_last, TF32 convolutions; then bf16), the learning
      rate cut 10x after step 10 and a non-finite batch at step 15. Float state is compared per group
      (weights, BatchNorm statistics, EMA, Adam's moments) as relative drift, ||graphed - eager|| over
      ||eager - start||: a graph that never updated drifts 1.0. Two eager runs from the same state give
      the noise floor. Parity holds when every group drifts at most max(10 x its noise floor, 1e-3)
      — 10x because each drift is one sample of the same nondeterminism (atomics in cuDNN's backward
      kernels), 1e-3 so that a deterministic floor of 0 does not demand bit equality of different
      launch paths — and the integer state (Adam's step counts, BatchNorm's counts, the EMA's count,
      the learning rates, the guard's counters) is equal; every run must have skipped step 15.
  (c) no host sync: 50 replayed steps with the device patch sampler (DevicePatches, rot10_hflip) and
      end_step under torch.cuda.set_sync_debug_mode("error"); then the sampler alone for flip_rot90.
  (d) speed: steps/s of both stages' loops (device sampler -> step -> end_step; 500 steps after 10
      warm-up steps; batch 16, 96-px HR, augment none as the paper profile, no EMA as the GPU
      profiles), graphed and eager, fp32 and bf16; the step alone on one batch with and without the
      non-finite guard, graphed and eager (fp32); the sampler alone per augmentation.
  (e) where the time goes: torch.profiler over 20 loop steps (fp32): kernels per step, the GPU busy
      share (summed kernel time over wall time: how much of the time a kernel ran, not how full the
      SMs were; concurrent kernels can push it past 100 %), the top kernels; peak allocated and
      reserved memory after the eager warm-up and after the capture.
  (f) sampler parity: the device sampler's patches against the CPU loader's, flip_rot90 and rot10_hflip.
  (g) a forced capture failure (the step reads a value on the host): "auto" trains on eagerly with the
      cause logged, "required" stops with one line.

Targets (one H200, batch 16, 96-px HR, the loops of (d)): SRResNet >= 150 steps/s (stretch 300),
SRGAN + VGG19_5_4 >= 60 steps/s (stretch 120); (b) within the eager noise floor. For scale: before
whole-step graphs, the stages ran at 35.7 and 18.9 steps/s on an H200 (bf16, CPU loader, 8 workers).

--cpu: a dry run of every part on the CPU at tiny sizes (SRResNet 2 blocks x 8 channels, batch 2,
32-px patches). Graphs never apply there, so (b) compares eager with eager, (c) turns every host read
of a tensor into an error instead of CUDA's sync check, (e) counts ATen ops per step instead of
kernels, and (g) stands a host-read check in for the capture.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import logging
import math
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's srgan, whatever the environment has installed

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from srgan.core.config import TrainParams  # noqa: E402
from srgan.core.errors import SrganError  # noqa: E402
from srgan.core.images import bicubic_downscale, resize_bicubic  # noqa: E402
from srgan.core.runtime import Runtime  # noqa: E402
from srgan.datasets.patches import DevicePatches, PatchPlan, PatchSpec, device_batches, loader_batches  # noqa: E402
from srgan.datasets.prepared import TrainImage  # noqa: E402
from srgan.losses.content import ContentLoss  # noqa: E402
from srgan.losses.extractors import feature_content_loss  # noqa: E402
from srgan.losses.terms import WEIGHTS_RANDOM  # noqa: E402
from srgan.nets.discriminator import Discriminator  # noqa: E402
from srgan.nets.srresnet import SRResNet  # noqa: E402
from srgan.training.graphs import CapturedStep, cuda_capture  # noqa: E402
from srgan.training.srgan import SRGANTask, gan_step  # noqa: E402
from srgan.training.srresnet import SRResNetTask, pretrain_step  # noqa: E402

KINDS = ("srresnet", "srgan")  # SRResNet-MSE; SRGAN + VGG19_5_4
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}
SCALE = 4
TARGETS = {"srresnet": (150.0, 300.0), "srgan": (60.0, 120.0)}  # loop steps/s: (target, stretch), one H200
PARITY_FACTOR, PARITY_FLOOR = 10.0, 1e-3  # (b): drift <= max(PARITY_FACTOR x noise floor, PARITY_FLOOR)
FLOAT_GROUPS = ("weights", "bn_statistics", "ema", "adam_moments")
EXACT_GROUPS = ("bn_counts", "ema_count", "adam_steps", "learning_rate", "guard")

Task = SRResNetTask | SRGANTask
StepFn = Callable[[Tensor, Tensor], dict[str, Tensor]]


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


def _sync(setup: Setup) -> None:
    if setup.cuda:
        torch.cuda.synchronize()


# ---------------------------------------------------------------- the tasks and their data


def train_params(setup: Setup, steps: int, *, lr_schedule: str = "constant", lr_decay_step: int = 0,
                 ema_decay: float = 0.0, augment: str = "none") -> TrainParams:
    return TrainParams(steps=steps, epochs=0, batch_size=setup.batch, grad_accumulation=1, patch_px=setup.patch_px,
                       augment=augment, learning_rate=1.0e-4, lr_schedule=lr_schedule, lr_decay_step=lr_decay_step,
                       ema_decay=ema_decay, valid_every=steps, valid_crop_px=0, max_bad_steps=steps)


def build(setup: Setup, kind: str, precision: str, graphs: str, p: TrainParams, seed: int = 0) -> Task:
    """The task a training stage builds (channels_last; `graphs`: runtime.cuda_graphs), seeded."""
    runtime = Runtime(setup.device, PRECISIONS[precision], True, cuda_graphs=graphs)
    torch.manual_seed(seed)
    generator = SRResNet(scale=SCALE, num_blocks=setup.blocks, channels=setup.channels)
    if kind == "srresnet":
        return SRResNetTask(generator, ContentLoss({"mse": 1.0}), p, p.steps, runtime)
    content = feature_content_loss({"vgg19_5_4": 1.0}, WEIGHTS_RANDOM)
    return SRGANTask(generator, Discriminator(patch_px=setup.patch_px), content, 1.0e-3, p, p.steps, runtime)


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


def sampler(setup: Setup, images: list[TrainImage], augment: str, steps: int,
            patches: DevicePatches | None = None) -> Iterator[tuple[Tensor, Tensor]]:
    """`steps` batches of the device patch sampler (the loop's, on CUDA), channels_last as the loop makes them."""
    spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment=augment, seed=0, per_epoch=False)
    patches = patches or DevicePatches(images, spec, setup.device)
    plan = PatchPlan(unit="step", length=steps, batch_size=setup.batch, num_images=len(images))
    runtime = Runtime(setup.device, None, True)
    for lr_img, hr_img in device_batches(patches, plan, 0, 0, 1):
        yield runtime.to_device(lr_img), runtime.to_device(hr_img)


def unguarded_step(task: Task) -> StepFn:
    """The task's whole step without the non-finite guard (optimisers and EMA): what the guard costs."""
    # The task's own step context, without its guard.
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


def _free(setup: Setup) -> None:
    gc.collect()  # a task and its captured step refer to each other: only the collector frees their memory
    if setup.cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


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

    def __init__(self, step: StepFn, inputs: tuple[Tensor, Tensor], outputs: dict[str, Tensor]) -> None:
        self.step, self.inputs, self.outputs = step, inputs, outputs

    def replay(self) -> None:
        self.outputs.update(self.step(*self.inputs))


def host_read_capture(step: StepFn, inputs: tuple[Tensor, Tensor]) -> tuple[_EagerReplay, dict[str, Tensor]]:
    """The CPU dry run's stand-in for `cuda_capture` in (g): runs the step with host reads refused, and
    fails as a CUDA capture fails when the step reads a value on the host."""
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


# ---------------------------------------------------------------- (a) captured


def captured(setup: Setup) -> list[dict]:
    """(a) Each task under runtime.cuda_graphs auto, 5 steps (3 eager warm-up, the capture, a replay)."""
    rows = []
    images = synthetic_images(setup)
    for kind in KINDS:
        for precision in PRECISIONS:
            task = build(setup, kind, precision, "auto", train_params(setup, 5))
            for lr_img, hr_img in sampler(setup, images, "none", 5):
                task.train_step(lr_img, hr_img)
                task.end_step()
            rows.append({"task": kind, "precision": precision, "captured": task.graphed, "note": task.graph_note})
            del task
            _free(setup)
    return rows


# ---------------------------------------------------------------- (b) parity


def snapshot(task: Task) -> dict[str, dict[str, Tensor]]:
    """The task's state by group, on the CPU (float groups in float64): what parity compares."""
    groups: dict[str, dict[str, Tensor]] = {g: {} for g in FLOAT_GROUPS + EXACT_GROUPS}

    def put(group: str, name: str, value: Tensor) -> None:
        value = value.detach().cpu()
        groups[group][name] = value.double() if group in FLOAT_GROUPS else value.clone()

    for net_name, net in task.networks.items():
        for name, value in net.named_parameters():
            put("weights", f"{net_name}.{name}", value)
        for name, value in net.named_buffers():
            put("bn_statistics" if value.is_floating_point() else "bn_counts", f"{net_name}.{name}", value)
    if task.ema is not None:
        for name, value in task.ema.model.state_dict().items():
            put("ema" if value.is_floating_point() else "ema_count", name, value)
        put("ema_count", "updates", task.ema.updates)
    for opt_name, opt in task.optimizers.items():
        for g, group in enumerate(opt.param_groups):
            put("learning_rate", f"{opt_name}.{g}", torch.as_tensor(group["lr"]))
            for i, param in enumerate(group["params"]):
                state = opt.state.get(param, {})  # empty before the first step: moments 0, step 0
                for key in ("exp_avg", "exp_avg_sq"):
                    put("adam_moments", f"{opt_name}.{g}.{i}.{key}", state.get(key, torch.zeros_like(param)))
                put("adam_steps", f"{opt_name}.{g}.{i}.step", torch.as_tensor(state.get("step", 0.0)).float())
    health = task.guard.health
    for name in ("step", "bad", "first_bad_step", "first_bad_checks"):
        put("guard", name, getattr(health, name))
    put("guard", "found_inf", task.guard.found_inf)
    return groups


def relative_drift(start: dict[str, Tensor], ref: dict[str, Tensor], other: dict[str, Tensor]) -> float:
    """||other - ref|| / ||ref - start|| over a group's tensors (L2, float64); inf when ref never moved but
    other differs, nan when a value is not finite."""
    num = math.sqrt(sum(float((other[k] - ref[k]).pow(2).sum()) for k in ref))
    den = math.sqrt(sum(float((ref[k] - start[k]).pow(2).sum()) for k in ref))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def compare(start: dict, eager: dict, eager_again: dict, other: dict) -> dict:
    """Parity of `other` with `eager` (all snapshots of one task): per float group its drift, the noise
    floor (`eager_again`) and the limit; per integer group whether it is equal; and the verdict."""
    groups, holds = {}, True
    for group in FLOAT_GROUPS:
        if not eager[group]:
            continue  # e.g. no EMA
        floor = relative_drift(start[group], eager[group], eager_again[group])
        drift = relative_drift(start[group], eager[group], other[group])
        limit = max(PARITY_FACTOR * floor, PARITY_FLOOR) if math.isfinite(floor) else math.nan
        ok = math.isfinite(drift) and drift <= limit
        groups[group] = {"drift": drift, "noise_floor": floor, "limit": limit, "ok": ok}
        holds &= ok
    for group in EXACT_GROUPS:
        if not eager[group]:
            continue
        ok = eager[group].keys() == other[group].keys() and all(torch.equal(eager[group][k], other[group][k])
                                                                 for k in eager[group])
        groups[group] = {"equal": ok, "ok": ok}
        holds &= ok
    return {"groups": groups, "holds": holds}


def parity(setup: Setup, kind: str, precision: str, steps: int = 30) -> dict:
    """(b) for one task and precision: eager, eager again and graphed runs over the same batches."""
    cut_after, bad_step = steps // 3, steps // 2  # 10 and 15 of 30
    p = train_params(setup, steps, lr_schedule="step", lr_decay_step=cut_after, ema_decay=0.999)
    lr_px = setup.patch_px // SCALE
    batches = [(torch.rand(setup.batch, 3, lr_px, lr_px, generator=torch.Generator().manual_seed(i)),
                torch.rand(setup.batch, 3, setup.patch_px, setup.patch_px, generator=torch.Generator().manual_seed(10**6 + i)))
               for i in range(steps)]
    batches[bad_step - 1][0].fill_(float("nan"))  # a non-finite batch: the guard must skip the step
    runs, starts, notes = {}, {}, {}
    for label, graphs in (("eager", "never"), ("eager_again", "never"), ("graphed", "auto")):
        task = build(setup, kind, precision, graphs, p)
        starts[label] = snapshot(task)
        for lr_img, hr_img in batches:
            task.train_step(task.runtime.to_device(lr_img), task.runtime.to_device(hr_img))
            task.end_step()
        runs[label] = snapshot(task)
        health = task.guard.health
        notes[label] = {"graphed": task.graphed, "note": task.graph_note,
                        "skipped": [int(health.bad), int(health.first_bad_step)],
                        "final_lr": float(task.optimizers["generator"].param_groups[0]["lr"])}
        del task
        _free(setup)
    same_start = all(compare(starts["eager"], starts["eager"], starts["eager"], starts[label])["holds"]
                     for label in ("eager_again", "graphed"))
    result = compare(starts["eager"], runs["eager"], runs["eager_again"], runs["graphed"])
    skipped_ok = all(n["skipped"] == [1, bad_step] for n in notes.values())
    lr_ok = all(math.isclose(n["final_lr"], 1.0e-5, rel_tol=1e-6) for n in notes.values())
    return {"task": kind, "precision": precision, "steps": steps, "lr_cut_after_step": cut_after,
            "non_finite_step": bad_step, "runs": notes, "same_start": same_start, "skipped_step_ok": skipped_ok,
            "lr_cut_ok": lr_ok, **result,
            "holds": result["holds"] and same_start and skipped_ok and lr_ok,
            "graphed": notes["graphed"]["graphed"]}


# ---------------------------------------------------------------- (c) no host sync


def no_host_sync(setup: Setup, kind: str, steps: int = 50) -> dict:
    """(c) `steps` replayed steps, the device sampler and end_step included, with host syncs made errors."""
    warmup = max(setup.warmup // 2, 1)  # on CUDA: 3 eager steps, the capture, a replay
    images = synthetic_images(setup)
    task = build(setup, kind, "fp32", "auto", train_params(setup, warmup + steps, augment="rot10_hflip"))
    batches = sampler(setup, images, "rot10_hflip", warmup + steps)
    for _ in range(warmup):  # the warm-up and the capture synchronise by design: outside the check
        task.train_step(*next(batches))
        task.end_step()
    # Uploading the training set synchronises by design too: before the check.
    flip_spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment="flip_rot90", seed=0, per_epoch=False)
    flip_patches = DevicePatches(images, flip_spec, setup.device)
    error, done = None, 0
    try:
        with sync_check(setup):
            for lr_img, hr_img in batches:
                task.train_step(lr_img, hr_img)
                task.end_step()
                done += 1
            for _ in sampler(setup, images, "flip_rot90", 5, flip_patches):
                pass
    except RuntimeError as e:
        error = str(e).strip().splitlines()[0]
    _sync(setup)
    bad, _, failed = task.guard.health.read()
    row = {"task": kind, "graphed": task.graphed, "steps_checked": done, "host_sync": error,
           "ok": error is None and done == steps and bad == 0, "bad_steps": bad, "failed_checks": failed}
    del task
    _free(setup)
    return row


# ---------------------------------------------------------------- (d) speed


def time_steps(setup: Setup, step: Callable[[], None], warmup: int, steps: int) -> float:
    """Steps per second of `step()` over `steps` calls after `warmup` (device-synchronised at both ends)."""
    for _ in range(warmup):
        step()
    _sync(setup)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(setup)
    return steps / (time.perf_counter() - start)


def loop_rate(setup: Setup, kind: str, precision: str, graphs: str, images: list[TrainImage], steps: int,
              patches: DevicePatches | None = None) -> dict:
    """Steps/s of a stage's loop: the device sampler, the task's step, end_step."""
    _free(setup)  # the previous configuration's task
    warmup = setup.warmup
    task = build(setup, kind, precision, graphs, train_params(setup, warmup + steps))
    batches = sampler(setup, images, "none", warmup + steps, patches)

    def one() -> None:
        task.train_step(*next(batches))
        task.end_step()

    rate = time_steps(setup, one, warmup, steps)
    row = {"what": "loop", "task": kind, "precision": precision, "mode": "eager" if graphs == "never" else "graphed",
           "graphed": task.graphed, "steps": steps, "steps_per_s": rate, "images_per_s": rate * setup.batch}
    return row


def step_rate(setup: Setup, kind: str, guarded: bool, graphs: str, steps: int) -> dict:
    """Steps/s of the step alone on one batch (fp32), with or without the non-finite guard."""
    _free(setup)  # the previous configuration's task
    warmup = setup.warmup
    task = build(setup, kind, "fp32", graphs, train_params(setup, warmup + steps))
    step = task.train_step if guarded else unguarded_step(task)
    if not guarded and graphs != "never" and setup.cuda:
        step = CapturedStep(step, list(task.optimizers.values()), setup.device, graphs)
    lr_img, hr_img = next(sampler(setup, synthetic_images(setup, 2), "none", 1))
    rate = time_steps(setup, lambda: step(lr_img, hr_img), warmup, steps)
    graphed = task.graphed if guarded else getattr(step, "graph", None) is not None
    row = {"what": "step", "task": kind, "precision": "fp32", "mode": "eager" if graphs == "never" else "graphed",
           "guard": guarded, "graphed": graphed, "steps": steps, "steps_per_s": rate}
    return row


def sampler_rate(setup: Setup, images: list[TrainImage], augment: str, steps: int) -> dict:
    batches = sampler(setup, images, augment, steps + setup.warmup)
    rate = time_steps(setup, lambda: next(batches), setup.warmup, steps)
    return {"what": "sampler", "augment": augment, "steps": steps, "batches_per_s": rate}


def speed(setup: Setup, loop_steps: int, step_steps: int) -> dict:
    """(d) the loops (both tasks x fp32/bf16 x eager/graphed), the step alone +- guard, the sampler alone."""
    images = synthetic_images(setup)
    spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment="none", seed=0, per_epoch=False)
    patches = DevicePatches(images, spec, setup.device)
    loops = [loop_rate(setup, kind, precision, graphs, images, loop_steps, patches=patches)
             for kind in KINDS for precision in PRECISIONS for graphs in ("never", "auto")]
    steps = [step_rate(setup, kind, guarded, graphs, step_steps)
             for kind in KINDS for guarded in (True, False) for graphs in ("never", "auto")]
    samplers = [sampler_rate(setup, images, augment, step_steps) for augment in ("none", "flip_rot90", "rot10_hflip")]
    return {"loops": loops, "steps": steps, "samplers": samplers, "verdicts": speed_verdicts(loops)}


def speed_verdicts(loops: list[dict]) -> dict:
    """Per task, the fastest graphed loop against its target and stretch."""
    out = {}
    for kind, (target, stretch) in TARGETS.items():
        rates = [r["steps_per_s"] for r in loops if r["task"] == kind and r["graphed"]]
        best = max(rates, default=None)
        out[kind] = {"best_graphed_steps_per_s": best, "target": target, "stretch": stretch,
                     "meets_target": best is not None and best >= target,
                     "meets_stretch": best is not None and best >= stretch}
    return out


# ---------------------------------------------------------------- (e) where the time goes


class _AtenOps(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.count += 1
        return func(*args, **(kwargs or {}))


def aten_ops_per_step(setup: Setup, kind: str) -> dict:
    """ATen ops one step dispatches (what an eager step launches), with and without the guard (fp32)."""
    out = {}
    for guarded in (True, False):
        task = build(setup, kind, "fp32", "never", train_params(setup, 4))
        step = task.train_step if guarded else unguarded_step(task)
        lr_img, hr_img = next(sampler(setup, synthetic_images(setup, 2), "none", 1))
        step(lr_img, hr_img)  # the first step creates Adam's state
        with _AtenOps() as ops:
            step(lr_img, hr_img)
        out["with_guard" if guarded else "without_guard"] = ops.count
    return out


def _kernel_events(prof: torch.profiler.profile) -> list:
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


def where_time_goes(setup: Setup, steps: int = 20) -> list[dict]:
    """(e) per task, graphed and eager (fp32): kernels per step, busy share, top kernels, memory.
    On the CPU (eager only): ATen ops per step with and without the guard."""
    rows, warmup = [], setup.warmup
    images = synthetic_images(setup)
    for kind in KINDS:
        for graphs in ("auto", "never") if setup.cuda else ("never",):
            task = build(setup, kind, "fp32", graphs, train_params(setup, warmup + steps))
            batches = sampler(setup, images, "none", warmup + steps)
            row = {"task": kind, "mode": "eager" if graphs == "never" else "graphed"}
            if setup.cuda:
                torch.cuda.reset_peak_memory_stats()
            for i in range(warmup):
                task.train_step(*next(batches))
                task.end_step()
                if i == 2 and setup.cuda:  # after the eager warm-up, before the capture
                    _sync(setup)
                    row["memory_mib_before_capture"] = _memory()
            row["graphed"] = task.graphed
            if not setup.cuda:
                row.update(aten_ops_per_step(setup, kind))
                rows.append(row)
                continue
            _sync(setup)
            row["memory_mib_after_capture"] = _memory()
            activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
            with torch.profiler.profile(activities=activities) as prof:
                start = time.perf_counter()
                for _ in range(steps):
                    task.train_step(*next(batches))
                    task.end_step()
                _sync(setup)
                wall_us = (time.perf_counter() - start) * 1e6
            kernels = _kernel_events(prof)
            busy_us = sum(e.time_range.elapsed_us() for e in kernels)
            by_name: dict[str, list[float]] = {}
            for e in kernels:
                by_name.setdefault(e.name, []).append(e.time_range.elapsed_us())
            top = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:8]
            row.update(steps=steps, kernels_per_step=len(kernels) / steps, wall_ms_per_step=wall_us / steps / 1e3,
                       busy_share=busy_us / wall_us if wall_us else None,
                       top_kernels=[{"name": name[:90], "share_of_kernel_time": sum(d) / busy_us if busy_us else None,
                                     "per_step": len(d) / steps} for name, d in top])
            if not kernels:
                row["note"] = "the profiler recorded no device kernels (CUPTI did not trace this run)"
            rows.append(row)
            del task, prof
            _free(setup)
    return rows


def _memory() -> dict:
    return {"peak_allocated": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "reserved": round(torch.cuda.memory_reserved() / 2**20, 1)}


# ---------------------------------------------------------------- (f) sampler parity


def sampler_parity(setup: Setup, batches: int = 4) -> list[dict]:
    """(f) the device sampler's batches against the CPU loader's (num_workers 0), per augmentation."""
    rows = []
    images = synthetic_images(setup)
    for augment in ("flip_rot90", "rot10_hflip"):
        spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment=augment, seed=0, per_epoch=False)
        plan = PatchPlan(unit="step", length=batches, batch_size=setup.batch, num_images=len(images))
        loader = loader_batches(images, spec, plan, 0, setup.batch, 0, 1, torch.device("cpu"), num_workers=0)
        device = device_batches(DevicePatches(images, spec, setup.device), plan, 0, 0, 1)
        worst, differing, total, identical = 0.0, 0, 0, True
        for (lr_a, hr_a), (lr_b, hr_b) in zip(loader, device, strict=True):
            for a, b in ((lr_a, lr_b.cpu()), (hr_a, hr_b.cpu())):
                identical &= torch.equal(a, b)
                diff = (a - b).abs() * 255.0
                worst = max(worst, float(diff.max()))
                differing += int((diff > 0.5).sum())
                total += a.numel()
        rows.append({"augment": augment, "batches": batches, "identical": identical,
                     "max_abs_diff_8bit_levels": round(worst, 3), "values_differing": differing, "values": total})
    return rows


# ---------------------------------------------------------------- (g) a forced capture failure


def forced_capture_failure(setup: Setup, steps: int = 8) -> dict:
    """(g) the step reads a value on the host (a sync, which a capture refuses): auto trains on eagerly
    with the cause logged; required stops with a one-line SrganError."""
    out = {}
    batch = next(sampler(setup, synthetic_images(setup, 2), "none", 1))
    for mode in ("auto", "required"):
        task = build(setup, "srresnet", "fp32", "never", train_params(setup, steps))

        def reading_step(lr_img: Tensor, hr_img: Tensor, task: Task = task) -> dict[str, Tensor]:
            lr_img.sum().item()  # a host read: fine eagerly, an error while capturing
            return task._eager_step(lr_img, hr_img)

        capture = cuda_capture if setup.cuda else host_read_capture
        task.captured = CapturedStep(reading_step, list(task.optimizers.values()), setup.device, mode, capture)
        before = task.generator.tail.weight.detach().clone()
        error, done = None, 0
        with LogRecords("srgan.training.graphs") as records:
            try:
                for _ in range(steps):
                    task.train_step(*batch)
                    task.end_step()
                    done += 1
            except SrganError as e:
                error = str(e)
        _sync(setup)
        weights = task.generator.tail.weight.detach()
        cause = task.graph_note
        logged = records.text(logging.WARNING)
        row = {"steps_done": done, "graphed": task.graphed, "note": cause, "error": error, "logged": logged[-4000:]}
        if mode == "auto":
            row["ok"] = (error is None and done == steps and not task.graphed and task.captured.eager
                         and bool(torch.isfinite(weights).all()) and not torch.equal(weights, before)
                         and cause.split(": ", 1)[-1] in logged)
        else:
            row["ok"] = error is not None and "\n" not in error and done == task.captured.warmup
        out[mode] = row
        del task
        _free(setup)
    return out


# ---------------------------------------------------------------- the report


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def print_part(part: str, value: object) -> None:
    """A markdown table of one part's result (or its error)."""
    print(f"\n## ({part}) {PARTS[part][0]}\n")
    if isinstance(value, dict) and "error" in value and len(value) == 1:
        print(f"error: {value['error'].strip().splitlines()[-1]}")
        return
    if part == "a":
        print(_table(value, ["task", "precision", "captured", "note"]))
    elif part == "b":
        rows = []
        for r in value:
            row = {"task": r["task"], "precision": r["precision"], "graphed": r["graphed"], "holds": r["holds"]}
            for group, v in r["groups"].items():
                if group in FLOAT_GROUPS:
                    row[group] = f"{_fmt(v['drift'])} (floor {_fmt(v['noise_floor'])}){'' if v['ok'] else ' FAIL'}"
            row["integer state"] = ", ".join(g for g in EXACT_GROUPS if g in r["groups"]
                                             and not r["groups"][g]["ok"]) or "equal"
            rows.append(row)
        print(_table(rows, ["task", "precision", "graphed", *FLOAT_GROUPS, "integer state", "holds"]))
        print(f"\ndrift: ||graphed - eager|| / ||eager - start||; floor: the same for a second eager run; "
              f"limit: max({PARITY_FACTOR:g} x floor, {PARITY_FLOOR:g})")
        for r in value:
            print(f"- {r['task']} {r['precision']}: parity {'holds' if r['holds'] else 'FAILS'} (same start "
                  f"{r['same_start']}, step {r['non_finite_step']} skipped in every run {r['skipped_step_ok']}, "
                  f"lr cut after step {r['lr_cut_after_step']} seen {r['lr_cut_ok']})")
    elif part == "c":
        print(_table(value, ["task", "graphed", "steps_checked", "ok", "host_sync"]))
    elif part == "d":
        print(_table(value["loops"], ["task", "precision", "mode", "graphed", "steps", "steps_per_s", "images_per_s"]))
        print()
        print(_table(value["steps"], ["task", "guard", "mode", "graphed", "steps", "steps_per_s"]))
        print()
        print(_table(value["samplers"], ["augment", "steps", "batches_per_s"]))
        for kind, v in value["verdicts"].items():
            print(f"- {kind}: best graphed loop {_fmt(v['best_graphed_steps_per_s'])} steps/s; target {v['target']:.0f} "
                  f"({'met' if v['meets_target'] else 'NOT met'}), stretch {v['stretch']:.0f} "
                  f"({'met' if v['meets_stretch'] else 'not met'})")
    elif part == "e":
        columns = ["task", "mode", "graphed", "kernels_per_step", "busy_share", "wall_ms_per_step",
                   "memory_mib_before_capture", "memory_mib_after_capture", "with_guard", "without_guard"]
        print(_table(value, [c for c in columns if any(c in r for r in value)]))
        for r in value:
            for k in r.get("top_kernels", [])[:5]:
                print(f"- {r['task']} {r['mode']}: {_fmt(k['share_of_kernel_time'])} of kernel time, "
                      f"{_fmt(k['per_step'])}/step: {k['name']}")
    elif part == "f":
        print(_table(value, ["augment", "batches", "identical", "max_abs_diff_8bit_levels", "values_differing", "values"]))
    elif part == "g":
        rows = [{"mode": m, **{k: v for k, v in r.items() if k != "logged"}} for m, r in value.items()]
        print(_table(rows, ["mode", "ok", "steps_done", "graphed", "note", "error"]))


PARTS: dict[str, tuple[str, Callable]] = {
    "a": ("captured", lambda s, a: captured(s)),
    "b": ("parity, graphed vs eager", lambda s, a: [parity(s, k, p, a.parity_steps) for k in KINDS for p in PRECISIONS]),
    "c": ("no host sync", lambda s, a: [no_host_sync(s, k, a.sync_steps) for k in KINDS]),
    "d": ("speed", lambda s, a: speed(s, a.loop_steps, a.step_steps)),
    "e": ("where the time goes", lambda s, a: where_time_goes(s, a.profile_steps)),
    "f": ("sampler parity, device vs CPU loader", lambda s, a: sampler_parity(s)),
    "g": ("a forced capture failure", lambda s, a: forced_capture_failure(s)),
}
ORDER = "afbcdeg"  # (g) last: a failed capture is the one part that may leave the device unusable


def verdicts(parts: dict) -> dict:
    """One line per part: whether it holds (None when the part did not run or failed)."""
    def ok(part: str, test: Callable[[object], bool]) -> bool | None:
        value = parts.get(part)
        if value is None or (isinstance(value, dict) and "error" in value and len(value) == 1):
            return None
        return bool(test(value))

    return {
        "a_captured": ok("a", lambda v: all(r["captured"] for r in v)),
        "b_parity": ok("b", lambda v: all(r["holds"] and r["graphed"] for r in v)),
        "c_no_host_sync": ok("c", lambda v: all(r["ok"] and r["graphed"] for r in v)),
        "d_srresnet_target": ok("d", lambda v: v["verdicts"]["srresnet"]["meets_target"]),
        "d_srgan_target": ok("d", lambda v: v["verdicts"]["srgan"]["meets_target"]),
        "f_sampler_identical": ok("f", lambda v: all(r["identical"] for r in v)),
        "g_forced_failure": ok("g", lambda v: all(r["ok"] for r in v.values())),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--parts", default=ORDER, help="which parts to run, e.g. 'abg' (default: all)")
    parser.add_argument("--loop-steps", type=int, default=0, help="(d) timed loop steps (default 500 GPU, 4 CPU)")
    parser.add_argument("--step-steps", type=int, default=0, help="(d) timed steps of the step alone (100 GPU, 3 CPU)")
    parser.add_argument("--parity-steps", type=int, default=0, help="(b) steps per run (default 30 GPU, 6 CPU)")
    parser.add_argument("--sync-steps", type=int, default=0, help="(c) checked steps (default 50 GPU, 3 CPU)")
    parser.add_argument("--profile-steps", type=int, default=0, help="(e) profiled steps (default 20 GPU, 2 CPU)")
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; run with --cpu for a dry run")
    setup = cpu_setup() if args.cpu else gpu_setup()
    defaults = {"loop_steps": (4, 500), "step_steps": (3, 100), "parity_steps": (6, 30), "sync_steps": (3, 50),
                "profile_steps": (2, 20)}
    for name, (cpu, gpu) in defaults.items():
        setattr(args, name, getattr(args, name) or (gpu if setup.cuda else cpu))
    if setup.cuda:  # as resolve_runtime sets them for training
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.time()
    result: dict = {
        "device": torch.cuda.get_device_name() if setup.cuda else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__, "cuda": torch.version.cuda, "setup": {**asdict(setup), "device": str(setup.device)},
        "steps": {k: getattr(args, k) for k in defaults},
        "targets": {k: {"steps_per_s": t, "stretch": s} for k, (t, s) in TARGETS.items()},
        "parity_rule": f"drift <= max({PARITY_FACTOR:g} x eager noise floor, {PARITY_FLOOR:g}); integer state equal",
        "parts": {}, "part_seconds": {},
    }
    print(f"device: {result['device']}; torch {torch.__version__}; batch {setup.batch}, HR patch {setup.patch_px} px")
    for part in [p for p in ORDER if p in args.parts]:
        tick = time.time()
        try:
            value = PARTS[part][1](setup, args)
        except Exception:  # noqa: BLE001  (one part's failure must not lose the others' results)
            value = {"error": traceback.format_exc()}
            _free_after_error(setup)
        result["parts"][part] = value
        result["part_seconds"][part] = round(time.time() - tick, 1)
        result["wall_s"] = round(time.time() - started, 1)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        print_part(part, value)
    result["verdicts"] = verdicts(result["parts"])
    result["wall_s"] = round(time.time() - started, 1)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print("\n## verdicts\n")
    print(_table([{"check": k, "holds": v} for k, v in result["verdicts"].items()], ["check", "holds"]))
    if not setup.cuda:
        print("\nCPU dry run: CUDA graphs never apply on the CPU, so the GPU verdicts (a)-(d) cannot hold here.")
    print(f"\nwall {result['wall_s']} s (per part: {result['part_seconds']}); written to {args.out}")
    return result


def _free_after_error(setup: Setup) -> None:
    with contextlib.suppress(Exception):
        _free(setup)


if __name__ == "__main__":
    main()
