"""Entry points: the `srgan` console command and the wrapper every stage script uses.

This is the only place (with `stages/`) that reads argv, configures logging and
turns `SrganError` into a one-line message with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from srgan.console import setup_logging
from srgan.errors import SrganError


def _cli_runtime(device: str, precision: str, channels_last: bool):
    """A single-process runtime for the inference commands (no compile, no DDP)."""
    from srgan.config import RuntimeParams
    from srgan.runtime import resolve_runtime

    params = RuntimeParams(
        device=device, precision=precision, channels_last=channels_last, compile=False, processes=1, seed=0
    )
    return resolve_runtime(params)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import json

    from srgan.evaluate import evaluate_model_on_folders

    runtime = _cli_runtime(args.device, precision="fp32", channels_last=False)
    results = evaluate_model_on_folders(args.model, [Path(p) for p in args.sets], args.scale, runtime)
    print(json.dumps(results, indent=2))


UPSCALE_HELP = """\
Upscale image files with a trained generator.

INPUT: image files and/or folders (a folder's PNG/JPEG/WebP/TIFF/BMP files,
not recursive). Each result is written to OUT as the input's stem plus the
input's suffix, or the --format suffix; the format follows the suffix.
Results are written atomically: a failed image leaves no file behind.

--model: a checkpoint (.pt) or a pipeline model name, resolved under ./models:
srresnet (models/srresnet/best.pt), srgan_<loss> (models/srgan/<loss>/best.pt,
e.g. srgan_vgg19_5_4).

Colour: RGB is upscaled as is. Grayscale (L, 16-bit I;16) is upscaled as gray
replicated to RGB and written back as 8-bit grayscale. RGBA and LA: the colour
goes through the model, the alpha channel is upscaled with bicubic
interpolation and re-attached (JPEG output drops alpha, with a warning).
Palette images become RGB, or RGBA when they have transparency. Inputs with
more than 8 bits per sample are written as 8-bit.

Large images are cut into tiles (--tile LR pixels, overlapping by
--tile-overlap) that are blended without seams; memory stays bounded.
A file that cannot be read or written is reported on stderr and skipped; the
exit code is 1 when any file failed, 0 otherwise.
"""


def _upscale_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named or found in the named folders, and errors for missing inputs."""
    from srgan.data import IMAGE_SUFFIXES

    files: list[Path] = []
    errors: list[str] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir()
                # Hidden files include atomic_path's temporaries from an interrupted run.
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                errors.append(f"folder {path} holds no {'/'.join(IMAGE_SUFFIXES)} files")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"input {path} not found")
    return files, errors


def _cmd_upscale(args: argparse.Namespace) -> None:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from srgan.infer import load_for_inference, output_path, resolve_model, upscale_file

    if args.tile < 0 or (args.tile > 0 and not 0 <= args.tile_overlap < args.tile):
        raise SrganError(
            f"--tile must be >= 0 and --tile-overlap in [0, tile) LR px, got {args.tile} and {args.tile_overlap}"
        )
    files, errors = _upscale_inputs(args.inputs)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if not files:
        raise SrganError("no input images to upscale")
    checkpoint = resolve_model(args.model, Path("models"))
    runtime = _cli_runtime(args.device, precision="bf16", channels_last=True)
    model, info = load_for_inference(checkpoint, args.scale, runtime)
    logging.getLogger("srgan.cli").info(
        "model %s (%s), x%d, tile %d px", checkpoint, info.get("kind", "?"), args.scale, args.tile
    )
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = 0, len(errors)
    claimed: dict[Path, Path] = {}  # output -> the input that writes it
    # Log lines (warnings about alpha, bit depth) go above the progress bar, not through it.
    with logging_redirect_tqdm():
        for in_path in tqdm(files, desc="upscale", unit="image"):
            try:
                out_path = output_path(in_path, out_dir, args.format)
                if out_path.resolve() == in_path.resolve():
                    raise SrganError(f"{in_path}: the output would overwrite the input; choose another -o folder")
                if out_path in claimed:
                    raise SrganError(f"{in_path}: its output {out_path} is already written from {claimed[out_path]}")
                claimed[out_path] = in_path
                upscale_file(model, in_path, out_path, runtime, args.scale, args.tile, args.tile_overlap)
                written += 1
            except SrganError as e:
                tqdm.write(f"error: {e}", file=sys.stderr)
                failed += 1
    print(f"{written} written to {out_dir}, {failed} failed")
    if failed:
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description="SRResNet / SRGAN x4 super-resolution tools")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="score a generator checkpoint (or bicubic) on benchmark folders")
    ev.add_argument("--model", required=True, help="generator checkpoint (.pt) or 'bicubic'")
    ev.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("sets", nargs="+", help="folders holding HR/ and optionally LRbicx4/ (e.g. Set5)")
    ev.set_defaults(func=_cmd_evaluate)
    up = sub.add_parser(
        "upscale",
        help="upscale image files or folders with a trained generator",
        description=UPSCALE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    up.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (created)")
    up.add_argument("--model", required=True, help="checkpoint (.pt), or srresnet / srgan_<loss> from ./models")
    up.add_argument("--tile", type=int, default=256, metavar="PX",
                    help="tile side in LR pixels; 0 = the whole image at once (default 256)")
    up.add_argument("--tile-overlap", type=int, default=16, metavar="PX",
                    help="minimum overlap of neighbouring tiles in LR pixels (default 16)")
    up.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto = CUDA when available (bf16 autocast), else CPU")
    up.add_argument("--scale", type=int, default=4, help="upscaling factor; must match the checkpoint (default 4)")
    up.add_argument("--format", choices=("png", "jpg", "webp", "tiff"), default=None,
                    help="output format (default: the input's own)")
    up.set_defaults(func=_cmd_upscale)
    return parser


def main(argv: list[str] | None = None) -> None:
    """The `srgan` console command."""
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        args.func(args)
    except SrganError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
