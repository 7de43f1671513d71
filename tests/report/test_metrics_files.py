"""The numeric JSON files `dvc metrics` reads: their paths, which numbers go in (finite ones, in table order,
headline metrics only in metrics/), the spreads and as-run values, and an all-or-nothing folder write."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from srgan.report.inputs import Scored
from srgan.report.metrics_files import (
    full_files,
    headline_file,
    headline_files,
    headline_metrics,
    metrics_file,
    model_metrics,
    write_json_folder,
)


def _scored(experiment: str = "srgan", variant: str = "vgg19_5_4", checkpoint: str = "step16", **kw) -> Scored:
    results = kw.pop("results", {
        "set5": {"niqe_y": 5.5, "psnr_y_db": 30.25, "ssim_y": 0.875, "lpips_alex": math.nan, "delta_e00": 2},
        "set14": {"psnr_y_db": 27.5, "niqe_y": math.inf, "chroma_ratio": True, "psnr_rgb_db": "28"},
    })
    return Scored(experiment, variant, checkpoint, results, None, {}, {}, **kw)


def test_paths_of_a_model_and_of_bicubic() -> None:
    assert metrics_file("srgan", "vgg19_5_4", "step16") == "srgan/vgg19_5_4/step16.json"
    assert metrics_file("bicubic", "bicubic", "bicubic") == "bicubic.json"
    assert metrics_file("bicubic", "x", "y") == "bicubic.json"
    assert headline_file("srresnet", "mse") == "srresnet/mse.json"
    assert headline_file("bicubic", "x") == "bicubic.json"


def test_model_metrics_keeps_finite_numbers_in_table_order() -> None:
    """NaN, inf, a bool and a string are left out; an int becomes a float; keys follow METRICS' order, not the
    record's."""
    got = model_metrics(_scored(), ["set5", "set14"])
    assert got == {"set5": {"psnr_y_db": 30.25, "ssim_y": 0.875, "niqe_y": 5.5, "delta_e00": 2.0},
                   "set14": {"psnr_y_db": 27.5}}
    assert list(got["set5"]) == ["psnr_y_db", "ssim_y", "niqe_y", "delta_e00"]
    assert type(got["set5"]["delta_e00"]) is float
    assert list(got) == ["set5", "set14"]
    assert model_metrics(_scored(), ["set14"]) == {"set14": {"psnr_y_db": 27.5}}


def test_model_metrics_adds_the_spread_then_the_study_protocol_as_run() -> None:
    item = _scored(
        spread={"set5": {"psnr_y_db": 0.5, "niqe_y": math.nan, "ms_ssim_rgb": 0.01}, "set14": {}},
        as_run={"set5": {"psnr_rgb_db": 15.0, "ms_ssim_rgb": 0.8, "psnr_y_db": 99.0}},  # set14 not scored as run
    )
    got = model_metrics(item, ["set5", "set14"])
    assert got["set5"] == {"psnr_y_db": 30.25, "ssim_y": 0.875, "niqe_y": 5.5, "delta_e00": 2.0,
                           "psnr_y_db_sd": 0.5, "ms_ssim_rgb_sd": 0.01,
                           "psnr_rgb_db_as_run": 15.0, "ms_ssim_rgb_as_run": 0.8}
    assert list(got["set5"])[4:] == ["psnr_y_db_sd", "ms_ssim_rgb_sd", "psnr_rgb_db_as_run", "ms_ssim_rgb_as_run"]
    assert got["set14"] == {"psnr_y_db": 27.5}


def test_headline_metrics_are_psnr_y_and_niqe_y_only() -> None:
    assert headline_metrics(_scored(), ["set5", "set14"]) == {"set5": {"psnr_y_db": 30.25, "niqe_y": 5.5},
                                                              "set14": {"psnr_y_db": 27.5}}


def test_full_files_names_every_checkpoint() -> None:
    best, last = _scored("srresnet", "mse", "best"), _scored("srresnet", "mse", "step20")
    bicubic = _scored("bicubic", "bicubic", "bicubic")
    files = full_files([best, last, bicubic], ["set14"])
    assert files == {"srresnet/mse/best.json": {"set14": {"psnr_y_db": 27.5}},
                     "srresnet/mse/step20.json": {"set14": {"psnr_y_db": 27.5}},
                     "bicubic.json": {"set14": {"psnr_y_db": 27.5}}}


def test_headline_files_take_a_runs_last_checkpoint_and_add_hrs_niqe() -> None:
    first = _scored("srgan", "mse", "step10", results={"set5": {"psnr_y_db": 1.0}})
    last = _scored("srgan", "mse", "step20", results={"set5": {"psnr_y_db": 2.0, "niqe_y": 4.0}})
    bicubic = _scored("bicubic", "bicubic", "bicubic", results={"set5": {"psnr_y_db": 3.0}})
    files = headline_files([first, last, bicubic], {"set5": 3.25, "set14": math.nan}, ["set5"])
    assert files == {"srgan/mse.json": {"set5": {"psnr_y_db": 2.0, "niqe_y": 4.0}},
                     "bicubic.json": {"set5": {"psnr_y_db": 3.0}},
                     "hr.json": {"set5": {"niqe_y": 3.25}}}
    nan_hr = headline_files([], {"set5": math.nan}, ["set5"])
    assert nan_hr == {"hr.json": {"set5": {}}}


def test_write_json_folder_writes_exactly_the_files(tmp_path: Path) -> None:
    out = tmp_path / "metrics"
    (out / "stale").mkdir(parents=True)
    (out / "stale" / "old.json").write_text("{}")
    files = {"srgan/mse.json": {"set5": {"psnr_y_db": 2.0}}, "bicubic.json": {"set5": {}}}
    written = write_json_folder(out, files)
    assert written == [Path("srgan/mse.json"), Path("bicubic.json")]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == ["bicubic.json", "srgan/mse.json"]
    assert json.loads((out / "srgan" / "mse.json").read_text()) == {"set5": {"psnr_y_db": 2.0}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics"]  # no temporary folder left


def test_write_json_folder_keeps_the_old_folder_when_a_file_fails(tmp_path: Path) -> None:
    out = tmp_path / "metrics"
    out.mkdir()
    (out / "old.json").write_text('{"set5": {}}')
    with pytest.raises(TypeError):  # the second file cannot be written: nothing of the first is kept
        write_json_folder(out, {"a.json": {"set5": {"x": 1.0}}, "b.json": {"set5": {"x": object()}}})
    assert [p.name for p in out.iterdir()] == ["old.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics"]
