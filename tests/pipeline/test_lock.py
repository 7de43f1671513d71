"""srgan.pipeline.lock: the dvc.lock entries whose outputs are in neither the cache nor the remote (a real toy DVC
project of two stages with a local remote), and dropping them with DVC's writer, leaving the rest as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from test_done import toy  # noqa: F401 - the fixture: two stages, reproduced, pushed, committed

from srgan.pipeline.lock import forget_entries, unavailable_entries

from dvc_project import DVC, run

pytestmark = pytest.mark.skipif(shutil.which("cp") is None, reason="the toy stages run cp and cat")
FOREIGN = "0123456789abcdef0123456789abcdef"


def _foreign_lock(repo: Path, stage: str) -> None:
    """Make dvc.lock name, for `stage`'s output, bytes produced elsewhere and stored nowhere."""
    from dvc.utils.serialize import modify_yaml

    with modify_yaml(str(repo / "dvc.lock")) as lock:
        lock["stages"][stage]["outs"][0]["md5"] = FOREIGN


def test_entries_whose_outputs_are_nowhere_are_found_and_forgotten(toy) -> None:  # noqa: F811
    repo, env = toy
    assert unavailable_entries(repo).stages == ()
    _foreign_lock(repo, "make")
    found = unavailable_entries(repo)
    assert found.stages == ("make",) and found.looked_in == "the DVC cache and the DVC remote 'store'"
    before = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    forget_entries(repo, found.stages)
    after = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(after) == set(before) - {"make"} and after["use"] == before["use"]
    assert unavailable_entries(repo).stages == ()


def test_an_output_on_the_remote_or_in_the_cache_is_available(toy) -> None:  # noqa: F811
    repo, env = toy
    shutil.rmtree(repo / ".dvc" / "cache")  # only the remote has the outputs: `dvc pull` restores them
    assert unavailable_entries(repo).stages == ()
    run(DVC + ["remote", "remove", "store"], repo, env)  # and now nowhere
    found = unavailable_entries(repo)
    assert set(found.stages) == {"make", "use"} and found.looked_in.startswith("the DVC cache (no DVC remote")
