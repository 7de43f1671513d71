"""Tests for srgan.core.records and srgan.core.evaluation_records: a record written by another version is named,
with the place and the field it lacks; generator records; a checkpoint's label and words; run timing; the
training curves' TSV files (appended, truncated on resume, read back) byte for byte."""

from __future__ import annotations

import json
import locale
from dataclasses import asdict
from pathlib import Path

import pytest

from srgan.core.errors import SrganError
from srgan.core.evaluation_records import AsRunScoring, RunEvaluation, read_run_evaluation, write_run_evaluation
from srgan.core.records import (
    GeneratorArchitecture,
    GeneratorRecord,
    RunTiming,
    ScoredCheckpoint,
    TrainingSummary,
    ValidationPoint,
    append_scalars,
    generator_checkpoint,
    nested_record,
    read_generator_record,
    read_scalars,
    read_summary,
    truncate_scalars,
    write_summary,
    write_timing,
)

_BEST = ScoredCheckpoint("best", "best.pt", 4, "step", 4)
_SUMMARY = TrainingSummary(
    experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={}, unit="step",
    steps=4, steps_per_epoch=4, best_step=4, best_valid_psnr_y_db=20.0, bad_steps=0, processes=1,
    history=(ValidationPoint(4, 20.0, 0.5),), scored=(_BEST,), last=ScoredCheckpoint("last", "last.pt", 4, "step", 4))


_DROP = object()  # _edit_json: delete the key instead of setting it


def _edit_json(path: Path, where: tuple[str | int, ...], value: object = _DROP) -> Path:
    """Set the key at `where` (a path into the JSON file) to `value`, or drop it; returns `path`."""
    data = json.loads(path.read_text())
    inner = data
    for key in where[:-1]:
        inner = inner[key]
    if value is _DROP:
        del inner[where[-1]]
    else:
        inner[where[-1]] = value
    path.write_text(json.dumps(data))
    return path


def _write_without(run_dir: Path, *where: str | int) -> Path:
    """Write the summary, then drop the key at `where` (a path into its JSON) from the file."""
    write_summary(run_dir, _SUMMARY)
    return _edit_json(run_dir / "summary.json", where)


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
    return _edit_json(run_dir / "summary.json", where, value)


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
    _edit_json(tmp_path / "summary.json", ("history", 1, "step"))
    with pytest.raises(SrganError, match=r"has no 'step' in 'history\[1\]'"):
        read_summary(tmp_path)


