"""srgan.core.launch: a stage relaunched as N processes under torchrun (the command checked, torchrun faked)."""

from __future__ import annotations

import logging
import subprocess
import sys
import types

import pytest

from srgan.core import launch
from srgan.core.errors import SrganError
from srgan.core.launch import relaunch_under_torchrun

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


@pytest.fixture
def ran(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(launch.subprocess, "run",
                        lambda cmd, check: calls.append((cmd, check)) or subprocess.CompletedProcess(cmd, 0))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    return calls


def test_one_process_or_one_already_under_torchrun_does_the_work_itself(ran: list, monkeypatch) -> None:
    assert relaunch_under_torchrun(1, ["stages/train.py"]) is False
    assert relaunch_under_torchrun(0, ["stages/train.py"]) is False
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert relaunch_under_torchrun(2, ["stages/train.py"]) is False
    assert ran == []


@pytest.mark.parametrize(("spec", "target"), [
    (None, ["stages/train_srgan.py", "vgg19_5_4", "0"]),
    (types.SimpleNamespace(name="stages.train_srgan"), ["-m", "stages.train_srgan", "vgg19_5_4", "0"]),
])
def test_n_processes_rerun_the_script_the_way_it_was_started(ran: list, monkeypatch, caplog, spec, target) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = spec
    monkeypatch.setitem(sys.modules, "__main__", main)
    with caplog.at_level(logging.INFO, logger="srgan.core.launch"):
        assert relaunch_under_torchrun(2, ["stages/train_srgan.py", "vgg19_5_4", "0"]) is True
    cmd = [*TORCHRUN, "--nproc-per-node=2", *target]
    assert ran == [(cmd, False)]
    assert caplog.messages == [f"starting 2 processes: {' '.join(cmd)}"]


def test_a_failed_group_is_one_line_with_its_exit_code(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(launch.subprocess, "run", lambda cmd, check: subprocess.CompletedProcess(cmd, 3))
    with pytest.raises(SrganError) as error:
        relaunch_under_torchrun(4, ["stages/train_srgan.py"])
    assert str(error.value) == "distributed training with 4 processes failed (exit 3); see the log above"
