"""`srgan experiments`: rows from `dvc exp show --json`, what differs from the baseline, and a text within 120
columns (constructed JSON as DVC 3.67 writes it; the pipeline test runs it on a real experiment)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srgan.core.errors import SrganError
from srgan.report.experiments import (
    WIDTH,
    experiments_text,
    moved_models,
    one_sided,
    param_changes,
    rows_from_json,
)

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
