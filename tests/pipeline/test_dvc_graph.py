"""dvc.yaml declares exactly what can change each stage's outputs: its code (the import closure
of its script), its data, and the params keys in srgan.pipeline.stage_params.STAGE_PARAMS; it is
generated (srgan.pipeline.dvc_yaml) and must be up to date. Static checks; the behaviour under
`dvc status` / `dvc exp run` is tested in test_pipeline.py."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from srgan.pipeline import dvc_yaml
from srgan.pipeline.code_deps import import_closure
from srgan.pipeline.stage_params import STAGE_PARAMS

ROOT = Path(__file__).resolve().parents[2]


def _stages() -> dict[str, dict]:
    """dvc.yaml's stage definitions (foreach templates unwrapped), anchors resolved."""
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: stage.get("do", stage) for name, stage in raw.items()}


STAGES = _stages()


def _script(stage: dict) -> Path:
    match = re.match(r"python -m stages\.(\w+)\b", stage["cmd"])
    assert match, f"stage command does not run a stage script as a module: {stage['cmd']}"
    return Path("stages") / f"{match[1]}.py"


def _code_deps(stage: dict) -> set[str]:
    return {d for d in stage["deps"] if d.endswith(".py")}


def _data_deps(stage: dict) -> set[str]:
    return {d for d in stage["deps"] if not d.endswith(".py")}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_the_import_closure_of_the_stage_script(name: str) -> None:
    stage = STAGES[name]
    closure = {p.as_posix() for p in import_closure(ROOT / _script(stage), ROOT)}
    declared = _code_deps(stage)
    missing, extra = sorted(closure - declared), sorted(declared - closure)
    assert not missing, f"stage {name}: imports {missing} but dvc.yaml does not list them as deps"
    assert not extra, f"stage {name}: dvc.yaml lists {extra}, which its script does not import"


@pytest.mark.parametrize("name", sorted(set(STAGES) - {dvc_yaml.CHECK_STAGE}))
def test_params_are_exactly_the_stage_settings(name: str) -> None:
    assert name in STAGE_PARAMS, f"stage {name} has no entry in srgan.pipeline.stage_params.STAGE_PARAMS"
    declared = STAGES[name].get("params", [])
    assert sorted(declared) == sorted(STAGE_PARAMS[name]), f"stage {name}: dvc.yaml params differ from STAGE_PARAMS"


def test_every_table_entry_is_a_stage() -> None:
    assert set(STAGE_PARAMS) | {dvc_yaml.CHECK_STAGE} == set(STAGES)


def test_the_params_check_runs_first_and_removes_nothing() -> None:
    """The check declares the whole params file (any key, added keys too, reruns it); every other stage depends on
    its output, so DVC runs it before any of them; its output is persisted (a failing check leaves it in place) and
    in git (a clone has it)."""
    check = STAGES[dvc_yaml.CHECK_STAGE]
    assert check["params"] == [{"params.yaml": None}]
    assert _declared(check) == [(dvc_yaml.PARAMS_CHECKED, {"cache": False, "persist": True})]
    assert list(STAGES)[0] == dvc_yaml.CHECK_STAGE
    for name, stage in STAGES.items():
        if name != dvc_yaml.CHECK_STAGE:
            assert dvc_yaml.PARAMS_CHECKED in stage["deps"], f"stage {name} does not wait for the params check"
    assert (ROOT / dvc_yaml.PARAMS_CHECKED).is_file()


def test_stage_scripts_import_no_cli() -> None:
    # The CLI pulls in every subcommand's modules; a stage that imported it would depend on all of them.
    for name, stage in STAGES.items():
        assert "srgan/cli.py" not in _code_deps(stage), name


def test_evaluation_and_report_read_no_training_images() -> None:
    for name, stage in STAGES.items():
        if name.startswith(("evaluate", "report")):
            data = _data_deps(stage)
            assert data & {"data/prepared/test"}, name
            assert not any(d.startswith(("data/prepared/train", "data/prepared/valid")) or d == "data/prepared"
                           for d in data), f"stage {name} depends on training data: {sorted(data)}"


def _declared(stage: dict) -> list[tuple[str, dict]]:
    """(path, options) of every output, metric and plot of a stage."""
    return [(next(iter(o)), next(iter(o.values())) or {}) if isinstance(o, dict) else (o, {})
            for key in ("outs", "metrics", "plots") for o in stage.get(key, [])]


