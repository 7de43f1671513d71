"""The benchmark scripts run (tiny sizes, CPU): they are the project's speed record, so they must not rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from srgan.core.config import load_params

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


def test_bench_train_times_the_real_training_step(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _script("bench_train").run(batch=2, patch_px=16, steps=1, rounds=1, device=torch.device("cpu"))
    assert [(r["step"], r["configuration"]) for r in rows] == [("srresnet", "eager fp32"),
                                                               ("srgan+vgg19_5_4", "eager fp32")]
    assert all(r["steps_per_s"] > 0 and r["vs_eager"] == 1.0 for r in rows)
    assert "| srgan+vgg19_5_4 | eager fp32 |" in capsys.readouterr().out


def test_gpu_check_weight_drift_dry_run() -> None:
    rows = _script("gpu_check").weight_drift(torch.device("cpu"), batch=2, patch_px=16, steps=2)
    assert [r["step"] for r in rows] == ["srresnet", "srgan"]
    assert all(r["max_abs_weight_difference"] == 0.0 for r in rows)  # eager on both sides on the CPU


@pytest.mark.parametrize("graphs", [False, True])
def test_gpu_check_workspace_params_are_valid(tmp_path: Path, graphs: bool) -> None:
    """The params the GPU check runs the stages with load and say what it claims (the stage runs
    themselves take minutes: `python benchmarks/gpu_check.py --cpu` runs them as a dry run)."""
    _script("gpu_check")._workspace(tmp_path, "cuda", 1500, 600, 16, 96, graphs, tiny=False)
    params = load_params(tmp_path / "params.yaml")
    assert params.runtime.cuda_graphs == ("required" if graphs else "never") and params.runtime.precision == "bf16"
    assert (params.srresnet.batch_size, params.srresnet.patch_px, params.srresnet.steps) == (16, 96, 1500)
    assert params.srgan.variants == {"vgg19_5_4": {"vgg19_5_4": 1.0}} and params.srgan.checkpoints == (600,)
    assert params.features.weights == "random" and params.execution.patches_on_device
