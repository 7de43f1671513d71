"""Stages `evaluate_*`: score one model (or bicubic) on every set in params.evaluate.sets.

usage: python stages/evaluate.py CHECKPOINT|bicubic PREPARED_ROOT METRICS_JSON PER_IMAGE_CSV
"""

from pathlib import Path

from srgan.artifacts import atomic_path, write_json_atomic
from srgan.console import run_main
from srgan.config import load_params
from srgan.data import load_eval_set
from srgan.errors import SrganError
from srgan.evaluate import evaluate_model
from srgan.runtime import resolve_runtime


def main(argv: list[str]) -> None:
    model, prepared_root, metrics_json, per_image_csv = argv[1], Path(argv[2]), Path(argv[3]), Path(argv[4])
    params = load_params(Path("params.yaml"))
    checkpoint = None if model == "bicubic" else Path(model)
    if checkpoint is not None and not checkpoint.is_file():
        raise SrganError(f"checkpoint {checkpoint} not found; train it first (dvc repro) or check the path")
    scale = params.data.scale
    sets = {name: load_eval_set(prepared_root / name, scale) for name in params.evaluate.sets}
    summary, per_image = evaluate_model(checkpoint, sets, scale, resolve_runtime(params.runtime), params.evaluate.tile_px)
    write_json_atomic(metrics_json, summary)
    with atomic_path(per_image_csv) as tmp:
        per_image.to_csv(tmp, index=False, float_format="%.4f")


if __name__ == "__main__":
    run_main(main)
