"""Stage `report`: tables of every model on every evaluation set, in the study's layout.

usage: python stages/report.py METRICS_DIR OUT_DIR
"""

from pathlib import Path

from srgan.cli import run_main
from srgan.config import load_params
from srgan.report import load_metrics, write_report


def main(argv: list[str]) -> None:
    metrics_dir, out_dir = Path(argv[1]), Path(argv[2])
    params = load_params(Path("params.yaml"))
    models = ["bicubic", "srresnet"] + [f"srgan_{loss}" for loss in params.finetune.losses]
    results = load_metrics(metrics_dir, models)
    notes = []
    if any("random" in r.get("feature_weights", "") for r in results.values()):
        notes.append(
            "**Warning:** some feature losses used randomly initialised extractors because ImageNet "
            "weights were unavailable (offline); their numbers are not the study's losses."
        )
    write_report(results, list(params.evaluate.sets), out_dir, notes)


if __name__ == "__main__":
    run_main(main)
