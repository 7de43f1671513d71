"""The loop and the pieces beside it: the order the loop calls its hooks in, the guard read before any of
them acts, and the typed resume state on disk."""

from __future__ import annotations

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
from srgan.training.resume import ResumeState, RngState
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
