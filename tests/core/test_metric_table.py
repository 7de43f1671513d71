"""Tests for srgan.core.metric_table: one literal table of metrics that every reader reads and none repeats.

A made-up entry is followed through the evaluation summaries, the per-image records, the report's tables,
statistics, metrics files, `srgan experiments` and the command line's help; the readers' source is read for
what the table used to be copied as (labels, key lists, key-with-number tuples). That the scoring computes
exactly the table's keys is tests/scoring/test_evaluate.py's.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srgan.core.metric_table import (
    CLOSER_TO_1,
    HIGHER,
    LOWER,
    METRICS,
    PAPER,
    PROTOCOLS,
    STUDY,
    Metric,
    headline_keys,
    keys_of,
    metric_info,
)

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "srgan" / "core" / "metric_table.py"
# Every module that names, orders, shows or compares metrics: each reads the table.
READERS = ("srgan/core/evaluation_records.py", "srgan/scoring/evaluate.py", "srgan/report/tables.py",
           "srgan/report/stats.py", "srgan/report/metrics_files.py", "srgan/report/differences.py",
           "srgan/report/experiments.py", "srgan/report/build.py", "srgan/report/curves.py",
           "srgan/report/snapshot.py", "srgan/report/compare.py", "srgan/cli.py")
# Named choices of metrics, not copies of their facts: (module, name) -> what it selects.
SELECTIONS = {
    ("srgan/report/tables.py", "HEADLINE_METRICS"): "the report's headline table (and its differences)",
    ("srgan/report/tables.py", "COLOUR_METRICS"): "the colour table's columns",
    ("srgan/report/build.py", "VALID_METRICS"): "what training validation scores (its curves)",
    ("srgan/report/build.py", "CAPTION_METRICS"): "the scores under each grid panel",
}
FAKE = "fake_db"


def test_the_table_is_one_literal_in_a_module_without_torch_or_pandas() -> None:
    tree = ast.parse(TABLE.read_text(encoding="utf-8"))
    assigned = [node for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "METRICS" for t in node.targets)]
    assert len(assigned) == 1 and isinstance(assigned[0].value, ast.Dict)  # one literal, no registration
    assert all(isinstance(v, ast.Call) and v.func.id == "Metric" for v in assigned[0].value.values)
    code = "import sys, srgan.core.metric_table; sys.exit('torch' in sys.modules or 'pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT).returncode == 0


def test_every_entry_is_complete_and_consistent() -> None:
    assert list(METRICS) == ["psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb", "niqe_y", "lpips_alex",
                             "chroma_ratio", "delta_e00"]  # the column order of every table and file
    labels = [m.label for m in METRICS.values()]
    assert len(set(labels)) == len(labels)
    for key, metric in METRICS.items():
        assert metric.better in (HIGHER, LOWER, CLOSER_TO_1) and metric.protocol in PROTOCOLS, key
        assert metric.decimals >= 1 and metric.planning_diff > 0 and metric.what, key
        assert key.endswith("_db") == (metric.unit == "dB"), key  # the key carries the unit
    assert keys_of(STUDY) == ["psnr_rgb_db", "ms_ssim_rgb"] and headline_keys() == ["psnr_y_db", "niqe_y"]
    assert METRICS["psnr_y_db"].label_unit == "PSNR-Y (dB)" and METRICS["ssim_y"].label_unit == "SSIM-Y"
    assert METRICS["chroma_ratio"].higher_is_better is False  # |ratio − 1| is compared
    assert metric_info("niqe_y") is METRICS["niqe_y"]
    with pytest.raises(Exception, match="unknown metric 'psnr'; choose one of psnr_y_db, ssim_y"):
        metric_info("psnr")


# ---------------------------------------------------------------- every reader reads it, none repeats it


def _imports_the_table(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "srgan.core.metric_table" for node in ast.walk(tree))


def _docstrings(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def repeated_facts(source: str, where: str) -> list[str]:
    """What a module's code repeats of the table: a metric's label in a string (outside docstrings), two metric
    keys in one string, a literal list of two or more keys that is not a named selection (SELECTIONS), a key
    paired with a constant in a literal (a label, a unit, decimals)."""
    tree = ast.parse(source)
    docs, keys = _docstrings(tree), set(METRICS)
    labels = [re.compile(rf"(?<![\w-]){re.escape(m.label)}(?![\w-])") for m in METRICS.values()]
    named = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and (where, t.id) in SELECTIONS for t in node.targets)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found += [f"line {node.lineno}: label in {node.value[:50]!r}" for rx in labels if rx.search(node.value)]
            if sum(bool(re.search(rf"\b{k}\b", node.value)) for k in keys) >= 2:
                found.append(f"line {node.lineno}: metric keys in {node.value[:50]!r}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            constants = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            listed = [c for c in constants if c in keys]
            if len(listed) >= 2 and id(node) not in named:
                found.append(f"line {node.lineno}: a literal list of metrics {listed}")
            if listed and any(isinstance(c, (int, float)) and not isinstance(c, bool) for c in constants):
                found.append(f"line {node.lineno}: {listed[0]} beside a number")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                parts = value.elts if isinstance(value, ast.Tuple) else getattr(value, "args", [])
                if isinstance(key, ast.Constant) and key.value in keys and any(isinstance(a, ast.Constant)
                                                                              for a in parts):
                    found.append(f"line {node.lineno}: {key.value} mapped to constants")
    return found


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_imports_the_table(reader: str) -> None:
    assert _imports_the_table(ast.parse((ROOT / reader).read_text(encoding="utf-8"))), reader


def test_no_module_that_reads_the_table_repeats_its_facts() -> None:
    readers = [p for p in sorted((ROOT / "srgan").rglob("*.py")) if p != TABLE
               and _imports_the_table(ast.parse(p.read_text(encoding="utf-8")))]
    assert {p.relative_to(ROOT).as_posix() for p in readers} >= set(READERS)
    problems = {p.relative_to(ROOT).as_posix(): found for p in readers
                if (found := repeated_facts(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix()))}
    assert not problems, problems
    for module, name in SELECTIONS:  # each named selection exists and names known metrics
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        values = [n.value for n in tree.body if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
        assert len(values) == 1 and all(e.value in METRICS for e in values[0].elts), (module, name)


def test_the_check_catches_the_copies_the_table_replaced() -> None:
    """The forms the facts used to be repeated in (at dce678d) are each caught; reading the table is not."""
    copies = {
        'METRIC_ROWS = {"psnr_y_db": ("PSNR-Y (dB) ↑", 2), "ssim_y": ("SSIM-Y ↑", 4)}': "label",
        'DISTORTION_KEYS = ("psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb")': "a literal list",
        'HEADLINE = (("psnr_y_db", "dB", 3), ("niqe_y", "", 3))': "beside a number",
        'METRICS = {"psnr_y_db": Metric("dB", 2, HIGHER, 0.10)}': "mapped to constants",
        'HELP = "a per-image metric: psnr_y_db (default), ssim_y, niqe_y"': "metric keys",
        'y_label = "NIQE-Y (lower = more natural)"': "label",
    }
    for source, what in copies.items():
        found = repeated_facts(source, "srgan/report/x.py")
        assert any(what in f for f in found), (source, found)
    reading = ('label = METRICS["psnr_y_db"].label\nrow = {key: scores.get(key) for key in METRICS}\n'
               'out = {"psnr_rgb_db": float(psnr_rgb(a, b)), "ms_ssim_rgb": float(ms_ssim(a, b))}\n')
    assert repeated_facts(reading, "srgan/report/x.py") == []


def test_no_training_stage_depends_on_the_table() -> None:
    """Training closures stay free of it: a label or decimals edit reruns evaluations and the report, never a
    training stage (a prepare stage's closure neither)."""
    from srgan.pipeline.code_deps import import_closure

    table = TABLE.relative_to(ROOT)
    for script in sorted((ROOT / "stages").glob("*.py")):
        closure = import_closure(script, ROOT)
        if script.stem.startswith(("train", "prepare", "_")):
            assert table not in closure, script.name
    assert table in import_closure(ROOT / "stages" / "evaluate.py", ROOT)


# ---------------------------------------------------------------- a made-up entry flows everywhere


@pytest.fixture
def fake_metric(monkeypatch: pytest.MonkeyPatch) -> Metric:
    """A study-protocol, lower-is-better score in dB with one decimal, in the DVC headline."""
    metric = Metric("Fake-Y", "dB", 1, LOWER, STUDY, 0.5, "a score made up by the test", headline=True)
    monkeypatch.setitem(METRICS, FAKE, metric)
    return metric


def _per_image(shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"checkpoint": "best", "set": "s", "image": f"i{i}", "gray": False, "seed": seed,
             "psnr_y_db": 30.0 + rng.normal(), FAKE: 10.0 + i + shift + 0.05 * rng.normal()}
            for seed in (0, 1, 2) for i in range(4)]
    return pd.DataFrame(rows)