def test_a_missing_summary_names_the_file_as_a_training_summary(tmp_path):
    with pytest.raises(SrganError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (f"training summary {tmp_path / 'summary.json'} not found; run the stage that writes it "
                               "(dvc repro) or check the path")


_EVALUATION = RunEvaluation(
    experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={"mse": "none"},
    lpips_alex_status="ok", checkpoints=(_BEST, ScoredCheckpoint("point", "step2/last.pt", 2, "step", 2)),
    scores={"best": {"Set5": {"psnr_y_db": 20.0, "images": 5}}, "step2": {"Set5": {"psnr_y_db": 19.0, "images": 5}}},
    as_run_scoring=AsRunScoring(files={"best": "last.pt"}, bn_mode="train", clamp=False),
    as_run={"best": {"Set5": {"psnr_rgb_db": 18.0, "ms_ssim_rgb": 0.8}}})


def _evaluation_without(tmp_path: Path, *where: str | int) -> Path:
    path = tmp_path / "mse.json"
    write_run_evaluation(path, _EVALUATION)
    return _edit_json(path, where)


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


# ---------------------------------------------------------------- nested_record


_AGAIN = "it was written by another version of srgan-pipeline: run the stage that writes it again"


def test_a_nested_record_with_exactly_its_fields_is_built():
    assert nested_record(ValidationPoint, {"step": 3, "valid_psnr_y_db": 21.5, "valid_ssim_y": 0.6},
                         Path("s.json"), "history[0]") == ValidationPoint(3, 21.5, 0.6)


@pytest.mark.parametrize(("data", "what"), [
    ({"valid_psnr_y_db": 21.5}, "no 'step'"),  # two missing: the first in the record's field order
    ({"valid_ssim_y": 0.6, "step": 3}, "no 'valid_psnr_y_db'"),
    ({"step": 3, "valid_psnr_y_db": 21.5, "valid_ssim_y": 0.6, "lpips": 0.1, "niqe": 5.0},
     "an unknown field 'lpips'"),  # two unknown: the first in the file's order
    ({"step": 3, "valid_psnr_y_db": 21.5, "niqe": 5.0}, "no 'valid_ssim_y'"),  # missing and unknown: the missing
])
def test_a_nested_record_names_its_first_missing_field_else_its_first_unknown_one(data, what):
    with pytest.raises(SrganError) as info:
        nested_record(ValidationPoint, data, Path("runs/s.json"), "history[2]")
    assert str(info.value) == f"runs/s.json has {what} in 'history[2]'; {_AGAIN}"


@pytest.mark.parametrize(("data", "found"), [("best", "str"), (3, "int"), ((1, 2), "tuple")])
def test_a_nested_value_that_is_no_record_is_named_with_its_type(data, found):
    with pytest.raises(SrganError) as info:
        nested_record(ScoredCheckpoint, data, Path("s.json"), "scored[1]")
    assert str(info.value) == f"s.json has no record at 'scored[1]' (found {found}); {_AGAIN}"


# ---------------------------------------------------------------- generator records


_RECORD = GeneratorRecord(
    architecture=GeneratorArchitecture(scale=4, num_blocks=2, channels=8, shared_bn=False, conv_bias=True),
    experiment="srgan", variant="mse", loss_terms={"mse": 1.0}, feature_weights={}, step=7,
    valid_psnr_y_db=None, valid_ssim_y=None)


def test_a_generator_record_reads_back_from_its_checkpoint():
    checkpoint = generator_checkpoint({"w": 1}, _RECORD)
    assert checkpoint["model"] == {"w": 1}
    assert read_generator_record(checkpoint, Path("g.pt")) == _RECORD


@pytest.mark.parametrize("checkpoint", [{"model": {}}, {"record": None}, {"record": [4, 2]}])
def test_a_checkpoint_without_a_generator_record_is_named_in_one_line(checkpoint):
    with pytest.raises(SrganError) as info:
        read_generator_record(checkpoint, Path("models/x/best.pt"))
    assert str(info.value) == ("checkpoint models/x/best.pt has no generator record (written by another version of "
                               "srgan-pipeline, or not a generator): rerun the stage that trains it")


def test_a_generator_record_without_its_architecture_is_named_in_one_line():
    data = asdict(_RECORD)
    del data["architecture"]
    with pytest.raises(SrganError) as info:
        read_generator_record({"record": data}, Path("g.pt"))
    assert str(info.value) == ("checkpoint g.pt has a generator record this version cannot read ('architecture'); "
                               "rerun the stage that trains it")


def test_a_generator_record_missing_a_field_names_pythons_reason():
    data = asdict(_RECORD)
    del data["step"]
    with pytest.raises(TypeError) as python:  # what Python says of the same record
        GeneratorRecord(**{**data, "architecture": _RECORD.architecture})
    with pytest.raises(SrganError) as info:
        read_generator_record({"record": data}, Path("g.pt"))
    assert "'step'" in str(python.value)
    assert str(info.value) == (f"checkpoint g.pt has a generator record this version cannot read ({python.value}); "
                               "rerun the stage that trains it")


# ---------------------------------------------------------------- ScoredCheckpoint: label, words


@pytest.mark.parametrize(("point", "label", "words"), [
    (ScoredCheckpoint("best", "best.pt", 40, "step", 40), "best", "best validation PSNR-Y"),
    (ScoredCheckpoint("last", "last.pt", 40, "epoch", 2), "last", "at the end"),
    (ScoredCheckpoint("point", "step1/last.pt", 1, "step", 1), "step1", "after 1 step"),
    (ScoredCheckpoint("point", "step2/last.pt", 2, "step", 2), "step2", "after 2 steps"),
    (ScoredCheckpoint("point", "epoch100/last.pt", 800, "epoch", 100), "epoch100", "after 100 epochs"),
    (ScoredCheckpoint("point", "epoch0/last.pt", 0, "epoch", 0), "epoch0", "after 0 epochs"),
])
def test_a_checkpoints_label_and_words(point, label, words):
    assert point.label == label
    assert point.words() == words


# ---------------------------------------------------------------- run timing


def test_run_timing_is_written_as_json_to_timing_json(tmp_path):
    timing = RunTiming(wall_s=12.5, train_step_s=0.25, steady_steps_per_s=None, peak_memory_mib=300.0,
                       memory_kind="process RSS", resumed_from_step=4, graphed=False,
                       graph_note="CUDA graphs apply on CUDA only (device cpu)")
    write_timing(tmp_path / "logs", timing)
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["timing.json"]
    assert json.loads((tmp_path / "logs" / "timing.json").read_text(encoding="utf-8")) == {
        "wall_s": 12.5, "train_step_s": 0.25, "steady_steps_per_s": None, "peak_memory_mib": 300.0,
        "memory_kind": "process RSS", "resumed_from_step": 4, "graphed": False,
        "graph_note": "CUDA graphs apply on CUDA only (device cpu)"}


# ---------------------------------------------------------------- training curves (TSV)


def _log_three_steps(plots: Path) -> None:
    append_scalars(plots, 1, {"loss/content": 1 / 3, "valid/psnr_y_db": 20.0})
    append_scalars(plots, 2, {"loss/content": 123456789.0})
    append_scalars(plots, 3, {"loss/content": 0.5, "valid/psnr_y_db": 21.25})


def test_scalars_append_one_row_per_step_to_a_tsv_per_tag(tmp_path):
    """Folders are made as needed (the plots folder too); the header is written once; 6 significant digits."""
    plots = tmp_path / "plots" / "srresnet" / "mse"
    _log_three_steps(plots)
    assert sorted(p.relative_to(plots).as_posix() for p in plots.rglob("*.tsv")) == [
        "loss/content.tsv", "valid/psnr_y_db.tsv"]
    assert (plots / "loss" / "content.tsv").read_bytes() == b"step\tcontent\n1\t0.333333\n2\t1.23457e+08\n3\t0.5\n"
    assert (plots / "valid" / "psnr_y_db.tsv").read_bytes() == b"step\tpsnr_y_db\n1\t20\n3\t21.25\n"


def test_scalars_of_a_tag_at_any_depth_name_their_column_by_its_last_part(tmp_path):
    append_scalars(tmp_path, 5, {"lr": 1e-4, "gan/d/real": -2.5})
    assert (tmp_path / "lr.tsv").read_bytes() == b"step\tlr\n5\t0.0001\n"
    assert (tmp_path / "gan" / "d" / "real.tsv").read_bytes() == b"step\treal\n5\t-2.5\n"
    assert read_scalars(tmp_path) == {"gan/d/real": ([5], [-2.5]), "lr": ([5], [0.0001])}


def test_scalars_read_back_per_tag_in_name_order(tmp_path):
    plots = tmp_path / "plots"
    _log_three_steps(plots)
    append_scalars(plots, 3, {"adv/d_loss": 0.75})
    scalars = read_scalars(plots)
    assert list(scalars) == ["adv/d_loss", "loss/content", "valid/psnr_y_db"]
    assert scalars == {"adv/d_loss": ([3], [0.75]), "loss/content": ([1, 2, 3], [0.333333, 123457000.0, 0.5]),
                       "valid/psnr_y_db": ([1, 3], [20.0, 21.25])}


def test_scalars_of_a_folder_that_does_not_exist_are_empty(tmp_path):
    assert read_scalars(tmp_path / "nowhere") == {}
    truncate_scalars(tmp_path / "nowhere", 3)  # nothing to truncate, no error
    assert list(tmp_path.iterdir()) == []


def test_truncating_keeps_the_rows_up_to_the_step_itself_byte_for_byte(tmp_path):
    """A run killed after logging steps 3 and 4 and resumed from step 2 drops them, logs step 3 again, and its
    curve files are then an uninterrupted run's."""
    resumed, uninterrupted = tmp_path / "resumed", tmp_path / "uninterrupted"
    _log_three_steps(resumed)
    append_scalars(resumed, 4, {"loss/content": 0.25})
    truncate_scalars(resumed, 2)
    assert (resumed / "loss" / "content.tsv").read_bytes() == b"step\tcontent\n1\t0.333333\n2\t1.23457e+08\n"
    assert (resumed / "valid" / "psnr_y_db.tsv").read_bytes() == b"step\tpsnr_y_db\n1\t20\n"
    append_scalars(resumed, 3, {"loss/content": 0.5, "valid/psnr_y_db": 21.25})
    _log_three_steps(uninterrupted)
    for name in ("loss/content.tsv", "valid/psnr_y_db.tsv"):
        assert (resumed / name).read_bytes() == (uninterrupted / name).read_bytes()


def test_truncating_at_a_step_before_every_row_keeps_the_header(tmp_path):
    _log_three_steps(tmp_path)
    truncate_scalars(tmp_path, 0)
    assert (tmp_path / "loss" / "content.tsv").read_bytes() == b"step\tcontent\n"
    assert read_scalars(tmp_path) == {"loss/content": ([], []), "valid/psnr_y_db": ([], [])}


def test_truncating_finds_the_step_column_by_its_name(tmp_path):
    """A curve file with the step last, after a column whose name has a space, is cut by its step column."""
    path = tmp_path / "other.tsv"
    path.write_bytes(b"the value\tstep\n0.5\t1\n0.25\t2\n0.125\t3\n")
    truncate_scalars(tmp_path, 2)
    assert path.read_bytes() == b"the value\tstep\n0.5\t1\n0.25\t2\n"


@pytest.fixture
def ascii_locale():
    """LC_CTYPE "C" for the test: Python's default text encoding is then ASCII (as under any non-UTF-8 locale)."""
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_curve_files_are_utf8_whatever_the_locale(tmp_path, ascii_locale):
    append_scalars(tmp_path, 1, {"loss/contenu_é": 0.5})
    append_scalars(tmp_path, 2, {"loss/contenu_é": 0.25})
    truncate_scalars(tmp_path, 1)
    assert (tmp_path / "loss" / "contenu_é.tsv").read_bytes() == "step\tcontenu_é\n1\t0.5\n".encode("utf-8")
    assert read_scalars(tmp_path) == {"loss/contenu_é": ([1], [0.5])}


def test_an_empty_curve_file_left_by_a_killed_run_is_resumed_with_its_header(tmp_path):
    """A run killed between creating a curve file and writing its header leaves it empty: the resumed run
    truncates nothing there and writes the header before its first row."""
    (tmp_path / "loss").mkdir()
    (tmp_path / "loss" / "content.tsv").write_text("")
    truncate_scalars(tmp_path, 2)
    assert (tmp_path / "loss" / "content.tsv").read_text() == ""
    append_scalars(tmp_path, 3, {"loss/content": 0.25})
    assert (tmp_path / "loss" / "content.tsv").read_text() == "step\tcontent\n3\t0.25\n"
    assert read_scalars(tmp_path) == {"loss/content": ([3], [0.25])}


def test_an_empty_curve_file_does_not_stop_the_truncation_of_the_others(tmp_path):
    """rglob yields a folder's own files before its subfolders': the empty top-level file comes first."""
    (tmp_path / "empty.tsv").write_text("")
    append_scalars(tmp_path, 1, {"loss/content": 0.5})
    append_scalars(tmp_path, 3, {"loss/content": 0.25})
    truncate_scalars(tmp_path, 2)
    assert (tmp_path / "loss" / "content.tsv").read_text() == "step\tcontent\n1\t0.5\n"
