"""(a) captured: whether each task's whole step, the patch cut included, captures as a CUDA graph
(runtime.cuda_graphs auto), fp32 and bf16, channels_last; the cause when it does not."""

from __future__ import annotations

from benchmarks.gpu_check.common import (
    KINDS,
    PRECISIONS,
    Setup,
    build,
    device_patches,
    draws,
    free,
    synthetic_images,
    train_params,
)


def captured(setup: Setup) -> list[dict]:
    """Each task under runtime.cuda_graphs auto, 5 steps (3 eager warm-up, the capture, a replay), fed packed
    draws as the training loop feeds it on CUDA (the step cuts its own patches)."""
    rows = []
    images = synthetic_images(setup)
    patches = device_patches(setup, images, "none")
    for kind in KINDS:
        for precision in PRECISIONS:
            task = build(setup, kind, precision, "auto", train_params(setup, 5))
            task.cut_in_step(patches.cut)
            for inputs in draws(setup, images, "none", 5, patches):
                task.train_step(*inputs)
                task.end_step()
            rows.append({"task": kind, "precision": precision, "captured": task.graphed, "note": task.graph_note})
            del task
            free(setup)
    return rows
