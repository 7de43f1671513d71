"""srgan.report.snapshot: docs blocks generated from a run's report, stale blocks found, and a snapshot whose
differences today's statistics would not give named. The repository's own docs pass the same check."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
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
