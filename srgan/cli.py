"""Entry points: the `srgan` console command and the wrapper every stage script uses.

This is the only place (with `stages/`) that reads argv, configures logging and
turns `SrganError` into a one-line message with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from srgan.errors import SrganError


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def run_main(main: Callable[[list[str]], None]) -> None:
    """Run a stage's `main(sys.argv)`; a SrganError becomes `error: ...` and exit 1."""
    setup_logging()
    try:
        main(sys.argv)
    except SrganError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import json

    from srgan.config import RuntimeParams
    from srgan.evaluate import evaluate_model_on_folders
    from srgan.runtime import resolve_runtime

    runtime = resolve_runtime(RuntimeParams(device=args.device, precision="fp32", channels_last=False, seed=0))
    results = evaluate_model_on_folders(args.model, [Path(p) for p in args.sets], args.scale, runtime)
    print(json.dumps(results, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description="SRResNet / SRGAN x4 super-resolution tools")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="score a generator checkpoint (or bicubic) on benchmark folders")
    ev.add_argument("--model", required=True, help="generator checkpoint (.pt) or 'bicubic'")
    ev.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("sets", nargs="+", help="folders holding HR/ and optionally LRbicx4/ (e.g. Set5)")
    ev.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> None:
    """The `srgan` console command."""
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        args.func(args)
    except SrganError as e:
        sys.exit(f"error: {e}")
