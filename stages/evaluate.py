"""Stages `evaluate_*`: score one trained run (every checkpoint its summary lists), or bicubic and HR, on every test set.

usage: python -m stages.evaluate RUN_DIR TEST_ROOT RECORD_JSON PER_IMAGE_CSV
       python -m stages.evaluate bicubic TEST_ROOT RECORD_JSON PER_IMAGE_CSV HR_RECORD_JSON
The records (`srgan.core.records`) are cached outputs; the report stage writes the numbers from
them into git (metrics/).
TEST_ROOT holds one prepared folder per key of params `data.test`. Evaluation
runs in fp32 (NHWC) on runtime.device, whatever the training settings.
"""

from pathlib import Path

from srgan.core.artifacts import atomic_path
from srgan.core.config import load_params
from srgan.core.console import run_main
from srgan.core.records import write_baseline_evaluation, write_run_evaluation
from srgan.core.runtime import resolve_eval_runtime
from srgan.datasets.prepared import load_eval_set
from srgan.scoring.evaluate import (
    AsRunProtocol,
    evaluate_bicubic,
    evaluate_hr,
    evaluate_run,
    make_scorer,
)


def main(argv: list[str]) -> None:
    model, test_root, record_json, per_image_csv = argv[1], Path(argv[2]), Path(argv[3]), Path(argv[4])
    params = load_params(Path("params.yaml"))
    scale = params.data.scale
    runtime = resolve_eval_runtime(params.runtime)
    sets = {name: load_eval_set(test_root / name, scale) for name in params.data.test}
    scorer = make_scorer(scale, runtime, params.evaluate.lpips_required)
    if model == "bicubic":
        baseline, per_image = evaluate_bicubic(sets, scorer, runtime)
        write_baseline_evaluation(Path(argv[5]), evaluate_hr(sets, scale))
        write_baseline_evaluation(record_json, baseline)
    else:
        study = params.study_code
        as_run = (AsRunProtocol(study.scored_checkpoint, study.eval_bn_mode, study.eval_clamp)
                  if study.as_run_protocol else None)
        run_metrics, per_image = evaluate_run(Path(model), sets, scorer, runtime, params.evaluate.tile_px, as_run)
        write_run_evaluation(record_json, run_metrics)
    with atomic_path(per_image_csv) as tmp:
        per_image.to_csv(tmp, index=False, float_format="%.4f")


if __name__ == "__main__":
    run_main(main)
