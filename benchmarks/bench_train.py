"""Training throughput: eager fp32 vs the fast path, in one process, on whatever device is present.

Measures optimiser steps/s of (a) an SRResNet pretraining step (pixel MSE) and
(b) an SRGAN step with the VGG-19 phi_5,4 content loss (G step + D step), for
  eager fp32 NCHW                        (the baseline)
  bf16 autocast + channels_last          (CUDA only)
  bf16 + channels_last + torch.compile   (CUDA only, with --compile)
The configurations run alternately, each round timing `--steps` steps after
warm-up, and the median round is reported. Feature extractors use random
weights (timing only). Prints a markdown table with the ratio to the baseline.

usage: python benchmarks/bench_train.py [--batch 16] [--patch 96] [--steps 10] [--rounds 3] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.steps import gan_step, pretrain_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(runtime: Runtime, patch: int, kind: str):
    torch.manual_seed(0)
    gen = runtime.prepare_model(SRResNet())
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4)
    g_run = torch.compile(gen) if runtime.compile else gen
    if kind == "srresnet":
        loss = ContentLoss({"mse": 1.0}).to(runtime.device)
        return lambda lr, hr: pretrain_step(g_run, loss, opt_g, lr, hr, runtime)
    disc = runtime.prepare_model(Discriminator(patch_px=patch))
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4)
    d_run = torch.compile(disc) if runtime.compile else disc
    loss = ContentLoss({"vgg19_5_4": 1.0}, feature_weights="random").to(runtime.device)
    return lambda lr, hr: gan_step(g_run, d_run, loss, opt_g, opt_d, lr, hr, 1e-3, runtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96, help="HR patch side (px)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (CUDA)")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    configs = {"eager fp32": Runtime(device, None, False)}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        configs["bf16 + channels_last"] = Runtime(device, torch.bfloat16, True)
        if args.compile:
            configs["bf16 + channels_last + compile"] = Runtime(device, torch.bfloat16, True, compile=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch}, HR patch {args.patch} px\n")
    print("| step | configuration | steps/s | images/s | vs eager fp32 |")
    print("|---|---|---|---|---|")
    for kind in ("srresnet", "srgan+vgg19_5_4"):
        steps_fns = {label: build(rt, args.patch, "srresnet" if kind == "srresnet" else "srgan") for label, rt in configs.items()}
        data = {}
        for label, rt in configs.items():
            lr = rt.to_device(torch.rand(args.batch, 3, args.patch // 4, args.patch // 4))
            hr = rt.to_device(torch.rand(args.batch, 3, args.patch, args.patch))
            data[label] = (lr, hr)
            for _ in range(3 if rt.compile else 2):  # warm-up (and compilation)
                steps_fns[label](lr, hr)
            _sync(device)
        times: dict[str, list[float]] = {label: [] for label in configs}
        for _ in range(args.rounds):
            for label in configs:
                lr, hr = data[label]
                _sync(device)
                start = time.perf_counter()
                for _ in range(args.steps):
                    steps_fns[label](lr, hr)
                _sync(device)
                times[label].append((time.perf_counter() - start) / args.steps)
        base = statistics.median(times["eager fp32"])
        for label in configs:
            step_s = statistics.median(times[label])
            print(f"| {kind} | {label} | {1 / step_s:.2f} | {args.batch / step_s:.1f} | {base / step_s:.2f}x |")


if __name__ == "__main__":
    main()
