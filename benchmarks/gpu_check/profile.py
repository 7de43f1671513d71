"""(e) where the time goes: torch.profiler over 20 loop steps (fp32, the patch cut in the step): kernels per
step (copies and memsets counted apart, host-to-device copies too: one per step, the packed draws), the GPU
busy share (summed kernel time over wall time: how much of the time a kernel ran, not how full the SMs were;
concurrent kernels can push it past 100 %), the top kernels, peak allocated and reserved memory after the
eager warm-up and after the capture. The CUPTI that traced it is recorded (13.0 has known errors tracing
graphs), and a graphed row that traced far fewer kernels per step than the eager one is flagged: its busy
share and top kernels then under-report. On the CPU: ATen ops per step with and without the guard."""

from __future__ import annotations

import ctypes
import glob
import importlib.metadata
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.gpu_check.common import (
    KINDS,
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

GRAPH_KERNEL_RATIO = 0.5  # graphed kernels per step below this share of eager's: the graph was not traced


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


def cupti_version() -> dict:
    """Which CUPTI this process has: the pip packages that ship it, the library loaded (or found), and its API
    version (cuptiGetVersion, e.g. 130001 for 13.0). Read after profiling, so the library is the profiler's."""
    packages = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()
                if "cupti" in (d.metadata["Name"] or "").lower()}
    library = None
    maps = Path("/proc/self/maps")
    if maps.is_file():
        library = next((line.split()[-1] for line in maps.read_text().splitlines() if "libcupti" in line), None)
    if library is None:
        found = sorted(f for entry in sys.path for f in glob.glob(f"{entry}/nvidia/**/libcupti.so*", recursive=True))
        library = found[0] if found else None
    api = None
    if library is not None:
        try:
            version = ctypes.c_uint32()
            if ctypes.CDLL(library).cuptiGetVersion(ctypes.byref(version)) == 0:
                api = version.value
        except OSError:
            api = None
    return {"packages": packages, "library": library, "api_version": api}


def _device_events(prof: torch.profiler.profile) -> list:
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


def _memory() -> dict:
    return {"peak_allocated": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "reserved": round(torch.cuda.memory_reserved() / 2**20, 1)}


def _profile_row(setup: Setup, kind: str, graphs: str, steps: int) -> dict:
    warmup = setup.warmup
    images = synthetic_images(setup)
    patches = device_patches(setup, images, "none")
    task = build(setup, kind, "fp32", graphs, train_params(setup, warmup + steps))
    task.cut_in_step(patches.cut)
    batches = draws(setup, images, "none", warmup + steps, patches)
    row = {"task": kind, "mode": "eager" if graphs == "never" else "graphed"}
    if setup.cuda:
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup):
        task.train_step(*next(batches))
        task.end_step()
        if i == 2 and setup.cuda:  # after the eager warm-up, before the capture
            sync(setup)
            row["memory_mib_before_capture"] = _memory()
    row["graphed"] = task.graphed
    if not setup.cuda:
        row.update(aten_ops_per_step(setup, kind))
        return row
    sync(setup)
    row["memory_mib_after_capture"] = _memory()
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            task.train_step(*next(batches))
            task.end_step()
        sync(setup)
        wall_us = (time.perf_counter() - start) * 1e6
    events = _device_events(prof)
    copies = [e for e in events if e.name.startswith(("Memcpy", "Memset"))]
    kernels = [e for e in events if not e.name.startswith(("Memcpy", "Memset"))]
    busy_us = sum(e.time_range.elapsed_us() for e in kernels)
    by_name: dict[str, list[float]] = {}
    for e in kernels:
        by_name.setdefault(e.name, []).append(e.time_range.elapsed_us())
    top = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:8]
    row.update(steps=steps, kernels_per_step=len(kernels) / steps, wall_ms_per_step=wall_us / steps / 1e3,
               copies_per_step=sum(e.name.startswith("Memcpy") for e in copies) / steps,
               h2d_copies_per_step=sum("HtoD" in e.name for e in copies) / steps,
               busy_share=busy_us / wall_us if wall_us else None,
               top_kernels=[{"name": name[:90], "share_of_kernel_time": sum(d) / busy_us if busy_us else None,
                             "per_step": len(d) / steps} for name, d in top])
    if not kernels:
        row["note"] = "the profiler recorded no device kernels (CUPTI did not trace this run)"
    del task, prof
    return row


def flag_untraced_graphs(rows: list[dict], cupti: dict) -> None:
    """Flag each graphed row whose kernels per step fall below GRAPH_KERNEL_RATIO x its eager row's."""
    for row in rows:
        eager = next((r for r in rows if r["task"] == row["task"] and r["mode"] == "eager"), None)
        if row["mode"] != "graphed" or eager is None or "kernels_per_step" not in row:
            continue
        ratio = row["kernels_per_step"] / eager["kernels_per_step"] if eager["kernels_per_step"] else None
        row["kernels_vs_eager"] = ratio
        row["untraced"] = ratio is not None and ratio < GRAPH_KERNEL_RATIO
        if row["untraced"]:
            row["note"] = (f"graphed steps traced {row['kernels_per_step']:.0f} kernels per step against "
                           f"{eager['kernels_per_step']:.0f} eager: CUPTI {cupti.get('api_version')} "
                           f"({', '.join(f'{k} {v}' for k, v in cupti.get('packages', {}).items()) or 'no package'}) "
                           "did not trace the graph's kernels; its busy share and top kernels under-report")


def where_time_goes(setup: Setup, steps: int = 20) -> dict:
    """(e) per task, graphed and eager (fp32) on CUDA; eager only, with ATen op counts, on the CPU."""
    rows = []
    for kind in KINDS:
        for graphs in ("auto", "never") if setup.cuda else ("never",):
            rows.append(_profile_row(setup, kind, graphs, steps))
            free(setup)
    cupti = cupti_version()
    flag_untraced_graphs(rows, cupti)
    return {"rows": rows, "cupti": cupti, "graph_kernel_ratio": GRAPH_KERNEL_RATIO}