def test_resume_state_is_not_an_output() -> None:
    for name, stage in STAGES.items():
        assert not any(path.startswith("state") for path, _ in _declared(stage)), (
            f"stage {name} declares resume state as an output")


def test_every_stage_but_report_can_travel_through_the_run_cache() -> None:
    """DVC saves and restores a stage in its run-cache only without `persist: true` outputs, and `dvc push`
    only sends cached files: every output is cached and none persisted, except what the report stage
    writes into git (report/ and metrics/, which only it declares)."""
    for name, stage in STAGES.items():
        if name == dvc_yaml.CHECK_STAGE:
            continue  # well under a second, it runs on every host; its output never changes
        for path, options in _declared(stage):
            assert not options.get("persist"), f"stage {name}: {path} is persisted"
            if name != "report":
                assert options.get("cache", True), f"stage {name}: {path} is not cached"
        if name != "report":
            assert "metrics" not in stage.get("do", stage), f"stage {name}: only the report writes metrics"
    assert _declared(STAGES["report"]) == [("report", {"cache": False}), ("metrics", {"cache": False})]


def test_dvc_yaml_is_the_generated_one() -> None:
    assert (ROOT / "dvc.yaml").read_text(encoding="utf-8") == dvc_yaml.render(ROOT), (
        "dvc.yaml is out of date: run `python -m srgan.pipeline.dvc_yaml` and commit it")


