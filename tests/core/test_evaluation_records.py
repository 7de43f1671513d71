"""srgan.core.evaluation_records: what evaluation hands the report, written and read back, and one line
naming the file for every record that is missing, old or incomplete."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    AsRunScoring,
    BaselineEvaluation,
    RunEvaluation,
    read_baseline_evaluation,
    read_per_image,
    read_run_evaluation,
    write_baseline_evaluation,
    write_per_image,
    write_run_evaluation,
)
from srgan.core.records import ScoredCheckpoint

STEP5 = ScoredCheckpoint("point", "step5/last.pt", 5, "step", 5)
STEP10 = ScoredCheckpoint("point", "step10/last.pt", 10, "step", 10)
OLD = "it was written by another version of srgan-pipeline: run the stage that writes it again"


@pytest.mark.parametrize(("files", "bn_mode", "clamp", "words"), [
    ({"best": "last.pt"}, "train", False, "last checkpoint, BN in training mode, unclamped"),
    ({"step5": "step5/last.pt", "step10": "step10/last.pt"}, "eval", True, "last checkpoint, BN in eval mode, clamped"),
    ({"best": "best.pt"}, "train", True, "scored checkpoint, BN in training mode, clamped"),
    ({"best": "best.pt", "last": "last.pt"}, "eval", False, "scored checkpoint, BN in eval mode, unclamped"),
    ({}, "eval", True, "scored checkpoint, BN in eval mode, clamped"),
])
def test_as_run_scoring_words(files: dict, bn_mode: str, clamp: bool, words: str) -> None:
    assert AsRunScoring(files, bn_mode, clamp).words() == words


def _run() -> RunEvaluation:
    return RunEvaluation("srgan", "vgg", 2, {"vgg19_5_4": 1.0}, {"vgg19_5_4": "imagenet"}, "ok", (STEP5, STEP10),
                         {"step5": {"set5": {"psnr_y_db": 25.5}}, "step10": {"set5": {"psnr_y_db": 26.0}}},
                         AsRunScoring({"step10": "step10/last.pt"}, "train", False),
                         {"step10": {"set5": {"psnr_rgb_db": 24.0}}})


def test_run_evaluation_round_trips_with_typed_nested_records(tmp_path: Path) -> None:
    path = tmp_path / "vgg.json"
    write_run_evaluation(path, _run())
    assert read_run_evaluation(path) == _run()
    bare = RunEvaluation(**{**_run().__dict__, "as_run_scoring": None, "as_run": None})
    write_run_evaluation(path, bare)
    assert read_run_evaluation(path) == bare


def test_run_evaluation_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vgg.json"
    with pytest.raises(SrganError) as error:
        read_run_evaluation(path)
    assert str(error.value) == (f"evaluation record {path} not found; run the stage that writes it (dvc repro) or "
                                "check the path")
    write_run_evaluation(path, _run())
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({k: v for k, v in data.items() if k != "seed"}), encoding="utf-8")
    with pytest.raises(SrganError) as error:
        read_run_evaluation(path)
    assert str(error.value) == f"{path} has no 'seed'; {OLD}"
    path.write_text(json.dumps({**data, "scores": {}}), encoding="utf-8")  # both listed checkpoints lack scores
    with pytest.raises(SrganError) as error:
        read_run_evaluation(path)
    assert str(error.value) == (f"evaluation record {path} has no results for checkpoint 'step5', which it lists; "
                                "re-run its evaluate stage")


def test_baseline_evaluation_round_trips_and_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bicubic.json"
    record = BaselineEvaluation("bicubic", "ok", {"set5": {"psnr_y_db": 23.1}})
    with pytest.raises(SrganError) as error:
        read_baseline_evaluation(path)
    assert str(error.value) == (f"evaluation record {path} not found; run the stage that writes it (dvc repro) or "
                                "check the path")
    write_baseline_evaluation(path, record)
    assert read_baseline_evaluation(path) == record
    path.write_text(json.dumps({"experiment": "bicubic", "scores": {}}), encoding="utf-8")
    with pytest.raises(SrganError) as error:
        read_baseline_evaluation(path)
    assert str(error.value) == f"{path} has no 'lpips_alex_status'; {OLD}"


def test_per_image_table_keeps_names_as_text_and_missing_scores_as_nan(tmp_path: Path) -> None:
    """Image names and labels that pandas would read as numbers or as missing ('0801', 'NA', 'null', 'None',
    '1e3') stay text; a missing score is an empty cell, read back as NaN; scores have 4 decimals."""
    path = tmp_path / "vgg.csv"
    names = ["0801", "NA", "null", "None", "1e3"]
    table = pd.DataFrame({"ssim_y": [0.812345, 0.5, math.nan, 0.25, 1.0], "image": names,
                          "checkpoint": ["0010", "N/A", "best", "best", "best"], "set": ["0001"] * 5,
                          "gray": [False, True, False, False, False],
                          "psnr_y_db": [27.123456, math.inf, 20.0, 21.0, 22.0], "extra": [1, 2, 3, 4, 5]})
    write_per_image(path, table)
    assert path.read_text(encoding="utf-8").splitlines()[:3] == [
        "checkpoint,set,image,gray,psnr_y_db,ssim_y",  # identity, then the metrics in METRICS order; no extras
        "0010,0001,0801,False,27.1235,0.8123",
        "N/A,0001,NA,True,inf,0.5000"]
    back = read_per_image(path)
    assert back["image"].tolist() == names and back["set"].tolist() == ["0001"] * 5
    assert back["checkpoint"].tolist() == ["0010", "N/A", "best", "best", "best"]
    np.testing.assert_array_equal(back["psnr_y_db"], [27.1235, math.inf, 20.0, 21.0, 22.0])
    assert np.isnan(back["ssim_y"][2]) and back["ssim_y"].dtype == np.float64
    numeric = table.iloc[:2].assign(image=["0801", "0802"], checkpoint=["0010", "0020"])  # every name numeric
    write_per_image(path, numeric)
    assert read_per_image(path)[["checkpoint", "set", "image"]].values.tolist() == [["0010", "0001", "0801"],
                                                                                  ["0020", "0001", "0802"]]
    path.write_text("checkpoint,set,image,gray,psnr_y_db\nbest,s,a,False,nan\nbest,s,b,False,NaN\n", encoding="utf-8")
    assert read_per_image(path)["psnr_y_db"].isna().tolist() == [True, True]


def test_read_per_image_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SrganError) as error:
        read_per_image(tmp_path / "vgg.csv")
    assert str(error.value) == f"per-image metrics {tmp_path / 'vgg.csv'} not found; run its evaluate stage (dvc repro)"
