"""The loop and the pieces beside it: the order the loop calls its hooks in, the guard read before any of
them acts, and the typed resume state on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch import Tensor

from srgan.core.errors import SrganError
from srgan.core.records import ValidationPoint
from srgan.training.guard import Health
from srgan.training.hooks import HealthCheck, Hook, TrainState
from srgan.training.loop import RunPieces, TrainingRun
from srgan.training.points import PointsState
from srgan.training.resume import ResumeSaving, ResumeState, RngState
from srgan.training.store import RunPaths, RunStore
from srgan.training.validation import ValidationState

from train_driver import CPU


class _Task:
    """A task that records what the loop asks of it; step n's loss is n."""

    experiment = "srresnet"

    def __init__(self, calls: list[str], bad_at: dict[int, int] | None = None) -> None:
        self.calls, self.bad_at, self.steps = calls, bad_at or {}, 0

    def train_step(self, *inputs: Tensor) -> dict[str, Tensor]:
        self.steps += 1
        self.calls.append(f"step {self.steps}")
        return {"loss/content": torch.tensor(float(self.steps))}

    def end_step(self) -> None:
        pass

    def start_at(self, step: int) -> None:
        self.calls.append(f"start_at {step}")
        self.steps = step

    def read_health(self) -> Health:
        self.calls.append("read_health")
        bad = self.bad_at.pop(self.steps, 0)
        return Health(bad, self.steps if bad else 0, ["generator loss term 'mse'"] if bad else [])


class _Hook(Hook):
    def __init__(self, name: str, every: int, calls: list[str]) -> None:
        self.name, self.every, self.calls = name, every, calls

    def start(self, step: int) -> None:
        self.calls.append(f"{self.name} start {step}")

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        self.calls.append(f"{self.name} at {step} loss {float(scalars['loss/content']):g}")

    def close(self) -> None:
        self.calls.append(f"{self.name} close")


class _Feed:
    def __init__(self, steps: int) -> None:
        self.plan = type("Plan", (), {"total_steps": steps})()

    def batches(self, start_step: int, runtime, task):
        return iter([(torch.zeros(1),)] * (self.plan.total_steps - start_step))


class _Resume(Hook):
    def __init__(self, start: int) -> None:
        self.start_step = start

    def restore(self) -> int:
        return self.start_step


class _End:
    def finish(self, start_step: int, wall_s: float, rate: float | None) -> str:
        return f"finished from {start_step}"


def _run(steps: int, calls: list[str], start: int = 0, bad_at: dict[int, int] | None = None,
         max_bad_steps: int = 0) -> tuple[str, TrainState]:
    task, state = _Task(calls, bad_at), TrainState()
    hooks = (_Hook("log", 2, calls), _Hook("valid", 3, calls))
    health = HealthCheck(task, state, max_bad_steps, Path("no-such-resume.pt"))
    resume = _Resume(start)
    pieces = RunPieces(health, (*hooks, resume), resume, _End(), state)
    return TrainingRun(task, _Feed(steps), CPU, pieces).run(), state


def test_the_loop_calls_its_hooks_when_due_in_order_after_reading_the_guard() -> None:
    calls: list[str] = []
    result, state = _run(4, calls)
    assert result == "finished from 0" and state.step == 4
    assert calls == [
        "start_at 0", "log start 0", "valid start 0",
        "step 1",
        "step 2", "read_health", "log at 2 loss 2",
        "step 3", "read_health", "valid at 3 loss 3",
        "step 4", "read_health", "log at 4 loss 4",  # the last step: the guard is read even with no hook due
        "log close", "valid close"]
    calls.clear()
    _run(5, calls, start=3)  # a resumed session starts after step 3
    assert calls[:3] == ["start_at 3", "log start 3", "valid start 3"]
    assert calls[3:] == ["step 4", "read_health", "log at 4 loss 4", "step 5", "read_health", "log close",
                         "valid close"]


def test_a_step_past_max_bad_steps_stops_the_run_before_any_hook_acts_and_hooks_close() -> None:
    calls: list[str] = []
    with pytest.raises(SrganError, match="non-finite generator loss term 'mse' at step 2 of srresnet .*by step 2"):
        _run(6, calls, bad_at={2: 1})
    assert "log at 2 loss 2" not in calls and calls[-2:] == ["log close", "valid close"]
    calls.clear()
    _, state = _run(6, calls, bad_at={2: 1}, max_bad_steps=1)  # counted, and the run goes on
    assert state.bad_steps == 1 and "log at 6 loss 6" in calls


def test_the_resume_state_is_a_typed_record_that_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    weights = {"w": torch.arange(4.0)}
    state = ResumeState(
        averaged=weights, task={"networks": {"generator": weights}}, progress=TrainState(6, 1, 2.5),
        validation=ValidationState([ValidationPoint(3, 20.5, 0.5), ValidationPoint(6, 21.0, 0.6)], 21.0, 6, weights),
        points=PointsState([3], {3: 3}), rng=RngState.now())
    torch.save(state.to_file(), tmp_path / "resume.pt")
    back = ResumeState.from_file(torch.load(tmp_path / "resume.pt", weights_only=True))
    assert back.progress == state.progress and back.points == state.points and back.rng.python == state.rng.python
    assert back.validation.history == state.validation.history and back.validation.best_step == 6
    assert torch.equal(back.validation.best_weights["w"], weights["w"]) and torch.equal(back.averaged["w"], weights["w"])
    assert torch.equal(back.rng.torch, state.rng.torch)


