"""Stage `report`: tables, colour fidelity, perception-distortion planes, visual grids and curves, and the
git-tracked metrics (one numeric JSON per scored model).

usage: python -m stages.report EVALUATION_DIR MODELS_DIR PLOTS_DIR TEST_ROOT OUT_DIR METRICS_DIR
"""

from pathlib import Path

from srgan.core.config import load_params, variant_names
from srgan.core.console import run_main
from srgan.core.declared import read_declared
from srgan.core.errors import SrganError
from srgan.core.runtime import resolve_eval_runtime
from srgan.core.sections import params_view
from srgan.losses.terms import check_all_variant_terms
from srgan.report.build import build_report


def main(argv: list[str]) -> None:
    if len(argv) != 7:
        raise SrganError("usage: python -m stages.report EVALUATION_DIR MODELS_DIR PLOTS_DIR TEST_ROOT OUT_DIR "
                         "METRICS_DIR")
    evaluation_dir, models_dir, plots_dir, test_root, out_dir, metrics_dir = (Path(a) for a in argv[1:])
    full = load_params(Path("params.yaml"))
    check_all_variant_terms({"srresnet": full.srresnet.variants, "srgan": full.srgan.variants})
    params = params_view(full, "report", read_declared("report").params)
    build_report(
        evaluation_dir=evaluation_dir,
        models_dir=models_dir,
        plots_dir=plots_dir,
        test_root=test_root,
        out_dir=out_dir,
        metrics_dir=metrics_dir,
        experiments={"srresnet": variant_names(params.srresnet), "srgan": variant_names(params.srgan)},
        sets=list(params.data.test),
        seeds=list(params.seeds),
        scale=params.data.scale,
        report=params.report,
        # The grids run the generators as evaluation does: fp32, NHWC.
        runtime=resolve_eval_runtime(params.runtime.device),
    )


if __name__ == "__main__":
    run_main(main)
