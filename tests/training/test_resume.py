"""Resume: a killed run continues to exactly the uninterrupted result; what the fingerprint compares; DDP.

The kill tests run tests/train_driver.py in a subprocess and SIGKILL it mid-run; the
uninterrupted run and the rerun call the same driver in this process (one intra-op thread in
both, so the results are bit-comparable).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from srgan.core.artifacts import load_checkpoint
from srgan.core.config import load_params
from srgan.core.declared import read_declared
from srgan.core.errors import SrganError
from srgan.core.records import read_scalars
from srgan.core.sections import declared_values
from srgan.losses.content import ContentLoss

import train_driver
from train_driver import execution, run_srresnet, srresnet_params

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parents[1] / "train_driver.py"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _drive(root: Path, *args: str) -> None:
    """The driver in this process (as its command line would run it): only the killed run needs its own."""
    train_driver.main([str(DRIVER), str(root), *args])


def _kill_when(root: Path, args: list[str], ready: Callable[[], bool]) -> None:
    """Start the driver, SIGKILL it as soon as `ready()` holds."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(root), *args], env=_env())
    deadline = time.time() + 240
    while not ready() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished (or failed) before it could be killed"


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if atol == 0.0:
            assert torch.equal(value, b[key]), key
        else:
            torch.testing.assert_close(value, b[key], atol=atol, rtol=0, msg=key)


def _summary(run: Path) -> dict:
    return json.loads((run / "out" / "summary.json").read_text())


def _resumed_from(run: Path) -> int:
    return json.loads((run / "logs" / "timing.json").read_text())["resumed_from_step"]


@pytest.mark.slow  # a subprocess per run: ~10 s on 2 cores
def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path):
    args = ["--steps", "60", "--batch", "4", "--log-every", "5", "--checkpoint-every", "5"]
    _drive(tmp_path / "straight", *args)
    run = tmp_path / "killed" / "srresnet"
    resume = run / "state" / "resume.pt"
    _kill_when(tmp_path / "killed", args, resume.exists)
    killed_at = load_checkpoint(resume)["state"]["step"]
    assert 0 < killed_at < 60
    assert not (run / "out" / "last.pt").exists()

    _drive(tmp_path / "killed", *args)
    straight = tmp_path / "straight" / "srresnet"
    for name in ("best.pt", "last.pt"):  # byte for byte, as DVC compares them
        assert (run / "out" / name).read_bytes() == (straight / "out" / name).read_bytes(), name
    assert _resumed_from(run) == killed_at
    # Same inputs, same machine: the same summary, byte for byte (what the evaluation depends on).
    assert (run / "out" / "summary.json").read_bytes() == (straight / "out" / "summary.json").read_bytes()
    # Plot rows logged after the resume checkpoint were dropped and logged again, once: the same bytes
    # (line ends included), as DVC compares the plots folder.
    assert _tree_bytes(run / "plots") == _tree_bytes(straight / "plots")
    assert read_scalars(run / "plots")  # not two empty folders
    assert not resume.exists()
    # Finished runs leave no scratch: the state folder is gone (the killed run's was there until it resumed).
    assert not (run / "state").exists() and not (straight / "state").exists()


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # a subprocess per run: ~10 s on 2 cores
def test_srgan_with_ema_killed_after_its_first_point_resumes_bit_identically(tmp_path):
    """EMA on, two checkpoint points, killed after the first point's files and the resume state that
    records them were written; rerun with other execution settings (workers, logging, checkpoint
    cadence). Every point's best.pt and last.pt equal the uninterrupted run's, and the first point's
    files are the ones written before the kill."""
    args = ["--stages", "srgan", "--steps", "12", "--batch", "2", "--patch", "16", "--ema-decay", "0.9",
            "--checkpoints", "4,12"]
    _drive(tmp_path / "straight", *args, "--checkpoint-every", "2")
    run = tmp_path / "killed" / "srgan"
    resume, first_point = run / "state" / "resume.pt", run / "state" / "points" / "step4" / "last.pt"

    def point_recorded() -> bool:  # the resume state saved at or after step 4 lists the point as done
        try:
            return resume.stat().st_mtime_ns > first_point.stat().st_mtime_ns
        except FileNotFoundError:
            return False

    _kill_when(tmp_path / "killed", [*args, "--checkpoint-every", "2"], point_recorded)
    state = load_checkpoint(resume)["state"]
    assert load_checkpoint(resume)["points"]["done"] == [4] and 4 <= state["step"] < 12
    before_kill = first_point.stat()

    _drive(tmp_path / "killed", *args, "--num-workers", "1", "--log-every", "3", "--checkpoint-every", "3")
    summary, straight = _summary(run), tmp_path / "straight" / "srgan"
    assert _resumed_from(run) == state["step"]
    assert summary["history"] == _summary(straight)["history"]
    for point in ("step4", "step12"):
        for name in ("best.pt", "last.pt"):
            _assert_same(_weights(straight / "out" / point / name), _weights(run / "out" / point / name))
    # The point written before the kill is the one delivered (copied with its time stamp), not recomputed.
    assert (run / "out" / "step4" / "last.pt").stat().st_mtime_ns == before_kill.st_mtime_ns
    assert not resume.exists() and not (run / "state" / "points").exists()


