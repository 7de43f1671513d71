"""The benchmark scripts run (tiny sizes, CPU): they are the project's speed record, so they must not rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("warmup", [0, 1])
def test_bench_infer_runs_without_warm_up(warmup: int, capsys: pytest.CaptureFixture[str]) -> None:
    _script("bench_infer").main(["--device", "cpu", "--runs", "1", "--warmup", str(warmup), "--lr-px", "12",
                                 "--threads", "1"])
    out = capsys.readouterr().out
    assert "| fast |" in out and f"after {warmup} warm-up" in out
