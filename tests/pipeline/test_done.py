"""srgan.pipeline.done: what is done, from dvc.lock and the DVC remote alone (constructed cases, then a
real DVC project of two tiny stages with a local remote)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from srgan.pipeline.done import LockedStage, decide, done_stages

from dvc_project import DVC, dvc_env, run

STORE = "the remote"


def _stage(name: str, data=(), outs=(), mismatch: str | None = None) -> LockedStage:
    return LockedStage(name, mismatch, tuple(data), tuple((path, digest, True) for path, digest in outs))


# The study's shape: prepared data -> a training run -> its evaluation, which also reads the folder of
# prepared test sets (a dep holding another stage's output, as `data/prepared/test` does).
CHAIN = [
    _stage("prepare_train", outs=[("data/train", "t1.dir")]),
    _stage("prepare_test@a", outs=[("data/test/a", "a1.dir")]),
    _stage("train@0", data=[("data/train", "t1.dir")], outs=[("models/0", "m1.dir")]),
    _stage("evaluate@0", data=[("data/test", "whole.dir"), ("models/0", "m1.dir")], outs=[("evaluation/0.json", "e1")]),
]
EVERYTHING = frozenset({"t1.dir", "a1.dir", "m1.dir", "e1"})


def _replace(stages: list[LockedStage], name: str, **changes) -> list[LockedStage]:
    return [dataclasses.replace(s, **changes) if s.name == name else s for s in stages]


def test_a_chain_that_matches_and_is_stored_is_done() -> None:
    assert decide(CHAIN, EVERYTHING, STORE) == dict.fromkeys(s.name for s in CHAIN)


def test_a_stage_that_no_longer_matches_undoes_everything_after_it() -> None:
    verdicts = decide(_replace(CHAIN, "train@0", mismatch="params changed: srgan.steps"), EVERYTHING, STORE)
    assert verdicts == {"prepare_train": None, "prepare_test@a": None, "train@0": "params changed: srgan.steps",
                        "evaluate@0": "train@0 is not done"}


def test_a_dep_that_is_not_the_recorded_output_is_not_done() -> None:
    # evaluate@0 scored another checkpoint than the one train@0's entry records (two hosts ran train@0).
    stages = _replace(CHAIN, "evaluate@0", data=(("data/test", "whole.dir"), ("models/0", "m0.dir")))
    assert decide(stages, EVERYTHING, STORE)["evaluate@0"] == (
        "models/0 is not the output dvc.lock records for train@0")


def test_an_edit_of_params_reruns_the_check_but_undoes_nothing_it_checked() -> None:
    """A new seed in params.yaml: the check's entry no longer matches (it reads the whole file), but its output,
    constant while the file passes, is what every other entry records: the done runs stay done."""
    check = LockedStage("check_params", "params changed: seeds", (), (("data/params.checked", "c1", False),))
    on_check = [dataclasses.replace(s, data=(("data/params.checked", "c1"), *s.data)) for s in CHAIN]
    verdicts = decide([check, *on_check], EVERYTHING, STORE)
    assert verdicts == {"check_params": "params changed: seeds", **dict.fromkeys(s.name for s in CHAIN)}
    # another output of the check than the one recorded (another check, another file) is not the same run
    moved = _replace([check, *on_check], "prepare_train", data=(("data/params.checked", "c0"),))
    assert decide(moved, EVERYTHING, STORE)["prepare_train"] == (
        "data/params.checked is not the output dvc.lock records for check_params")
    # any other upstream stage that does not match still undoes what comes after it
    other = _replace([check, *on_check], "train@0", mismatch="params changed: srgan.steps")
    assert decide(other, EVERYTHING, STORE)["evaluate@0"] == "train@0 is not done"


def test_a_folder_dep_follows_the_stages_writing_inside_it() -> None:
    stages = _replace(CHAIN, "prepare_test@a", mismatch="params changed: data.test.a")
    verdicts = decide(stages, EVERYTHING, STORE)
    assert verdicts["train@0"] is None  # it reads no test set
    assert verdicts["evaluate@0"] == "prepare_test@a is not done"


def test_outputs_must_be_where_the_other_hosts_find_them() -> None:
    verdicts = decide(CHAIN, EVERYTHING - {"m1.dir"}, STORE)
    assert verdicts["train@0"] == "models/0 is not in the remote"
    assert verdicts["evaluate@0"] == "train@0 is not done"
    uncached = LockedStage("report", None, (("evaluation/0.json", "e1"),), (("report", "r1.dir", False),))
    assert decide([*CHAIN, uncached], EVERYTHING, STORE)["report"] is None  # in git, not in the remote
    assert decide(_replace(CHAIN, "prepare_train", outs=(("data/train", None, True),)), EVERYTHING, STORE)[
        "prepare_train"] == "dvc.lock records no data/train"


# ---------------------------------------------------------------- a real DVC project

DVC_YAML = {"stages": {
    "make": {"cmd": "cp src.txt a.txt", "deps": ["src.txt"], "params": ["n"], "outs": ["a.txt"]},
    "use": {"cmd": "cat a.txt a.txt > b.txt", "deps": ["a.txt"], "outs": ["b.txt"]},
}}


@pytest.fixture()
def toy(tmp_path: Path, monkeypatch) -> tuple[Path, dict]:
    """A git + DVC project of two stages, reproduced, pushed to a local remote and committed."""
    env = dvc_env(tmp_path)
    for key in ("DVC_SITE_CACHE_DIR", "DVC_NO_ANALYTICS"):
        monkeypatch.setenv(key, env[key])
    repo = tmp_path / "toy"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (repo / "params.yaml").write_text("n: 1\n")
    (repo / "src.txt").write_text("data\n")
    run(["git", "init", "-q"], repo, env)
    run(DVC + ["init", "-q"], repo, env)
    run(DVC + ["remote", "add", "-d", "store", str(tmp_path / "remote")], repo, env)
    run(DVC + ["repro"], repo, env)
    run(DVC + ["push"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "toy"], repo, env)
    return repo, env


@pytest.mark.skipif(shutil.which("cp") is None, reason="the toy stages run cp and cat")
def test_done_in_a_real_project_from_the_lock_and_the_remote(toy, tmp_path: Path) -> None:
    repo, env = toy
    found = done_stages(repo)
    assert found.stages == {"make", "use"} and found.store == "the DVC remote 'store'" and found.lock_committed
    # A fresh clone has no data at all: the same answer, from dvc.lock and the remote.
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    assert done_stages(clone).stages == {"make", "use"}
    # A param the first stage declares: it and what follows are not done (DVC's own `dvc status` agrees).
    (clone / "params.yaml").write_text("n: 2\n")
    found = done_stages(clone)
    assert found.stages == set() and found.why_not == {"make": "params changed: n", "use": "make is not done"}
    assert set(json.loads(run(DVC + ["status", "--json"], clone, env))) >= {"make"}
    (clone / "params.yaml").write_text("n: 1\n")
    (clone / "src.txt").write_text("other\n")
    assert done_stages(clone).why_not["make"] == "src.txt changed"
    run(["git", "checkout", "-q", "--", "src.txt"], clone, env)
    # An output that is not in the remote (pushed nowhere): its stage is dealt again, and says why.
    digest = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]["use"]["outs"][0]["md5"]
    (tmp_path / "remote" / "files" / "md5" / digest[:2] / digest[2:]).unlink()
    found = done_stages(clone)
    assert found.stages == {"make"} and found.unstored == ("use",)
    assert found.why_not == {"use": "b.txt is not in the DVC remote 'store'"}
    # With no remote configured, the cache is the store: the clone's is empty, the project's is not.
    run(DVC + ["remote", "remove", "store"], clone, env)
    assert done_stages(clone).why_not["make"] == "a.txt is not in the DVC cache (no DVC remote is configured)"
    run(DVC + ["remote", "remove", "store"], repo, env)
    assert done_stages(repo).stages == {"make", "use"}
    # This clone's own runs (dvc.lock changed, not committed) are flagged: other hosts plan from the commit.
    (repo / "params.yaml").write_text("n: 3\n")
    run(DVC + ["repro"], repo, env)
    assert not done_stages(repo).lock_committed


def test_not_a_dvc_project_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site"))
    from srgan.core.errors import SrganError

    with pytest.raises(SrganError, match="is not a DVC project: run `srgan plan` in the project's clone, or add --all"):
        done_stages(tmp_path)
