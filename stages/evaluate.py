"""Stages `evaluate_*`: score one trained run (every checkpoint its summary lists), or bicubic and HR, on every
test set.

usage: python -m stages.evaluate EXPERIMENT VARIANT RUN_DIR TEST_ROOT RECORD_JSON PER_IMAGE_CSV --seed N
       python -m stages.evaluate bicubic TEST_ROOT RECORD_JSON PER_IMAGE_CSV HR_RECORD_JSON
TEST_ROOT holds one prepared folder per key of params `data.test`. Evaluation runs in fp32 (NHWC) on
runtime.device, whatever the training settings. The records (`srgan.core.records`) are cached outputs;
the report stage writes the numbers from them into git (metrics/).
"""

from pathlib import Path

from srgan.core.config import load_params
from srgan.core.console import run_main
from srgan.core.declared import read_declared, stage_name
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import write_baseline_evaluation, write_per_image, write_run_evaluation
from srgan.core.runtime import resolve_eval_runtime
from srgan.core.sections import params_view
from srgan.core.study_code import as_run_protocol
from srgan.datasets.prepared import load_eval_set
from srgan.scoring.evaluate import evaluate_bicubic, evaluate_hr, evaluate_run, make_scorer

USAGE = ("usage: python -m stages.evaluate EXPERIMENT VARIANT RUN_DIR TEST_ROOT RECORD_JSON PER_IMAGE_CSV --seed N | "
         "python -m stages.evaluate bicubic TEST_ROOT RECORD_JSON PER_IMAGE_CSV HR_RECORD_JSON")


def main(argv: list[str]) -> None:
    if len(argv) == 6 and argv[1] == "bicubic":
        stage, (test_root, record_json, per_image_csv, hr_json) = "evaluate_bicubic", (Path(a) for a in argv[2:])
    elif len(argv) == 9 and argv[1] in ("srresnet", "srgan") and argv[7] == "--seed" and argv[8].isdigit():
        experiment, variant, seed = argv[1], argv[2], int(argv[8])
        run_dir, test_root, record_json, per_image_csv = (Path(a) for a in argv[3:7])
        stage = stage_name("evaluate", experiment, variant, seed)
    else:
        raise SrganError(USAGE)
    params = params_view(load_params(Path("params.yaml")), stage, read_declared(stage).params)
    scale = params.data.scale
    runtime = resolve_eval_runtime(params.runtime.device)
    sets = {name: load_eval_set(test_root / name, scale) for name in params.data.test}
    scorer = make_scorer(scale, runtime, params.evaluate.lpips_required)
    if stage == "evaluate_bicubic":
        baseline, per_image = evaluate_bicubic(sets, scorer, runtime)
        write_baseline_evaluation(hr_json, evaluate_hr(sets, scale))
        write_baseline_evaluation(record_json, baseline)
    else:
        protocol = as_run_protocol(params.study_code, experiment)
        record, per_image = evaluate_run(run_dir, sets, scorer, runtime, params.evaluate.tile_px, protocol)
        if record.seed != seed:
            raise SrganError(f"{run_dir} was trained with seed {record.seed}, not {seed}; check the stage's arguments")
        write_run_evaluation(record_json, record)
    write_per_image(per_image_csv, per_image)


if __name__ == "__main__":
    run_main(main)