class _Killed(Exception):
    """Stands in for a kill in the middle of an in-process run."""


class _KillAt(ContentLoss):
    def __init__(self, call: int) -> None:
        super().__init__({"mse": 1.0})
        self.calls, self.call = 0, call

    def forward(self, sr_img, hr_img):
        self.calls += 1
        if self.calls == self.call:
            raise _Killed
        return super().forward(sr_img, hr_img)


class _NaNThenKillAt(ContentLoss):
    """Pixel MSE that is NaN on call `nan_call` and stands in for a kill on call `kill_call`."""

    def __init__(self, nan_call: int, kill_call: int) -> None:
        super().__init__({"mse": 1.0})
        self.calls, self.nan_call, self.kill_call = 0, nan_call, kill_call

    def forward(self, sr_img, hr_img):
        self.calls += 1
        if self.calls == self.kill_call:
            raise _Killed
        total, parts = super().forward(sr_img, hr_img)
        if self.calls == self.nan_call:
            return total * float("nan"), {"mse": torch.tensor(float("nan"))}
        return total, parts


def test_a_resumed_run_keeps_its_skipped_steps(tmp_path):
    """A step skipped (non-finite) before the resume point still counts after the resume: the summary and the
    curves (bad_steps.tsv, byte for byte) equal an uninterrupted run's, and max_bad_steps sees it."""
    p = srresnet_params(steps=6, max_bad_steps=1, lr_schedule="constant")
    ex = execution(checkpoint_every=2)
    straight = run_srresnet(tmp_path / "straight", p, loss=_NaNThenKillAt(nan_call=2, kill_call=0), ex=ex)
    assert straight.bad_steps == 1
    with pytest.raises(_Killed):
        run_srresnet(tmp_path / "killed", p, loss=_NaNThenKillAt(nan_call=2, kill_call=5), ex=ex)
    assert load_checkpoint(tmp_path / "killed" / "state" / "resume.pt")["state"]["bad_steps"] == 1
    resumed = run_srresnet(tmp_path / "killed", p, ex=ex)
    assert _resumed_from(tmp_path / "killed") == 4 and resumed.bad_steps == 1
    assert _tree_bytes(tmp_path / "killed" / "plots") == _tree_bytes(tmp_path / "straight" / "plots")
    assert (tmp_path / "killed" / "out" / "last.pt").read_bytes() == (tmp_path / "straight" / "out" / "last.pt").read_bytes()
    # A second bad step after the resume exceeds max_bad_steps 1 only because the first one was kept.
    with pytest.raises(_Killed):
        run_srresnet(tmp_path / "again", p, loss=_NaNThenKillAt(nan_call=2, kill_call=5), ex=ex)
    with pytest.raises(SrganError, match="2 bad step"):
        run_srresnet(tmp_path / "again", p, loss=_NaNThenKillAt(nan_call=1, kill_call=0), ex=ex)


