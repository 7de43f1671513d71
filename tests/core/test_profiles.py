"""Every profile parses and validates; the paper and study profiles are what they claim; their DAGs have their stages."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srgan.core.config import load_params, params_from_dict, variant_names

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))
STUDY_VARIANTS = ["mse", "vgg19_5_4", "res18_4", "res34_3", "res34_5",
                  "hybrid_vgg19_5_4", "hybrid_res18_4", "hybrid_res34_3", "hybrid_res34_5"]


def test_there_are_paper_and_study_profiles():
    assert {p.stem for p in PROFILES} >= {"paper", "study"}


@pytest.mark.parametrize("path", [ROOT / "params.yaml", *PROFILES], ids=lambda p: p.name)
def test_profile_validates(path):
    params = load_params(path)
    assert params.srgan.checkpoints[-1] == params.srgan.length
    # Every profile runs the study's experiment 2; the sample profile one VGG and one ResNet loss and
    # their hybrids, to keep its run short.
    expected = {"params": ["mse", "vgg19_5_4", "res34_3", "hybrid_vgg19_5_4", "hybrid_res34_3"],
                "micro": ["mse", "hybrid_res18_4"]}.get(path.stem, STUDY_VARIANTS)
    assert variant_names(params.srgan) == expected


# The keys the micro profile shrinks; everything else is params.yaml's, so it runs what the default runs.
MICRO_KEYS = ("model.num_blocks", "model.channels", "features.weights", "data.train.images",
              "data.test.sample.images", "report.grid_images", "srresnet.variants", "srgan.variants",
              "srgan.checkpoints", "srresnet.variant_length", "execution.log_every", "execution.checkpoint_every",
              "execution.progress",
              *(f"{s}.{k}" for s in ("srresnet", "srgan") for k in ("steps", "batch_size", "patch_px", "valid_every")))


def _flat(data, prefix: str = "") -> dict:
    """{dotted key: value}; a MICRO_KEYS key is kept whole."""
    key = prefix.rstrip(".")
    if isinstance(data, dict) and key not in MICRO_KEYS:
        out = {}
        for name, value in data.items():
            out.update(_flat(value, f"{prefix}{name}."))
        return out
    return {key: data}


def test_micro_profile_is_the_default_shrunk() -> None:
    """The shipped micro profile (the end-to-end tests' profile) differs from params.yaml only in what it
    shrinks: it follows every other setting the default runs with."""
    micro, default = (_flat(yaml.safe_load(p.read_text())) for p in (ROOT / "profiles" / "micro.yaml",
                                                                      ROOT / "params.yaml"))
    assert set(micro) == set(default)
    differ = {k for k in micro if micro[k] != default[k]}
    assert differ <= set(MICRO_KEYS), differ - set(MICRO_KEYS)
    assert micro["srgan.checkpoints"] == [1, 2] and micro["model.num_blocks"] == 2


def test_cuda_graphs_and_device_patches_are_on_where_a_gpu_trains():
    for name in ("paper", "study", "study_as_run"):
        params = load_params(ROOT / "profiles" / f"{name}.yaml")
        assert params.runtime.cuda_graphs == "required" and params.execution.patches_on_device, name
    # The sample profile: graphs where they apply (a CUDA machine), eager on the CPU, never a stop.
    assert load_params(ROOT / "params.yaml").runtime.cuda_graphs == "auto"


def test_paper_profile_is_the_paper():
    params = load_params(ROOT / "profiles" / "paper.yaml")
    assert params.runtime.device == "cuda" and not params.features.allow_random_fallback
    assert params.evaluate.lpips_required
    assert (params.srresnet.steps, params.srresnet.batch_size, params.srresnet.patch_px) == (1_000_000, 16, 96)
    assert params.srresnet.learning_rate == 1e-4 and params.srresnet.lr_schedule == "constant"
    assert (params.srgan.steps, params.srgan.lr_schedule, params.srgan.lr_decay_step) == (200_000, "step", 100_000)
    assert params.srgan.checkpoints == (100_000, 200_000)
    assert params.srgan.adversarial_weight == 1e-3 and params.model.num_blocks == 16
    assert list(params.data.test) == ["set5", "set14"]
    assert variant_names(params.srresnet) == ["mse"]  # experiment 1 reduced to SRResNet-MSE


def test_paper_profile_adds_experiment_1_in_one_line():
    text = (ROOT / "profiles" / "paper.yaml").read_text()
    commented = re.search(r"^  # (variants: \{vgg19_5_4.*)$", text, flags=re.M)
    assert commented, "the one-line alternative for srresnet.variants is missing"
    edited = text.replace("  variants: {}\n", f"  {commented[1]}\n", 1)
    import yaml

    params = params_from_dict(yaml.safe_load(edited))
    assert variant_names(params.srresnet) == STUDY_VARIANTS
    assert params.srresnet.variants["hybrid_res34_3"] == {"mse": 0.7, "res34_3": 0.3}


def test_study_profile_is_the_study():
    params = load_params(ROOT / "profiles" / "study.yaml")
    assert (params.srresnet.epochs, params.srgan.epochs, params.srgan.checkpoints) == (250, 200, (100, 200))
    for section in (params.srresnet, params.srgan):
        assert section.patch_px == 128 and section.augment == "rot10_hflip"
        assert section.learning_rate == 1e-4 and section.lr_schedule == "constant" and section.valid_every == 1
    assert variant_names(params.srresnet) == STUDY_VARIANTS
    assert params.srresnet.variants["hybrid_vgg19_5_4"] == {"mse": 0.7, "vgg19_5_4": 0.3}
    assert params.srgan.variants["hybrid_vgg19_5_4"] == {"mse": 0.6, "vgg19_5_4": 0.4}
    assert params.report.grid_images == ("set5/baby", "set5/woman", "set14/ppt3")
    assert params.seeds == (0, 1, 2)  # three replicates: mean ± sd and paired tests in the report


@pytest.mark.parametrize("profile", ["paper", "study", "study_as_run"])
def test_profile_dag_has_both_experiments(tmp_path, profile):
    for name in ("dvc.yaml", "stages", "srgan"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    shutil.copy2(ROOT / "profiles" / f"{profile}.yaml", tmp_path / "params.yaml")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(tmp_path / "site"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True, env=env)
    dag = subprocess.run([sys.executable, "-m", "dvc", "dag", "--md"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    stages = ["prepare_train", "prepare_valid", "prepare_test@set5", "prepare_test@set14", "train_srresnet_mse",
              "train_srgan_mse", "train_srgan@vgg19_5_4", "evaluate_srgan@hybrid_res34_5", "evaluate_bicubic",
              "report"]
    if profile == "study":
        stages += ["train_srresnet@res34_3", "evaluate_srresnet@hybrid_vgg19_5_4"]
    for stage in stages:
        assert stage in dag, stage


def _leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _override(value) -> str:
    """A Hydra override value that reads back as `value`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_override(v) for v in value) + "]"
    if isinstance(value, str):
        return "''" if not value else "'" + value + "'"
    return repr(value)


