"""`srgan compare A B`: specs, revisions read from git (and DVC experiment names), the paired difference
of constructed per-image numbers, and one-line errors."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from locales import ascii_locale
from scipy import stats

from srgan.cli import main as cli_main
from srgan.core.errors import SrganError
from srgan.report.compare import ModelSpec, compare, complete, git_reader, parse_spec, resolve_rev

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}


def _table(shift_db: float, seeds=(0, 1), images: int = 12, noise_seed: int = 0) -> pd.DataFrame:
    """The report's per-image table: srgan/mse and srgan/vgg at step5 and step10, vgg = mse + shift_db."""
    rng = np.random.default_rng(noise_seed)
    rows = []
    for seed in seeds:
        base = 28 + rng.normal(0, 1.0, images)
        for model, offset in (("srgan/mse", 0.0), ("srgan/vgg", shift_db)):
            for label in ("step5", "step10"):
                for i in range(images):
                    rows.append({"model": model, "seed": seed, "checkpoint": label, "set": "set14",
                                 "image": f"{i:04d}", "gray": False, "psnr_y_db": base[i] + offset,
                                 "ssim_y": 0.8, "niqe_y": 6.0})
    return pd.DataFrame(rows)


def _write(root: Path, table: pd.DataFrame) -> None:
    (root / "report").mkdir(parents=True, exist_ok=True)
    table.to_csv(root / "report" / "per_image.csv", index=False, float_format="%.4f")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env={**GIT_ENV, "PATH": "/usr/bin:/bin"})


def test_specs() -> None:
    assert parse_spec("HEAD~1:srgan/vgg19_5_4@step10") == ModelSpec("HEAD~1", "srgan/vgg19_5_4", "step10")
    assert parse_spec("srgan/mse") == ModelSpec(None, "srgan/mse", None)
    assert parse_spec("main:") == ModelSpec("main", "", None)
    assert complete(parse_spec("srgan/vgg@step5"), parse_spec("HEAD~1:")) == (
        ModelSpec(None, "srgan/vgg", "step5"), ModelSpec("HEAD~1", "srgan/vgg", "step5"))
    for bad, message in ((":srgan/mse", "revision before ':'"), ("srgan/mse@", "checkpoint after '@'"),
                         ("", "name a model")):
        with pytest.raises(SrganError, match=message):
            parse_spec(bad)
    with pytest.raises(SrganError, match="name a model on at least one side"):
        complete(parse_spec("HEAD:"), parse_spec("HEAD~1:"))


def test_a_known_difference_is_found_and_a_null_one_is_noise(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, _table(0.5))
    read = git_reader(tmp_path)
    result = compare(parse_spec("srgan/vgg"), parse_spec("srgan/mse"), "psnr_y_db", read)
    pooled = result.rows.iloc[-1]
    assert pooled["set"] == "all sets" and pooled["verdict"] == "better" and pooled["seed_paired"]
    assert pooled["mean_diff"] == pytest.approx(0.5, abs=1e-3) and pooled["ci_low"] <= 0.5 <= pooled["ci_high"]
    assert "A = srgan/vgg@step10, B = srgan/mse@step10\npaired by seed" in result.text
    same = compare(parse_spec("srgan/mse@step5"), parse_spec("srgan/mse@step10"), "psnr_y_db", read)
    assert (same.rows.iloc[-1]["verdict"], same.rows.iloc[-1]["reason"]) == ("indistinguishable", "the interval holds 0")
    wide = compare(parse_spec("srgan/vgg"), parse_spec("srgan/mse"), "psnr_y_db", read, images="random")
    assert wide.rows.iloc[-1]["images"] == "random" and "test images a sample too" in wide.text