@pytest.mark.parametrize("change", ["execution", "settings", "code"])
def test_only_declared_settings_and_code_decide_whether_a_run_resumes(tmp_path, caplog, change):
    """Killed at step 5 (resume state of step 4), then rerun with one thing changed: execution settings
    resume; a declared setting (learning_rate, as the stage's settings dict carries it) or the code
    digest start afresh, and the log names the part that changed."""
    p = srresnet_params(steps=6, ema_decay=0.9, valid_every=2)
    with pytest.raises(_Killed):
        run_srresnet(tmp_path / "run", p, loss=_KillAt(5), ex=execution(checkpoint_every=2))
    assert load_checkpoint(tmp_path / "run" / "state" / "resume.pt")["state"]["step"] == 4

    ex, code = execution(checkpoint_every=2), "code-digest-of-the-test"
    if change == "execution":
        ex = execution(num_workers=1, log_every=4, checkpoint_every=5, progress=True)
    elif change == "settings":
        p = dataclasses.replace(p, learning_rate=5.0e-4)
    else:
        code = "another-digest"
    caplog.set_level(logging.INFO, logger="srgan.training")
    summary = run_srresnet(tmp_path / "run", p, ex=ex, code=code)
    fresh = run_srresnet(tmp_path / "fresh", p, code=code)
    _assert_same(_weights(tmp_path / "run" / "out" / "last.pt"), _weights(tmp_path / "fresh" / "out" / "last.pt"))
    afresh = [r.getMessage() for r in caplog.records if "starting afresh" in r.getMessage()]
    if change == "execution":
        assert _resumed_from(tmp_path / "run") == 4 and not afresh
        assert summary.history == fresh.history
    else:
        assert _resumed_from(tmp_path / "run") == 0
        assert len(afresh) == 1 and afresh[0].endswith(f"from a run with other {change}: starting afresh"), afresh


def _settings(params, stage: str) -> dict:
    """What a training stage's fingerprint hashes: its declared keys' values (dvc.yaml)."""
    return declared_values(params, read_declared(stage, ROOT / "dvc.yaml").params)


def test_execution_settings_are_not_part_of_a_stages_declared_settings():
    """A stage's fingerprint hashes its declared settings: execution must not enter them, learning_rate must."""
    params = load_params(ROOT / "params.yaml")
    other = dataclasses.replace(params, execution=dataclasses.replace(
        params.execution, num_workers=params.execution.num_workers + 2, log_every=params.execution.log_every + 1,
        checkpoint_every=params.execution.checkpoint_every + 1, progress=not params.execution.progress))
    faster = dataclasses.replace(params, srgan=dataclasses.replace(params.srgan, learning_rate=1.0))
    for stage in ("train_srresnet_mse@0", "train_srgan_mse@0"):
        assert _settings(other, stage) == _settings(params, stage)
    assert _settings(faster, "train_srgan_mse@0") != _settings(params, "train_srgan_mse@0")
    assert _settings(faster, "train_srresnet_mse@0") == _settings(params, "train_srresnet_mse@0")


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    """2 gloo processes x 2 images == 1 process x 4 images in 2 micro-batches (BN per micro-batch)."""
    args = ["--stages", "srresnet,srgan", "--steps", "4", "--batch", "4", "--patch", "16"]
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                    str(DRIVER), str(tmp_path / "ddp"), *args, "--accumulation", "1"],
                   check=True, env=_env(), timeout=300)
    _drive(tmp_path / "single", *args, "--accumulation", "2")
    for stage, last in (("srresnet", "last.pt"), ("srgan", "step4/last.pt")):
        single, ddp = (_weights(tmp_path / run / stage / "out" / last) for run in ("single", "ddp"))
        # Trained parameters agree; BN running statistics do not take part in training and DDP
        # keeps rank 0's (broadcast_buffers), one process both micro-batches', so they are left out.
        params = [k for k in single if "running_" not in k and "num_batches" not in k]
        assert len(params) > 10
        _assert_same({k: single[k] for k in params}, {k: ddp[k] for k in params}, atol=1e-5)
    assert _summary(tmp_path / "ddp" / "srgan")["processes"] == 2


def test_a_finished_runs_empty_state_folders_are_removed_up_to_a_folder_in_use(tmp_path, monkeypatch):
    from srgan.training.store import remove_empty_folders

    monkeypatch.chdir(tmp_path)
    (tmp_path / "state" / "srgan" / "vgg" / "seed0").mkdir(parents=True)
    (tmp_path / "state" / "srgan" / "mse" / "seed0").mkdir(parents=True)
    remove_empty_folders(Path("state/srgan/mse/seed0"))
    assert not (tmp_path / "state" / "srgan" / "mse").exists()  # seed0, then mse: empty
    assert (tmp_path / "state" / "srgan" / "vgg" / "seed0").is_dir()  # srgan/ still holds another run
    remove_empty_folders(Path("state/srgan/vgg/seed0"))
    assert not (tmp_path / "state").exists() and tmp_path.is_dir()  # up to, never including, the working folder
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "resume.pt").write_bytes(b"x")
    remove_empty_folders(tmp_path / "kept")
    assert (tmp_path / "kept" / "resume.pt").is_file()  # a folder with scratch in it stays
