"""Tests for srgan.core.records: a record written by another version is named, with the field it lacks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from srgan.core.errors import SrganError
from srgan.core.records import (
    ScoredCheckpoint,
    TrainingSummary,
    ValidationPoint,
    read_summary,
    write_summary,
)

_BEST = ScoredCheckpoint("best", "best.pt", 4, "step", 4)
_SUMMARY = TrainingSummary(
    experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={}, unit="step",
    steps=4, steps_per_epoch=4, best_step=4, best_valid_psnr_y_db=20.0, bad_steps=0, processes=1,
    history=(ValidationPoint(4, 20.0, 0.5),), scored=(_BEST,), last=ScoredCheckpoint("last", "last.pt", 4, "step", 4))


def _write_without(run_dir: Path, *where: str | int) -> Path:
    """Write the summary, then drop the key at `where` (a path into its JSON) from the file."""
    write_summary(run_dir, _SUMMARY)
    path = run_dir / "summary.json"
    data = json.loads(path.read_text())
    inner = data
    for key in where[:-1]:
        inner = inner[key]
    del inner[where[-1]]
    path.write_text(json.dumps(data))
    return path


def test_a_summary_reads_back_as_written(tmp_path):
    write_summary(tmp_path, _SUMMARY)
    assert read_summary(tmp_path) == _SUMMARY
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(asdict(_SUMMARY)))


@pytest.mark.parametrize("field", ["seed", "scored", "last", "history", "bad_steps"])
def test_a_summary_missing_a_top_level_field_names_the_file_and_the_field(tmp_path, field):
    path = _write_without(tmp_path, field)
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (f"{path} has no '{field}'; it was written by another version of srgan-pipeline: "
                               "run the stage that writes it again")


@pytest.mark.xfail(strict=True, raises=TypeError, reason=(
    "srgan/core/records.py:165-167, read_summary builds ValidationPoint and ScoredCheckpoint with ** from the "
    "file unchecked: a nested record missing a field raises a bare TypeError naming neither summary.json nor "
    "the record, not the one-line SrganError that record_field gives a missing top-level field"))
@pytest.mark.parametrize(("where", "field"), [
    (("scored", 0, "file"), "file"),
    (("last", "step"), "step"),
    (("history", 0, "valid_ssim_y"), "valid_ssim_y"),
])
def test_a_summary_whose_nested_record_misses_a_field_names_the_file_and_the_field(tmp_path, where, field):
    """What evaluation (srgan.scoring.evaluate) and the SRGAN stage read first: a one-line SrganError."""
    path = _write_without(tmp_path, *where)
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and f"'{field}'" in message