def test_commits_are_read_from_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, _table(0.0))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "first results")
    _write(tmp_path, _table(0.8))  # the next commit's vgg: 0.8 dB better on every image and seed
    _git(tmp_path, "commit", "-qam", "second results")
    (tmp_path / "report" / "per_image.csv").unlink()  # only git holds the tables now
    cli_main(["compare", "--repo", str(tmp_path), "HEAD:srgan/vgg", "HEAD~1:"])
    out = capsys.readouterr().out
    assert "A = HEAD:srgan/vgg@step10, B = HEAD~1:srgan/vgg@step10\npaired by seed" in out
    assert "+0.80" in out and "A better" in out
    with pytest.raises(SystemExit, match="has no model 'srgan/nope'; it has srgan/mse, srgan/vgg"):
        cli_main(["compare", "--repo", str(tmp_path), "HEAD:srgan/nope", "HEAD:srgan/mse"])
    with pytest.raises(SystemExit, match="srgan/vgg has no checkpoint 'best'"):
        cli_main(["compare", "--repo", str(tmp_path), "HEAD:srgan/vgg@best", "HEAD:srgan/mse"])
    with pytest.raises(SystemExit, match="'nowhere' is neither a git revision nor a DVC experiment"):
        cli_main(["compare", "--repo", str(tmp_path), "nowhere:srgan/vgg", "HEAD:srgan/mse"])
    with pytest.raises(SystemExit, match="per_image.csv not found"):
        cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    with pytest.raises(SystemExit, match="unknown metric 'psnr'"):
        cli_main(["compare", "--repo", str(tmp_path), "--metric", "psnr", "HEAD:srgan/vgg", "HEAD:srgan/mse"])


@pytest.mark.parametrize(("repo", "message"), [
    ("/nonexistent", "--repo /nonexistent: no such folder"),
    ("README.md", "--repo README.md: no such folder"),
])
def test_a_repo_that_is_no_folder_is_one_line(repo: str, message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("not a folder\n", encoding="utf-8")
    path = repo if repo.startswith("/") else str(tmp_path / repo)
    with pytest.raises(SystemExit) as stop:
        cli_main(["compare", "--repo", path, "srgan/vgg", "srgan/mse"])
    assert str(stop.value).startswith("error: ") and message.split(":")[-1] in str(stop.value)
    assert "\n" not in str(stop.value)


def test_a_folder_outside_git_and_a_table_that_is_not_one_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a git work tree"):
        cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    _git(tmp_path, "init", "-q")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "per_image.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="has no column 'model': not a per-image table"):
        cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    (tmp_path / "report" / "per_image.csv").write_text("", encoding="utf-8")
    with pytest.raises(SystemExit, match="is not a per-image table the report wrote"):
        cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    with pytest.raises(SystemExit, match="'HEAD~99' is neither a git revision nor a DVC experiment"):
        cli_main(["compare", "--repo", str(tmp_path), "HEAD~99:srgan/vgg", "srgan/mse"])


def test_one_seed_says_why_there_is_no_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, _table(-4.94, seeds=(0,), images=3))
    cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    out = capsys.readouterr().out
    assert "−4.94" in out and "none: one seed" in out
    assert "No verdict: one seed: cannot be separated from training noise; add seeds." in out
    assert "these runs only: A − B −4.94 dB" in out and "A better on 0 of 3 images" in out


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format="%.4f")


def _error(call: Callable[[], object]) -> str:
    with pytest.raises(SrganError) as caught:
        call()
    return str(caught.value)


def test_a_spec_prints_as_it_is_written() -> None:
    for text in ("srgan/mse", "bicubic@best", "main:srgan/mse", "HEAD~1:srgan/vgg19_5_4@step10"):
        assert str(parse_spec(text)) == text


def test_a_side_given_as_a_revision_alone_takes_the_other_sides_model_and_checkpoint() -> None:
    assert complete(parse_spec("HEAD~1:"), parse_spec("srgan/vgg@step5")) == (
        ModelSpec("HEAD~1", "srgan/vgg", "step5"), ModelSpec(None, "srgan/vgg", "step5"))
    assert complete(parse_spec("HEAD~1:@step5"), parse_spec("srgan/vgg@step10")) == (  # its own checkpoint kept
        ModelSpec("HEAD~1", "srgan/vgg", "step5"), ModelSpec(None, "srgan/vgg", "step10"))
    assert complete(parse_spec("HEAD~1:"), parse_spec("main:srgan/vgg")) == (
        ModelSpec("HEAD~1", "srgan/vgg", None), ModelSpec("main", "srgan/vgg", None))
    assert _error(lambda: complete(parse_spec("HEAD:"), parse_spec("HEAD~1:"))) == (
        "name a model on at least one side, e.g. srgan compare srgan/vgg19_5_4 HEAD~1:")


