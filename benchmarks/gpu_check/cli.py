"""The command: run the parts in order, write the JSON after each, print each part's table, then the verdicts."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

import benchmarks.gpu_check as package
from benchmarks.gpu_check.capture_failure import forced_capture_failure
from benchmarks.gpu_check.captured import captured
from benchmarks.gpu_check.common import KINDS, PRECISIONS, PROFILE_PRECISION, Setup, cpu_setup, free, gpu_setup
from benchmarks.gpu_check.host_sync import no_host_sync
from benchmarks.gpu_check.parity import LOSS_FLOOR, PARITY_FACTOR, PARITY_FLOOR, TENSOR_FLOOR, parity
from benchmarks.gpu_check.profile import where_time_goes
from benchmarks.gpu_check.report import failed, print_part, table
from benchmarks.gpu_check.sampler_parity import sampler_parity
from benchmarks.gpu_check.speed import speed, speed_verdicts
from benchmarks.gpu_check.targets import targets_for

PARTS: dict[str, Callable[[Setup, argparse.Namespace], object]] = {
    "a": lambda s, a: captured(s),
    "b": lambda s, a: [parity(s, k, p, a.parity_steps) for k in KINDS for p in PRECISIONS],
    "c": lambda s, a: [no_host_sync(s, k, a.sync_steps) for k in KINDS],
    "d": lambda s, a: speed(s, a.loop_steps, a.step_steps, a.run_seconds, a.device_name),
    "e": lambda s, a: where_time_goes(s, a.profile_steps),
    "f": lambda s, a: sampler_parity(s),
    "g": lambda s, a: forced_capture_failure(s),
}
ORDER = "afbcdeg"  # (b) before (d): the bf16 stretch counts where bf16 parity holds; (g) last: a failed
# capture is the one part that may leave the device unusable
DEFAULTS = {"loop_steps": (4, 300), "step_steps": (3, 100), "parity_steps": (6, 30), "sync_steps": (3, 50),
            "profile_steps": (2, 20), "run_seconds": (0.0, 30.0)}  # (CPU dry run, GPU)


def verdicts(parts: dict, device_name: str) -> dict:
    """One line per check: whether it holds (None when its part did not run or failed, or has no target)."""
    def ok(part: str, test: Callable[[object], bool | None]) -> bool | None:
        value = parts.get(part)
        if value is None or failed(value):
            return None
        result = test(value)
        return None if result is None else bool(result)

    bf16_parity = {}
    if parts.get("b") is not None and not failed(parts["b"]):
        bf16_parity = {r["task"]: r["holds"] and r["graphed"] for r in parts["b"] if r["precision"] == "bf16"}
    speed_ok = {}
    if parts.get("d") is not None and not failed(parts["d"]):
        speed_ok = speed_verdicts(parts["d"]["loops"], targets_for(device_name), bf16_parity)
    out = {
        "a_captured": ok("a", lambda v: all(r["captured"] for r in v)),
        "a_cut_inside_the_graph": ok("a", lambda v: all("patches cut inside the graph" in r["note"] for r in v)),
        "b_parity": ok("b", lambda v: all(r["holds"] and r["graphed"] for r in v)),
        "c_no_host_sync": ok("c", lambda v: all(r["ok"] and r["graphed"] for r in v)),
    }
    for kind in KINDS:
        out[f"d_{kind}_target_{PROFILE_PRECISION}"] = ok("d", lambda v, k=kind: speed_ok[k]["meets_target"])
        out[f"d_{kind}_stretch_bf16"] = ok("d", lambda v, k=kind: speed_ok[k]["meets_stretch"])
    out["d_stage_runs_graphed"] = ok("d", lambda v: all(r.get("graphed") and "error" not in r for r in v["runs"]))
    out["e_graph_kernels_traced"] = ok("e", lambda v: None if not any(r["mode"] == "graphed" for r in v["rows"])
                                       else not any(r.get("untraced") for r in v["rows"]))
    out["f_sampler_identical"] = ok("f", lambda v: all(r["identical"] for r in v))
    out["g_forced_failure"] = ok("g", lambda v: all(r["ok"] for r in v.values()))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python benchmarks/gpu_check.py",
                                     description=package.__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--parts", default=ORDER, help="which parts to run, e.g. 'abg' (default: all)")
    parser.add_argument("--loop-steps", type=int, default=0, help="(d) timed loop steps (default 300 GPU, 4 CPU)")
    parser.add_argument("--step-steps", type=int, default=0, help="(d) timed steps of the step alone (100 GPU, 3 CPU)")
    parser.add_argument("--run-seconds", type=float, default=0.0,
                        help="(d) length of each stage's TrainingRun (default 30 GPU; the CPU runs 4 steps)")
    parser.add_argument("--parity-steps", type=int, default=0, help="(b) steps per run (default 30 GPU, 6 CPU)")
    parser.add_argument("--sync-steps", type=int, default=0, help="(c) checked steps (default 50 GPU, 3 CPU)")
    parser.add_argument("--profile-steps", type=int, default=0, help="(e) profiled steps (default 20 GPU, 2 CPU)")
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; run with --cpu for a dry run")
    setup = cpu_setup() if args.cpu else gpu_setup()
    for name, (cpu, gpu) in DEFAULTS.items():
        setattr(args, name, getattr(args, name) or (gpu if setup.cuda else cpu))
    if not setup.cuda:
        # The dry run's tensors are tiny: one thread runs them as fast, and does not crawl when the cores are
        # shared (two OpenMP threads on a busy 2-core machine made an SRGAN step 4x slower).
        torch.set_num_threads(1)
    if setup.cuda:  # as resolve_runtime sets them for training
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    args.device_name = torch.cuda.get_device_name() if setup.cuda else f"cpu ({torch.get_num_threads()} threads)"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.time()
    properties = {}
    if setup.cuda:
        props = torch.cuda.get_device_properties(0)
        properties = {"sms": props.multi_processor_count, "memory_gib": round(props.total_memory / 2**30, 1),
                      "clock_mhz": getattr(props, "clock_rate", 0) / 1000 or None,
                      "capability": f"{props.major}.{props.minor}"}
    model = targets_for(args.device_name)
    result: dict = {
        "device": args.device_name, "device_properties": properties, "model": model.model if model else None,
        "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "setup": {**asdict(setup), "device": str(setup.device)}, "steps": {k: getattr(args, k) for k in DEFAULTS},
        "parity_rule": (f"group drift <= max({PARITY_FACTOR:g} x eager noise floor, {PARITY_FLOOR:g}); tensor drift "
                        f"<= max({PARITY_FACTOR:g} x its floor, {TENSOR_FLOOR:g}); step losses within max("
                        f"{PARITY_FACTOR:g} x floor, {LOSS_FLOOR:g}); integer state equal"),
        "parts": {}, "part_seconds": {},
    }
    print(f"device: {result['device']} ({result['model'] or 'no targets for this model'}); torch {torch.__version__}; "
          f"batch {setup.batch}, HR patch {setup.patch_px} px")
    for part in [p for p in ORDER if p in args.parts]:
        tick = time.time()
        try:
            value = PARTS[part](setup, args)
        except Exception:  # noqa: BLE001  (one part's failure must not lose the others' results)
            value = {"error": traceback.format_exc()}
            with contextlib.suppress(Exception):
                free(setup)
        result["parts"][part] = value
        result["part_seconds"][part] = round(time.time() - tick, 1)
        result["wall_s"] = round(time.time() - started, 1)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        print_part(part, value)
    result["verdicts"] = verdicts(result["parts"], args.device_name)
    result["wall_s"] = round(time.time() - started, 1)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print("\n## verdicts\n")
    print(table([{"check": k, "holds": v} for k, v in result["verdicts"].items()], ["check", "holds"]))
    if not setup.cuda:
        print("\nCPU dry run: CUDA graphs never apply on the CPU, so the GPU verdicts (a)-(e) cannot hold here.")
    print(f"\nwall {result['wall_s']} s (per part: {result['part_seconds']}); written to {args.out}")
    return result