# ---------------------------------------------------------------- messages in full, step numbers included


class _Unhealthy:
    """A task whose guard record reports `bad` skipped steps, the first at `first`, with the checks `failed`."""

    experiment = "srgan"

    def __init__(self, bad: int, first: int, failed: list[str]) -> None:
        self.health = Health(bad, first, failed)

    def read_health(self) -> Health:
        return self.health


_FAILED = ["generator loss term 'mse'", "generator gradient", "discriminator gradient"]


@pytest.mark.parametrize("saved", [True, False])
def test_the_stop_past_max_bad_steps_says_every_number_in_full(tmp_path: Path, saved: bool) -> None:
    """One skipped step counted before, two more in steps ..9 (the first at step 7): 3 > max_bad_steps 2."""
    resume_path = tmp_path / "state" / "resume.pt"
    if saved:
        resume_path.parent.mkdir()
        resume_path.write_bytes(b"")
    state = TrainState(step=9, bad_steps=1)
    check = HealthCheck(_Unhealthy(2, 7, _FAILED), state, 2, resume_path)
    with pytest.raises(SrganError) as err:
        check.at(9, {})
    where = (f"the last saved state is {resume_path} (an unchanged rerun resumes there and meets the same step "
             "again)" if saved else "no state was saved yet (an unchanged rerun meets the same step again)")
    assert str(err.value) == (
        "non-finite generator loss term 'mse' (and generator gradient, discriminator gradient) at step 7 of srgan "
        f"(3 bad step(s) by step 9, max_bad_steps is 2); {where}; lower learning_rate, raise max_bad_steps or "
        "check the data, then run again")
    assert state.bad_steps == 3


def test_bad_steps_exactly_at_max_bad_steps_are_skipped_with_a_warning_in_full(tmp_path: Path, caplog) -> None:
    """At the threshold (3 of 3 allowed) the run goes on; the warning gives the first step, the count in these
    steps, the step of the check and the running total."""
    state = TrainState(step=9, bad_steps=1)
    check = HealthCheck(_Unhealthy(2, 7, _FAILED[:1]), state, 3, tmp_path / "resume.pt")
    caplog.set_level(logging.WARNING, logger="srgan.training.hooks")
    check.at(9, {})
    assert [r.getMessage() for r in caplog.records] == [
        "non-finite generator loss term 'mse' at step 7: skipped (2 step(s) in steps ..9; 3 of 3 allowed)"]
    assert state.bad_steps == 3
    caplog.clear()
    with pytest.raises(SrganError, match=r"^non-finite value at step 12 of srgan \(4 bad step\(s\) by step 12, "):
        HealthCheck(_Unhealthy(1, 12, []), state, 3, tmp_path / "resume.pt").at(12, {})  # one more: 4 > 3


class _Restorable:
    """The task side of a resume: what `ResumeSaving.restore` loads into it."""

    experiment = "srresnet"

    def __init__(self) -> None:
        self.loaded: dict | None = None

    def load_state_dict(self, state: dict) -> None:
        self.loaded = state


def _saving(tmp_path: Path, task: _Restorable, progress: TrainState, last_step: int = 10) -> ResumeSaving:
    paths = RunPaths(tmp_path / "out", tmp_path / "logs", tmp_path / "plots", tmp_path / "state")
    return ResumeSaving(RunStore(paths, is_main=True), {"settings": "s1", "code": "c1"}, 2, last_step, task,
                        progress, ValidationState([], float("-inf"), 0, None), PointsState([], {}))


def test_a_resumed_session_logs_the_step_it_resumes_from_and_the_runs_length_in_full(tmp_path: Path, caplog) -> None:
    weights = {"w": torch.arange(3.0)}
    saved = ResumeState(weights, {"networks": {"generator": weights}}, TrainState(6, 1, 2.5),
                        ValidationState([ValidationPoint(4, 20.5, 0.5)], 20.5, 4, weights), PointsState([4], {4: 4}),
                        RngState.now())
    store = _saving(tmp_path, _Restorable(), saved.progress).store
    store.save_resume(saved.to_file(), {"settings": "s1", "code": "c1"})
    caplog.set_level(logging.INFO, logger="srgan.training")
    task, progress = _Restorable(), TrainState()
    assert _saving(tmp_path, task, progress, last_step=10).restore() == 6
    assert progress == TrainState(6, 1, 2.5) and task.loaded is not None
    assert [r.getMessage() for r in caplog.records] == [
        f"resuming srresnet from step 6 of 10 ({tmp_path / 'state' / 'resume.pt'})"]


@pytest.mark.parametrize(("fingerprint", "changed"), [
    ({"settings": "s2", "code": "c1"}, "settings"),
    ({"settings": "s2", "code": "c2"}, "settings, code"),
])
def test_a_resume_state_of_another_run_is_named_with_what_changed_and_the_run_starts_afresh(
        tmp_path: Path, caplog, fingerprint: dict[str, str], changed: str) -> None:
    saving = _saving(tmp_path, _Restorable(), TrainState())
    saving.store.save_resume({"model": {}, "state": {}}, {"settings": "s1", "code": "c1"})
    caplog.set_level(logging.INFO, logger="srgan.training")
    saving.fingerprint = fingerprint
    assert saving.restore() == 0 and saving.task.loaded is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'state' / 'resume.pt'} is from a run with other {changed}: starting afresh"]
