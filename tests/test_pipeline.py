"""End to end: the real dvc.yaml and stage scripts on a micro profile in a temp git repo."""

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "srgan"]


def micro_params() -> dict:
    """The committed params.yaml shrunk to seconds: tiny model, 2 steps, 2 loss variants."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = copy.deepcopy(params)
    params["model"] = {"num_blocks": 2, "channels": 8}
    params["features"]["weights"] = "random"
    params["data"]["sets"]["sample_train"]["images"] = ["camera", "astronaut"]
    params["data"]["sets"]["sample_test"]["images"] = ["chelsea", "coffee"]
    for section in ("pretrain", "finetune"):
        params[section].update(steps=2, batch_size=2, patch_px=32, valid_every=1, log_every=1)
    params["finetune"]["losses"] = ["mse", "hybrid_res18_4"]
    return params


def _env(tmp_path: Path, repo: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DVC_SITE_CACHE_DIR=str(tmp_path / "dvc-site-cache"),
        DVC_NO_ANALYTICS="1",
        PYTHONPATH=str(repo),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
        TQDM_DISABLE="1",
    )
    return env


def _run(args: list[str], repo: Path, env: dict) -> str:
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def _stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(micro_params(), sort_keys=False))
    env = _env(tmp_path, repo)
    _run(["git", "init", "-q"], repo, env)
    _run([sys.executable, "-m", "dvc", "init", "-q"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "micro project"], repo, env)
    return repo, env


def test_repro_then_exp_run_reruns_only_the_changed_loss(repo):
    repo, env = repo
    dvc = [sys.executable, "-m", "dvc"]
    out = _run(dvc + ["repro"], repo, env)
    expected = {
        "prepare@sample_train", "prepare@sample_valid", "prepare@sample_test", "pretrain",
        "finetune@mse", "finetune@hybrid_res18_4", "evaluate_bicubic", "evaluate_srresnet",
        "evaluate_srgan@mse", "evaluate_srgan@hybrid_res18_4", "report",
    }
    assert _stages_run(out) == expected
    for model in ("bicubic", "srresnet", "srgan_mse", "srgan_hybrid_res18_4"):
        assert (repo / "metrics" / f"{model}.json").is_file()
        assert (repo / "metrics" / "per_image" / f"{model}.csv").is_file()
    for model in ("mse", "hybrid_res18_4"):
        assert (repo / "models" / "srgan" / model / "best.pt").is_file()
    index = (repo / "report" / "index.md").read_text()
    assert "srgan_hybrid_res18_4" in index and "PSNR-Y" in index and "res18_4: random" in index
    shown = _run(dvc + ["metrics", "show"], repo, env)
    assert "sample_test.psnr_y_db" in shown and "metrics/srgan_mse.json" in shown

    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "baseline results"], repo, env)
    out = _run(dvc + ["exp", "run", "-S", "losses.hybrid_res18_4.mse=0.5"], repo, env)
    assert _stages_run(out) == {"finetune@hybrid_res18_4", "evaluate_srgan@hybrid_res18_4", "report"}
    assert yaml.safe_load((repo / "params.yaml").read_text())["losses"]["hybrid_res18_4"]["mse"] == 0.5

    diff = _run(dvc + ["metrics", "diff"], repo, env)
    assert "metrics/srgan_hybrid_res18_4.json" in diff
    assert "metrics/srgan_mse.json" not in diff and "metrics/srresnet.json" not in diff
    params_diff = _run(dvc + ["params", "diff"], repo, env)
    assert "losses.hybrid_res18_4.mse" in params_diff
    shown = _run(dvc + ["exp", "show", "--md"], repo, env)
    assert "hybrid_res18_4" in shown


def test_stage_with_bad_params_fails_with_one_line(repo):
    repo, env = repo
    params = micro_params()
    params["losses"]["mse"]["mse"] = -1.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = subprocess.run(
        [sys.executable, "stages/prepare.py", "sample_valid", "data/prepared/sample_valid", "data/cache"],
        cwd=repo, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: params key 'losses.mse.mse' must be a weight >= 0, got -1.0"
    ]
    assert not (repo / "data" / "prepared" / "sample_valid").exists()


def test_missing_checkpoint_is_one_clear_line(repo):
    repo, env = repo
    result = subprocess.run(
        [sys.executable, "stages/evaluate.py", "models/nope.pt", "data/prepared", "m.json", "m.csv"],
        cwd=repo, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "not found" in lines[-1]
    assert "Traceback" not in result.stderr
