"""srgan.pipeline.worker and `srgan worker sync`: a used clone to the next commit, losing nothing unpushed.

Fast cases on a toy DVC project (two `cp`/`cat` stages, a bare git origin, a local DVC remote); the
study's own clones go through two commits in tests/pipeline/test_multihost.py (slow, micro profile).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from srgan.cli import main as cli_main
from srgan.core.errors import SrganError
from srgan.pipeline.worker import Change, changes, dvc_ignore_entries, output_folders, sync

from dvc_project import DVC, dvc_env, run

pytestmark = pytest.mark.skipif(shutil.which("cp") is None, reason="the toy stages run cp and cat")

TOY = {"stages": {
    "make": {"cmd": "cp src.txt out/a.txt", "deps": ["src.txt"], "params": ["n"], "outs": ["out/a.txt"]},
    "use": {"matrix": {"k": [1, 2]}, "cmd": "cat out/a.txt out/a.txt > out/b${item.k}.txt",
            "deps": ["out/a.txt"], "outs": ["out/b${item.k}.txt"]},
}}


def _commit(repo: Path, env: dict, message: str) -> str:
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", message], repo, env)
    return run(["git", "rev-parse", "HEAD"], repo, env).strip()


@pytest.fixture()
def toy(tmp_path: Path, monkeypatch) -> tuple[Path, Path, dict]:
    """(origin's working clone, a worker clone that ran the pipeline at the first commit, env)."""
    env = dvc_env(tmp_path)
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", env["DVC_SITE_CACHE_DIR"])
    for key, value in env.items():
        if key.startswith("GIT_") or key == "DVC_NO_ANALYTICS":
            monkeypatch.setenv(key, value)
    origin, author = tmp_path / "origin.git", tmp_path / "author"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path, env)
    author.mkdir()
    (author / "out").mkdir()
    (author / "out" / "keep.md").write_text("the stages write here\n")
    (author / "dvc.yaml").write_text(yaml.safe_dump(TOY, sort_keys=False))
    (author / "params.yaml").write_text("n: 1\n")
    (author / "src.txt").write_text("data\n")
    run(["git", "init", "-q", "-b", "main"], author, env)
    run(DVC + ["init", "-q"], author, env)
    run(DVC + ["remote", "add", "-d", "store", str(tmp_path / "remote")], author, env)
    _commit(author, env, "toy")
    run(["git", "remote", "add", "origin", str(origin)], author, env)
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    worker = tmp_path / "worker"
    run(["git", "clone", "-q", str(origin), str(worker)], tmp_path, env)
    run(DVC + ["repro"], worker, env)  # a round: dvc.lock and out/.gitignore appear, nothing is pushed yet
    return author, worker, env


def _next_commit(author: Path, env: dict, n: int) -> str:
    (author / "params.yaml").write_text(f"n: {n}\n")
    sha = _commit(author, env, f"n = {n}")
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    return sha


def test_changes_and_what_dvc_writes(toy) -> None:
    _, worker, env = toy
    assert set(changes(worker)) == {Change("dvc.lock", False), Change("out/.gitignore", False)}
    folders = output_folders(worker / "dvc.yaml")
    assert [p.pattern for p in folders] == ["out"]
    assert dvc_ignore_entries(worker, Change("out/.gitignore", False), folders) == {"/a.txt", "/b1.txt", "/b2.txt"}
    (worker / "out" / ".gitignore").write_text("/a.txt\n*.tmp\n")  # a line DVC does not write
    assert dvc_ignore_entries(worker, Change("out/.gitignore", False), folders) is None
    assert dvc_ignore_entries(worker, Change("src.txt", True), folders) is None
    # A placeholder in an output's folder matches any name ('models/srgan/${item.variant}/seed…').
    (worker / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"t": {
        "matrix": {"v": ["x"]}, "cmd": "true", "outs": ["models/${item.v}/seed0", {"report": {"cache": False}}]}}}))
    assert [p.pattern for p in output_folders(worker / "dvc.yaml")] == ["", "models/[^/]+"]


def test_sync_pushes_first_then_moves_the_clone(toy, tmp_path: Path) -> None:
    author, worker, env = toy
    lock = yaml.safe_load((worker / "dvc.lock").read_text())["stages"]
    digests = {out["md5"] for entry in lock.values() for out in entry["outs"]}
    (worker / "notes.txt").write_text("mine\n")  # untracked, and the next commit has none: it stays
    (worker / "state").mkdir()
    (worker / "state" / "resume.pt").write_text("resume point\n")
    target = _next_commit(author, env, 2)
    done = sync(worker, "origin/main")
    assert done.commit == target == run(["git", "rev-parse", "HEAD"], worker, env).strip()
    assert set(done.discarded) == {"dvc.lock", "out/.gitignore"} and done.pushed.startswith("dvc push --run-cache:")
    stored = {p.parent.name + p.name for p in (tmp_path / "remote" / "files" / "md5").rglob("*") if p.is_file()}
    assert digests <= stored  # the round's outputs reached the remote before anything was discarded
    assert any((tmp_path / "remote" / "runs").rglob("*"))  # and its run-cache entries
    assert (worker / "notes.txt").read_text() == "mine\n" and (worker / "state" / "resume.pt").is_file()
    # The outputs stay, still ignored: this commit's dvc.lock does not record them, so DVC's entries come back.
    assert (worker / "out" / "a.txt").is_file() and "a.txt" not in run(["git", "status", "--porcelain"], worker, env)
    assert done.kept_ignored == 3 and "3 not in this commit's dvc.lock kept ignored" in done.summary()


