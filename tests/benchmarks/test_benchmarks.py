"""The benchmark scripts run (tiny sizes, CPU): they are the project's speed record, so they must not rot."""

from __future__ import annotations

import importlib.util
import json
import subprocess
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


# ---------------------------------------------------------------- gpu_check (the package benchmarks/gpu_check/)

sys.path.insert(0, str(ROOT))  # `benchmarks.gpu_check`, as `python -m benchmarks.gpu_check` imports it from the root

from benchmarks.gpu_check import (  # noqa: E402
    capture_failure,
    captured,
    cli,
    common,
    host_sync,
    parity,
    profile,
    sampler_parity,
    speed,
    stage_runs,
    targets,
)


def test_gpu_check_parity_dry_run() -> None:
    """(b) on the CPU: eager against eager, the lr cut and the skipped non-finite step seen in every run,
    the state read through the Task protocol."""
    row = parity.parity(common.cpu_setup(), "srresnet", "fp32", steps=6)
    assert row["holds"] and row["same_start"] and row["skipped_step_ok"] and row["lr_cut_ok"]
    assert not row["graphed"] and "CUDA only" in row["runs"]["graphed"]["note"]
    assert set(row["groups"]) == {"weights", "bn_statistics", "ema", "adam_moments", "bn_counts", "ema_count",
                                  "adam_steps", "learning_rate", "guard"}
    assert row["runs"]["eager"]["skipped"] == [1, 3]
    losses = row["step_losses"]["losses"]
    assert row["step_losses"]["holds"] and {"loss/mse", "loss/content"} <= set(losses)
    assert all(v["nan_match"] and v["max_rel_diff"] == 0.0 for v in losses.values())  # step 3's NaN in every run


def test_gpu_check_parity_rule_fails_a_graph_that_never_updated_or_drifted() -> None:
    """The old check's absolute max |dw| would pass a graph that never ran: relative drift does not."""
    setup = common.cpu_setup()
    task = common.build(setup, "srresnet", "fp32", "never", common.train_params(setup, 3, ema_decay=0.9))
    start = parity.snapshot(task)
    for lr_img, hr_img in common.sampler(setup, common.synthetic_images(setup, 2), "none", 3):
        task.train_step(lr_img, hr_img)
        task.end_step()
    eager = parity.snapshot(task)
    assert parity.compare(start, eager, eager, eager)["holds"]
    never_updated = parity.compare(start, eager, eager, start)
    assert not never_updated["holds"] and never_updated["groups"]["weights"]["drift"] == pytest.approx(1.0)
    drifted = {g: {k: v + 0.01 * (v - start[g].get(k, 0)) if g in parity.FLOAT_GROUPS else v for k, v in t.items()}
               for g, t in eager.items()}  # 1 % of the way it moved: 10x the 1e-3 floor
    assert not parity.compare(start, eager, eager, drifted)["groups"]["weights"]["ok"]
    nan = {**eager, "weights": {k: v * float("nan") for k, v in eager["weights"].items()}}
    assert not parity.compare(start, eager, eager, nan)["holds"]


def test_gpu_check_parity_names_one_stale_tensor_that_the_pooled_drift_hides() -> None:
    """A PReLU slope the graph never updated (1 value beside 1.5 M that moved as eager's did): the pooled
    drift stays under 1e-3, the tensor's own drift is 1.0 and fails the check, by name."""
    generator = torch.Generator().manual_seed(0)
    start = {"conv.weight": torch.zeros(1_500_000, dtype=torch.float64), "prelu.weight": torch.full((1,), 0.25)}
    moved = {"conv.weight": 1e-3 * torch.randn(1_500_000, generator=generator, dtype=torch.float64),
             "prelu.weight": torch.full((1,), -1e-3)}
    eager = {k: start[k] + moved[k] for k in start}
    stale = {**eager, "prelu.weight": start["prelu.weight"]}
    assert parity.relative_drift(start, eager, stale) < parity.PARITY_FLOOR  # the pooled rule alone would pass
    worst = parity.worst_tensor(start, eager, eager, stale)
    assert not worst["ok"] and worst["tensor"] == "prelu.weight" and worst["drift"] == pytest.approx(1.0)
    assert worst["tensors_over_limit"] == 1
    snapshots = [{g: {} for g in parity.FLOAT_GROUPS + parity.EXACT_GROUPS} for _ in range(3)]
    for snap, weights in zip(snapshots, (start, eager, stale)):
        snap["weights"] = weights
    start_s, eager_s, stale_s = snapshots
    assert not parity.compare(start_s, eager_s, eager_s, stale_s)["groups"]["weights"]["ok"]
    assert parity.compare(start_s, eager_s, eager_s, eager_s)["holds"]


