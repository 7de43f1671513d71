"""One-command GPU check of the training speed work: no network, about 5 minutes on one GPU.

Prints, and writes as JSON (--out, default gpu_check.json in the current folder):
  (a) the bench table: the real training step (guarded fused Adam + EMA), eager fp32 vs each fast
      path, for SRResNet and SRGAN + VGG19_5_4 (benchmarks/bench_train.py);
  (b) the training stages' own steps/s on the sample data (scikit-image photographs) at batch 16 /
      96 px: `python -m stages.train` in a temporary workspace, SRResNet-MSE and SRGAN + VGG19_5_4
      (random extractor weights: offline), bf16 + channels_last, eager and with CUDA graphs; the rate
      is the stage's own steady rate (`steady_steps_per_s` in logs/<experiment>/<variant>/timing.json:
      steps after the first 20, device-synchronised);
  (c) SM utilisation during (b): `nvidia-smi` samples every 250 ms (the share of time a kernel ran;
      median and max of the non-idle samples), or torch.cuda.utilization;
  (d) peak device memory of each stage run (CUDA allocated, from timing.json);
  (e) max |Δ weight| between 20 graphed and 20 eager steps from the same state, both steps, bf16.
With --cpu the same runs end to end on the CPU at tiny sizes (a dry run: CUDA graphs do not apply
there, so (e) compares eager with eager).

usage: python benchmarks/gpu_check.py [--cpu] [--out FILE] [--srresnet-steps N] [--srgan-steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train  # noqa: E402  (a sibling script)

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- (c) utilisation


class UtilisationSampler:
    """GPU utilisation samples (%) taken in the background while a block runs."""

    def __init__(self, period_s: float = 0.25) -> None:
        self.period_s, self.samples = period_s, []
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.source = "none"

    def __enter__(self) -> UtilisationSampler:
        if shutil.which("nvidia-smi"):
            self.source = "nvidia-smi utilization.gpu"
            self._proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 f"-lms={int(self.period_s * 1000)}", "-i", os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._thread = threading.Thread(target=self._read_smi, daemon=True)
        elif torch.cuda.is_available():
            self.source = "torch.cuda.utilization"
            self._thread = threading.Thread(target=self._poll_torch, daemon=True)
        if self._thread is not None:
            self._thread.start()
        return self

    def _read_smi(self) -> None:
        for line in self._proc.stdout:
            if line.strip().isdigit():
                self.samples.append(int(line.strip()))

    def _poll_torch(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(int(torch.cuda.utilization()))
            except Exception:  # pynvml missing: no samples, reported as such  # noqa: BLE001
                self.source = "unavailable (no nvidia-smi, no pynvml)"
                return
            time.sleep(self.period_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def summary(self) -> dict:
        busy = [s for s in self.samples if s > 0]
        return {"source": self.source, "samples": len(self.samples),
                "median_busy_pct": statistics.median(busy) if busy else None, "max_pct": max(busy, default=None)}


# ---------------------------------------------------------------- (b) the stages themselves


def _workspace(tmp: Path, device: str, srresnet_steps: int, srgan_steps: int, batch: int, patch_px: int,
               graphs: bool, tiny: bool) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["runtime"].update(device=device, precision="bf16" if device == "cuda" else "fp32", channels_last=True,
                             compile=False, cuda_graphs="required" if graphs else "never", processes=1)
    params["execution"].update(num_workers=0, log_every=100, checkpoint_every=10**9, progress=False,
                               patches_on_device=True)
    params["features"].update(weights="random")
    if tiny:
        params["model"].update(num_blocks=2, channels=8)
        params["data"]["train"]["images"] = ["camera", "astronaut"]
    for section, steps in (("srresnet", srresnet_steps), ("srgan", srgan_steps)):
        params[section].update(steps=steps, epochs=0, batch_size=batch, patch_px=patch_px, valid_every=steps,
                               lr_schedule="constant", grad_accumulation=1)
    params["srresnet"]["variants"] = {}
    params["srgan"]["variants"] = {"vgg19_5_4": {"vgg19_5_4": 1.0}}
    params["srgan"]["checkpoints"] = [srgan_steps]
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def _run(args: list[str], cwd: Path) -> str:
    """Run `python -m args` in `cwd` with this checkout's srgan; returns its log (stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    result = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stderr


