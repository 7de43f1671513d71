"""Stage `report`: tables, comparison grids, training curves and metric charts of every model.

usage: python stages/report.py METRICS_DIR MODELS_DIR LOGS_DIR PREPARED_DIR OUT_DIR
"""

from pathlib import Path

from srgan.console import run_main
from srgan.config import load_params
from srgan.errors import SrganError
from srgan.report import build_report
from srgan.runtime import resolve_runtime


def main(argv: list[str]) -> None:
    if len(argv) != 6:
        raise SrganError("usage: python stages/report.py METRICS_DIR MODELS_DIR LOGS_DIR PREPARED_DIR OUT_DIR")
    metrics_dir, models_dir, logs_dir, prepared_dir, out_dir = (Path(a) for a in argv[1:])
    params = load_params(Path("params.yaml"))
    build_report(
        metrics_dir=metrics_dir,
        models_dir=models_dir,
        logs_dir=logs_dir,
        prepared_dir=prepared_dir,
        out_dir=out_dir,
        losses=params.finetune.losses,
        sets=params.evaluate.sets,
        scale=params.data.scale,
        report=params.report,
        runtime=resolve_runtime(params.runtime),
    )


if __name__ == "__main__":
    run_main(main)