def test_a_made_up_metric_reaches_the_summaries_and_the_per_image_records(fake_metric: Metric, tmp_path: Path) -> None:
    from srgan.core.evaluation_records import read_per_image, write_per_image
    from srgan.scoring.evaluate import summarize

    table = _per_image(0.0).drop(columns="seed")
    assert list(summarize(table)) == ["psnr_y_db", FAKE, "images"]  # the table's order
    assert summarize(table)[FAKE] == pytest.approx(table[FAKE].mean(), abs=1e-4)
    write_per_image(tmp_path / "v.csv", table[[FAKE, *table.columns.drop(FAKE)]])
    assert list(read_per_image(tmp_path / "v.csv").columns) == ["checkpoint", "set", "image", "gray", "psnr_y_db",
                                                                FAKE]


def test_a_made_up_metric_reaches_the_report_tables(fake_metric: Metric) -> None:
    from srgan.core.records import ScoredCheckpoint
    from srgan.report.inputs import Scored
    from srgan.report.tables import experiment_table, row_label, spread_table, to_markdown

    results = {"set5": {"psnr_y_db": 28.0, FAKE: 12.345}}
    point = ScoredCheckpoint("best", "best.pt", 10, "step", 10)
    mse = Scored("srresnet", "mse", "best", results, None, {}, {"mse": 1.0}, point=point, seeds=(0, 1),
                 spread={"set5": {FAKE: 0.25}})
    bicubic = Scored("bicubic", "bicubic", "bicubic", {"set5": {FAKE: 20.0}}, None, {}, {})
    label = row_label(FAKE)
    assert label == "Fake-Y (dB, study protocol) ↓"
    table = experiment_table([mse], bicubic, 5.0, "set5", "srresnet")
    assert table.loc[label, "mse"] == 12.345 and table.loc[label, "bicubic"] == 20.0
    # a study-protocol metric gets the rows beside the study's published numbers (which it has none of)
    assert "Fake-Y: study, SRResNet (published)" in table.index and "Fake-Y: ours − published" in table.index
    text = to_markdown(table, spread_table([mse], "set5"))
    assert re.search(r"\| Fake-Y \(dB, study protocol\) ↓\s*\|\s*12\.3 ± 0\.2 \|\s*20\.0 \|", text), text


