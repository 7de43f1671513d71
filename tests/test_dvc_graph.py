"""dvc.yaml declares exactly what can change each stage's outputs: its code (the import closure
of its script), its data, and the params keys in srgan.config.STAGE_PARAMS. Static checks; the
behaviour under `dvc status` / `dvc exp run` is tested in test_pipeline.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from srgan.code_deps import import_closure
from srgan.config import STAGE_PARAMS

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.parametrize("name", sorted(STAGES))
def test_params_are_exactly_the_stage_settings(name: str) -> None:
    assert name in STAGE_PARAMS, f"stage {name} has no entry in srgan.config.STAGE_PARAMS"
    declared = STAGES[name].get("params", [])
    assert sorted(declared) == sorted(STAGE_PARAMS[name]), f"stage {name}: dvc.yaml params differ from STAGE_PARAMS"


def test_every_table_entry_is_a_stage() -> None:
    assert set(STAGE_PARAMS) == set(STAGES)


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


def test_resume_state_is_not_an_output() -> None:
    for name, stage in STAGES.items():
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]
        assert not any(o.startswith("state") for o in outs), f"stage {name} declares resume state as an output"
        assert not any(isinstance(o, dict) and next(iter(o.values())).get("cache") is False
                       and not next(iter(o)).startswith(("metrics", "report"))
                       for o in stage.get("outs", [])), f"stage {name}: an uncached output outside git"


def test_training_stages_write_where_the_evaluations_read() -> None:
    for experiment in ("srresnet", "srgan"):
        train, evaluate = STAGES[f"train_{experiment}"], STAGES[f"evaluate_{experiment}"]
        model_dir = next(iter(o)) if isinstance(o := train["outs"][0], dict) else o
        assert model_dir == f"models/{experiment}/${{key}}" and model_dir in evaluate["deps"]
    assert "models/srresnet/mse/best.pt" in STAGES["train_srgan"]["deps"]
    assert "models/srresnet/mse/best.pt" in STAGES["train_srgan_mse"]["deps"]
