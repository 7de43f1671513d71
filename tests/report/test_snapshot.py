"""srgan.report.snapshot: docs blocks generated from a run's report, stale blocks found, and a snapshot whose
differences today's statistics would not give named. The repository's own docs pass the same check."""

from __future__ import annotations

import functools
import json
import locale
import math
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from locales import ascii_locale
from test_report import SEEDS, build, fake_pipeline

from srgan.core.errors import SrganError
from srgan.report import snapshot
from srgan.report.snapshot import Source, check_snapshot, load_snapshot, refreshed, render, stale_blocks

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Source("seeds3", "0" * 40, "dvc exp run -S 'seeds=[0,1,2]'", 1625.0, 0.38, "2026-12-07")
PAGE = """# Results

<!-- results fake headline bicubic srresnet/mse -->
<!-- /results -->

<!-- results fake seeds srresnet/mse@best -->
<!-- /results -->

<!-- results fake differences srresnet -->
<!-- /results -->

<!-- results fake sentences srresnet/vgg19_5_4:srresnet/mse -->
<!-- /results -->

<!-- results fake compare srresnet/vgg19_5_4 srresnet/mse -->
<!-- /results -->

<!-- results report headline bicubic -->
<!-- /results -->
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with a snapshot 'fake' of the three-seed fake pipeline's report and a page quoting it."""
    root = tmp_path_factory.mktemp("project")
    build(fake_pipeline(root, SEEDS), root / "report", seeds=SEEDS)
    folder = root / "docs" / "results" / "fake"
    folder.mkdir(parents=True)
    for name in snapshot.FILES:
        shutil.copy(root / "report" / name, folder / name)
    (folder / "source.json").write_text(json.dumps(asdict(SOURCE)), encoding="utf-8")
    (root / "README.md").write_text(PAGE, encoding="utf-8")
    return root


def test_blocks_are_generated_from_the_snapshot(project: Path) -> None:
    text = refreshed(PAGE, project)
    report = project / "report"
    headline = (report / "headline.md").read_text(encoding="utf-8").splitlines()
    assert "\n".join([*headline[:2], headline[2], headline[3]]) in text  # bicubic, srresnet/mse (best)
    per_image = pd.read_csv(report / "per_image.csv")
    mse = per_image[(per_image["model"] == "srresnet/mse") & (per_image["checkpoint"] == "best")]
    by_seed = mse.groupby("seed")["psnr_y_db"].mean()
    assert f"srresnet/mse (best) PSNR-Y: {by_seed[0]:.3f}, {by_seed[1]:.3f} and {by_seed[2]:.3f} dB for seeds 0, 1 " \
           "and 2" in text
    assert "| vgg19_5_4 vs mse (best)         | +1.00 (1.00 to 1.00) ✔ |" in text
    assert "- srresnet/vgg19_5_4 vs srresnet/mse (best), PSNR-Y: A − B = +1.00 dB" in text
    assert "```\n$ srgan compare srresnet/vgg19_5_4 srresnet/mse\nPSNR-Y (dB), A − B" in text
    # `report` is the committed report folder itself (here the same build): the README's default results
    assert text.count("\n".join([*headline[:2], headline[2]])) == 2
    assert refreshed(text, project) == text  # generating again changes nothing


def test_a_stale_block_and_a_tampered_snapshot_are_named(project: Path) -> None:
    (project / "README.md").write_text(refreshed(PAGE, project), encoding="utf-8")
    assert check_snapshot(project) == []
    typed = (project / "README.md").read_text(encoding="utf-8").replace("+1.00 (1.00 to 1.00) ✔", "+1.10 (1.00 to 1.20) ✔")
    (project / "README.md").write_text(typed, encoding="utf-8")
    assert stale_blocks(project) == ["README.md: results fake differences srresnet"]
    differences = project / "docs" / "results" / "fake" / "differences.csv"
    original = differences.read_text(encoding="utf-8")
    try:
        table = pd.read_csv(differences)
        table.loc[0, "p_holm"] = 0.5
        table.to_csv(differences, index=False)
        assert "fake: differences.csv 'p_holm' differs from today's statistics" in check_snapshot(project)
    finally:
        differences.write_text(original, encoding="utf-8")


def test_bad_blocks_and_missing_snapshots_are_one_line(project: Path) -> None:
    snap = load_snapshot("fake", project)
    with pytest.raises(SrganError, match="unknown results block 'plot srresnet'; blocks: headline"):
        render(snap, ["plot", "srresnet"])
    with pytest.raises(SrganError, match="the headline has no model srresnet/nope"):
        render(snap, ["headline", "srresnet/nope"])
    with pytest.raises(SrganError, match="write a comparison as A:B"):
        render(snap, ["sentences", "srresnet/vgg19_5_4"])
    with pytest.raises(SrganError, match="has no per_image.csv: take the snapshot first"):
        load_snapshot("nothing", project)


def test_the_repositorys_docs_quote_their_snapshots_as_they_are() -> None:
    assert check_snapshot(ROOT) == []


def test_take_on_the_command_line_copies_the_revisions_report_and_its_source(project: Path, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    """`take` with its own --command option (which once took the place of the subcommand's name)."""
    import subprocess

    repo = tmp_path / "repo"
    (repo / "report").mkdir(parents=True)
    for name in snapshot.FILES:
        shutil.copy(project / "report" / name, repo / "report" / name)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "results"]):
        subprocess.run(["git", *command], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                            text=True).stdout.strip()
    monkeypatch.setattr(snapshot, "ROOT", repo)
    snapshot.main(["take", "three", "--rev", "HEAD", "--command", "dvc exp run -S 'seeds=[0,1,2]'", "--seconds",
                   "1056", "--steps-per-s", "0.73", "--date", "2026-12-07"])
    assert capsys.readouterr().out.startswith(f"docs/results/three: per_image.csv, differences.csv, headline.md of "
                                              f"HEAD ({commit[:7]})")
    folder = repo / "docs" / "results" / "three"
    for name in snapshot.FILES:
        assert (folder / name).read_bytes() == (project / "report" / name).read_bytes()
    assert json.loads((folder / "source.json").read_text()) == asdict(
        Source("HEAD", commit, "dvc exp run -S 'seeds=[0,1,2]'", 1056.0, 0.73, "2026-12-07"))