def test_gpu_check_per_step_losses_must_agree() -> None:
    nan = float("nan")
    eager = {"loss/content": torch.tensor([1.0, 0.9, nan, 0.8], dtype=torch.float64)}
    again = {"loss/content": torch.tensor([1.0, 0.9, nan, 0.8 * (1 + 1e-5)], dtype=torch.float64)}
    assert parity.loss_parity(eager, again, eager)["holds"]
    off = {"loss/content": torch.tensor([1.0, 0.9 * 1.01, nan, 0.8], dtype=torch.float64)}  # 1 % at step 2
    result = parity.loss_parity(eager, again, off)
    assert not result["holds"] and result["losses"]["loss/content"]["at_step"] == 2
    finite_where_nan = {"loss/content": torch.tensor([1.0, 0.9, 0.7, 0.8], dtype=torch.float64)}
    assert not parity.loss_parity(eager, again, finite_where_nan)["losses"]["loss/content"]["nan_match"]


def test_gpu_check_no_host_sync_dry_run() -> None:
    setup = common.cpu_setup()
    row = host_sync.no_host_sync(setup, "srresnet", steps=2)
    assert row["ok"] and row["steps_checked"] == 2 and row["host_sync"] is None
    with pytest.raises(RuntimeError, match="host read"), common.sync_check(setup):
        torch.ones(1).item()


def test_gpu_check_sampler_parity_dry_run() -> None:
    rows = sampler_parity.sampler_parity(common.cpu_setup(), batches=2)
    assert [(r["augment"], r["compared"].split()[0]) for r in rows] == [
        ("flip_rot90", "device"), ("flip_rot90", "cut"), ("rot10_hflip", "device"), ("rot10_hflip", "cut")]
    assert all(r["identical"] and r["values_differing"] == 0 and r["values"] > 0 for r in rows)


def test_gpu_check_forced_capture_failure_dry_run() -> None:
    """(g) auto trains on eagerly with the cause logged; required stops after the warm-up, in one line."""
    result = capture_failure.forced_capture_failure(common.cpu_setup(), steps=5)
    auto, required = result["auto"], result["required"]
    assert auto["ok"] and auto["steps_done"] == 5 and "Tensor.item" in auto["logged"]
    assert required["ok"] and required["steps_done"] == 3 and "runtime.cuda_graphs is required" in required["error"]


def test_gpu_check_speed_and_time_parts_dry_run(monkeypatch: pytest.MonkeyPatch) -> None:
    setup = common.cpu_setup()
    monkeypatch.setattr(speed, "KINDS", ("srresnet",))
    monkeypatch.setattr(profile, "KINDS", ("srresnet",))
    monkeypatch.setattr(captured, "KINDS", ("srresnet",))
    result = speed.speed(setup, loop_steps=2, step_steps=2, run_seconds=0.0, device_name="cpu")
    assert [(r["precision"], r["mode"], r["cut"]) for r in result["loops"]] == [
        ("fp32", "eager", "in the step"), ("fp32", "graphed", "in the step"), ("fp32", "graphed", "before the step"),
        ("bf16", "eager", "in the step"), ("bf16", "graphed", "in the step")]
    assert all(r["steps_per_s"] > 0 and not r["graphed"] for r in result["loops"] + result["steps"])
    assert [r["augment"] for r in result["samplers"]] == ["none", "flip_rot90", "rot10_hflip"]
    assert result["verdicts"]["srresnet"]["meets_target"] is None and result["model"] is None  # a CPU has no target
    runs = {r["task"]: r for r in result["runs"]}  # the stages' own TrainingRun, read from timing.json
    for kind in ("srresnet", "srgan"):
        assert "error" not in runs[kind] and runs[kind]["steps"] == stage_runs.CPU_STEPS
        assert runs[kind]["graphed"] is False and "CUDA only" in runs[kind]["graph_note"]
        assert runs[kind]["train_step_s"] > 0 and runs[kind]["steady_steps_per_s"] is None  # 4 steps: no steady part
    (row,) = profile.where_time_goes(setup, steps=1)["rows"]
    assert row["with_guard"] > row["without_guard"] > 0  # ATen ops per step
    (first, _) = captured.captured(setup)
    assert not first["captured"] and "CUDA only" in first["note"]


