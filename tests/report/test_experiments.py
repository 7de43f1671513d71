"""`srgan experiments`: rows from `dvc exp show --json`, what differs from the baseline, and a text within 120
columns (constructed JSON as DVC 3.67 writes it; the pipeline test runs it on a real experiment)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srgan.core.errors import SrganError
from srgan.report import experiments
from srgan.report.compare import ModelSpec
from srgan.report.experiments import (
    WIDTH,
    ExpRow,
    Moved,
    _fit,
    _flatten,
    _model,
    _row,
    _signed,
    _value,
    experiments_text,
    moved_models,
    one_sided,
    param_changes,
    psnr_verdict,
    read_rows,
    rows_from_json,
)
from srgan.report.stats import BETTER, HOLDS_ZERO, INDISTINGUISHABLE, ONE_SEED, WORSE

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}


def _entry(rev: str, name: str | None, weight: float, psnr: float, niqe: float, experiments=None, error=None) -> dict:
    return {"rev": rev, "name": name, "error": error, "experiments": experiments, "data": {
        "rev": rev, "params": {"params.yaml": {"data": {"seeds": [0], "srgan": {
            "variants": {"hybrid_vgg19_5_4": {"mse": weight, "vgg19_5_4": 0.4}}, "steps": 10}}}},
        "metrics": {"metrics/bicubic.json": {"data": {"sample": {"psnr_y_db": 28.02, "niqe_y": 7.51}}},
                    "metrics/srgan/mse.json": {"data": {"sample": {"psnr_y_db": 28.12, "niqe_y": 6.63}}},
                    "metrics/srgan/hybrid_vgg19_5_4.json": {"data": {"sample": {"psnr_y_db": psnr, "niqe_y": niqe}}},
                    "report/metrics/srgan/mse/step10.json": {"data": {"sample": {"ssim_y": 0.7}}}},
        "deps": {"models": {"hash": "x.dir"}}}}


def _shown() -> list[dict]:
    experiment = {"revs": [_entry("98b8240" + "0" * 33, "mse05", 0.5, 28.106, 6.567)], "executor": None,
                  "name": "mse05"}
    failed = {"revs": [{"rev": "1" * 40, "name": "broken", "data": {}, "error": {"msg": "failed to reproduce"},
                        "experiments": None}], "executor": None, "name": "broken"}
    return [_entry("workspace", None, 0.6, 28.116, 6.633),
            _entry("a" * 40, "main", 0.6, 28.116, 6.633, experiments=[experiment, failed])]


def test_rows_follow_dvc_exp_show() -> None:
    rows = rows_from_json(_shown())
    assert [(r.name, r.kind, r.rev, r.of) for r in rows] == [
        ("workspace", "workspace", None, ""), ("main", "commit", "a" * 40, ""),
        ("mse05", "experiment", "98b8240" + "0" * 33, "main"), ("broken", "experiment", "1" * 40, "main")]
    assert rows[2].params["srgan.variants.hybrid_vgg19_5_4.mse"] == 0.5 and rows[2].params["seeds"] == [0]
    assert set(rows[1].metrics) == {"metrics/bicubic.json", "metrics/srgan/mse.json",
                                    "metrics/srgan/hybrid_vgg19_5_4.json"}  # report/metrics: not the headline
    assert rows[3].error == "failed to reproduce"


def test_what_differs_from_the_baseline() -> None:
    workspace, base, mse05, _ = rows_from_json(_shown())
    assert param_changes(mse05, base) == [("srgan.variants.hybrid_vgg19_5_4.mse", 0.6, 0.5)]
    assert param_changes(workspace, base) == [] and moved_models(workspace, base) == []
    (moved,) = moved_models(mse05, base)
    assert (moved.model, moved.test_set) == ("srgan/hybrid_vgg19_5_4", "sample")
    assert moved.values == {"psnr_y_db": (28.106, 28.116), "niqe_y": (6.567, 6.633)}
    assert one_sided(mse05, base) == ([], [])


def test_the_text_says_what_moved_within_120_columns() -> None:
    text = experiments_text(rows_from_json(_shown()), Path("."), verdicts=False)
    lines = text.splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert lines[0] == "Against main (aaaaaaa): params that differ, and each model whose headline moved:"
    block = text[text.index("mse05"):text.index("broken")].splitlines()
    assert block == ["mse05 (experiment of main, 98b8240)", "  srgan.variants.hybrid_vgg19_5_4.mse: 0.6 → 0.5",
                     "  srgan/hybrid_vgg19_5_4 sample: PSNR-Y 28.106 dB (−0.010)  NIQE-Y 6.5670 (−0.0660)"]
    assert "workspace (the working tree)\n  as the baseline: no param and no headline differ" in text
    assert "broken (experiment of main, 1111111)\n  no results: failed to reproduce" in text
    with pytest.raises(SrganError, match="lists no commit"):
        experiments_text(rows_from_json(_shown()[:1]), Path("."))


def _per_image(shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for seed in (0, 1, 2):
        base = 28 + rng.normal(0, 1.0, 6)
        for i in range(6):
            rows.append({"model": "srgan/hybrid_vgg19_5_4", "seed": seed, "checkpoint": "step10", "set": "sample",
                         "image": f"{i}", "psnr_y_db": base[i] + shift * (1 + 0.01 * seed), "niqe_y": 6.0})
    return pd.DataFrame(rows)


def test_the_verdict_comes_from_the_per_image_scores_of_both_revisions(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=GIT_ENV)
    (tmp_path / "report").mkdir()
    _per_image(0.0).to_csv(tmp_path / "report" / "per_image.csv", index=False)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True, env=GIT_ENV)
    subprocess.run(["git", "commit", "-qm", "base"], cwd=tmp_path, check=True, env=GIT_ENV)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    _per_image(-0.3).to_csv(tmp_path / "report" / "per_image.csv", index=False)  # the workspace: 0.3 dB worse
    shown = _shown()
    shown[1]["rev"] = head
    shown[0]["data"]["metrics"]["metrics/srgan/hybrid_vgg19_5_4.json"]["data"]["sample"]["psnr_y_db"] = 27.816
    text = experiments_text(rows_from_json(shown)[:2], tmp_path)
    assert "srgan/hybrid_vgg19_5_4 sample: PSNR-Y 27.816 dB (−0.300)  NIQE-Y 6.6330 (0.0000)  worse" in text


# ---------------------------------------------------------------- each function on its own

SHA = "0123456789abcdef0123456789abcdef01234567"
NAN = "NaN"  # what a missing headline value is written as in the expected values below


def _headline(**sets: tuple[float, float]) -> dict[str, dict[str, float]]:
    """{set: {psnr_y_db, niqe_y}} of a headline file from set=(PSNR-Y, NIQE-Y)."""
    return {name: {"psnr_y_db": psnr, "niqe_y": niqe} for name, (psnr, niqe) in sets.items()}


def _exp(name: str, kind: str, rev: str | None = SHA, params: dict | None = None, metrics: dict | None = None,
         error: str = "", of: str = "") -> ExpRow:
    return ExpRow(name=name, rev=rev, kind=kind, params=params or {}, metrics=metrics or {}, error=error, of=of)


def _nan_as_text(moved: list[Moved]) -> list[tuple[str, str, dict]]:
    """Moved items with NaN written as NAN (NaN equals nothing, so whole values could not be compared)."""
    return [(m.model, m.test_set, {k: tuple(NAN if isinstance(v, float) and math.isnan(v) else v for v in pair)
                                   for k, pair in m.values.items()}) for m in moved]


def test_flatten_gives_dotted_keys_and_keeps_empty_mappings_and_lists_as_values() -> None:
    params = {"seeds": [0, 1], "srgan": {"steps": 10, "variants": {}, "mse": {"w": 0.5, "on": None}}, "x": "y"}
    assert _flatten(params) == {"seeds": [0, 1], "srgan.steps": 10, "srgan.variants": {}, "srgan.mse.w": 0.5,
                                "srgan.mse.on": None, "x": "y"}
    assert list(_flatten(params)) == ["seeds", "srgan.steps", "srgan.variants", "srgan.mse.w", "srgan.mse.on", "x"]
    assert _flatten({}) == {}  # no params at all: no key (it was one key '', shown as "  : – → {}")
    assert _flatten({"a": {}}) == {"a": {}}
    assert _flatten([1, 2], "a.b.") == {"a.b": [1, 2]} and _flatten("text", "k.") == {"k": "text"}


def test_a_row_of_each_kind_from_its_entry() -> None:
    data = {"params": {"params.yaml": {"data": {"srgan": {"steps": 10}, "seeds": [0]}},
                       "other.yaml": {"data": {"lr": 1}}},
            "metrics": {"metrics/srgan/mse.json": {"data": _headline(sample=(28.1, 6.6))},
                        "metrics/bicubic.json": {"error": {"msg": "unreadable"}},
                        "report/metrics/srgan/mse/step10.json": {"data": {"sample": {"ssim_y": 0.7}}},
                        "dvclive/metrics.json": {"data": {"step": 3}}}}
    metrics = {"metrics/srgan/mse.json": _headline(sample=(28.1, 6.6)), "metrics/bicubic.json": {}}
    params = {"srgan.steps": 10, "seeds": [0]}
    assert _row({"rev": "workspace", "name": None, "error": None, "data": data}, "workspace") == ExpRow(
        "workspace", None, "workspace", params, metrics, "", "")
    assert _row({"rev": SHA, "name": "main", "data": data}, "commit") == ExpRow(
        "main", SHA, "commit", params, metrics, "", "")
    assert _row({"rev": SHA, "name": "", "data": data}, "experiment", of="main") == ExpRow(
        "0123456", SHA, "experiment", params, metrics, "", "main")
    assert _row({"rev": "abc", "data": data}, "commit").name == "abc"
    assert _row({}, "commit") == ExpRow("?", None, "commit", {}, {}, "", "")
    assert _row({"rev": "workspace"}, "workspace") == ExpRow("workspace", None, "workspace", {}, {}, "", "")
    # params.yaml unreadable or absent, no metrics: no keys
    for params_of in ({"params.yaml": {"error": {"msg": "bad yaml"}}}, {"other.yaml": {"data": {"lr": 1}}}, None):
        assert _row({"rev": SHA, "data": {"params": params_of, "metrics": None}}, "commit").params == {}
    errors = [({"msg": "failed to reproduce 'train'"}, "failed to reproduce 'train'"), ({"msg": ""}, "failed"),
              ({"type": "ReproductionError"}, "failed"), ({}, ""), (None, "")]
    for error, shown in errors:
        assert _row({"rev": SHA, "name": "x", "data": {}, "error": error}, "experiment").error == shown


def test_rows_from_json_the_commits_in_order_each_followed_by_its_experiments() -> None:
    sha2, sha3, sha4 = "2" * 40, "3" * 40, "4" * 40
    shown = [{"rev": "workspace", "name": None, "data": {}, "experiments": None},
             {"rev": SHA, "name": "main", "data": {}, "experiments": [
                 {"name": "exp-a", "revs": [{"rev": sha2, "name": None, "data": {}},
                                            {"rev": sha3, "name": "own", "data": {}, "error": {"msg": "queued"}}]},
                 {"name": "exp-b", "revs": None}, {"name": "exp-c"}]},
             {"rev": sha4, "name": None, "data": {}, "experiments": [{"revs": [{"rev": sha2, "data": {}}]}]}]
    assert rows_from_json(shown) == [
        ExpRow("workspace", None, "workspace", {}, {}), ExpRow("main", SHA, "commit", {}, {}),
        ExpRow("exp-a", sha2, "experiment", {}, {}, of="main"),
        ExpRow("own", sha3, "experiment", {}, {}, error="queued", of="main"),
        ExpRow("4444444", sha4, "commit", {}, {}), ExpRow("2222222", sha2, "experiment", {}, {}, of="4444444")]
    assert rows_from_json([]) == []


class _Run:
    """A stand-in for subprocess.run that records its call and returns a set result, or raises."""

    def __init__(self, returncode: int = 0, stdout: str = "", stderr: str = "", raises: OSError | None = None):
        self.result = subprocess.CompletedProcess([], returncode, stdout, stderr)
        self.raises, self.calls = raises, []

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        if self.raises:
            raise self.raises
        return self.result


def test_read_rows_runs_dvc_exp_show_json_in_the_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = _Run(stdout=json.dumps(_shown()))
    monkeypatch.setattr(subprocess, "run", run)
    assert read_rows(tmp_path, 3) == rows_from_json(_shown())
    assert read_rows(tmp_path) == rows_from_json(_shown())
    kwargs = {"cwd": tmp_path, "capture_output": True, "text": True, "check": False}
    assert run.calls == [([sys.executable, "-m", "dvc", "exp", "show", "--json", "-n", "3"], kwargs),
                         ([sys.executable, "-m", "dvc", "exp", "show", "--json", "-n", "1"], kwargs)]


def test_read_rows_errors_whole(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cases = [(_Run(raises=FileNotFoundError(2, "No such file or directory")),
              f"could not run dvc in {tmp_path}: [Errno 2] No such file or directory"),
             (_Run(1, stderr="Updating lock file\nERROR: failed to collect\nERROR: not a git repository \n\n"),
              f"dvc exp show failed in {tmp_path}: ERROR: not a git repository"),
             (_Run(255, stdout="[]", stderr=" \n"), f"dvc exp show failed in {tmp_path}: no output")]
    for run, message in cases:
        monkeypatch.setattr(subprocess, "run", run)
        with pytest.raises(SrganError) as caught:
            read_rows(tmp_path)
        assert str(caught.value) == message
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ == (run.result.returncode == 0)  # the OSError's traceback left out


def test_param_changes_baseline_keys_first_then_added_ones() -> None:
    base = _exp("main", "commit", params={"a": 1, "b": [0], "c": {"x": 1}, "gone": None, "same": "s"})
    row = _exp("r", "experiment", params={"d": 2, "b": [0, 1], "same": "s", "a": 1.0, "e": None})
    assert param_changes(row, base) == [("b", [0], [0, 1]), ("c", {"x": 1}, None), ("d", None, 2)]
    assert param_changes(base, base) == [] and param_changes(row, row) == []


def test_model_of_a_metrics_file() -> None:
    assert _model("metrics/srgan/vgg19_5_4.json") == "srgan/vgg19_5_4"
    assert _model("metrics/srresnet/mse.json") == "srresnet/mse"
    assert _model("metrics/bicubic.json") is None and _model("metrics/hr.json") is None
    assert _model("metrics/srgan/bicubic.json") == "srgan/bicubic"


def test_one_sided_models_in_their_order_and_no_bicubic_or_hr() -> None:
    base = _exp("main", "commit", metrics={"metrics/srgan/mse.json": {}, "metrics/srgan/old.json": {},
                                           "metrics/hr.json": {}, "metrics/srgan/older.json": {}})
    row = _exp("r", "experiment", metrics={"metrics/srgan/new.json": {}, "metrics/bicubic.json": {},
                                           "metrics/srgan/mse.json": {}, "metrics/srresnet/new.json": {}})
    assert one_sided(row, base) == (["srgan/new", "srresnet/new"], ["srgan/old", "srgan/older"])
    assert one_sided(base, row) == (["srgan/old", "srgan/older"], ["srgan/new", "srresnet/new"])
    assert one_sided(row, row) == ([], [])


def test_moved_models_per_set_a_side_missing_a_value_counts_missing_on_both_does_not() -> None:
    base = _exp("main", "commit", metrics={
        "metrics/bicubic.json": _headline(sample=(28.0, 7.5)),
        "metrics/srgan/mse.json": {"sample": {"psnr_y_db": 28.1, "niqe_y": 6.6}, "set5": {"psnr_y_db": 30.0},
                                   "tiny": {"psnr_y_db": 25.0}},
        "metrics/srgan/same.json": _headline(sample=(27.0, 6.0)),
        "metrics/srgan/old.json": _headline(sample=(1.0, 1.0))})
    row = _exp("r", "experiment", metrics={
        "metrics/srgan/new.json": _headline(sample=(2.0, 2.0)),
        "metrics/srgan/same.json": _headline(sample=(27.0, 6.0)),
        "metrics/bicubic.json": _headline(sample=(27.0, 7.0)),
        "metrics/srgan/mse.json": {"set14": {"psnr_y_db": 26.0, "niqe_y": 5.0}, "tiny": {"psnr_y_db": 25.0},
                                   "set5": {"psnr_y_db": 30.0, "niqe_y": 5.5}, "sample": {"psnr_y_db": 28.1}}})
    assert _nan_as_text(moved_models(row, base)) == [
        ("srgan/mse", "sample", {"psnr_y_db": (28.1, 28.1), "niqe_y": (NAN, 6.6)}),
        ("srgan/mse", "set5", {"psnr_y_db": (30.0, 30.0), "niqe_y": (5.5, NAN)}),
        ("srgan/mse", "set14", {"psnr_y_db": (26.0, NAN), "niqe_y": (5.0, NAN)})]  # tiny: NIQE-Y on neither side
    assert [list(m.values) for m in moved_models(row, base)] == [["psnr_y_db", "niqe_y"]] * 3
    assert moved_models(base, base) == [] and moved_models(row, row) == []


def _fake_compare(monkeypatch: pytest.MonkeyPatch, verdicts: list[tuple[str, str]] | SrganError) -> list[tuple]:
    """compare() and git_reader() of the module replaced: the comparison's rows get these (verdict, reason), the
    pooled one last; returns the calls."""
    calls: list[tuple] = []

    def reader(root: Path):
        calls.append(("git_reader", root))
        return "the reader"

    def compare(a, b, metric, read):
        calls.append(("compare", a, b, metric, read))
        if isinstance(verdicts, SrganError):
            raise verdicts
        return type("Comparison", (), {"rows": pd.DataFrame(verdicts, columns=["verdict", "reason"])})()

    monkeypatch.setattr(experiments, "git_reader", reader)
    monkeypatch.setattr(experiments, "compare", compare)
    return calls


def test_psnr_verdict_reads_the_pooled_row_of_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    row, base = _exp("r", "experiment", rev="f" * 40), _exp("main", "commit")
    pooled_last = [(WORSE, ""), (INDISTINGUISHABLE, HOLDS_ZERO)]
    cases = [(pooled_last + [(BETTER, "")], "better (95 % CI over seeds)"),
             ([(BETTER, ""), (BETTER, ""), (WORSE, "")], "worse (95 % CI over seeds)"),
             ([(BETTER, ""), (WORSE, ""), (INDISTINGUISHABLE, ONE_SEED)], "no verdict: one seed"),
             ([(INDISTINGUISHABLE, HOLDS_ZERO)], "no verdict: the interval holds 0"),
             ([(INDISTINGUISHABLE, "why: a: b")], "no verdict: why")]
    for verdicts, text in cases:
        calls = _fake_compare(monkeypatch, verdicts)
        assert psnr_verdict(Path("/project"), row, base, "srgan/mse") == text
        assert calls == [("git_reader", Path("/project")),
                         ("compare", ModelSpec("f" * 40, "srgan/mse", None), ModelSpec(SHA, "srgan/mse", None),
                          "psnr_y_db", "the reader")]
    _fake_compare(monkeypatch, SrganError("report/per_image.csv has no model 'srgan/mse'"))
    assert psnr_verdict(Path("."), row, base, "srgan/mse") == "not compared: a side's report/per_image.csv lacks it"


def test_value_json_for_lists_and_mappings_dash_for_none_and_cut_at_40() -> None:
    assert [_value(v) for v in (["a", 1], {"a": None, "b": True}, None, 0.5, "text", True, 10)] == [
        '["a", 1]', '{"a": null, "b": true}', "–", "0.5", "text", "True", "10"]
    forty = "x" * 40
    assert _value(forty) == forty and _value(forty + "y") == "x" * 37 + "..."
    assert _value(list(range(20))) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11..."


def test_signed_plus_minus_sign_and_a_zero_without_sign() -> None:
    assert [_signed(x, 3) for x in (0.025, 1.0, 0.5, -0.0104, -2.0, 0.0, -0.0, 0.0001, -0.0001, math.nan)] == [
        "+0.025", "+1.000", "+0.500", "−0.010", "−2.000", "0.000", "0.000", "+0.000", "−0.000", "–"]
    assert _signed(-0.1, 4) == "−0.1000" and _signed(0, 1) == "0.0" and _signed(12.345, 0) == "+12"


def test_fit_keeps_120_columns_and_cuts_121() -> None:
    assert _fit("a" * 120) == "a" * 120 and _fit("") == ""
    assert _fit("a" * 119 + "bc") == "a" * 117 + "..."
    assert _fit("z" * 500) == "z" * 117 + "..."


def _text_rows() -> list[ExpRow]:
    base = _exp("main", "commit", params={"seeds": [0], "srgan.steps": 10, "srgan.variants.mse.mse": 1.0},
                metrics={"metrics/bicubic.json": _headline(sample=(28.0, 7.5)),
                         "metrics/srgan/mse.json": _headline(sample=(28.1, 6.6), set5=(30.0, 5.0)),
                         "metrics/srgan/old.json": _headline(sample=(27.0, 6.0))})
    same = base.metrics
    return [
        _exp("workspace", "workspace", rev=None, params=base.params, metrics=same), base,
        _exp("steps20", "experiment", rev="98b8240" + "0" * 33, of="main", metrics=same,
             params={"seeds": [0, 1], "srgan.steps": 20, "srgan.variants.mse.mse": 1.0, "srgan.ema": 0.99}),
        _exp("moved", "commit", rev="fedcba9" + "0" * 33, params=base.params, metrics={
            **same, "metrics/bicubic.json": _headline(sample=(27.0, 7.0)),
            "metrics/srgan/mse.json": _headline(sample=(28.125, 6.5), set5=(30.0, 4.9))}),
        _exp("broken", "experiment", rev=None, of="main", error="failed"),
        _exp("new", "experiment", rev="1" * 40, of="moved", params=base.params, metrics={
            **same, "metrics/srgan/new.json": {}, "metrics/srresnet/new.json": {}}),
        _exp("lost", "commit", rev=None, params=base.params, metrics={
            k: v for k, v in same.items() if k in ("metrics/srgan/mse.json",)}),
        _exp("sets", "workspace", rev="2" * 40, params=base.params, metrics={
            **same, "metrics/srgan/mse.json": {"sample": same["metrics/srgan/mse.json"]["sample"],
                                               "set14": {"psnr_y_db": 27.0}}})]


HEADER = ["Against main (0123456): params that differ, and each model whose headline moved:",
          "this − baseline, and whether PSNR-Y moved beyond seed noise (the training seed as the unit).", ""]


def test_the_text_of_each_kind_of_row_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(experiments, "psnr_verdict", lambda *args: pytest.fail("no verdicts asked for"))
    assert experiments_text(_text_rows(), Path("."), verdicts=False).split("\n") == HEADER + [
        "workspace (the working tree)",
        "  as the baseline: no param and no headline differ",
        "steps20 (experiment of main, 98b8240)",
        "  seeds: [0] → [0, 1]",
        "  srgan.steps: 10 → 20",
        "  srgan.ema: – → 0.99",
        "moved (fedcba9)",
        "  srgan/mse sample: PSNR-Y 28.125 dB (+0.025)  NIQE-Y 6.5000 (−0.1000)",
        "  srgan/mse set5: PSNR-Y 30.000 dB (0.000)  NIQE-Y 4.9000 (−0.1000)",
        "broken (experiment of main, )",
        "  no results: failed",
        "new (experiment of moved, 1111111)",
        "  headlines here only: srgan/new, srresnet/new",
        "lost ()",
        "  headlines in the baseline only: srgan/old",
        "sets (the working tree)",
        "  srgan/mse set5: PSNR-Y – dB (–)  NIQE-Y – (–)",
        "  srgan/mse set14: PSNR-Y 27.000 dB (–)  NIQE-Y – (–)"]


def test_the_verdict_once_per_model_after_each_of_its_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def verdict(root: Path, row: ExpRow, base: ExpRow, model: str) -> str:
        calls.append((root, row.name, base.name, model))
        return f"verdict {len(calls)}"

    monkeypatch.setattr(experiments, "psnr_verdict", verdict)
    base = _exp("main", "commit", metrics={"metrics/srgan/mse.json": _headline(a=(28.0, 6.0), b=(29.0, 5.0)),
                                           "metrics/srgan/vgg.json": _headline(a=(27.0, 4.0))})
    row = _exp("r", "experiment", rev="3" * 40, of="main", metrics={
        "metrics/srgan/mse.json": _headline(a=(28.5, 6.0), b=(29.5, 5.0)),
        "metrics/srgan/vgg.json": _headline(a=(27.0, 3.5))})
    assert experiments_text([base, row], Path("/p")).split("\n") == HEADER + [
        "r (experiment of main, 3333333)",
        "  srgan/mse a: PSNR-Y 28.500 dB (+0.500)  NIQE-Y 6.0000 (0.0000)  verdict 1",
        "  srgan/mse b: PSNR-Y 29.500 dB (+0.500)  NIQE-Y 5.0000 (0.0000)  verdict 1",
        "  srgan/vgg a: PSNR-Y 27.000 dB (0.000)  NIQE-Y 3.5000 (−0.5000)  verdict 2"]
    assert calls == [(Path("/p"), "r", "main", "srgan/mse"), (Path("/p"), "r", "main", "srgan/vgg")]


def test_every_line_cut_to_120_columns() -> None:
    long_name = "n" * 130
    base = _exp(long_name, "commit", params={"k" * 150: 1}, metrics={"metrics/srgan/mse.json": _headline(s=(1, 1))})
    rows = [base, _exp("e" * 120, "experiment", error="x" * 200, of=long_name),
            _exp("e120", "experiment", error="y" * 106), _exp("c", "commit", rev="4" * 40, params={"k" * 150: 2},
                                                              metrics={"metrics/srgan/mse.json": _headline(s=(2, 1))})]
    lines = experiments_text(rows, Path("."), verdicts=False).split("\n")
    assert lines[0] == "Against " + "n" * 109 + "..."
    assert lines[3:] == ["e" * 117 + "...", "  no results: " + "x" * 103 + "...",
                         "e120 (experiment of , 0123456)", "  no results: " + "y" * 106, "c (4444444)",
                         "  " + "k" * 115 + "...", "  srgan/mse s: PSNR-Y 2.000 dB (+1.000)  NIQE-Y 1.0000 (0.0000)"]


def test_no_commit_among_the_rows_is_an_error_whole() -> None:
    for rows in ([], [_exp("workspace", "workspace", rev=None), _exp("x", "experiment", of="main")]):
        with pytest.raises(SrganError) as caught:
            experiments_text(rows, Path("."))
        assert str(caught.value) == "dvc exp show lists no commit: commit the project first (git commit)"


def test_a_commit_without_a_revision_is_shown_as_such() -> None:
    rows = [_exp("?", "commit", rev=None), _exp("w", "workspace", rev=None)]
    assert experiments_text(rows, Path("."), verdicts=False).split("\n") == [
        "Against ? (): params that differ, and each model whose headline moved:", *HEADER[1:],
        "w (the working tree)", "  as the baseline: no param and no headline differ"]
