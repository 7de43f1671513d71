"""(f) sampler parity: the device sampler's patches against the CPU loader's (flip_rot90, rot10_hflip), and
the cut captured in a CUDA graph (as the training step captures it) against the same cut run eagerly. On
the CPU the capture is stood in for by a run with every host read refused."""

from __future__ import annotations

import torch

from benchmarks.gpu_check.common import SCALE, Setup, device_patches, host_read_capture, synthetic_images
from srgan.datasets.patches import DevicePatches, PatchPlan, PatchSpec, device_batches, loader_batches
from srgan.training.graphs import cuda_capture


def _differences(pairs) -> dict:  # noqa: ANN001  (pairs of (CPU tensor, CPU tensor))
    worst, differing, total, identical = 0.0, 0, 0, True
    for a, b in pairs:
        identical &= torch.equal(a, b)
        diff = (a - b).abs() * 255.0
        worst = max(worst, float(diff.max()))
        differing += int((diff > 0.5).sum())
        total += a.numel()
    return {"identical": identical, "max_abs_diff_8bit_levels": round(worst, 3), "values_differing": differing,
            "values": total}


def captured_cut(setup: Setup, patches: DevicePatches, batches: int) -> dict:
    """The cut of `batches` batches replayed from one captured graph against the eager cut of the same draws."""
    plan_draws = [patches.draws(range(k * setup.batch, (k + 1) * setup.batch)) for k in range(batches)]
    static = plan_draws[0].to(setup.device, copy=True)
    capture = cuda_capture if setup.cuda else host_read_capture

    def cut(packed: torch.Tensor) -> dict[str, torch.Tensor]:
        lr_img, hr_img = patches.cut(packed)
        return {"lr": lr_img, "hr": hr_img}

    cut(static)  # a warm-up before the capture, as the training step's (kernels loaded, allocator primed)
    if setup.cuda:
        torch.cuda.synchronize()
    graph, outputs = capture(cut, (static,))
    pairs = []
    for packed in plan_draws:
        static.copy_(packed, non_blocking=True)
        graph.replay()
        eager = cut(packed)
        pairs += [(outputs[k].cpu(), eager[k].cpu()) for k in ("lr", "hr")]
    return _differences(pairs)


def sampler_parity(setup: Setup, batches: int = 4) -> list[dict]:
    """(f) per augmentation: device sampler against the CPU loader (num_workers 0); the captured cut against
    the eager cut."""
    rows = []
    images = synthetic_images(setup)
    for augment in ("flip_rot90", "rot10_hflip"):
        spec = PatchSpec(patch_px=setup.patch_px, scale=SCALE, augment=augment, seed=0, per_epoch=False)
        plan = PatchPlan(unit="step", length=batches, batch_size=setup.batch, num_images=len(images))
        loader = loader_batches(images, spec, plan, 0, setup.batch, 0, 1, torch.device("cpu"), num_workers=0)
        device = device_batches(DevicePatches(images, spec, setup.device), plan, 0, 0, 1)
        pairs = ((a, b.cpu()) for (lr_a, hr_a), (lr_b, hr_b) in zip(loader, device, strict=True)
                 for a, b in ((lr_a, lr_b), (hr_a, hr_b)))
        rows.append({"augment": augment, "compared": "device sampler vs CPU loader", "batches": batches,
                     **_differences(pairs)})
        rows.append({"augment": augment, "compared": "cut in a captured graph vs eager cut", "batches": batches,
                     **captured_cut(setup, device_patches(setup, images, augment), batches)})
    return rows
