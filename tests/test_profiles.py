"""Every profile parses and validates, and the paper profile's DAG has its datasets."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srgan.config import load_params

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))


def test_there_are_paper_and_study_profiles():
    assert {p.stem for p in PROFILES} >= {"paper", "study"}


@pytest.mark.parametrize("path", [ROOT / "params.yaml", *PROFILES], ids=lambda p: p.name)
def test_profile_validates(path):
    params = load_params(path)
    assert params.data.train_set in params.data.sets and params.data.valid_set in params.data.sets


def test_paper_profile_is_the_paper():
    params = load_params(ROOT / "profiles" / "paper.yaml")
    assert params.runtime.device == "cuda" and not params.features.allow_random_fallback
    assert (params.pretrain.steps, params.pretrain.batch_size, params.pretrain.patch_px) == (1_000_000, 16, 96)
    assert params.pretrain.learning_rate == 1e-4 and params.pretrain.lr_schedule == "constant"
    assert (params.finetune.steps, params.finetune.lr_schedule, params.finetune.lr_decay_step) == (200_000, "step", 100_000)
    assert params.finetune.adversarial_weight == 1e-3 and params.model.num_blocks == 16
    assert set(params.evaluate.sets) == {"set5", "set14"}


def test_study_profile_uses_epochs_and_the_study_augmentation():
    params = load_params(ROOT / "profiles" / "study.yaml")
    assert (params.pretrain.epochs, params.finetune.epochs) == (250, 100)
    assert params.pretrain.patch_px == 128 and params.pretrain.augment == "rot10_hflip"


@pytest.mark.parametrize("profile", ["paper", "study"])
def test_profile_dag_shows_div2k_set5_set14(tmp_path, profile):
    for name in ("dvc.yaml", "stages", "srgan"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    shutil.copy2(ROOT / "profiles" / f"{profile}.yaml", tmp_path / "params.yaml")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(tmp_path / "site"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True, env=env)
    dag = subprocess.run([sys.executable, "-m", "dvc", "dag", "--md"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    for stage in ("prepare@div2k_train", "prepare@div2k_valid", "prepare@set5", "prepare@set14", "pretrain",
                  "finetune@vgg19_5_4", "evaluate_srgan@hybrid_res34_5", "report"):
        assert stage in dag
