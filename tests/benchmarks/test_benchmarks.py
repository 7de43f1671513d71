"""The benchmark scripts run (tiny sizes, CPU): they are the project's speed record, so they must not rot."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("warmup", [0, 1])
def test_bench_infer_runs_without_warm_up(warmup: int, capsys: pytest.CaptureFixture[str]) -> None:
    _script("bench_infer").main(["--device", "cpu", "--runs", "1", "--warmup", str(warmup), "--lr-px", "12",
                                 "--threads", "1"])
    out = capsys.readouterr().out
    assert "| fast |" in out and f"after {warmup} warm-up" in out


def test_bench_infer_times_onnxruntime_beside_torch(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    _script("bench_infer").main(["--device", "cpu", "--runs", "1", "--warmup", "0", "--lr-px", "12", "--threads", "1",
                                 "--onnx"])
    out = capsys.readouterr().out
    assert "| onnxruntime |" in out and "onnxruntime against the torch fast path: " in out


def test_bench_train_times_the_real_training_step(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _script("bench_train").run(batch=2, patch_px=16, steps=1, rounds=1, device=torch.device("cpu"))
    assert [(r["step"], r["configuration"]) for r in rows] == [("srresnet", "eager fp32"),
                                                               ("srgan+vgg19_5_4", "eager fp32")]
    assert all(r["steps_per_s"] > 0 and r["vs_eager"] == 1.0 for r in rows)
    assert "| srgan+vgg19_5_4 | eager fp32 |" in capsys.readouterr().out


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    return _script("gpu_check")


def test_gpu_check_parity_dry_run(gpu_check: ModuleType) -> None:
    """(b) on the CPU: eager against eager, the lr cut and the skipped non-finite step seen in every run."""
    row = gpu_check.parity(gpu_check.cpu_setup(), "srresnet", "fp32", steps=6)
    assert row["holds"] and row["same_start"] and row["skipped_step_ok"] and row["lr_cut_ok"]
    assert not row["graphed"] and "CUDA only" in row["runs"]["graphed"]["note"]
    assert set(row["groups"]) == {"weights", "bn_statistics", "ema", "adam_moments", "bn_counts", "ema_count",
                                  "adam_steps", "learning_rate", "guard"}
    assert row["runs"]["eager"]["skipped"] == [1, 3]


def test_gpu_check_parity_rule_fails_a_graph_that_never_updated_or_drifted(gpu_check: ModuleType) -> None:
    """The old check's absolute max |dw| would pass a graph that never ran: relative drift does not."""
    setup = gpu_check.cpu_setup()
    task = gpu_check.build(setup, "srresnet", "fp32", "never", gpu_check.train_params(setup, 3, ema_decay=0.9))
    start = gpu_check.snapshot(task)
    for lr_img, hr_img in gpu_check.sampler(setup, gpu_check.synthetic_images(setup, 2), "none", 3):
        task.train_step(lr_img, hr_img)
        task.end_step()
    eager = gpu_check.snapshot(task)
    assert gpu_check.compare(start, eager, eager, eager)["holds"]
    never_updated = gpu_check.compare(start, eager, eager, start)
    assert not never_updated["holds"] and never_updated["groups"]["weights"]["drift"] == pytest.approx(1.0)
    drifted = {g: {k: v + 0.01 * (v - start[g][k]) if g in gpu_check.FLOAT_GROUPS else v for k, v in t.items()}
               for g, t in eager.items()}  # 1 % of the way it moved: 10x the 1e-3 floor
    assert not gpu_check.compare(start, eager, eager, drifted)["groups"]["weights"]["ok"]
    nan = {**eager, "weights": {k: v * float("nan") for k, v in eager["weights"].items()}}
    assert not gpu_check.compare(start, eager, eager, nan)["holds"]


def test_gpu_check_no_host_sync_dry_run(gpu_check: ModuleType) -> None:
    setup = gpu_check.cpu_setup()
    row = gpu_check.no_host_sync(setup, "srresnet", steps=2)
    assert row["ok"] and row["steps_checked"] == 2 and row["host_sync"] is None
    with pytest.raises(RuntimeError, match="host read"), gpu_check.sync_check(setup):
        torch.ones(1).item()


def test_gpu_check_sampler_parity_dry_run(gpu_check: ModuleType) -> None:
    rows = gpu_check.sampler_parity(gpu_check.cpu_setup(), batches=2)
    assert [r["augment"] for r in rows] == ["flip_rot90", "rot10_hflip"]
    assert all(r["identical"] and r["values_differing"] == 0 and r["values"] > 0 for r in rows)


def test_gpu_check_forced_capture_failure_dry_run(gpu_check: ModuleType) -> None:
    """(g) auto trains on eagerly with the cause logged; required stops after the warm-up, in one line."""
    result = gpu_check.forced_capture_failure(gpu_check.cpu_setup(), steps=5)
    auto, required = result["auto"], result["required"]
    assert auto["ok"] and auto["steps_done"] == 5 and "Tensor.item" in auto["logged"]
    assert required["ok"] and required["steps_done"] == 3 and "runtime.cuda_graphs is required" in required["error"]


def test_gpu_check_speed_and_time_parts_dry_run(gpu_check: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = gpu_check.cpu_setup()
    monkeypatch.setattr(gpu_check, "KINDS", ("srresnet",))
    speed = gpu_check.speed(setup, loop_steps=2, step_steps=2)
    assert [(r["precision"], r["mode"]) for r in speed["loops"]] == [("fp32", "eager"), ("fp32", "graphed"),
                                                                     ("bf16", "eager"), ("bf16", "graphed")]
    assert all(r["steps_per_s"] > 0 and not r["graphed"] for r in speed["loops"] + speed["steps"])
    assert [r["augment"] for r in speed["samplers"]] == ["none", "flip_rot90", "rot10_hflip"]
    assert speed["verdicts"]["srresnet"]["best_graphed_steps_per_s"] is None  # nothing graphs on the CPU
    (row,) = gpu_check.where_time_goes(setup, steps=1)
    assert row["with_guard"] > row["without_guard"] > 0  # ATen ops per step
    (captured, _) = gpu_check.captured(setup)
    assert not captured["captured"] and "CUDA only" in captured["note"]


def test_gpu_check_keeps_the_other_parts_when_one_fails(gpu_check: ModuleType, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def broken(setup, args):
        raise RuntimeError("part f broke")

    monkeypatch.setitem(gpu_check.PARTS, "f", ("sampler parity", broken))
    out = tmp_path / "check.json"
    gpu_check.main(["--cpu", "--parts", "fg", "--out", str(out)])
    result = json.loads(out.read_text())
    assert "part f broke" in result["parts"]["f"]["error"] and result["parts"]["g"]["auto"]["ok"]
    assert result["verdicts"]["f_sampler_identical"] is None and result["verdicts"]["g_forced_failure"]
    printed = capsys.readouterr().out
    assert "error: RuntimeError: part f broke" in printed and "## (g) a forced capture failure" in printed


def test_bench_stats_prints_every_block_and_judges_it(capsys: pytest.CaptureFixture[str]) -> None:
    result = _script("bench_stats").run(reps=200)
    assert {name: len(cells) for name, cells in result["cells"].items()} == {
        "fixed": 300, "fixed_varying": 48, "random": 48}
    text = "\n".join(result["lines"])
    for heading in ("### The benchmark's images", "### A true difference that varies by image",
                    "### The same, about all images", "### A family"):
        assert heading in text
    assert "| paired | 0.05 | 1 | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 |" in text  # one seed: never a verdict
    assert [f["variants"] for f in result["family"]] == [2, 4, 10]
