"""Tests for srgan.core.records and srgan.core.evaluation_records: a record written by another version is named,
with the place and the field it lacks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from srgan.core.errors import SrganError
from srgan.core.evaluation_records import AsRunScoring, RunEvaluation, read_run_evaluation, write_run_evaluation
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


@pytest.mark.parametrize(("where", "field"), [
    (("scored", 0, "file"), "file"),
    (("last", "step"), "step"),
    (("history", 0, "valid_ssim_y"), "valid_ssim_y"),
])
def test_a_summary_whose_nested_record_misses_a_field_names_the_file_and_the_field(tmp_path, where, field):
    """What evaluation (srgan.scoring.evaluate) and the SRGAN stage read first: a one-line SrganError."""
    path = _write_without(tmp_path, *where)
    place = where[0] if len(where) == 2 else f"{where[0]}[{where[1]}]"
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (f"{path} has no '{field}' in '{place}'; it was written by another version of "
                               "srgan-pipeline: run the stage that writes it again")


def _write_with(run_dir: Path, value: object, *where: str | int) -> Path:
    """Write the summary, then set the key at `where` (a path into its JSON) to `value`."""
    write_summary(run_dir, _SUMMARY)
    path = run_dir / "summary.json"
    data = json.loads(path.read_text())
    inner = data
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = value
    path.write_text(json.dumps(data))
    return path


def test_a_nested_record_with_a_field_this_version_does_not_know_is_named(tmp_path):
    path = _write_with(tmp_path, 1.5, "history", 0, "valid_lpips")
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (f"{path} has an unknown field 'valid_lpips' in 'history[0]'; it was written by "
                               "another version of srgan-pipeline: run the stage that writes it again")


@pytest.mark.parametrize(("value", "found"), [([4, 20.0, 0.5], "list"), (None, "NoneType")])
def test_a_nested_record_that_is_not_a_record_is_named(tmp_path, value, found):
    path = _write_with(tmp_path, value, "last")
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (f"{path} has no record at 'last' (found {found}); it was written by another "
                               "version of srgan-pipeline: run the stage that writes it again")


def test_the_second_entry_of_a_list_is_named_by_its_index(tmp_path):
    summary = TrainingSummary(**{**asdict(_SUMMARY), "history": (ValidationPoint(2, 19.0, 0.4),
                                                                 ValidationPoint(4, 20.0, 0.5)),
                                 "scored": (_BEST,), "last": _SUMMARY.last})
    write_summary(tmp_path, summary)
    path = tmp_path / "summary.json"
    data = json.loads(path.read_text())
    del data["history"][1]["step"]
    path.write_text(json.dumps(data))
    with pytest.raises(SrganError, match=r"has no 'step' in 'history\[1\]'"):
        read_summary(tmp_path)

_EVALUATION = RunEvaluation(
    experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={"mse": "none"},
    lpips_alex_status="ok", checkpoints=(_BEST, ScoredCheckpoint("point", "step2/last.pt", 2, "step", 2)),
    scores={"best": {"Set5": {"psnr_y_db": 20.0, "images": 5}}, "step2": {"Set5": {"psnr_y_db": 19.0, "images": 5}}},
    as_run_scoring=AsRunScoring(files={"best": "last.pt"}, bn_mode="train", clamp=False),
    as_run={"best": {"Set5": {"psnr_rgb_db": 18.0, "ms_ssim_rgb": 0.8}}})


def _evaluation_without(tmp_path: Path, *where: str | int) -> Path:
    path = tmp_path / "mse.json"
    write_run_evaluation(path, _EVALUATION)
    data = json.loads(path.read_text())
    inner = data
    for key in where[:-1]:
        inner = inner[key]
    del inner[where[-1]]
    path.write_text(json.dumps(data))
    return path


def test_an_evaluation_record_reads_back_as_written(tmp_path):
    write_run_evaluation(tmp_path / "mse.json", _EVALUATION)
    assert read_run_evaluation(tmp_path / "mse.json") == _EVALUATION


@pytest.mark.parametrize(("where", "place"), [
    (("checkpoints", 1, "count"), "checkpoints[1]"),
    (("as_run_scoring", "bn_mode"), "as_run_scoring"),
])
def test_an_evaluation_record_whose_nested_record_misses_a_field_names_the_file_and_the_field(tmp_path, where, place):
    """What the report reads: one line naming the record's file, the place and the field."""
    path = _evaluation_without(tmp_path, *where)
    with pytest.raises(SrganError) as info:
        read_run_evaluation(path)
    assert str(info.value) == (f"{path} has no '{where[-1]}' in '{place}'; it was written by another version of "
                               "srgan-pipeline: run the stage that writes it again")