# ------------------------------------------------------------------ direct tests on a tiny snapshot (milliseconds)
# One set 's' of two images 'a', 'b'; each run's images sit 1 dB (0.5 dB for srresnet/vgg@best) either side of the
# seed's mean PSNR-Y below, so the per-seed means of a `seeds` block are these numbers exactly.
SEED_MEANS = {  # (model, checkpoint): PSNR-Y mean of each seed 0, 1, 2...
    ("srresnet/mse", "best"): (23.0, 23.5, 24.25), ("srresnet/vgg", "best"): (21.0, 22.0, 21.6),
    ("srresnet/mse", "last"): (22.0, 22.0, 22.3), ("srresnet/vgg", "last"): (21.5, 21.25, 21.0),
    ("srgan/mse", "best"): (24.5,), ("srgan/vgg", "best"): (23.25,), ("srgan/low", "best"): (19.75,),
    ("srgan/two", "best"): (21.0, 22.0)}
PAIRS = [("srresnet/vgg", "srresnet/mse"), ("srgan/vgg", "srgan/mse")]
HEADLINE = """
| model                 |   s PSNR-Y (dB) |
|:----------------------|----------------:|
| bicubic               |           21.00 |
| srresnet/mse (best)   |    23.58 ± 0.63 |
| srresnet/mse_x (best) |            1.00 |
| srgan/vgg (best)      |           23.25 |
| HR                    |               – |

"""


def _per_image() -> pd.DataFrame:
    """The tiny per-image table, seeds listed last to first (a `seeds` block sorts them), bicubic at 21.0 dB."""
    rows = [{"model": "bicubic", "seed": 0, "checkpoint": "bicubic", "set": "s", "image": image, "psnr_y_db": psnr,
             "ssim_y": ssim} for image, psnr, ssim in (("a", 20.0, 0.5), ("b", 22.0, 0.6))]
    for (model, checkpoint), means in SEED_MEANS.items():
        half = 0.5 if (model, checkpoint) == ("srresnet/vgg", "best") else 1.0
        for seed in reversed(range(len(means))):
            ssim = 0.7 - 0.1 * ("vgg" in model) + 0.01 * seed
            rows += [{"model": model, "seed": seed, "checkpoint": checkpoint, "set": "s", "image": "a",
                      "psnr_y_db": means[seed] - half, "ssim_y": ssim},
                     {"model": model, "seed": seed, "checkpoint": checkpoint, "set": "s", "image": "b",
                      "psnr_y_db": means[seed] + half, "ssim_y": ssim + 0.02 * ("vgg" in model)}]
    return pd.DataFrame(rows)


@functools.cache
def _texts() -> dict[str, str]:
    """per_image.csv, differences.csv (as the report stage writes them) and headline.md of the tiny snapshot."""
    from srgan.report.stats import FIXED, compare_pairs

    per_image = _per_image()
    differences = compare_pairs(per_image, PAIRS, ["psnr_y_db", "ssim_y"], images=FIXED)
    return {"per_image.csv": per_image.to_csv(index=False, float_format="%.4f", lineterminator="\n"),
            "differences.csv": differences.to_csv(index=False, float_format="%.4f", lineterminator="\n"),
            "headline.md": HEADLINE}


def _write_files(folder: Path, source: Source | None = SOURCE) -> None:
    """The tiny snapshot's files in `folder`, with source.json unless `source` is None."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in _texts().items():
        (folder / name).write_text(text, encoding="utf-8")
    if source is not None:
        (folder / "source.json").write_text(json.dumps(asdict(source)), encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A project root (in tmp_path) with a snapshot named tiny under its docs/results folder and the same files
    as its committed report/."""
    _write_files(tmp_path / "docs" / "results" / "tiny")
    _write_files(tmp_path / "report", source=None)
    (tmp_path / "README.md").write_text("# Tiny\n", encoding="utf-8")
    return tmp_path


