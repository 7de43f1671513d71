"""srgan.core.declared: a stage's declaration read back from dvc.yaml (plain, foreach and matrix instances),
the code digest over its files, and the names of run stages and folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from locales import ascii_locale

from srgan.core.declared import Declared, code_digest, read_declared, run_folder, stage_name
from srgan.core.errors import SrganError

DVC_YAML = """\
# stages — generated
stages:
  report:
    cmd: python stages/report.py
    deps:
    - stages/report.py
    - srgan/report/build.py
    - evaluation
    params:
    - report
    - data.test
  prepare_test:
    foreach:
    - set5
    - set14
    do:
      cmd: python stages/prepare.py test ${key}
      deps:
      - stages/prepare.py
      - data/raw/${key}.zip
      params:
      - data.test.${key}
  train_srgan:
    matrix:
      variant:
      - vgg19_5_4
      seed:
      - 0
    cmd: python stages/train.py srgan ${item.variant} ${item.seed}
    deps:
    - stages/train.py
    - srgan/training/${item.variant}.py
    - models/srresnet/mse/seed${item.seed}/best.pt
    params:
    - srgan.variants.${item.variant}
    - seeds
  nothing_declared:
    cmd: echo
"""


@pytest.fixture
def dvc_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "dvc.yaml"
    path.write_text(DVC_YAML, encoding="utf-8")
    return path


def test_a_plain_stage_declares_its_params_and_python_deps(dvc_yaml: Path) -> None:
    assert read_declared("report", dvc_yaml) == Declared("report", ("report", "data.test"),
                                                         ("stages/report.py", "srgan/report/build.py"))
    assert read_declared("nothing_declared", dvc_yaml) == Declared("nothing_declared", (), ())


def test_a_foreach_instance_resolves_its_key(dvc_yaml: Path) -> None:
    assert read_declared("prepare_test@set14", dvc_yaml) == Declared("prepare_test@set14", ("data.test.set14",),
                                                                     ("stages/prepare.py",))


@pytest.mark.parametrize(("suffix", "variant", "seed"), [("vgg19_5_4-0", "vgg19_5_4", "0"),
                                                         ("a-b-12", "a-b", "12")])
def test_a_matrix_instance_resolves_each_item_splitting_from_the_right(dvc_yaml: Path, suffix: str, variant: str,
                                                                        seed: str) -> None:
    """DVC joins the matrix values with '-': only the first (a variant name) could hold one."""
    declared = read_declared(f"train_srgan@{suffix}", dvc_yaml)
    assert declared == Declared(f"train_srgan@{suffix}", (f"srgan.variants.{variant}", "seeds"),
                                ("stages/train.py", f"srgan/training/{variant}.py"))


@pytest.mark.parametrize("stage", ["nope", "nope@x", "prepare_test", "train_srgan", "train_srgan@vgg19_5_4",
                                   "report@x"])
def test_a_stage_dvc_yaml_does_not_declare_is_one_line(dvc_yaml: Path, stage: str) -> None:
    """Unknown names, a foreach or matrix stage named without its instance, a matrix instance with too few values,
    and an instance of a plain stage."""
    with pytest.raises(SrganError) as error:
        read_declared(stage, dvc_yaml)
    assert str(error.value) == (f"{dvc_yaml} declares no stage '{stage}'; regenerate it (python -m "
                                "srgan.pipeline.dvc_yaml) or check the stage's arguments")


def test_a_missing_or_broken_dvc_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "dvc.yaml"
    with pytest.raises(SrganError) as error:
        read_declared("report", path)
    assert str(error.value) == f"{path} not found: run the stage from the project folder (where dvc.yaml is)"
    path.write_text("stages: [\n", encoding="utf-8")
    with pytest.raises(SrganError) as error:
        read_declared("report", path)
    assert str(error.value).startswith(f"{path} is not valid YAML (")
    assert str(error.value).endswith("); regenerate it: python -m srgan.pipeline.dvc_yaml")
    for text in ("", "vars: []\n"):  # empty, or no stages at all
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SrganError, match="declares no stage 'report'"):
            read_declared("report", path)


def test_dvc_yaml_is_read_as_utf8_whatever_the_locale(dvc_yaml: Path) -> None:
    with ascii_locale():  # its first line holds an em dash
        assert read_declared("report", dvc_yaml).params == ("report", "data.test")


def test_the_projects_dvc_yaml_declares_each_run_stage() -> None:
    root = Path(__file__).resolve().parents[2]
    declared = read_declared(stage_name("train", "srgan", "vgg19_5_4", 0), root / "dvc.yaml")
    assert "srgan.variants.vgg19_5_4" in declared.params and "srgan.variants.res34_3" not in declared.params
    assert "stages/train_srgan.py" in declared.code
    assert all(path.endswith(".py") and (root / path).is_file() for path in declared.code)


def test_code_digest_covers_each_files_path_and_bytes_in_sorted_order(tmp_path: Path) -> None:
    import hashlib

    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    (tmp_path / "b.py").write_bytes(b"y = 2\n")
    declared = Declared("s", (), ("b.py", "a.py"))
    expected = hashlib.sha256(b"a.py\0x = 1\n\0b.py\0y = 2\n\0").hexdigest()[:16]
    assert code_digest(declared, tmp_path) == expected
    (tmp_path / "b.py").write_bytes(b"y = 3\n")
    assert code_digest(declared, tmp_path) != expected
    with pytest.raises(SrganError) as error:
        code_digest(Declared("s@0", (), ("a.py", "gone.py")), tmp_path)
    assert str(error.value) == (f"{tmp_path / 'gone.py'}, declared as code of stage s@0 in dvc.yaml, does not exist; "
                                "regenerate dvc.yaml (python -m srgan.pipeline.dvc_yaml)")


def test_stage_names_and_run_folders() -> None:
    assert stage_name("train", "srgan", "mse", 0) == "train_srgan_mse@0"
    assert stage_name("evaluate", "srresnet", "vgg19_5_4", 1) == "evaluate_srresnet@vgg19_5_4-1"
    assert run_folder("srgan", "vgg19_5_4", 2) == "srgan/vgg19_5_4/seed2"