def _changed(value):
    """Another value of the same kind, for a one-value edit."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    return value + "x"


@pytest.mark.parametrize("path", [ROOT / "params.yaml", *PROFILES], ids=lambda p: p.name)
def test_dvc_s_rewrites_one_line_per_value_and_keeps_every_comment(path, tmp_path):
    """`dvc exp run -S` rewrites params.yaml through its own YAML writer (`dvc.utils.hydra.apply_overrides`): the
    committed files are in that writer's form, so setting every key to its own value changes no byte, and changing
    one scalar changes exactly its line (comments stay on their keys)."""
    from dvc.utils.hydra import apply_overrides

    from srgan.core.config import read_params_file

    text = path.read_text(encoding="utf-8")
    leaves = dict(_leaves(read_params_file(path)))
    work = tmp_path / "params.yaml"
    work.write_text(text, encoding="utf-8")
    apply_overrides(work, [f"{key}={_override(value)}" for key, value in leaves.items()])
    assert work.read_text(encoding="utf-8") == text, "the writer rewrites this file: it is not in the writer's form"
    scalars = {k: v for k, v in leaves.items() if not isinstance(v, (list, dict))}
    # one scalar per section (the first), and a variant's weight: the edits a sweep makes
    picked = {k.split(".")[0]: k for k in reversed(scalars)}.values()
    for key in [*picked, *(k for k in scalars if ".variants." in k)][:12]:
        work.write_text(text, encoding="utf-8")
        apply_overrides(work, [f"{key}={_override(_changed(scalars[key]))}"])
        before, after = text.splitlines(), work.read_text(encoding="utf-8").splitlines()
        assert len(before) == len(after), key
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(changed) == 1, (key, changed)
        old, new = changed[0]
        assert old.split("#")[1:] == new.split("#")[1:], (key, old, new)  # the line's comment stays
