"""The numbers people compare, kept in git: one numeric JSON per scored model, for `dvc metrics`.

Written by the report stage from the cached evaluation records, into a folder declared as DVC
`metrics` with `cache: false`, so `dvc metrics show`, `dvc metrics diff <any commit>` and `dvc exp
show` read them from git alone, in any clone, offline:

  metrics/<experiment>/<variant>/<label>.json   srresnet/mse/best.json, srgan/vgg19_5_4/step16.json
  metrics/bicubic.json                          bicubic upscaling
  metrics/hr.json                               HR itself (NIQE only: the natural-image reference)

Each file is {<set>: {<metric>: value}} and holds numbers only, all finite: `dvc metrics show` then
has one row per scored model and one column per `<set>.<metric>`, the same keys in every file. A
value is the mean over the run's seeds (params `seeds`); with several seeds each metric also has
`<metric>_sd`, the sample standard deviation over seeds. A metric without a value is left out
(LPIPS-Alex when its weights are unavailable, a chroma ratio on a gray set). Provenance — the loss mix, checkpoint files, extractor weights, LPIPS status — stays in
the evaluation records (`srgan.core.records`), never in a metrics file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from srgan.core.artifacts import atomic_path, write_json_atomic
from srgan.core.evaluation_records import METRIC_KEYS  # in this order in every file (DVC sorts columns anyway)
from srgan.report.inputs import BICUBIC, Scored

AS_RUN_KEYS = ("psnr_rgb_db", "ms_ssim_rgb")  # the study protocol as the study ran it, suffixed "_as_run"
AS_RUN_SUFFIX = "_as_run"
SD_SUFFIX = "_sd"  # the standard deviation over seeds (several seeds only)


def metrics_file(experiment: str, variant: str, label: str) -> str:
    """Relative path of a scored model's metrics file: 'srgan/vgg19_5_4/step16.json', 'bicubic.json'."""
    if experiment == BICUBIC:
        return f"{BICUBIC}.json"
    return f"{experiment}/{variant}/{label}.json"


def _numbers(scores: dict[str, float], keys: Sequence[str], suffix: str = "") -> dict[str, float]:
    out = {}
    for key in keys:
        value = scores.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key + suffix] = float(value)
    return out


def model_metrics(item: Scored, sets: Sequence[str]) -> dict[str, dict[str, float]]:
    """{set: {metric: value}} of one scored model: finite numbers only, METRIC_KEYS order (the means over
    seeds), their standard deviations over seeds (several seeds), then the study protocol as run (when it
    was scored)."""
    out = {}
    for set_name in sets:
        values = _numbers(item.results[set_name], METRIC_KEYS)
        if item.spread is not None:
            values.update(_numbers(item.spread[set_name], METRIC_KEYS, SD_SUFFIX))
        if item.as_run is not None:
            values.update(_numbers(item.as_run.get(set_name, {}), AS_RUN_KEYS, AS_RUN_SUFFIX))
        out[set_name] = values
    return out


def write_metrics_folder(out_dir: Path, scored: Sequence[Scored], hr_niqe: dict[str, float],
                         sets: Sequence[str]) -> list[Path]:
    """Write `out_dir` atomically (every file above, nothing else); returns the files' relative paths."""
    files: dict[str, dict[str, dict[str, float]]] = {
        metrics_file(item.experiment, item.variant, item.checkpoint): model_metrics(item, sets) for item in scored}
    files["hr.json"] = {s: _numbers({"niqe_y": hr_niqe[s]}, ("niqe_y",)) for s in sets}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for relative, data in files.items():
            write_json_atomic(tmp / relative, data)
    return [Path(relative) for relative in files]
