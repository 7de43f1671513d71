"""(c) no host sync: replayed steps fed packed draws (the device sampler, rot10_hflip, the cut inside the
step) and the schedule step under `torch.cuda.set_sync_debug_mode("error")`; then the sampler alone for
flip_rot90. On the CPU every host read of a tensor's value is made an error instead."""

from __future__ import annotations

from benchmarks.gpu_check.common import (
    Setup,
    build,
    device_patches,
    draws,
    free,
    sync,
    sync_check,
    synthetic_images,
    train_params,
)


def no_host_sync(setup: Setup, kind: str, steps: int = 50) -> dict:
    """(c) `steps` replayed steps, the patch cut and end_step included, with host syncs made errors."""
    warmup = max(setup.warmup // 2, 1)  # on CUDA: 3 eager steps, the capture, a replay
    images = synthetic_images(setup)
    task = build(setup, kind, "fp32", "auto", train_params(setup, warmup + steps, augment="rot10_hflip"))
    patches = device_patches(setup, images, "rot10_hflip")
    task.cut_in_step(patches.cut)
    batches = draws(setup, images, "rot10_hflip", warmup + steps, patches)
    for _ in range(warmup):  # the warm-up and the capture synchronise by design: outside the check
        task.train_step(*next(batches))
        task.end_step()
    # Uploading the training set synchronises by design too: before the check.
    flip_patches = device_patches(setup, images, "flip_rot90")
    error, done = None, 0
    try:
        with sync_check(setup):
            for inputs in batches:
                task.train_step(*inputs)
                task.end_step()
                done += 1
            for (packed,) in draws(setup, images, "flip_rot90", 5, flip_patches):
                flip_patches.cut(packed)
    except RuntimeError as e:
        error = str(e).strip().splitlines()[0]
    sync(setup)
    bad, _, failed = task.read_health()
    row = {"task": kind, "graphed": task.graphed, "note": task.graph_note, "steps_checked": done, "host_sync": error,
           "ok": error is None and done == steps and bad == 0, "bad_steps": bad, "failed_checks": failed}
    del task
    free(setup)
    return row