def stage_rates(device: str, srresnet_steps: int, srgan_steps: int, batch: int, patch_px: int,
                tiny: bool) -> list[dict]:
    """(b), (c), (d): the real training stages, eager and with CUDA graphs."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as name:
        tmp = Path(name)
        _workspace(tmp, device, srresnet_steps, srgan_steps, batch, patch_px, False, tiny)
        for role in ("train", "valid"):
            _run(["stages.prepare", role, f"data/prepared/{role}", "data/cache"], tmp)
        for graphs in (False, True):
            _workspace(tmp, device, srresnet_steps, srgan_steps, batch, patch_px, graphs, tiny)
            tag = "graphs" if graphs else "eager"
            for experiment, variant, extra in (("srresnet", "mse", []),
                                               ("srgan", "vgg19_5_4", ["--init", f"models/srresnet/mse-{tag}/best.pt"])):
                run = f"{experiment}/{variant}-{tag}"
                with UtilisationSampler() as sampler:
                    stage_log = _run(["stages.train", experiment, variant, "data/prepared/train",
                                      "data/prepared/valid", f"models/{run}", f"logs/{run}", f"plots/{run}",
                                      f"state/{run}", *extra], tmp)
                timing = json.loads((tmp / "logs" / run / "timing.json").read_text(encoding="utf-8"))
                rows.append({"stage": f"train_{experiment} {variant}", "mode": tag,
                             "steps": srresnet_steps if experiment == "srresnet" else srgan_steps,
                             "steady_steps_per_s": timing["steady_steps_per_s"],
                             "mean_step_s": timing["train_step_s"], "peak_memory_mib": timing["peak_memory_mib"],
                             "memory_kind": timing["memory_kind"], "utilisation": sampler.summary(),
                             "graph_captured": "captured as a CUDA graph" in stage_log,
                             "patches_on_device": "patches cut on the device" in stage_log,
                             "warnings": [line for line in stage_log.splitlines() if " WARNING " in line][:5]})
    return rows


# ---------------------------------------------------------------- (e) graphs compute what eager computes


def weight_drift(device: torch.device, batch: int, patch_px: int, steps: int = 20) -> list[dict]:
    """Max |Δ weight| between `steps` graphed and eager steps from the same state and batches."""
    rows = []
    amp = torch.bfloat16 if device.type == "cuda" else None
    batches = [(torch.rand(batch, 3, patch_px // 4, patch_px // 4, generator=torch.Generator().manual_seed(i)),
                torch.rand(batch, 3, patch_px, patch_px, generator=torch.Generator().manual_seed(1000 + i)))
               for i in range(steps)]
    for kind in ("srresnet", "srgan"):
        weights = {}
        for graphs in (False, True):
            runtime = bench_train.Runtime(device, amp, True, cuda_graphs="auto" if graphs else "never")
            task = bench_train.build(runtime, patch_px, batch, kind, seed=0)
            for lr_img, hr_img in batches:
                task.train_step(runtime.to_device(lr_img), runtime.to_device(hr_img))
                task.end_step()
            weights[graphs] = {name: net.state_dict() for name, net in task.networks.items()}
            if graphs:
                captured = task.graphed
        drift = max(float((weights[True][n][k].float() - weights[False][n][k].float()).abs().max())
                    for n in weights[False] for k in weights[False][n] if weights[False][n][k].is_floating_point())
        rows.append({"step": kind, "steps": steps, "precision": "bf16" if amp else "fp32",
                     "graph_captured": captured, "max_abs_weight_difference": drift})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--srresnet-steps", type=int, default=0, help="stage run length (default 1500 GPU, 24 CPU)")
    parser.add_argument("--srgan-steps", type=int, default=0, help="stage run length (default 600 GPU, 22 CPU)")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; run with --cpu for a dry run")
    device = torch.device("cpu" if args.cpu else "cuda")
    batch, patch_px = (2, 32) if args.cpu else (16, 96)
    srresnet_steps = args.srresnet_steps or (24 if args.cpu else 1500)
    srgan_steps = args.srgan_steps or (22 if args.cpu else 600)
    started = time.time()
    result: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "batch": batch, "patch_px": patch_px}

    print("## (a) the training step, eager vs each fast path\n")
    result["bench"] = bench_train.run(batch=batch, patch_px=patch_px, steps=2 if args.cpu else 50,
                                      rounds=1 if args.cpu else 3, device=device)
    print("\n## (b)-(d) the training stages on the sample data\n")
    result["stages"] = stage_rates(device.type, srresnet_steps, srgan_steps, batch, patch_px, tiny=args.cpu)
    print("| stage | mode | graph captured | patches on device | steps | steady steps/s | peak memory (MiB) | "
          "utilisation: median busy / max % |")
    print("|---|---|---|---|---|---|---|---|")
    for row in result["stages"]:
        u = row["utilisation"]
        print(f"| {row['stage']} | {row['mode']} | {row['graph_captured']} | {row['patches_on_device']} | "
              f"{row['steps']} | {row['steady_steps_per_s']} | {row['peak_memory_mib']} ({row['memory_kind']}) | "
              f"{u['median_busy_pct']} / {u['max_pct']} ({u['source']}) |")
        for line in row["warnings"]:
            print(f"  warning: {line}")
    print("\n## (e) graphed vs eager steps from the same state\n")
    result["drift"] = weight_drift(device, batch, patch_px, steps=3 if args.cpu else 20)
    for row in result["drift"]:
        print(f"- {row['step']}: max |Δ weight| after {row['steps']} steps ({row['precision']}, graph captured: "
              f"{row['graph_captured']}): {row['max_abs_weight_difference']:.3g}")
    result["wall_s"] = round(time.time() - started, 1)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwall {result['wall_s']} s; written to {args.out}")


if __name__ == "__main__":
    main()
