"""Inference speed and memory of SRResNet upscaling: eager eval mode vs the fast path.

Speed (default): the paper-size SRResNet (16 blocks, 64 channels, random init,
eval mode; weights do not change the timing) upscales a --lr-px square LR image
--runs times per variant, after --warmup calls each. The variants run in
turns (rotating which goes first) in one process, so drift of the machine hits
all of them alike. Reports the median time per image, images/s and output
megapixels/s as a markdown table, and the fast/eager ratio.

  eager   model.eval(), torch.no_grad(), the runtime's memory format (NCHW on the CPU)
  fold    BN folded into the convs, inference_mode, same memory format as eager
  fast    prepare_for_inference + super_resolve: fold, inference_mode, and
          channels_last weights (on the CPU too, where it is what helps)
  onnxruntime  (--onnx, CPU only) the same weights exported by `srgan export`
          (BN folded, opset 18) and run by onnxruntime's CPU provider with as
          many intra-op threads as torch uses; needs the `export` extra

--peak-rss: a child process (so ru_maxrss is that run's alone) upscales a
synthetic --rss-w x --rss-h LR image, tiled (--tile, --overlap), with the fast
path and `super_resolve_u8`, which streams finished rows into a preallocated
uint8 result. Reports wall time, peak RSS, and the RSS before upscaling.

Runs on CUDA when available (bf16 autocast, channels_last as the runtime sets
it); --device cpu forces the CPU.

    python benchmarks/bench_infer.py                      # speed, 10 runs of 128x128 -> 512x512
    python benchmarks/bench_infer.py --device cpu --onnx  # torch against onnxruntime on the same image
    python benchmarks/bench_infer.py --peak-rss --rss-w 1000 --rss-h 750

Measured when this was written (fast / eager, median s per 128x128 image):
the project's 2-core CPU, shared with other jobs, 1 thread 1.20x (0.61 / 0.73 s),
2 threads 1.70x (1.33 / 2.27 s: contention makes 2 threads slower than 1);
16-core Xeon 1.46x (0.155 / 0.226 s); H100 bf16 1.21x (6.9 / 8.3 ms). BN
folding alone gains nothing on the CPU; channels_last is what helps there.
Peak RSS: 1000x750 LR on the 2-core CPU (1 thread) 48.8 s, 1479 MiB (645 MiB
before upscaling); 4000x3000 LR on the 16-core CPU 150.8 s, 2146 MiB (571
before); on the H100 5.4 s, 1616 MiB host (699 before, CUDA context included).
Memory = baseline + one tile's activations (about 0.8 GiB at 256 px on the CPU,
grows with tile_px^2) + one strip of float rows (3 x 4 B x scale*tile_px x SR
width) + the uint8 result (3 B per SR pixel). Only the result grows with the
image's height, so for large images it dominates: 549 MiB for 16000x12000.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from srgan.core.config import RuntimeParams
from srgan.core.runtime import Runtime, resolve_runtime
from srgan.inference.folding import fold_batchnorm, prepare_for_inference
from srgan.inference.generator import super_resolve
from srgan.inference.tiling import super_resolve_u8
from srgan.nets.srresnet import SRResNet


def _paper_model(seed: int) -> SRResNet:
    torch.manual_seed(seed)
    return SRResNet(scale=4, num_blocks=16, channels=64).eval()


def _runtime(device: str) -> Runtime:
    return resolve_runtime(RuntimeParams(device=device, precision="bf16", channels_last=True, compile=False,
                                         cuda_graphs="never", processes=1))


def _eager_call(model: torch.nn.Module, runtime: Runtime):
    def call(lr_img: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), runtime.autocast():
            return model(runtime.to_device(lr_img)).float().clamp(0, 1).cpu()

    return call


def _fold_only_call(model: torch.nn.Module, runtime: Runtime):
    folded = fold_batchnorm(model).requires_grad_(False)  # same memory format as `model`

    def call(lr_img: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), runtime.autocast():
            return folded(runtime.to_device(lr_img)).float().clamp(0, 1).cpu()

    return call


def _onnx_call(model: SRResNet, folder: Path):
    """`model` through `srgan export` and onnxruntime (CPU provider, torch's thread count)."""
    from srgan.inference.exporting import export_onnx
    from srgan.inference.generator import save_generator
    from srgan.inference.onnx_model import load_onnx_generator

    save_generator(folder / "g.pt", model)
    export_onnx(folder / "g.pt", folder / "g.onnx", scale=model.scale)
    onnx_model, _ = load_onnx_generator(folder / "g.onnx", model.scale, "cpu", threads=torch.get_num_threads())

    def call(lr_img: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return onnx_model(lr_img).clamp(0, 1)

    return call


def bench_speed(args: argparse.Namespace) -> None:
    runtime = _runtime(args.device)
    if args.onnx and runtime.device.type != "cpu":
        sys.exit("--onnx compares torch and onnxruntime on the CPU: add --device cpu")
    model = runtime.prepare_model(_paper_model(args.seed)).eval()
    fast = prepare_for_inference(model, runtime)
    variants = {
        "eager": _eager_call(model, runtime),
        "fold": _fold_only_call(model, runtime),
        "fast": lambda x: super_resolve(fast, x, runtime),
    }
    scratch = tempfile.TemporaryDirectory(prefix="bench_infer_")
    if args.onnx:
        variants["onnxruntime"] = _onnx_call(_paper_model(args.seed), Path(scratch.name))
    lr_img = torch.rand(1, 3, args.lr_px, args.lr_px, generator=torch.Generator().manual_seed(args.seed))
    reference = variants["eager"](lr_img)
    for name, call in variants.items():  # warm-up, and a check that every variant computes the same thing
        out = call(lr_img)  # the check's call counts as the first warm-up call
        for _ in range(args.warmup - 1):
            out = call(lr_img)
        print(f"{name}: max |out - eager| = {(out - reference).abs().max().item():.2e}", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for run in range(args.runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            start = time.perf_counter()
            variants[name](lr_img)
            times[name].append(time.perf_counter() - start)
    out_mp = (args.lr_px * 4) ** 2 / 1e6
    if runtime.device.type == "cuda":
        device = torch.cuda.get_device_name()
    else:
        device = f"CPU ({torch.get_num_threads()} threads)"
    print(f"\n{args.lr_px}x{args.lr_px} -> {args.lr_px * 4}x{args.lr_px * 4}, SRResNet 16x64, {device}, "
          f"autocast {runtime.amp_dtype}, median of {args.runs} runs after {args.warmup} warm-up\n")
    print("| variant | s/image | images/s | output MP/s |")
    print("|---|---:|---:|---:|")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, sec in medians.items():
        print(f"| {name} | {sec:.4f} | {1 / sec:.2f} | {out_mp / sec:.3f} |")
    print(f"\nspeed-up fast / eager: {medians['eager'] / medians['fast']:.2f}x "
          f"(fold only: {medians['eager'] / medians['fold']:.2f}x)")
    if "onnxruntime" in medians:
        print(f"onnxruntime against the torch fast path: {medians['fast'] / medians['onnxruntime']:.2f}x "
              f"(against eager: {medians['eager'] / medians['onnxruntime']:.2f}x; >1: onnxruntime is faster)")
    scratch.cleanup()


def _synthetic_lr(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus noise, built in row blocks to keep float temporaries small."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width, 3), dtype=np.uint8)
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    for top in range(0, height, 256):
        ys = np.linspace(top / height, min(top + 256, height) / height, min(256, height - top), dtype=np.float32)
        ys = ys[:, None]
        for c, (fy, fx) in enumerate(((3.0, 5.0), (7.0, 2.0), (1.0, 9.0))):
            base = 0.5 + 0.4 * np.sin(fy * np.pi * ys) * np.cos(fx * np.pi * xs)
            noise = rng.normal(0.0, 0.03, size=base.shape).astype(np.float32)
            out[top : top + len(ys), :, c] = np.clip((base + noise) * 255, 0, 255).astype(np.uint8)
    return out


def rss_child(args: argparse.Namespace) -> None:
    """One tiled upscale; prints a JSON line with wall time and RSS figures (run in a fresh process)."""
    runtime = _runtime(args.device)
    model = prepare_for_inference(_paper_model(args.seed), runtime)
    lr_u8 = _synthetic_lr(args.rss_h, args.rss_w, args.seed)
    rss_before_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    if runtime.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    sr_u8 = super_resolve_u8(model, lr_u8, runtime, tile_px=args.tile, overlap_px=args.overlap)
    wall_s = time.perf_counter() - start
    result = {
        "lr_wh": [args.rss_w, args.rss_h],
        "sr_wh": [sr_u8.shape[1], sr_u8.shape[0]],
        "tile_px": args.tile,
        "overlap_px": args.overlap,
        "device": str(runtime.device),
        "threads": torch.get_num_threads(),
        "wall_s": round(wall_s, 2),
        "s_per_lr_mp": round(wall_s / (args.rss_w * args.rss_h / 1e6), 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_upscale_mib": round(rss_before_mib, 1),
        "result_buffer_mib": round(sr_u8.nbytes / 2**20, 1),
        "cuda_peak_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if runtime.device.type == "cuda" else None,
        "sr_mean": round(float(sr_u8[:: 97, :: 97].mean()), 2),  # keeps the result alive until here
    }
    print(json.dumps(result))


def bench_peak_rss(args: argparse.Namespace) -> None:
    cmd = [sys.executable, __file__, "--_rss-child", "--device", args.device, "--seed", str(args.seed),
           "--threads", str(args.threads), "--rss-w", str(args.rss_w), "--rss-h", str(args.rss_h),
           "--tile", str(args.tile), "--overlap", str(args.overlap)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\ntiled upscaling, SRResNet 16x64 fast path, {res['device']} ({res['threads']} CPU threads)\n")
    print("| LR | SR | tile / overlap | wall s | s per LR MP | peak RSS MiB | RSS before MiB "
          "| uint8 result MiB | CUDA peak MiB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    print(f"| {res['lr_wh'][0]}x{res['lr_wh'][1]} | {res['sr_wh'][0]}x{res['sr_wh'][1]} | "
          f"{res['tile_px']} / {res['overlap_px']} | {res['wall_s']} | {res['s_per_lr_mp']} | {res['peak_rss_mib']} | "
          f"{res['rss_before_upscale_mib']} | {res['result_buffer_mib']} | {res['cuda_peak_mib']} |")
    if res["lr_wh"] != [4000, 3000]:
        full_mp = 4000 * 3000 / 1e6
        print(f"\nextrapolated wall for a 4000x3000 LR input at this rate: {res['s_per_lr_mp'] * full_mp / 60:.1f} min; "
              f"its uint8 result alone is {16000 * 12000 * 3 / 2**20:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per variant before timing (>= 0; "
                        "one call always runs to check the variants agree)")
    parser.add_argument("--lr-px", type=int, default=128, help="side of the square LR input (speed mode)")
    parser.add_argument("--onnx", action="store_true", help="also time onnxruntime on the exported model (CPU)")
    parser.add_argument("--peak-rss", action="store_true", help="measure tiled upscaling of a large image instead")
    parser.add_argument("--rss-w", type=int, default=4000, help="LR width for --peak-rss")
    parser.add_argument("--rss-h", type=int, default=3000, help="LR height for --peak-rss")
    parser.add_argument("--tile", type=int, default=256, help="tile side in LR px for --peak-rss")
    parser.add_argument("--overlap", type=int, default=16, help="tile overlap in LR px for --peak-rss")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--_rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args._rss_child:
        rss_child(args)
    elif args.peak_rss:
        bench_peak_rss(args)
    else:
        bench_speed(args)


if __name__ == "__main__":
    main()
