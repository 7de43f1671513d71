"""Training throughput: the real training step, eager fp32 vs each fast path, in one process.

Times `SRResNetTask.train_step` (pixel MSE) and `SRGANTask.train_step` (the VGG-19 phi_5,4
content loss; G step + D step) — the whole step the training stages run: the guarded fused-Adam
optimiser steps and the EMA update — for
  eager fp32                              (the baseline; TF32 convolutions on CUDA)
  bf16 + channels_last                    (CUDA)
  bf16 + channels_last + CUDA graphs      (CUDA: the whole step captured once, then replayed)
  fp32 + CUDA graphs                      (CUDA)
  bf16 + channels_last + torch.compile    (CUDA, with --compile)
The configurations run alternately, each round timing `--steps` steps after warm-up (and the
graph capture), and the median round is reported. Feature extractors use random weights
(timing only). On the CPU only the baseline runs. Prints a markdown table with the ratio to the
baseline, and returns the rows (tests/benchmarks/test_benchmarks.py calls `run`).

usage: python benchmarks/bench_train.py [--batch 16] [--patch 96] [--steps 10] [--rounds 3] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from srgan.core.config import TrainParams
from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.losses.extractors import feature_content_loss
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.srgan import SRGANTask
from srgan.training.srresnet import SRResNetTask

STEPS = ("srresnet", "srgan+vgg19_5_4")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_params(patch_px: int, batch: int) -> TrainParams:
    return TrainParams(steps=1000, epochs=0, batch_size=batch, grad_accumulation=1, patch_px=patch_px,
                       augment="none", learning_rate=1.0e-4, lr_schedule="constant", lr_decay_step=0,
                       ema_decay=0.999, valid_every=1000, valid_crop_px=0, curve_every=100, max_bad_steps=0)


def build(runtime: Runtime, patch_px: int, batch: int, kind: str, seed: int = 0) -> SRResNetTask | SRGANTask:
    """The task a training stage builds (paper-size SRResNet; the paper's D), seeded."""
    torch.manual_seed(seed)
    p = train_params(patch_px, batch)
    if kind == "srresnet":
        return SRResNetTask(SRResNet(), ContentLoss({"mse": 1.0}), p, 1000, runtime)
    content = feature_content_loss({"vgg19_5_4": 1.0}, "random")
    return SRGANTask(SRResNet(), Discriminator(patch_px=patch_px), content, 1.0e-3, p, 1000, runtime)


def configurations(device: torch.device, compile_too: bool) -> dict[str, Runtime]:
    configs = {"eager fp32": Runtime(device, None, False)}
    if device.type == "cuda":
        configs["bf16 + channels_last"] = Runtime(device, torch.bfloat16, True)
        # auto: a failed capture is reported in the table (eager steps), not a stop.
        configs["bf16 + channels_last + CUDA graphs"] = Runtime(device, torch.bfloat16, True, cuda_graphs="auto")
        configs["fp32 + CUDA graphs"] = Runtime(device, None, False, cuda_graphs="auto")
        if compile_too:
            configs["bf16 + channels_last + compile"] = Runtime(device, torch.bfloat16, True, compile=True)
    return configs


def run(batch: int = 16, patch_px: int = 96, steps: int = 10, rounds: int = 3, compile_too: bool = False,
        device: torch.device | None = None, print_table: Callable[[str], None] = print) -> list[dict]:
    """Time every configuration of both steps; returns one row per (step, configuration)."""
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    configs = configurations(device, compile_too)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print_table(f"device: {name}; torch {torch.__version__}; batch {batch}, HR patch {patch_px} px\n")
    print_table("| step | configuration | steps/s | images/s | vs eager fp32 |")
    print_table("|---|---|---|---|---|")
    rows = []
    for kind in STEPS:
        tasks = {label: build(rt, patch_px, batch, "srresnet" if kind == "srresnet" else "srgan")
                 for label, rt in configs.items()}
        data = {}
        for label, rt in configs.items():
            lr = rt.to_device(torch.rand(batch, 3, patch_px // 4, patch_px // 4))
            hr = rt.to_device(torch.rand(batch, 3, patch_px, patch_px))
            data[label] = (lr, hr)
            for _ in range(5):  # warm-up: cuDNN autotuning, compilation, 3 eager steps and the graph capture
                tasks[label].train_step(lr, hr)
            _sync(device)
        times: dict[str, list[float]] = {label: [] for label in configs}
        for _ in range(rounds):
            for label in configs:
                lr, hr = data[label]
                _sync(device)
                start = time.perf_counter()
                for _ in range(steps):
                    tasks[label].train_step(lr, hr)
                _sync(device)
                times[label].append((time.perf_counter() - start) / steps)
        base = statistics.median(times["eager fp32"])
        for label in configs:
            step_s = statistics.median(times[label])
            captured = tasks[label].graphed  # CUDA graphs: did the capture work
            rows.append({"step": kind, "configuration": label, "steps_per_s": 1 / step_s,
                         "images_per_s": batch / step_s, "vs_eager": base / step_s, "graph_captured": captured,
                         "graph_note": tasks[label].graph_note})
            wanted = configs[label].cuda_graphs != "never"
            note = f" ({tasks[label].graph_note})" if wanted and not captured else ""
            print_table(f"| {kind} | {label}{note} | {1 / step_s:.2f} | {batch / step_s:.1f} | {base / step_s:.2f}x |")
        del tasks
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96, help="HR patch side (px)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (CUDA)")
    args = parser.parse_args()
    run(args.batch, args.patch, args.steps, args.rounds, args.compile)


if __name__ == "__main__":
    main()