FULL = _csv(_table(0.5, images=3))


@pytest.mark.parametrize(("a", "b", "texts", "message"), [
    ("srgan/nope", "srgan/mse", {None: FULL},
     "the working tree's report/per_image.csv has no model 'srgan/nope'; it has srgan/mse, srgan/vgg"),
    ("HEAD~1:srgan/nope", "srgan/mse", {"HEAD~1": FULL},
     "HEAD~1:report/per_image.csv has no model 'srgan/nope'; it has srgan/mse, srgan/vgg"),
    ("srgan/vgg", "srgan/mse", {None: "a,b\n1,2\n"},
     "the working tree's report/per_image.csv has no column 'model': not a per-image table the report wrote"),
    ("HEAD:srgan/vgg", "srgan/mse", {"HEAD": _csv(_table(0.5, images=3).drop(columns="checkpoint"))},
     "HEAD:report/per_image.csv has no column 'checkpoint': not a per-image table the report wrote"),
    ("srgan/vgg@best", "HEAD~1:", {None: FULL, "HEAD~1": FULL},
     "srgan/vgg has no checkpoint 'best' in the working tree's report/per_image.csv; it has step5, step10"),
    ("srgan/vgg", "HEAD~1:srgan/mse@best", {None: FULL, "HEAD~1": FULL},
     "srgan/mse has no checkpoint 'best' in HEAD~1:report/per_image.csv; it has step5, step10"),
], ids=["tree-model", "rev-model", "tree-column", "rev-column", "tree-checkpoint", "rev-checkpoint"])
def test_errors_name_the_working_tree_or_the_revision(a: str, b: str, texts: dict, message: str) -> None:
    assert _error(lambda: compare(parse_spec(a), parse_spec(b), "psnr_y_db", texts.__getitem__)) == message


def test_an_empty_name_cell_is_a_name_no_spec_asks_for() -> None:
    """A hand-edited per_image.csv with an empty model, checkpoint, set or image cell: read as text, never NaN
    (a NaN model stopped the 'has no model' message with a TypeError)."""
    table = _table(0.5, images=3)
    table.loc[0, ["model", "checkpoint", "set", "image"]] = ""
    text = _csv(table)
    message = "the working tree's report/per_image.csv has no model 'srgan/nope'; it has srgan/mse, srgan/vgg"
    assert _error(lambda: compare(parse_spec("srgan/nope"), parse_spec("srgan/mse"), "psnr_y_db",
                                  {None: text}.__getitem__)) == message
    result = compare(parse_spec("srgan/vgg"), parse_spec("srgan/mse"), "psnr_y_db", {None: text}.__getitem__)
    assert result.rows.iloc[-1]["mean_diff"] == pytest.approx(0.5, abs=1e-9)


def test_the_metric_asked_for_is_compared() -> None:
    table = _table(0.5, images=3)
    image = table["image"].astype(int)
    vgg = (table["model"] == "srgan/vgg").to_numpy()
    # SSIM-Y: vgg − mse is 0.030 on every image of seed 0 and 0.032 of seed 1 (PSNR-Y: 0.5 dB)
    table["ssim_y"] = 0.8 + 0.01 * image + vgg * (0.030 + 0.002 * table["seed"])
    result = compare(parse_spec("srgan/vgg"), parse_spec("srgan/mse"), "ssim_y", {None: _csv(table)}.__getitem__)
    pooled = result.rows.iloc[-1]
    half = stats.t.ppf(0.975, 1) * np.std([0.030, 0.032], ddof=1) / np.sqrt(2)  # paired t over 2 seeds
    assert (pooled["metric"], pooled["seed_paired"]) == ("ssim_y", True)
    assert pooled[["mean_diff", "ci_low", "ci_high"]].tolist() == pytest.approx([0.031, 0.031 - half, 0.031 + half],
                                                                                   abs=1e-9)


