"""The numbers people compare, kept in git: numeric JSON files for `dvc metrics` and `dvc exp show`.

Written by the report stage from the cached evaluation records, into git, so `dvc metrics show`,
`dvc metrics diff <any commit>` and `dvc exp show` read them from git alone, in any clone, offline.
Two folders:

  metrics/ (DVC `metrics`, cache: false): the headline of every scored model, one file each
    metrics/<experiment>/<variant>.json   the headline metrics (`Metric.headline` in
                                          `srgan.core.metric_table`: PSNR-Y and NIQE-Y) at the headline
                                          checkpoint (SRResNet: its best, an SRGAN: its last), the mean over seeds
    metrics/bicubic.json, metrics/hr.json bicubic upscaling; HR itself (NIQE only: the natural-image reference)
  report/metrics/ (part of the report's output, not declared as metrics): every metric of every checkpoint
    report/metrics/<experiment>/<variant>/<label>.json   + `<metric>_sd` over seeds, + the study protocol as run
    report/metrics/bicubic.json

A change of one loss weight changes one model's headline: two columns in `dvc exp show
--only-changed` beside the changed param (with every metric of both checkpoints it was fourteen, and
DVC hid the param behind them). `dvc metrics show report/metrics/...` and `dvc metrics diff --targets
report/metrics/...` read the full files the same way. Each file is {<set>: {<metric>: value}}, numbers
only, all finite, the same keys in every file of a folder; a metric without a value is left out (LPIPS-
Alex when its weights are unavailable, a chroma ratio on a gray set). Provenance — the loss mix,
checkpoint files, extractor weights, LPIPS status — stays in the evaluation records
(`srgan.core.records`), never in a metrics file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from srgan.core.artifacts import atomic_path, write_json_atomic
from srgan.core.metric_table import METRICS, STUDY, headline_keys, keys_of  # METRICS order in every file
from srgan.report.inputs import BICUBIC, Scored

FULL_DIR = "metrics"  # inside the report folder: every metric of every checkpoint
AS_RUN_SUFFIX = "_as_run"  # the study-protocol metrics as the study's code scored them
SD_SUFFIX = "_sd"  # the standard deviation over seeds (several seeds only)


def metrics_file(experiment: str, variant: str, label: str) -> str:
    """Relative path (in report/metrics/) of a scored model's full file: 'srgan/vgg19_5_4/step16.json',
    'bicubic.json'."""
    if experiment == BICUBIC:
        return f"{BICUBIC}.json"
    return f"{experiment}/{variant}/{label}.json"


def headline_file(experiment: str, variant: str) -> str:
    """Relative path (in metrics/) of a model's headline: 'srgan/vgg19_5_4.json', 'bicubic.json'."""
    return f"{BICUBIC}.json" if experiment == BICUBIC else f"{experiment}/{variant}.json"


def headline_metrics(item: Scored, sets: Sequence[str]) -> dict[str, dict[str, float]]:
    """{set: {headline metric: value}} of one scored model (psnr_y_db, niqe_y): the means over seeds, finite
    numbers only."""
    return {set_name: _numbers(item.results[set_name], headline_keys()) for set_name in sets}


def _numbers(scores: dict[str, float], keys: Sequence[str], suffix: str = "") -> dict[str, float]:
    out = {}
    for key in keys:
        value = scores.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key + suffix] = float(value)
    return out


def model_metrics(item: Scored, sets: Sequence[str]) -> dict[str, dict[str, float]]:
    """{set: {metric: value}} of one scored model: finite numbers only, METRICS order (the means over
    seeds), their standard deviations over seeds (several seeds), then the study-protocol metrics as run
    (when it was scored)."""
    out = {}
    for set_name in sets:
        values = _numbers(item.results[set_name], list(METRICS))
        if item.spread is not None:
            values.update(_numbers(item.spread[set_name], list(METRICS), SD_SUFFIX))
        if item.as_run is not None:
            values.update(_numbers(item.as_run.get(set_name, {}), keys_of(STUDY), AS_RUN_SUFFIX))
        out[set_name] = values
    return out


def full_files(scored: Sequence[Scored], sets: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{relative path in report/metrics/: {set: {metric: value}}} of every scored model and checkpoint."""
    return {metrics_file(item.experiment, item.variant, item.checkpoint): model_metrics(item, sets) for item in scored}


def headline_files(scored: Sequence[Scored], hr_niqe: dict[str, float],
                   sets: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{relative path in metrics/: {set: {metric: value}}}: each model at its headline checkpoint (`scored` lists a
    run's checkpoints in order: SRResNet its best, an SRGAN its last one wins), bicubic, and HR's NIQE."""
    files = {headline_file(item.experiment, item.variant): headline_metrics(item, sets) for item in scored}
    files["hr.json"] = {s: _numbers({"niqe_y": hr_niqe[s]}, ("niqe_y",)) for s in sets}
    return files


def write_json_folder(out_dir: Path, files: dict[str, dict[str, dict[str, float]]]) -> list[Path]:
    """Write `out_dir` atomically with exactly `files` ({relative path: data}); returns their relative paths."""
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for relative, data in files.items():
            write_json_atomic(tmp / relative, data)
    return [Path(relative) for relative in files]