def _at(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command line at `root`: main passes the module's ROOT to every function it calls (their default
    roots were bound at import and stay this repository's)."""
    monkeypatch.setattr(snapshot, "ROOT", root)


def test_read_csv_keeps_names_as_text_and_reads_only_empty_and_nan_as_missing() -> None:
    table = snapshot._read_csv("model,checkpoint,set,image,seed,x,y,note,reason\n"
                               "007,010,0802,0801,1,NaN,nan,NA,\n"
                               "008,020,1e3,N/A,2,1.5,2.5,null,why\n")
    assert table["model"].tolist() == ["007", "008"]
    assert table["checkpoint"].tolist() == ["010", "020"]
    assert table["set"].tolist() == ["0802", "1e3"]
    assert table["image"].tolist() == ["0801", "N/A"]
    assert table["seed"].tolist() == [1, 2]
    assert table["x"].dtype == np.float64 and np.isnan(table["x"][0]) and table["x"][1] == 1.5
    assert table["y"].dtype == np.float64 and np.isnan(table["y"][0]) and table["y"][1] == 2.5
    assert table["note"].tolist() == ["NA", "null"]  # pandas' other missing-value words stay words
    assert pd.isna(table["reason"][0]) and table["reason"][1] == "why"


def test_load_snapshot_reads_the_files_and_the_source(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    assert snap.name == "tiny"
    assert snap.source == SOURCE
    assert snap.headline == HEADLINE
    pd.testing.assert_frame_equal(snap.per_image, snapshot._read_csv(
        (tiny / "docs/results/tiny/per_image.csv").read_text(encoding="utf-8")))
    assert snap.per_image.shape == (len(_per_image()), 7)
    assert snap.differences.shape == (12, 28)
    assert snap.differences["reason"].isna().tolist() == [True] * 4 + [False] * 2 + [True] * 2 + [False] * 4


def test_load_snapshot_of_the_committed_report_needs_no_source(tiny: Path) -> None:
    snap = load_snapshot("report", tiny)
    assert snap.name == "report" and snap.headline == HEADLINE
    source = snap.source
    assert (source.rev, source.commit, source.command, source.date) == ("HEAD", "", "dvc repro", "")
    assert math.isnan(source.seconds) and math.isnan(source.steps_per_s)
    assert len(snap.per_image) == len(_per_image())


@pytest.mark.parametrize("gone", ["per_image.csv", "differences.csv", "headline.md", "source.json"])
def test_load_snapshot_names_the_first_missing_file(tiny: Path, gone: str) -> None:
    folder = tiny / "docs" / "results" / "tiny"
    (folder / gone).unlink()
    (folder / "headline.md").unlink(missing_ok=True)  # a second missing file: the first in FILES order is named
    first = "headline.md" if gone in ("headline.md", "source.json") else gone
    with pytest.raises(SrganError) as error:
        load_snapshot("tiny", tiny)
    assert str(error.value) == (f"{folder} has no {first}: take the snapshot first "
                                "(python -m srgan.report.snapshot take)")


def test_load_snapshot_of_a_missing_snapshot_or_report_is_one_line(tiny: Path) -> None:
    with pytest.raises(SrganError) as error:
        load_snapshot("report", tiny / "docs")
    assert str(error.value) == (f"{tiny / 'docs' / 'report'} has no per_image.csv: take the snapshot first "
                                "(python -m srgan.report.snapshot take)")
    (tiny / "report" / "source.json").write_text("{}", encoding="utf-8")  # ignored for the committed report
    assert load_snapshot("report", tiny).source.rev == "HEAD"
    (tiny / "docs" / "results" / "report").mkdir()
    assert load_snapshot("report", tiny).source.rev == "HEAD"  # the name `report` is the report folder


def _fake_git(monkeypatch: pytest.MonkeyPatch, failing: str | None = None) -> list[tuple]:
    """`git show COMMIT:report/FILE` answered with 'text of FILE', or failing for report/<failing>."""
    import subprocess

    calls: list[tuple] = []

    def run(args, **kwargs):
        calls.append((args, kwargs))
        file = args[2].split(":report/")[1]
        if file == failing:
            return subprocess.CompletedProcess(args, 128, b"", f"fatal: path 'report/{file}' does not exist\n".encode())
        return subprocess.CompletedProcess(args, 0, f"text of {file} \u2191\n".encode(), b"")

    monkeypatch.setattr(snapshot.subprocess, "run", run)
    return calls


def test_take_snapshot_copies_each_report_file_of_the_commit(tmp_path: Path, monkeypatch) -> None:
    calls = _fake_git(monkeypatch)
    source = Source("seeds3", "abc123", "dvc exp run", 12.5, 0.5, "2026-12-07")
    folder = snapshot.take_snapshot("three", "seeds3", source, tmp_path)
    assert folder == tmp_path / "docs" / "results" / "three"
    assert calls == [(["git", "show", f"abc123:report/{name}"],
                      {"cwd": tmp_path, "capture_output": True, "check": False})
                     for name in ("per_image.csv", "differences.csv", "headline.md")]
    assert sorted(p.name for p in folder.iterdir()) == ["differences.csv", "headline.md", "per_image.csv",
                                                        "source.json"]
    for name in snapshot.FILES:
        assert (folder / name).read_text(encoding="utf-8") == f"text of {name} ↑\n"
    assert (folder / "source.json").read_text(encoding="utf-8") == (
        '{\n "rev": "seeds3",\n "commit": "abc123",\n "command": "dvc exp run",\n "seconds": 12.5,\n'
        ' "steps_per_s": 0.5,\n "date": "2026-12-07"\n}\n')


@pytest.mark.parametrize("failing", ["per_image.csv", "headline.md"])
def test_take_snapshot_of_a_revision_without_a_report_file_writes_nothing(tmp_path: Path, monkeypatch,
                                                                          failing: str) -> None:
    """A failed take leaves an earlier snapshot of that name as it was, not half replaced by another revision's."""
    folder = tmp_path / "docs" / "results" / "three"
    folder.mkdir(parents=True)
    for name in (*snapshot.FILES, "source.json"):
        (folder / name).write_text(f"old {name}\n", encoding="utf-8")
    _fake_git(monkeypatch, failing=failing)
    with pytest.raises(SrganError) as error:
        snapshot.take_snapshot("three", "mine", Source("mine", "abc", "c", 1.0, 1.0, "d"), tmp_path)
    assert str(error.value) == (f"revision 'mine' has no report/{failing}: "
                                f"fatal: path 'report/{failing}' does not exist")
    for name in (*snapshot.FILES, "source.json"):
        assert (folder / name).read_text(encoding="utf-8") == f"old {name}\n"


def test_take_snapshot_names_gits_message_even_when_it_is_not_in_the_locales_encoding(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    import subprocess

    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "utf-8")
    monkeypatch.setattr(snapshot.subprocess, "run", lambda args, **kwargs: subprocess.CompletedProcess(
        args, 128, b"", "fatal: le chemin n'existe pas \xe9\n".encode("latin-1")))
    with pytest.raises(SrganError) as error:
        snapshot.take_snapshot("three", "mine", Source("mine", "abc", "c", 1.0, 1.0, "d"), tmp_path)
    assert str(error.value) == "revision 'mine' has no report/per_image.csv: fatal: le chemin n'existe pas \ufffd"
    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "latin-1")
    with pytest.raises(SrganError) as error:
        snapshot.take_snapshot("three", "mine", Source("mine", "abc", "c", 1.0, 1.0, "d"), tmp_path)
    assert str(error.value) == "revision 'mine' has no report/per_image.csv: fatal: le chemin n'existe pas \xe9"


def test_take_snapshot_copies_the_files_utf8_bytes_whatever_the_locale(tmp_path: Path) -> None:
    """The report's files hold '↑', '−', 'é': under a non-UTF-8 locale (ASCII here) reading `git show` with the
    locale's encoding stops with a UnicodeDecodeError or garbles them."""
    import subprocess

    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin"}
    (tmp_path / "report").mkdir()
    texts = {name: f"{name}: PSNR-Y (dB) ↑ − café\n" for name in snapshot.FILES}
    for name, text in texts.items():
        (tmp_path / "report" / name).write_text(text, encoding="utf-8")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "results"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True,
                            text=True).stdout.strip()
    with ascii_locale():
        folder = snapshot.take_snapshot("three", "HEAD", Source("HEAD", commit, "c", 1.0, 1.0, "d"), tmp_path)
    for name, text in texts.items():
        assert (folder / name).read_bytes() == text.encode("utf-8")