def test_gpu_check_targets_per_gpu_model_and_its_verdicts() -> None:
    names = {"NVIDIA H100 80GB HBM3": "H100 SXM", "NVIDIA H100 PCIe": "H100 PCIe", "NVIDIA H200": "H200",
             "NVIDIA A100-SXM4-80GB": "A100", "NVIDIA A100 80GB PCIe": "A100", "NVIDIA H100 NVL": None,
             "Tesla V100-SXM2-16GB": None}
    assert {name: targets.model_of(name) for name in names} == names
    h100 = targets.targets_for("NVIDIA H100 80GB HBM3")
    assert (h100.srresnet, h100.srgan, h100.srresnet_stretch, h100.srgan_stretch) == (150, 60, 300, 120)
    pcie = targets.targets_for("NVIDIA H100 PCIe")  # 114 x 1.755 / (132 x 1.98) = 0.7655
    assert (pcie.srresnet, pcie.srgan) == (round(150 * 0.7655), round(60 * 0.7655))
    rates = (("srresnet", "fp32", 160.0), ("srresnet", "bf16", 310.0), ("srgan", "fp32", 59.0),
             ("srgan", "bf16", 130.0))
    loops = [{"task": kind, "precision": precision, "mode": "graphed", "cut": "in the step", "graphed": True,
              "steps_per_s": rate} for kind, precision, rate in rates]
    out = speed.speed_verdicts(loops, h100, {"srresnet": False, "srgan": None})
    assert out["srresnet"]["meets_target"] and not out["srgan"]["meets_target"]
    assert out["srresnet"]["meets_stretch"] is False  # fast enough, but bf16 parity failed
    assert out["srgan"]["meets_stretch"] is None  # bf16 parity not run
    assert speed.speed_verdicts(loops, None, {})["srresnet"]["meets_target"] is None


def test_gpu_check_flags_graphed_steps_the_profiler_did_not_trace() -> None:
    cupti = {"api_version": 130001, "packages": {"nvidia-cuda-cupti": "13.0.85"}, "library": "libcupti.so.13"}
    rows = [{"task": "srgan", "mode": "graphed", "kernels_per_step": 12.0},
            {"task": "srgan", "mode": "eager", "kernels_per_step": 900.0},
            {"task": "srresnet", "mode": "graphed", "kernels_per_step": 600.0},
            {"task": "srresnet", "mode": "eager", "kernels_per_step": 620.0}]
    profile.flag_untraced_graphs(rows, cupti)
    assert rows[0]["untraced"] and "CUPTI 130001" in rows[0]["note"] and "13.0.85" in rows[0]["note"]
    assert not rows[2]["untraced"] and "note" not in rows[2]
    assert set(profile.cupti_version()) == {"packages", "library", "api_version"}


def test_gpu_check_keeps_the_other_parts_when_one_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def broken(setup, args):
        raise RuntimeError("part f broke")

    monkeypatch.setitem(cli.PARTS, "f", broken)
    out = tmp_path / "check.json"
    cli.main(["--cpu", "--parts", "fg", "--out", str(out)])
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


@pytest.mark.parametrize("command", [["benchmarks/gpu_check.py"], ["-m", "benchmarks.gpu_check"]])
def test_gpu_check_is_one_command_either_way(command: list[str]) -> None:
    """The path the docs cite and the package's module both run the check (--help: no device needed)."""
    done = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--run-seconds" in done.stdout and "One-command GPU check" in done.stdout



def test_mutation_tests_digest_changes_with_a_selected_test_file_or_a_conftest_above_it(tmp_path: Path) -> None:
    """An edited test that now reaches another function must be run on that function's mutants: mutmut's record of
    which tests reach which function is dropped when the selected tests' digest changes."""
    digest = _script("mutation").tests_digest
    tests = tmp_path / "tests"
    (tests / "core").mkdir(parents=True)
    for path in (tests / "conftest.py", tests / "core" / "test_a.py", tests / "test_b.py"):
        path.write_text("x = 1\n", encoding="utf-8")
    selected = [tests / "core", tests / "test_b.py"]
    before = digest(selected)
    assert digest(selected) == before
    for path in (tests / "core" / "test_a.py", tests / "test_b.py", tests / "conftest.py"):
        path.write_text("x = 2\n", encoding="utf-8")
        assert digest(selected) != before
        path.write_text("x = 1\n", encoding="utf-8")
    assert digest(selected) == before
    (tests / "test_c.py").write_text("y = 1\n", encoding="utf-8")  # not selected
    assert digest(selected) == before
    (tests / "core" / "test_d.py").write_text("y = 1\n", encoding="utf-8")  # a new file in a selected folder
    assert digest(selected) != before