def test_check_command_flags_a_stale_dvc_yaml(tmp_path: Path) -> None:
    for name in ("stages", "srgan"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "dvc.yaml").write_text(dvc_yaml.render(ROOT) + "# an edit\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="out of date"):
        dvc_yaml.main(["--check", "--root", str(tmp_path)])
    dvc_yaml.main(["--root", str(tmp_path)])
    dvc_yaml.main(["--check", "--root", str(tmp_path)])


@pytest.fixture()
def dvc_private(tmp_path: Path, monkeypatch) -> None:
    """DVC in this process: its site cache in a temp folder, no analytics."""
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def test_the_committed_lock_holds_only_stages_dvc_yaml_has(dvc_private) -> None:
    assert dvc_yaml.dead_lock_entries(ROOT) == [], "run `python -m srgan.pipeline.dvc_yaml` and commit dvc.lock"


def test_the_generator_drops_lock_entries_of_stages_dvc_yaml_no_longer_has(tmp_path: Path, dvc_private) -> None:
    project = tmp_path / "project"
    for name in ("stages", "srgan"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / ".dvc", project / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache", "config.local"))
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)  # DVC reads a project inside git
    live = yaml.safe_load((ROOT / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    # A stage renamed since (no seed suffix), and the run of a seed params.yaml no longer lists.
    dead = {"train_srgan_mse": live["train_srgan_mse@0"],
            "evaluate_srgan@vgg19_5_4-7": live["evaluate_srgan@vgg19_5_4-0"]}
    lock_text = yaml.safe_dump({"schema": "2.0", "stages": {**dead, **live}}, sort_keys=False)
    (project / "dvc.lock").write_text(lock_text, encoding="utf-8")

    assert dvc_yaml.dead_lock_entries(project) == list(dead)
    with pytest.raises(SystemExit, match=r"dvc.lock holds 2 entries for stages dvc.yaml no longer has "
                                         r"\(train_srgan_mse, evaluate_srgan@vgg19_5_4-7\)"):
        dvc_yaml.main(["--check", "--root", str(project)])
    dvc_yaml.main(["--root", str(project)])
    assert yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8"))["stages"] == live
    dvc_yaml.main(["--check", "--root", str(project)])
    assert (project / "dvc.yaml").read_text(encoding="utf-8") == (ROOT / "dvc.yaml").read_text(encoding="utf-8")


def _closure(script: str) -> set[str]:
    return {p.as_posix() for p in import_closure(ROOT / "stages" / f"{script}.py", ROOT)}


TRAINING_SCRIPTS = ("train_srresnet_mse", "train_srresnet", "train_srgan_mse", "train_srgan")
EXTRACTORS = "srgan/losses/extractors.py"
GAN_CODE = {"srgan/nets/discriminator.py", "srgan/losses/adversarial.py", "srgan/training/srgan.py"}
# Weights in and out (srgan import / export, ONNX models): no stage runs them.
INTEROP = {"srgan/inference/importing.py", "srgan/inference/exporting.py", "srgan/inference/onnx_model.py"}


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_training_closures_hold_only_what_the_stage_runs(script: str) -> None:
    """A training stage reruns when its code changes: its closure holds what it runs, and nothing of
    inference files, evaluation, the report, the evaluation records, the param table or the pipeline wiring."""
    closure = _closure(script)
    forbidden = {"srgan/inference/tiling.py", "srgan/inference/folding.py", "srgan/inference/upscale.py",
                 "srgan/scoring/evaluate.py", "srgan/scoring/niqe.py", "srgan/scoring/lpips.py", "srgan/cli.py",
                 "srgan/core/evaluation_records.py", *INTEROP}
    assert not closure & forbidden, sorted(closure & forbidden)
    assert not any(p.startswith(("srgan/report/", "srgan/pipeline/")) for p in closure), sorted(closure)
    # What validation does need: whole-image super-resolution and the metrics.
    assert {"srgan/inference/generator.py", "srgan/scoring/metrics.py"} <= closure
    if script.startswith("train_srresnet"):  # experiment 1 has no discriminator
        assert not closure & GAN_CODE, sorted(closure & GAN_CODE)
    else:
        assert GAN_CODE <= closure
    assert (EXTRACTORS in closure) == (not script.endswith("_mse")), "only the feature-loss stages build extractors"


def test_prepare_depends_on_no_loss_grammar_training_or_torch_code() -> None:
    closure = _closure("prepare")
    assert "srgan/losses/terms.py" not in closure
    assert not any(p.startswith(("srgan/training/", "srgan/nets/", "srgan/losses/", "srgan/inference/",
                                 "srgan/pipeline/")) for p in closure), sorted(closure)
    assert "srgan/core/runtime.py" not in closure and "srgan/core/tensors.py" not in closure


def test_evaluation_depends_on_no_training_or_loss_code() -> None:
    closure = _closure("evaluate")
    assert not any(p.startswith(("srgan/training/", "srgan/losses/", "srgan/report/", "srgan/pipeline/"))
                   for p in closure)
    assert "srgan/nets/discriminator.py" not in closure
    assert not closure & INTEROP, sorted(closure & INTEROP)


def test_closure_holds_every_package_init_on_the_way(tmp_path: Path) -> None:
    (tmp_path / "srgan" / "a" / "b").mkdir(parents=True)
    for init in ("srgan/__init__.py", "srgan/a/__init__.py", "srgan/a/b/__init__.py"):
        (tmp_path / init).write_text("")
    (tmp_path / "srgan" / "a" / "b" / "leaf.py").write_text("X = 1\n")
    (tmp_path / "script.py").write_text("from srgan.a.b.leaf import X\n")
    closure = {p.as_posix() for p in import_closure(tmp_path / "script.py", tmp_path)}
    assert closure == {"script.py", "srgan/__init__.py", "srgan/a/__init__.py", "srgan/a/b/__init__.py",
                       "srgan/a/b/leaf.py"}


def test_package_inits_import_nothing() -> None:
    # Every closure below a package holds its __init__: an import there would widen them all.
    for init in (ROOT / "srgan").rglob("__init__.py"):
        names = {node.__class__.__name__ for node in ast.walk(ast.parse(init.read_text(encoding="utf-8")))}
        assert not names & {"Import", "ImportFrom"}, init


def test_training_stages_write_where_the_evaluations_read() -> None:
    for experiment in ("srresnet", "srgan"):
        train, evaluate = STAGES[f"train_{experiment}"], STAGES[f"evaluate_{experiment}"]
        model_dir = next(iter(o)) if isinstance(o := train["outs"][0], dict) else o
        assert model_dir == f"models/{experiment}/${{item.variant}}/seed${{item.seed}}"
        assert model_dir in evaluate["deps"] and evaluate["matrix"] == train["matrix"]
        assert train["matrix"] == {"variant": f"${{{experiment}.variants}}", "seed": "${seeds}"}
    # A seed's SRGANs start from that seed's SRResNet-MSE run (its best or its last file: study_code.best_file).
    for name in ("train_srgan", "train_srgan_mse"):
        assert "models/srresnet/mse/seed${item.seed}" in STAGES[name]["deps"]
        assert "--init models/srresnet/mse/seed${item.seed}" in STAGES[name]["cmd"]
    # The seed reaches each run on its command line; no training or evaluation stage declares the list.
    for name, stage in STAGES.items():
        if name.startswith(("train_", "evaluate_")) and name != "evaluate_bicubic":
            assert "--seed ${item.seed}" in stage["cmd"] and "seeds" not in stage["params"], name
    assert "seeds" in STAGES["report"]["params"]