def test_headline_keeps_the_header_and_the_rows_of_the_models_in_the_tables_order(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    lines = HEADLINE.strip().splitlines()
    assert snapshot._headline(snap, ["srgan/vgg", "bicubic"]) == "\n".join([lines[0], lines[1], lines[2], lines[5]])
    assert snapshot._headline(snap, ["srresnet/mse"]) == "\n".join(lines[:2] + [lines[3]])  # not srresnet/mse_x
    assert render(snap, ["headline", "srresnet/mse_x", "HR"]) == "\n".join(lines[:2] + [lines[4], lines[6]]) + "\n"
    assert render(snap, ["headline"]) == "\n".join(lines[:2]) + "\n"


def test_headline_names_the_first_model_it_lacks(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    for models in (["bicubic", "srgan/nope", "model"], ["model", "bicubic"]):
        with pytest.raises(SrganError) as error:
            snapshot._headline(snap, models)
        assert str(error.value) == f"snapshot tiny: the headline has no model {models[models[0] == 'bicubic']}"


def test_seeds_sentences_for_three_two_and_one_seed(tiny: Path) -> None:
    import statistics

    snap = load_snapshot("tiny", tiny)
    means = SEED_MEANS["srresnet/mse", "best"]
    mean, sd = statistics.mean(means), statistics.stdev(means)
    assert (mean, sd) == pytest.approx((23.5833333, 0.6291529))
    assert render(snap, ["seeds", "srresnet/mse@best"]) == (
        "srresnet/mse (best) PSNR-Y: 23.000, 23.500 and 24.250 dB for seeds 0, 1 and 2 (mean 23.583 ± 0.629; "
        "bicubic 21.000, +2.583 on the mean).\n")
    assert snapshot._seeds(snap, "srresnet/vgg@last") == (
        "srresnet/vgg (last) PSNR-Y: 21.500, 21.250 and 21.000 dB for seeds 0, 1 and 2 (mean 21.250 ± 0.250; "
        "bicubic 21.000, +0.250 on the mean).")
    assert snapshot._seeds(snap, "srgan/two@best") == (
        "srgan/two (best) PSNR-Y: 21.000 and 22.000 dB for seeds 0 and 1 (mean 21.500 ± 0.707; "
        "bicubic 21.000, +0.500 on the mean).")
    assert snapshot._seeds(snap, "srgan/vgg@best") == (
        "srgan/vgg (best) PSNR-Y: 23.250 dB for seed 0 (bicubic 21.000, +2.250).")
    assert snapshot._seeds(snap, "srgan/low@best") == (
        "srgan/low (best) PSNR-Y: 19.750 dB for seed 0 (bicubic 21.000, −1.250).")


def test_seeds_of_a_model_or_checkpoint_without_rows_is_one_line(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    for model_at in ("srresnet/mse@epoch9", "srresnet/mse", "nope@best"):
        with pytest.raises(SrganError) as error:
            snapshot._seeds(snap, model_at)
        assert str(error.value) == f"snapshot tiny: no rows for {model_at}"


def test_differences_block_is_the_experiments_table_over_all_sets(tiny: Path) -> None:
    from scipy import stats

    snap = load_snapshot("tiny", tiny)
    for checkpoint, cell in (("best", "−2.05 (−3.48 to −0.62)"), ("last", "−0.85 (−1.87 to 0.17)")):
        diff = np.subtract(SEED_MEANS["srresnet/vgg", checkpoint], SEED_MEANS["srresnet/mse", checkpoint])
        low, high = stats.t.interval(0.95, 2, loc=diff.mean(), scale=diff.std(ddof=1) / np.sqrt(3))
        assert f"{diff.mean():.2f} ({low:.2f} to {high:.2f})".replace("-", "−") == cell
    assert render(snap, ["differences", "srresnet"]) == (
        "| srresnet: A vs B (checkpoint)   |                   PSNR-Y |                         SSIM-Y |\n"
        "|:--------------------------------|-------------------------:|-------------------------------:|\n"
        "| vgg vs mse (best)               | −2.05 (−3.48 to −0.62) ✘ | −0.0900 (−0.0900 to −0.0900) ✘ |\n"
        "| vgg vs mse (last)               |  −0.85 (−1.87 to 0.17) · | −0.0900 (−0.0900 to −0.0900) ✘ |\n")
    assert snapshot._differences(snap, "srgan") == (
        "| srgan: A vs B (checkpoint)   |         PSNR-Y |           SSIM-Y |\n"
        "|:-----------------------------|---------------:|-----------------:|\n"
        "| vgg vs mse (best)            | −1.25 · 1 seed | −0.0900 · 1 seed |")


def test_pairs_split_at_the_first_colon_and_name_the_first_bad_word() -> None:
    assert snapshot._pairs(["a:b", "c:d:e", ":"]) == [("a", "b"), ("c", "d:e"), ("", "")]
    assert snapshot._pairs([]) == []
    with pytest.raises(SrganError) as error:
        snapshot._pairs(["a:b", "srresnet/mse", "x"])
    assert str(error.value) == ("'srresnet/mse': write a comparison as A:B "
                                "(srresnet/hybrid_vgg19_5_4:srresnet/mse)")


def test_sentences_block_lists_the_pairs_asked_for_in_the_tables_order(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    planning = "Planning: 0.10 dB at 80 % power: about"
    assert render(snap, ["sentences", "srgan/vgg:srgan/mse", "srresnet/vgg:srresnet/mse"]) == (
        "- srresnet/vgg vs srresnet/mse (best), PSNR-Y: A − B = −2.05 dB (95 % CI −3.48 to −0.62); p = 0.025; "
        f"2 images × 3 seeds, paired: A is worse. {planning} 263 seeds (per-seed differences spread 0.58 dB; "
        "3 seeds detect 1.88 dB).\n"
        "- srresnet/vgg vs srresnet/mse (last), PSNR-Y: A − B = −0.85 dB (95 % CI −1.87 to 0.17); p = 0.069; "
        "2 images × 3 seeds, paired: not distinguishable — the interval holds 0. "
        f"{planning} 134 seeds (per-seed differences spread 0.41 dB; 3 seeds detect 1.34 dB).\n"
        "- srgan/vgg vs srgan/mse (best), PSNR-Y: A − B = −1.25 dB (2 images × 1 seed, paired): no verdict — one "
        "seed: cannot be separated from training noise; add seeds; these runs only: 95 % CI over the 2 images "
        "−1.25 to −1.25; A better on 0 of 2 images. Planning: 0.10 dB at 80 % power: unknown until two seeds of "
        "each measure the seed spread.\n")
    assert snapshot._sentences(snap, "srgan/vgg:srgan/mse") == (
        "- srgan/vgg vs srgan/mse (best), PSNR-Y: A − B = −1.25 dB (2 images × 1 seed, paired): no verdict — one "
        "seed: cannot be separated from training noise; add seeds; these runs only: 95 % CI over the 2 images "
        "−1.25 to −1.25; A better on 0 of 2 images. Planning: 0.10 dB at 80 % power: unknown until two seeds of "
        "each measure the seed spread.")


def test_compare_block_is_srgan_compares_text_at_the_named_or_last_checkpoint(tiny: Path) -> None:
    from srgan.report.stats import compare_models

    snap = load_snapshot("tiny", tiny)
    table = _per_image()
    vgg_last = table[(table["model"] == "srresnet/vgg") & (table["checkpoint"] == "last")]
    mse_best = table[(table["model"] == "srresnet/mse") & (table["checkpoint"] == "best")]
    expected = compare_models(vgg_last, mse_best, names=("srresnet/vgg@last", "srresnet/mse@best")).text
    assert render(snap, ["compare", "srresnet/vgg", "srresnet/mse@best"]) == (
        f"```\n$ srgan compare srresnet/vgg srresnet/mse@best\n{expected}\n```\n")
    assert expected.splitlines()[3] == "       s       2     3 −2.33 −4.51 to −0.15 0.044 A worse"  # mean of
    # (21.5, 21.25, 21.0) − (23.0, 23.5, 24.25)
    assert snapshot._compare(snap, "srresnet/mse@last", "srresnet/vgg@best").splitlines()[:5] == [
        "$ srgan compare srresnet/mse@last srresnet/vgg@best",
        "PSNR-Y (dB), A − B (higher is better): A = srresnet/mse@last, B = srresnet/vgg@best",
        "paired by seed: t on the per-seed differences over the images; test images fixed; 95 % CI",
        "     set  images seeds A − B       95 % CI     p          verdict",
        "       s       2     3 +0.57 −0.71 to 1.84 0.196 none: CI holds 0"]  # (1.0, 0.0, 0.7) per seed


@pytest.mark.parametrize("words", [[], ["plot", "srresnet"], ["Headline", "bicubic"], ["report"]])
def test_render_of_an_unknown_block_is_one_line(tiny: Path, words: list[str]) -> None:
    snap = load_snapshot("tiny", tiny)
    with pytest.raises(SrganError) as error:
        render(snap, words)
    assert str(error.value) == (f"unknown results block '{' '.join(words)}'; "
                                "blocks: headline, seeds, differences, sentences, compare")


PAGE_TEXT = """intro
<!-- results tiny seeds srgan/vgg@best -->
typed by hand
<!-- /results -->
between
<!-- results report   headline   bicubic  -->
<!-- /results -->
<!-- results tiny headline HR -->
<!-- /results -->
end
"""
LINES = HEADLINE.strip().splitlines()
PAGE_FRESH = f"""intro
<!-- results tiny seeds srgan/vgg@best -->
srgan/vgg (best) PSNR-Y: 23.250 dB for seed 0 (bicubic 21.000, +2.250).
<!-- /results -->
between
<!-- results report   headline   bicubic  -->
{LINES[0]}
{LINES[1]}
{LINES[2]}
<!-- /results -->
<!-- results tiny headline HR -->
{LINES[0]}
{LINES[1]}
{LINES[6]}
<!-- /results -->
end
"""


def test_refreshed_regenerates_every_block_loading_each_snapshot_once(tiny: Path, monkeypatch) -> None:
    loaded = []
    load = snapshot.load_snapshot
    monkeypatch.setattr(snapshot, "load_snapshot", lambda name, root: loaded.append((name, root)) or load(name, root))
    assert refreshed(PAGE_TEXT, tiny) == PAGE_FRESH
    assert loaded == [("tiny", tiny), ("report", tiny)]
    assert refreshed("no blocks <!-- results tiny seeds x -->\n", tiny) == "no blocks <!-- results tiny seeds x -->\n"


def test_refreshed_of_a_snapshot_not_taken_is_one_line(tiny: Path) -> None:
    with pytest.raises(SrganError) as error:
        refreshed("<!-- results nope headline bicubic -->\n<!-- /results -->\n", tiny)
    assert str(error.value) == (f"{tiny / 'docs' / 'results' / 'nope'} has no per_image.csv: take the snapshot "
                                "first (python -m srgan.report.snapshot take)")


def test_pages_are_the_readme_and_the_docs_top_level_markdown_in_order(tmp_path: Path) -> None:
    for name in ("docs/b.md", "docs/a.md", "docs/c.txt", "docs/results/r/x.md", "docs/sub/y.md", "other.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    assert snapshot.pages(tmp_path) == [tmp_path / "README.md", tmp_path / "docs" / "a.md", tmp_path / "docs" / "b.md"]


def test_stale_blocks_names_page_and_block_of_each_stale_one(tiny: Path) -> None:
    (tiny / "README.md").write_text(PAGE_FRESH, encoding="utf-8")
    (tiny / "docs" / "a.md").write_text(PAGE_TEXT, encoding="utf-8")
    (tiny / "docs" / "b.md").write_text(PAGE_FRESH.replace("+2.250", "+2.25"), encoding="utf-8")
    assert stale_blocks(tiny) == ["docs/a.md: results tiny seeds srgan/vgg@best",
                                  "docs/a.md: results report   headline   bicubic ",
                                  "docs/a.md: results tiny headline HR", "docs/b.md: results tiny seeds srgan/vgg@best"]


def test_recomputed_differences_are_the_pairs_and_metrics_of_the_csv_on_fixed_images(tiny: Path) -> None:
    from srgan.report.stats import FIXED, compare_pairs

    snap = load_snapshot("tiny", tiny)
    expected = compare_pairs(snap.per_image, PAIRS, ["psnr_y_db", "ssim_y"], images=FIXED)
    pd.testing.assert_frame_equal(snapshot.recomputed_differences(snap), expected)
    only = snap.differences[(snap.differences["a"] == "srgan/vgg") & (snap.differences["metric"] == "ssim_y")]
    fewer = snapshot.Snapshot("tiny", snap.per_image, only, snap.headline, snap.source)
    pd.testing.assert_frame_equal(snapshot.recomputed_differences(fewer),
                                  compare_pairs(snap.per_image, PAIRS[1:], ["ssim_y"], images=FIXED))


def test_text_reads_missing_values_as_empty_text() -> None:
    text = snapshot._text(pd.Series([np.nan, "x", 1, None, True, ""], dtype=object))
    assert text.dtype == object and text.tolist() == ["", "x", "1", "", "True", ""]


def test_a_snapshot_as_the_report_wrote_it_has_no_problems(tiny: Path) -> None:
    assert snapshot.differences_problems(load_snapshot("tiny", tiny)) == []
    assert check_snapshot(tiny) == []


def _tampered(tiny: Path, change) -> snapshot.Snapshot:
    snap = load_snapshot("tiny", tiny)
    table = snap.differences.astype({"seeds_a": np.float64, "p_value": object})
    change(table)
    return snapshot.Snapshot("tiny", snap.per_image, table, snap.headline, snap.source)


@pytest.mark.parametrize(("decimals", "step"), [(4, 0.00005), (2, 0.005)])
def test_differences_problems_allow_the_csvs_rounding_and_no_more(tiny: Path, decimals: int, step: float) -> None:
    """A value written with `decimals` decimals is within half a unit of the last decimal; 0.6 of one is allowed."""
    def shift(by: float):
        def change(table: pd.DataFrame) -> None:
            table.loc[0, "mean_diff"] += by
            table.loc[1, "seeds_a"] += by
        return change

    assert snapshot.differences_problems(_tampered(tiny, shift(step)), decimals) == []
    assert snapshot.differences_problems(_tampered(tiny, shift(-1.1 * step)), decimals) == []
    assert snapshot.differences_problems(_tampered(tiny, shift(1.3 * step)), decimals) == [
        "tiny: differences.csv 'seeds_a' differs from today's statistics",
        "tiny: differences.csv 'mean_diff' differs from today's statistics"]
    assert snapshot.differences_problems(_tampered(tiny, shift(-1.3 * step)), decimals) != []


def test_differences_problems_name_each_changed_or_missing_field(tiny: Path) -> None:
    def change(table: pd.DataFrame) -> None:
        table.loc[2, "verdict"] = "better"
        table.loc[0, "reason"] = "why"
        table.loc[3, "seed_paired"] = False
        table.loc[8, "ci_low"] = -1.0  # NaN (one seed) in today's statistics
        table.loc[1, "p_value"] = "abc"  # not a number
        del table["images_a_better"], table["higher_is_better"]

    assert snapshot.differences_problems(_tampered(tiny, change)) == [f"tiny: differences.csv {words}" for words in (
        "has no column 'higher_is_better'", "'seed_paired' differs from today's statistics",
        "'ci_low' differs from today's statistics", "'p_value' differs from today's statistics",
        "'verdict' differs from today's statistics", "'reason' differs from today's statistics",
        "has no column 'images_a_better'")]
    assert snapshot.differences_problems(_tampered(tiny, lambda t: t.loc.__setitem__((9, "ci_low"), np.nan))) == []


def test_differences_problems_of_a_table_with_rows_too_many_or_too_few(tiny: Path) -> None:
    snap = load_snapshot("tiny", tiny)
    for table, rows in ((snap.differences.iloc[:-1], 11), (pd.concat([snap.differences, snap.differences]), 24)):
        cut = snapshot.Snapshot("cut", snap.per_image, table, snap.headline, snap.source)
        assert snapshot.differences_problems(cut) == [
            f"cut: differences.csv has {rows} rows, today's statistics give 12"]


def test_check_snapshot_lists_stale_blocks_then_each_snapshot_then_the_report(tiny: Path) -> None:
    _write_files(tiny / "docs" / "results" / "b_second")
    (tiny / "docs" / "results" / "notes.txt").write_text("not a snapshot", encoding="utf-8")
    (tiny / "README.md").write_text(PAGE_TEXT, encoding="utf-8")
    for folder in ("report", "docs/results/tiny", "docs/results/b_second"):
        csv = tiny / folder / "differences.csv"
        csv.write_text(csv.read_text(encoding="utf-8").replace(",worse,", ",better,", 1), encoding="utf-8")
    problems = [f"README.md: results {words}" for words in (
        "tiny seeds srgan/vgg@best", "report   headline   bicubic ", "tiny headline HR")]
    problems += [f"{name}: differences.csv 'verdict' differs from today's statistics"
                 for name in ("b_second", "tiny", "report")]
    assert check_snapshot(tiny) == problems
    for name in snapshot.FILES:
        (tiny / "report" / name).unlink()
    (tiny / "README.md").write_text(PAGE_FRESH.split("between")[0], encoding="utf-8")
    assert check_snapshot(tiny) == problems[3:5]  # without report/: no committed report to check


def test_main_take_prints_the_folder_the_files_and_the_commit(tmp_path: Path, monkeypatch, capsys) -> None:
    _at(tmp_path, monkeypatch)
    asked = []
    monkeypatch.setattr(snapshot, "resolve_rev", lambda root, rev: asked.append((root, rev)) or "abcdef1234567890")
    calls = _fake_git(monkeypatch)
    snapshot.main(["take", "three", "--rev", "seeds3", "--command", "dvc exp run", "--seconds", "1056",
                   "--steps-per-s", "0.73", "--date", "2026-12-07"])
    assert capsys.readouterr().out == ("docs/results/three: per_image.csv, differences.csv, headline.md of seeds3 "
                                       "(abcdef1)\n")
    assert asked == [(tmp_path, "seeds3")]
    assert [call[0][2] for call in calls] == [f"abcdef1234567890:report/{name}" for name in snapshot.FILES]
    assert [call[1]["cwd"] for call in calls] == [tmp_path] * 3
    assert json.loads((tmp_path / "docs/results/three/source.json").read_text(encoding="utf-8")) == {
        "rev": "seeds3", "commit": "abcdef1234567890", "command": "dvc exp run", "seconds": 1056.0,
        "steps_per_s": 0.73, "date": "2026-12-07"}


def test_main_take_of_an_unknown_revision_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    _at(tmp_path, monkeypatch)

    def unknown(root: Path, rev: str) -> str:
        raise SrganError(f"'{rev}' is neither a git revision nor a DVC experiment of {root}")

    monkeypatch.setattr(snapshot, "resolve_rev", unknown)
    with pytest.raises(SystemExit) as stop:
        snapshot.main(["take", "x", "--rev", "nope", "--command", "c", "--seconds", "1", "--steps-per-s", "1",
                       "--date", "d"])
    assert stop.value.code == f"error: 'nope' is neither a git revision nor a DVC experiment of {tmp_path}"
    assert not (tmp_path / "docs").exists()


def test_main_take_of_a_revision_without_a_report_file_names_the_revision(tmp_path: Path, monkeypatch) -> None:
    _at(tmp_path, monkeypatch)
    monkeypatch.setattr(snapshot, "resolve_rev", lambda root, rev: "abcdef1234567890")
    _fake_git(monkeypatch, failing="headline.md")
    with pytest.raises(SystemExit) as stop:
        snapshot.main(["take", "x", "--rev", "seeds3", "--command", "c", "--seconds", "1", "--steps-per-s", "1",
                       "--date", "d"])
    assert stop.value.code == ("error: revision 'seeds3' has no report/headline.md: fatal: path 'report/headline.md' "
                               "does not exist")
    assert not (tmp_path / "docs").exists()


@pytest.mark.parametrize("left_out", ["--rev", "--command", "--seconds", "--steps-per-s", "--date"])
def test_main_take_needs_every_option(tmp_path: Path, monkeypatch, capsys, left_out: str) -> None:
    _at(tmp_path, monkeypatch)
    options = {"--rev": "r", "--command": "c", "--seconds": "1", "--steps-per-s": "2", "--date": "d"}
    argv = ["take", "x", *[w for option, value in options.items() if option != left_out for w in (option, value)]]
    with pytest.raises(SystemExit) as stop:
        snapshot.main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python -m srgan.report.snapshot take: error: the following arguments are required: {left_out}")


def test_main_without_an_action_or_with_a_bad_number_is_a_usage_error(capsys) -> None:
    for argv, message in (([], "the following arguments are required: action"),
                          (["take", "x", "--rev", "r", "--command", "c", "--seconds", "long", "--steps-per-s", "1",
                            "--date", "d"], "argument --seconds: invalid float value: 'long'")):
        with pytest.raises(SystemExit) as stop:
            snapshot.main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1].endswith(f": error: {message}")


def test_main_write_rewrites_only_the_stale_pages(tiny: Path, monkeypatch, capsys) -> None:
    _at(tiny, monkeypatch)
    (tiny / "README.md").write_text(PAGE_TEXT, encoding="utf-8")
    (tiny / "docs" / "a.md").write_text(PAGE_FRESH, encoding="utf-8")
    (tiny / "docs" / "b.md").write_text("no blocks\n", encoding="utf-8")
    before = {name: (tiny / name).stat().st_mtime_ns for name in ("docs/a.md", "docs/b.md")}
    snapshot.main(["write"])
    assert capsys.readouterr().out == "README.md: rewritten\n"
    assert (tiny / "README.md").read_text(encoding="utf-8") == PAGE_FRESH
    assert {name: (tiny / name).stat().st_mtime_ns for name in before} == before
    snapshot.main(["write"])
    assert capsys.readouterr().out == ""


def test_main_write_reads_and_writes_pages_as_utf8_whatever_the_locale(tiny: Path, monkeypatch, capsys) -> None:
    """The pages hold '−', '✔', 'Δ': under a non-UTF-8 locale (ASCII here) reading them with the locale's
    encoding stops with a UnicodeDecodeError."""
    _at(tiny, monkeypatch)
    (tiny / "README.md").write_text("A − B ✔ ΔE\n" + PAGE_TEXT, encoding="utf-8")
    with ascii_locale():
        snapshot.main(["write"])
    assert capsys.readouterr().out == "README.md: rewritten\n"
    assert (tiny / "README.md").read_text(encoding="utf-8") == "A − B ✔ ΔE\n" + PAGE_FRESH


def test_main_write_of_a_snapshot_not_taken_is_one_line(tiny: Path, monkeypatch) -> None:
    _at(tiny, monkeypatch)
    (tiny / "README.md").write_text("<!-- results nope seeds a@b -->\n<!-- /results -->\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        snapshot.main(["write"])
    assert stop.value.code == (f"error: {tiny / 'docs' / 'results' / 'nope'} has no per_image.csv: take the "
                               "snapshot first (python -m srgan.report.snapshot take)")


def test_main_check_prints_each_problem_and_exits_1_or_says_up_to_date(tiny: Path, monkeypatch, capsys) -> None:
    _at(tiny, monkeypatch)
    snapshot.main(["check"])
    assert capsys.readouterr().out == "results blocks and snapshots: up to date\n"
    (tiny / "docs" / "a.md").write_text(PAGE_TEXT.split("between")[0], encoding="utf-8")
    (tiny / "docs" / "b.md").write_text(PAGE_TEXT.split("between")[1], encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        snapshot.main(["check"])
    assert stop.value.code == 1
    assert capsys.readouterr().out == ("docs/a.md: results tiny seeds srgan/vgg@best\n"
                                       "docs/b.md: results report   headline   bicubic \n"
                                       "docs/b.md: results tiny headline HR\n")


HELP = """usage: python -m srgan.report.snapshot [-h] {take,write,check} ...

Results quoted in the docs, generated from a run's report rather than typed.

positional arguments:
  {take,write,check}
    take              copy a revision's report files into docs/results/NAME/
    write             regenerate every results block of README.md and docs/
    check             exit 1 naming each stale block or snapshot

options:
  -h, --help          show this help message and exit
usage: python -m srgan.report.snapshot take [-h] --rev REV --command COMMAND --seconds SECONDS --steps-per-s
                                            STEPS_PER_S --date DATE
                                            name

positional arguments:
  name

options:
  -h, --help            show this help message and exit
  --rev REV             a git revision or DVC experiment name
  --command COMMAND     what produced the run, as a reader would rerun it
  --seconds SECONDS     the run's wall time
  --steps-per-s STEPS_PER_S
                        benchmarks/bench_train.py on that machine
  --date DATE           YYYY-MM-DD
"""


def test_main_help_lists_the_actions_and_the_options_of_take(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    for argv in (["--help"], ["take", "--help"]):
        with pytest.raises(SystemExit) as stop:
            snapshot.main(argv)
        assert stop.value.code == 0
    assert capsys.readouterr().out == HELP


@pytest.mark.parametrize(("words", "message"), [
    (["seeds"], "results block 'seeds': write it as seeds MODEL@CHECKPOINT"),
    (["seeds", "a@b", "c@d"], "results block 'seeds a@b c@d': write it as seeds MODEL@CHECKPOINT"),
    (["differences"], "results block 'differences': write it as differences EXPERIMENT"),
    (["compare", "srresnet/mse"], "results block 'compare srresnet/mse': write it as compare A B"),
    (["compare", "a", "b", "c"], "results block 'compare a b c': write it as compare A B"),
    (["differences", "srres"], "snapshot tiny: differences.csv has no comparison of experiment srres"),
    (["differences", "srresnet/vgg"], "snapshot tiny: differences.csv has no comparison of experiment srresnet/vgg"),
    (["sentences", "srgan/vgg:srgan/mse", "srresnet/mse:srresnet/vgg", "x:y"],
     "snapshot tiny: differences.csv has no comparison srresnet/mse:srresnet/vgg"),
    (["compare", "srresnet/mse", "srresnet/nope"], "snapshot tiny: no rows for srresnet/nope"),
    (["compare", "nope@best", "srresnet/mse"], "snapshot tiny: no rows for nope"),
])
def test_a_block_with_the_wrong_words_is_one_line(tiny: Path, words: list[str], message: str) -> None:
    """Once a traceback (a word too few or too many, a model not in the table) or a silently empty block."""
    with pytest.raises(SrganError) as error:
        render(load_snapshot("tiny", tiny), words)
    assert str(error.value) == message


def test_the_module_works_on_this_repository_by_default() -> None:
    assert snapshot.ROOT == ROOT
    assert snapshot.pages()[0] == ROOT / "README.md"