def test_names_that_look_like_numbers_stay_text() -> None:
    """Image names such as DIV2K's "0801" (and a set or checkpoint named with digits) are text, as written."""
    table = _table(0.5, images=3)
    table["set"] = "01"
    table["image"] = table["image"].map({"0000": "0801", "0001": "0802", "0002": "0803"})
    table["checkpoint"] = table["checkpoint"].map({"step5": "0500", "step10": "1000"})
    read = {None: _csv(table)}.__getitem__
    result = compare(parse_spec("srgan/vgg@0500"), parse_spec("srgan/mse@0500"), "psnr_y_db", read)
    assert result.rows["set"].tolist() == ["01", "all sets"]
    assert result.text.splitlines()[0] == "PSNR-Y (dB), A − B (higher is better): A = srgan/vgg@0500, B = srgan/mse@0500"
    lacking = table[~((table["model"] == "srgan/vgg") & (table["seed"] == 1) & (table["image"] == "0803"))]
    assert _error(lambda: compare(parse_spec("srgan/vgg@0500"), parse_spec("srgan/mse@0500"), "psnr_y_db",
                                  {None: _csv(lacking)}.__getitem__)) == (
        "the per-image table of srgan/vgg@0500 has no row for seed 1, 01/0803, which its other seeds have; "
        "evaluate every seed on the same sets")


def test_names_pandas_would_take_for_missing_values_stay_names() -> None:
    table = _table(0.5, images=4)
    table["image"] = table["image"].map({"0000": "NA", "0001": "None", "0002": "null", "0003": "n/a"})
    result = compare(parse_spec("srgan/vgg"), parse_spec("srgan/mse"), "psnr_y_db", {None: _csv(table)}.__getitem__)
    assert result.rows.iloc[-1][["n_images", "n_dropped"]].tolist() == [4, 0]


def test_no_git_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without git
    with pytest.raises(SystemExit) as stop:
        cli_main(["compare", "--repo", str(tmp_path), "srgan/vgg", "srgan/mse"])
    assert str(stop.value) == "error: git is not installed: srgan compare reads the results from git"


def test_a_revision_without_the_table_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("results come later\n", encoding="utf-8")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "no results yet")
    capfd.readouterr()
    assert _error(lambda: git_reader(tmp_path)("HEAD")) == (
        "revision 'HEAD' holds no report/per_image.csv (results from before the report wrote it, or not committed)")
    assert capfd.readouterr() == ("", "")  # not git's own "fatal: path ... does not exist" too


def test_a_revision_that_starts_with_a_dash_is_a_revision(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, _table(0.5, images=3))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "results")
    _git(tmp_path, "update-ref", "refs/tags/-v1", "HEAD")  # not an option of git rev-parse
    (tmp_path / "report" / "per_image.csv").unlink()
    assert git_reader(tmp_path)("-v1") == FULL


def _head(root: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_dvc_experiment_is_read_at_its_commit(tmp_path: Path) -> None:
    """An experiment's name resolves through its ref, refs/exps/<baseline[:2]>/<baseline[2:]>/<name>, as
    `dvc exp run` leaves it: a commit on no branch."""
    _git(tmp_path, "init", "-q")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("", encoding="utf-8")
    _write(tmp_path, _table(0.0, images=3))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "baseline")
    baseline = _head(tmp_path)
    _write(tmp_path, _table(0.5, images=3))
    _git(tmp_path, "commit", "-qam", "mse05")
    experiment = _head(tmp_path)
    _git(tmp_path, "reset", "-q", "--hard", baseline)
    _git(tmp_path, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/mse05", experiment)
    assert resolve_rev(tmp_path, "mse05") == experiment
    assert git_reader(tmp_path)("mse05") == FULL


def test_non_ascii_names_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    table = _table(0.0, images=3)
    table["image"] = table["image"].map({"0000": "café", "0001": "naïve", "0002": "über"})
    _git(tmp_path, "init", "-q")
    _write(tmp_path, table)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "results")
    _write(tmp_path, table.assign(psnr_y_db=table["psnr_y_db"] + 0.5 * (table["model"] == "srgan/vgg")))
    with ascii_locale():
        result = compare(parse_spec("srgan/vgg"), parse_spec("HEAD:"), "psnr_y_db", git_reader(tmp_path))
    pooled = result.rows.iloc[-1]
    assert pooled[["n_images", "n_dropped"]].tolist() == [3, 0]
    assert pooled["mean_diff"] == pytest.approx(0.5, abs=1e-9)
