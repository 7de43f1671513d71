"""(d) speed, at the GPU profiles' precision (fp32, TF32 convolutions) against targets per GPU model
(`benchmarks.gpu_check.targets`):

- the loops of both stages' steps (device sampler -> step -> end_step; 300 steps after 10 warm-up steps;
  batch 16, 96-px HR, augment none as the paper profile, no EMA as the GPU profiles): fp32 eager, fp32
  graphed with the patch cut inside the graph (the stages' way; the verdict), fp32 graphed with the cut
  before it (what capturing the cut gains), bf16 eager and graphed (the stretch, where bf16 parity holds);
- the step alone on one batch with and without the non-finite guard, graphed and eager (fp32);
- the sampler alone per augmentation (draws on the host, one copy, the cut);
- a real `TrainingRun` of each stage for about 30 s, read from its timing.json (`stage_runs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.gpu_check.common import (
    KINDS,
    PROFILE_PRECISION,
    Setup,
    build,
    device_patches,
    draws,
    free,
    sampler,
    sync,
    synthetic_images,
    train_params,
    unguarded_step,
)
from benchmarks.gpu_check.stage_runs import stage_runs
from benchmarks.gpu_check.targets import TARGETS, ModelTargets, targets_for
from srgan.datasets.patches import DevicePatches
from srgan.datasets.prepared import TrainImage
from srgan.training.graphs import CapturedStep

# (precision, runtime.cuda_graphs, where the patches are cut): "step" = inside the step (its graph, when
# graphed), as the training loop does on CUDA; "before" = eagerly, the step fed the patches.
LOOPS = (("fp32", "never", "step"), ("fp32", "auto", "step"), ("fp32", "auto", "before"),
         ("bf16", "never", "step"), ("bf16", "auto", "step"))


def time_steps(setup: Setup, step: Callable[[], None], warmup: int, steps: int) -> float:
    """Steps per second of `step()` over `steps` calls after `warmup` (device-synchronised at both ends)."""
    for _ in range(warmup):
        step()
    sync(setup)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(setup)
    return steps / (time.perf_counter() - start)


def loop_rate(setup: Setup, kind: str, precision: str, graphs: str, cut: str, images: list[TrainImage],
              steps: int, patches: DevicePatches) -> dict:
    """Steps/s of a stage's loop: the device sampler, the task's step, end_step."""
    free(setup)  # the previous configuration's task
    warmup = setup.warmup
    task = build(setup, kind, precision, graphs, train_params(setup, warmup + steps))
    if cut == "step":
        task.cut_in_step(patches.cut)
        batches = draws(setup, images, "none", warmup + steps, patches)
    else:
        batches = sampler(setup, images, "none", warmup + steps, patches)

    def one() -> None:
        task.train_step(*next(batches))
        task.end_step()

    rate = time_steps(setup, one, warmup, steps)
    return {"what": "loop", "task": kind, "precision": precision, "mode": "eager" if graphs == "never" else "graphed",
            "cut": "in the step" if cut == "step" else "before the step", "graphed": task.graphed,
            "note": task.graph_note, "steps": steps, "steps_per_s": rate, "images_per_s": rate * setup.batch}


def step_rate(setup: Setup, kind: str, guarded: bool, graphs: str, steps: int) -> dict:
    """Steps/s of the step alone on one batch (fp32), with or without the non-finite guard."""
    free(setup)  # the previous configuration's task
    warmup = setup.warmup
    task = build(setup, kind, "fp32", graphs, train_params(setup, warmup + steps))
    step = task.train_step if guarded else unguarded_step(task)
    if not guarded and graphs != "never" and setup.cuda:
        step = CapturedStep(step, list(task.optimizers.values()), setup.device, graphs)
    lr_img, hr_img = next(sampler(setup, synthetic_images(setup, 2), "none", 1))
    rate = time_steps(setup, lambda: step(lr_img, hr_img), warmup, steps)
    graphed = task.graphed if guarded else getattr(step, "graph", None) is not None
    return {"what": "step", "task": kind, "precision": "fp32", "mode": "eager" if graphs == "never" else "graphed",
            "guard": guarded, "graphed": graphed, "steps": steps, "steps_per_s": rate}


def sampler_rate(setup: Setup, images: list[TrainImage], augment: str, steps: int) -> dict:
    batches = sampler(setup, images, augment, steps + setup.warmup)
    rate = time_steps(setup, lambda: next(batches), setup.warmup, steps)
    return {"what": "sampler", "augment": augment, "steps": steps, "batches_per_s": rate}


def graphed_rate(loops: list[dict], kind: str, precision: str) -> float | None:
    """The rate of the stages' way at `precision`: graphed, the cut inside the step (None if it did not graph)."""
    return next((r["steps_per_s"] for r in loops if r["task"] == kind and r["precision"] == precision
                 and r["mode"] == "graphed" and r["cut"] == "in the step" and r["graphed"]), None)


def speed_verdicts(loops: list[dict], targets: ModelTargets | None, bf16_parity: dict[str, bool | None]) -> dict:
    """Per task: the fp32 graphed loop against the model's target, the bf16 one against its stretch (counted
    only where bf16 parity holds; None when parity did not run); everything None on an unknown model."""
    out = {}
    for kind in KINDS:
        fp32, bf16 = graphed_rate(loops, kind, PROFILE_PRECISION), graphed_rate(loops, kind, "bf16")
        target = getattr(targets, kind) if targets else None
        stretch = getattr(targets, f"{kind}_stretch") if targets else None
        parity = bf16_parity.get(kind)
        out[kind] = {"model": targets.model if targets else None, "fp32_graphed_steps_per_s": fp32,
                     "target": target, "meets_target": None if target is None else fp32 is not None and fp32 >= target,
                     "bf16_graphed_steps_per_s": bf16, "stretch": stretch, "bf16_parity": parity,
                     "meets_stretch": (None if stretch is None or parity is None else
                                       bool(parity and bf16 is not None and bf16 >= stretch))}
    return out


def speed(setup: Setup, loop_steps: int, step_steps: int, run_seconds: float, device_name: str) -> dict:
    """(d): the loops, the step alone +- guard, the sampler alone, and the stages' own runs."""
    images = synthetic_images(setup)
    patches = device_patches(setup, images, "none")
    loops = [loop_rate(setup, kind, precision, graphs, cut, images, loop_steps, patches)
             for kind in KINDS for precision, graphs, cut in LOOPS]
    steps = [step_rate(setup, kind, guarded, graphs, step_steps)
             for kind in KINDS for guarded in (True, False) for graphs in ("never", "auto")]
    samplers = [sampler_rate(setup, images, augment, step_steps) for augment in ("none", "flip_rot90", "rot10_hflip")]
    runs = stage_runs(setup, run_seconds, {kind: graphed_rate(loops, kind, PROFILE_PRECISION) for kind in KINDS})
    model = targets_for(device_name)
    return {"loops": loops, "steps": steps, "samplers": samplers, "runs": runs,
            "model": model.model if model else None, "targets": [t.as_dict() for t in TARGETS],
            "verdicts": speed_verdicts(loops, model, {})}