def test_a_made_up_metric_reaches_the_statistics(fake_metric: Metric) -> None:
    from srgan.report.stats import compare_models

    result = compare_models(_per_image(1.0), _per_image(0.0), FAKE, names=("a", "b"))
    assert result.text.splitlines()[0] == "Fake-Y (dB), A − B (lower is better): A = a, B = b"
    assert "Planning (all sets): 0.5 dB at 80 % power" in result.text
    pooled = result.rows.iloc[-1]
    assert pooled["verdict"] == "worse" and pooled["mean_diff"] == pytest.approx(1.0, abs=0.1)
    assert pooled["sentence"].startswith("A − B = +1.0 dB (95 % CI ")


def test_a_made_up_metric_reaches_the_metrics_files_and_srgan_experiments(fake_metric: Metric) -> None:
    from srgan.core.evaluation_records import AsRunScoring
    from srgan.report.experiments import ExpRow, experiments_text, moved_models
    from srgan.report.inputs import Scored
    from srgan.report.metrics_files import headline_metrics, model_metrics

    item = Scored("srgan", "x", "step10", {"s": {"psnr_y_db": 28.0, "niqe_y": 6.0, FAKE: 3.25}}, None, {}, {},
                  as_run={"s": {FAKE: 4.0, "psnr_rgb_db": 20.0}}, as_run_scoring=AsRunScoring({}, "eval", True))
    assert headline_metrics(item, ["s"]) == {"s": {"psnr_y_db": 28.0, "niqe_y": 6.0, FAKE: 3.25}}
    assert model_metrics(item, ["s"])["s"] == {"psnr_y_db": 28.0, "niqe_y": 6.0, FAKE: 3.25, "psnr_rgb_db_as_run": 20.0,
                                              f"{FAKE}_as_run": 4.0}
    path = "metrics/srgan/x.json"
    base = ExpRow("main", "a" * 40, "commit", {}, {path: headline_metrics(item, ["s"])})
    row = ExpRow("e1", "b" * 40, "experiment", {}, {path: {"s": {"psnr_y_db": 28.0, "niqe_y": 6.0, FAKE: 3.5}}},
                 of="main")
    (moved,) = moved_models(row, base)
    assert moved.values[FAKE] == (3.5, 3.25)
    assert "Fake-Y 3.50 dB (+0.25)" in experiments_text([base, row], ROOT, verdicts=False)  # 1 decimal, one finer


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    from srgan.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_a_made_up_metric_reaches_the_command_lines_help(fake_metric: Metric,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    evaluate = _help("evaluate", capsys)
    assert "fake_db Fake-Y (dB), lower is better, study protocol: a score made up by the test" in evaluate
    assert "fake_db (default psnr_y_db)" in _help("compare", capsys)
    assert "(PSNR-Y and NIQE-Y and Fake-Y at its headline" in _help("experiments", capsys)


def test_protocols_name_what_separates_them() -> None:
    assert PROTOCOLS[PAPER].name == "paper protocol" and "`scale` px" in PROTOCOLS[PAPER].what
    assert PROTOCOLS[STUDY].name == "study protocol" and "no border removed" in PROTOCOLS[STUDY].what
    assert not math.isnan(METRICS["psnr_y_db"].planning_diff)