def test_sync_moves_a_worker_past_a_commit_that_holds_the_coordinators_lock(toy) -> None:
    """The issue's case: `git checkout` of the next results commit fails over the worker's own dvc.lock."""
    author, worker, env = toy
    run(DVC + ["repro"], author, env)  # round 1's coordinator commits dvc.lock and out/.gitignore
    run(DVC + ["push"], author, env)
    _commit(author, env, "results of round 1")
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    sync(worker, "origin/main")
    second = _next_commit(author, env, 2)  # round 2 starts
    sync(worker, "origin/main")
    assert run(["git", "rev-parse", "HEAD"], worker, env).strip() == second
    run(DVC + ["repro"], worker, env)  # the worker's round: its dvc.lock now differs from the commit's
    run(DVC + ["repro"], author, env)  # and the coordinator's results of round 2
    run(DVC + ["push"], author, env)
    third = _commit(author, env, "results of round 2")
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    run(["git", "fetch", "-q"], worker, env)
    git = subprocess.run(["git", "checkout", "-q", third], cwd=worker, capture_output=True, text=True, env=env)
    assert git.returncode != 0 and "dvc.lock" in git.stderr, git.stderr  # what the issue saw
    done = sync(worker, third)
    assert done.commit == third and "dvc.lock" in done.discarded
    assert run(["git", "status", "--porcelain"], worker, env) == ""  # the commit, as the coordinator left it
    (worker / "params.yaml").write_text("n: 5\n")  # any other change: refused, nothing touched
    with pytest.raises(SrganError, match=r"params.yaml is changed, and it is not something DVC writes again"):
        sync(worker, second)
    assert run(["git", "rev-parse", "HEAD"], worker, env).strip() == third


def test_sync_refuses_in_one_line_and_resets_nothing(toy, tmp_path: Path, monkeypatch) -> None:
    author, worker, env = toy
    _next_commit(author, env, 2)
    before = (worker / "dvc.lock").read_text()
    monkeypatch.chdir(worker)
    with pytest.raises(SystemExit) as info:
        cli_main(["worker", "sync", "no-such-commit"])
    assert str(info.value).startswith("error: finding commit 'no-such-commit' failed") and "\n" not in str(info.value)
    # A remote that cannot take the push (its folder would be inside a file): nothing is reset.
    (tmp_path / "a-file").write_text("")
    run(DVC + ["remote", "modify", "--local", "store", "url", str(tmp_path / "a-file" / "remote")], worker, env)
    with pytest.raises(SystemExit) as info:
        cli_main(["worker", "sync", "origin/main"])
    assert str(info.value).startswith("error: dvc push --run-cache failed (") and "nothing was reset" in str(info.value)
    assert (worker / "dvc.lock").read_text() == before and (worker / "out" / ".gitignore").is_file()


def test_sync_stops_on_an_untracked_file_the_commit_tracks(toy) -> None:
    author, worker, env = toy
    (author / "notes.txt").write_text("the author's\n")
    _commit(author, env, "notes")
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    (worker / "notes.txt").write_text("the worker's\n")
    with pytest.raises(SrganError, match="notes.txt is untracked here and origin/main tracks it: move it away first"):
        sync(worker, "origin/main")
    assert (worker / "dvc.lock").is_file()


def test_sync_takes_the_commits_params_checked_over_an_untracked_one(toy) -> None:
    """A worker that ran the params check before the coordinator committed its output holds an untracked
    data/params.checked; the check writes the same bytes at every commit, so sync replaces it like dvc.lock."""
    author, worker, env = toy
    checked = "checked: every stage of dvc.yaml depends on this file\n"
    for clone in (author, worker):
        (clone / "data").mkdir()
        (clone / "data" / "params.checked").write_text(checked)
    commit = _commit(author, env, "the check's output")
    run(["git", "push", "-q", "origin", "HEAD:main"], author, env)
    done = sync(worker, "origin/main")
    assert done.commit == commit and "data/params.checked" in done.discarded
    # what is left is DVC's entry for the worker's own output, which this commit does not record
    assert run(["git", "status", "--porcelain"], worker, env).splitlines() == ["?? out/.gitignore"]
    assert (worker / "data" / "params.checked").read_text() == checked
