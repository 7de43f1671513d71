"""A stage reads only the params it declares, and declares only what it reads.

Every stage of dvc.yaml runs here in-process, with its own command from dvc.yaml, on the micro
profile, once with every `study_code` switch off (the corrected pipeline) and once with every switch
as the study ran it. Each stage reads its params through a view of its declared keys
(`srgan.core.sections.params_view`): a read of an undeclared key fails the stage (and this test).
The views' logs then show what each stage read: every declared key must have been read, so no
declaration reruns a stage for nothing.
"""

from __future__ import annotations

import importlib
import itertools
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

import srgan.core.sections as sections

from dvc_project import CHECK_STAGE, ROOT, micro_params

AS_RUN = {"adversarial_gradient": False, "shared_bn": True, "generator_bias": False, "discriminator": "as_run",
          "feature_cuts": "as_run", "feature_normalisation": False, "mse_range": "unit", "best_file": "last",
          "eval_bn_mode": "train", "eval_clamp": False, "rotation": "nearest_black"}
# Declared but not read in a run counted in steps: `epochs` is only read when `steps` is 0, and a valid
# change of it (exactly one of the two > 0) changes `steps` too, so declaring it reruns nothing needlessly.
NOT_READ_IN_A_STEPS_RUN = {"srresnet.epochs", "srgan.epochs"}


def _commands(dvc_yaml: dict, params: dict) -> list[tuple[str, list[str]]]:
    """(stage name, argv of its `python -m stages.<script>` command) of every stage, in dvc.yaml order."""
    out = []
    for name, entry in dvc_yaml["stages"].items():
        if "foreach" in entry:
            section, _, field = entry["foreach"].strip("${}").partition(".")
            keys = list(params[section][field]) if field else list(params[section])
            instances = [(f"{name}@{key}", entry["do"]["cmd"].replace("${key}", key)) for key in keys]
        elif "matrix" in entry:
            axes = {}
            for axis, reference in entry["matrix"].items():
                value = params
                for part in reference.strip("${}").split("."):
                    value = value[part]
                axes[axis] = [str(v) for v in value]
            instances = []
            for values in itertools.product(*axes.values()):
                cmd = entry["cmd"]
                for axis, value in zip(axes, values):
                    cmd = cmd.replace(f"${{item.{axis}}}", value)
                instances.append((f"{name}@{'-'.join(values)}", cmd))
        else:
            instances = [(name, entry["cmd"])]
        for stage, cmd in instances:
            words = shlex.split(cmd)
            assert words[:2] == ["python", "-m"], cmd
            out.append((stage, [words[2], *words[3:]]))
    return out


def _run_pipeline(project: Path, params: dict, monkeypatch: pytest.MonkeyPatch) -> dict[str, sections.ViewLog]:
    """Run every stage's main in `project`; {stage: the log of the view it read its params through}."""
    project.mkdir()
    shutil.copy2(ROOT / "dvc.yaml", project / "dvc.yaml")
    for name in ("srgan", "stages"):  # a training stage hashes its declared code into its resume fingerprint
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(project)
    logs: dict[str, sections.ViewLog] = {}
    real_view = sections.params_view

    def recording_view(full, stage, declared):
        view = real_view(full, stage, declared)
        logs[stage] = sections.view_log(view)
        return view

    for module in ("stages.prepare", "stages.evaluate", "stages.report", "srgan.training.setup"):
        monkeypatch.setattr(importlib.import_module(module), "params_view", recording_view)
    for stage, (module, *args) in _commands(yaml.safe_load((ROOT / "dvc.yaml").read_text()), params):
        importlib.import_module(module).main([module, *args])  # an undeclared read raises UndeclaredParamError
        # The params check declares the whole file and reads it whole, through no view.
        assert stage in logs or stage == CHECK_STAGE, f"stage {stage} did not read its params through its view"
    return logs


@pytest.mark.slow  # 26 stages twice, in-process: ~1 min on 2 cores
@pytest.mark.parametrize("switches", ["corrected", "as_run"])
def test_every_stage_reads_exactly_what_it_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    switches: str) -> None:
    params = micro_params(with_set5=False)
    if switches == "as_run":
        params["study_code"].update(AS_RUN)
        for section in ("srresnet", "srgan"):  # the study's rotation only acts on rot10_hflip
            params[section].update(augment="rot10_hflip")
    logs = _run_pipeline(tmp_path / "project", params, monkeypatch)
    assert len(logs) == len(_commands(yaml.safe_load((ROOT / "dvc.yaml").read_text()), params)) - 1  # the check
    for stage, log in logs.items():
        unread = [key for key in log.declared
                  if key not in NOT_READ_IN_A_STEPS_RUN and not any(r == key or r.startswith(key + ".")
                                                                    for r in log.reads)]
        assert not unread, f"stage {stage} declares {unread} but never reads them (a change would rerun it for nothing)"


def test_an_undeclared_read_fails_naming_the_stage_and_the_key() -> None:
    from srgan.core.config import load_params

    params = load_params(ROOT / "params.yaml")
    view = sections.params_view(params, "evaluate_srgan_mse", ["runtime.device", "study_code.eval_clamp",
                                                               "srgan.variants.vgg19_5_4"])
    assert view.runtime.device == params.runtime.device and view.study_code.eval_clamp is True
    assert view.srgan.variants["vgg19_5_4"] == {"vgg19_5_4": 1.0}
    assert view.execution.log_every == params.execution.log_every  # changes no output: readable undeclared
    for read in (lambda: view.study_code.best_file, lambda: view.runtime.precision, lambda: view.srgan.steps,
                 lambda: view.srgan.variants["res34_3"], lambda: view.seeds, lambda: list(view.srgan.variants), lambda: view.model):
        with pytest.raises(sections.UndeclaredParamError, match="stage evaluate_srgan_mse reads params key"):
            read()
    log = sections.view_log(view)
    assert {"runtime.device", "study_code.eval_clamp", "srgan.variants.vgg19_5_4"} <= log.reads


def _run_stages(project: Path, params: dict, names: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the stages `names` of dvc.yaml, in dvc.yaml order, in a new project at `project`."""
    project.mkdir()
    shutil.copy2(ROOT / "dvc.yaml", project / "dvc.yaml")
    for name in ("srgan", "stages"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(project)
    for stage, (module, *args) in _commands(yaml.safe_load((ROOT / "dvc.yaml").read_text()), params):
        if stage in names:
            importlib.import_module(module).main([module, *args])


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # four stages twice, in-process
def test_execution_settings_leave_a_training_stages_outputs_byte_identical(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe for what no stage declares: the training stages run with other `execution` settings (TensorBoard
    and the bar every 2 steps instead of every step, the resume state saved every 2) publish the same models and
    curves, byte for byte; only the TensorBoard events and timing.json (wall-clock) differ."""
    stages = {"prepare_train", "prepare_valid", "train_srresnet_mse@0", "train_srgan_mse@0"}
    params = micro_params(with_set5=False)
    _run_stages(tmp_path / "a", params, stages, monkeypatch)
    params["execution"].update(log_every=2, checkpoint_every=2, progress=True)
    _run_stages(tmp_path / "b", params, stages, monkeypatch)
    for folder in ("models", "plots"):
        a, b = _tree(tmp_path / "a" / folder), _tree(tmp_path / "b" / folder)
        assert a == b, f"{folder} differs: {sorted(k for k in a if a[k] != b.get(k))}"
    assert {"srresnet/mse/seed0/loss/content.tsv", "srgan/mse/seed0/loss/adversarial.tsv"} <= set(a)
