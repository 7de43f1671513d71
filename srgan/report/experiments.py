"""`srgan experiments`: the workspace, commits and DVC experiments in one readable table.

`dvc exp show` lists every param and metric, one column each, named by file and key: hundreds of
columns. This reads the same data (`dvc exp show --json`) and writes, for each row, only what differs
from the baseline (HEAD): the params that changed, and for every model whose headline moved (the
DVC metrics: PSNR-Y and NIQE-Y at its headline checkpoint, `srgan.report.metrics_files`) its values,
their change, and whether the change of PSNR-Y is real — the comparison `srgan compare` makes, with
the training seed as the unit (`srgan.report.stats`), from the per-image scores git holds for both
revisions. Every line fits 120 columns.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srgan.core.errors import SrganError
from srgan.core.metric_table import METRICS, headline_keys
from srgan.report.compare import ModelSpec, compare, git_reader
from srgan.report.stats import INDISTINGUISHABLE

WIDTH = 120
METRICS_DIR = "metrics/"  # the DVC metrics: headline files (srgan.report.metrics_files)
NOT_MODELS = ("bicubic", "hr")  # metrics files that are no trained model
VERDICT_METRIC = "psnr_y_db"  # whose move is tested against seed noise
FINER = 1  # decimals beyond the report's tables: a headline that moved by less than their last digit shows it


@dataclass(frozen=True)
class ExpRow:
    """One row of `dvc exp show`: the workspace, a commit, or an experiment of a commit."""

    name: str  # 'workspace', the branch or short sha of a commit, an experiment's name
    rev: str | None  # the commit to read git files at; None: the working tree
    kind: str  # 'workspace' | 'commit' | 'experiment'
    params: dict[str, Any]  # params.yaml, flattened to dotted keys
    metrics: dict[str, dict[str, dict[str, float]]]  # {metrics file: {set: {metric: value}}}
    error: str = ""  # why DVC has no data for it (a failed or queued experiment)
    of: str = ""  # an experiment's commit (its name)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1, 'c': {}}} -> {'a.b': 1, 'a.c': {}}: an empty mapping is a value below the top, no keys at it."""
    if isinstance(data, dict) and (data or not prefix):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def _row(entry: dict, kind: str, of: str = "") -> ExpRow:
    data = entry.get("data") or {}
    params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
    metrics = {path: value.get("data") or {} for path, value in (data.get("metrics") or {}).items()
               if path.startswith(METRICS_DIR)}
    rev = entry.get("rev")
    name = entry.get("name") or ("workspace" if rev == "workspace" else (rev or "?")[:7])
    error = entry.get("error") or {}
    return ExpRow(name=name, rev=None if rev == "workspace" else rev, kind=kind, params=_flatten(params),
                  metrics=metrics, error=(error.get("msg") or "failed") if error else "", of=of)


def rows_from_json(shown: list[dict]) -> list[ExpRow]:
    """The rows of `dvc exp show --json`: the workspace, then each commit followed by its experiments."""
    rows = []
    for entry in shown:
        kind = "workspace" if entry.get("rev") == "workspace" else "commit"
        commit = _row(entry, kind)
        rows.append(commit)
        for experiment in entry.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                rows.append(_row({**rev, "name": rev.get("name") or experiment.get("name")}, "experiment",
                                 of=commit.name))
    return rows


def read_rows(root: Path, commits: int = 1) -> list[ExpRow]:
    """`dvc exp show --json -n commits` in the project at `root`, as rows."""
    try:
        done = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json", "-n", str(commits)], cwd=root,
                              capture_output=True, text=True, check=False)
    except OSError as e:
        raise SrganError(f"could not run dvc in {root}: {e}") from None
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SrganError(f"dvc exp show failed in {root}: {last}")
    return rows_from_json(json.loads(done.stdout))


# ---------------------------------------------------------------- what differs


@dataclass(frozen=True)
class Moved:
    """A model whose headline differs from the baseline's on one test set."""

    model: str  # 'srgan/hybrid_vgg19_5_4'
    test_set: str
    values: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (this row's, baseline's)


def param_changes(row: ExpRow, base: ExpRow) -> list[tuple[str, Any, Any]]:
    """(key, baseline's value, this row's) of every params key that differs (added: baseline None)."""
    keys = list(dict.fromkeys([*base.params, *row.params]))
    return [(k, base.params.get(k), row.params.get(k)) for k in keys if base.params.get(k) != row.params.get(k)]


def _model(path: str) -> str | None:
    name = path.removeprefix(METRICS_DIR).removesuffix(".json")
    return None if name in NOT_MODELS else name


