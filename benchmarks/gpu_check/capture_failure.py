"""(g) a forced capture failure: the step reads a value on the host (a sync, which a capture refuses):
"auto" trains on eagerly with the cause logged, and the thread is back on its own stream; "required"
stops with one line. It reaches into the task (its eager step, its captured step) to plant the read."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from benchmarks.gpu_check.common import (
    LogRecords,
    Setup,
    build,
    free,
    host_read_capture,
    sampler,
    sync,
    synthetic_images,
    train_params,
)
from srgan.core.errors import SrganError
from srgan.training.graphs import CapturedStep, cuda_capture
from srgan.training.task import Task


def forced_capture_failure(setup: Setup, steps: int = 8) -> dict:
    """(g) for "auto" and "required"; on CUDA also whether the current stream is the default one after it."""
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
        sync(setup)
        weights = task.generator.tail.weight.detach()
        cause = task.graph_note
        logged = records.text(logging.WARNING)
        # torch's graph context leaves the capture stream current when capture_end raises; cuda_capture puts
        # the thread's stream back (a CUDA check of what tests/training/test_train.py fakes).
        stream_back = (torch.cuda.current_stream() == torch.cuda.default_stream()) if setup.cuda else None
        row = {"steps_done": done, "graphed": task.graphed, "note": cause, "error": error,
               "stream_restored": stream_back, "logged": logged[-4000:]}
        if mode == "auto":
            row["ok"] = (error is None and done == steps and not task.graphed and task.captured.eager
                         and bool(torch.isfinite(weights).all()) and not torch.equal(weights, before)
                         and cause.split(": ", 1)[-1] in logged and stream_back is not False)
        else:
            row["ok"] = (error is not None and "\n" not in error and done == task.captured.warmup
                         and stream_back is not False)
        out[mode] = row
        del task
        free(setup)
    return out