def one_sided(row: ExpRow, base: ExpRow) -> tuple[list[str], list[str]]:
    """(models with a headline in this row only, models with one in the baseline only)."""
    mine = [m for m in map(_model, row.metrics) if m]
    theirs = [m for m in map(_model, base.metrics) if m]
    return [m for m in mine if m not in theirs], [m for m in theirs if m not in mine]


def moved_models(row: ExpRow, base: ExpRow) -> list[Moved]:
    """Every (model, test set) of a model both sides score whose PSNR-Y or NIQE-Y differs from the baseline's."""
    out = []
    for path in dict.fromkeys([*base.metrics, *row.metrics]):
        model = _model(path)
        if model is None or path not in row.metrics or path not in base.metrics:
            continue
        mine, theirs = row.metrics[path], base.metrics[path]
        for test_set in dict.fromkeys([*theirs, *mine]):
            values = {key: (mine.get(test_set, {}).get(key, math.nan), theirs.get(test_set, {}).get(key, math.nan))
                      for key in headline_keys()}
            # missing on one side counts as moved; missing on both (a metrics file keeps finite values only) does not
            if any(not (a == b or math.isnan(a) and math.isnan(b)) for a, b in values.values()):
                out.append(Moved(model, test_set, values))
    return out


def psnr_verdict(root: Path, row: ExpRow, base: ExpRow, model: str) -> str:
    """'A better' / 'A worse' / 'no verdict: <reason>' for PSNR-Y of `model` (this row − the baseline), or why
    there is no comparison (the per-image table of a side lacks it)."""
    try:
        result = compare(ModelSpec(row.rev, model, None), ModelSpec(base.rev, model, None), VERDICT_METRIC,
                         git_reader(root))
    except SrganError:
        return "not compared: a side's report/per_image.csv lacks it"
    pooled = result.rows.iloc[-1]
    if pooled["verdict"] == INDISTINGUISHABLE:
        return f"no verdict: {pooled['reason'].split(':')[0]}"
    return f"{'better' if pooled['verdict'] == 'better' else 'worse'} (95 % CI over seeds)"


# ---------------------------------------------------------------- text


def _value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else ("–" if value is None else str(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _signed(x: float, digits: int) -> str:
    if math.isnan(x):
        return "–"
    return ("+" if x > 0 else "") + f"{x:.{digits}f}".replace("-", "−") if x != 0 else f"{0:.{digits}f}"


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def experiments_text(rows: list[ExpRow], root: Path, verdicts: bool = True) -> str:
    """The table: a block per row that differs from the baseline (the first commit), each line within WIDTH."""
    commits = [r for r in rows if r.kind == "commit"]
    if not commits:
        raise SrganError("dvc exp show lists no commit: commit the project first (git commit)")
    base = commits[0]
    lines = [_fit(f"Against {base.name} ({(base.rev or '')[:7]}): params that differ, and each model whose headline "
                  "moved:"),
             _fit(f"this − baseline, and whether {METRICS[VERDICT_METRIC].label} moved beyond seed noise (the training "
                  "seed as the unit)."), ""]
    for row in rows:
        if row is base:
            continue
        where = {"experiment": f"experiment of {row.of}, {(row.rev or '')[:7]}", "commit": (row.rev or "")[:7],
                 "workspace": "the working tree"}[row.kind]
        lines.append(_fit(f"{row.name} ({where})"))
        if row.error:
            lines.append(_fit(f"  no results: {row.error}"))
            continue
        changes = param_changes(row, base)
        moved = moved_models(row, base)
        only_here, only_there = one_sided(row, base)
        if not changes and not moved and not only_here and not only_there:
            lines.append("  as the baseline: no param and no headline differ")
        for key, old, new in changes:
            lines.append(_fit(f"  {key}: {_value(old)} → {_value(new)}"))
        verdict_of: dict[str, str] = {}
        for item in moved:
            if verdicts and item.model not in verdict_of:
                verdict_of[item.model] = psnr_verdict(root, row, base, item.model)
            parts = []
            for key, (new, old) in item.values.items():
                metric = METRICS[key]
                digits, suffix = metric.decimals + FINER, f" {metric.unit}" if metric.unit else ""
                shown = "–" if math.isnan(new) else f"{new:.{digits}f}"
                parts.append(f"{metric.label} {shown}{suffix} ({_signed(new - old, digits)})")
            verdict = f"  {verdict_of[item.model]}" if verdicts else ""
            lines.append(_fit(f"  {item.model} {item.test_set}: {'  '.join(parts)}{verdict}"))
        for models, where in ((only_here, "here only"), (only_there, "in the baseline only")):
            if models:
                lines.append(_fit(f"  headlines {where}: {', '.join(models)}"))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit("error: srgan.report.experiments is a library module, not a command: run `srgan experiments`")
