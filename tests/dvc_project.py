"""The project in a temporary git + DVC repo, for the end-to-end tests (not a test itself).

`micro_params` is the shipped micro profile (profiles/micro.yaml); `new_project` copies the
real dvc.yaml, stage scripts and package next to them and commits; `run` runs a command
there with `dvc_env` (a private DVC site cache, no analytics, a git identity, the stages
importing the srgan beside dvc.yaml).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SET5 = ROOT.parent / "shared" / "data" / "Set5"
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "srgan", ".dvcignore", ".gitignore"]
DVC_FILES = ["config", "plots"]  # the offline plots page and the runs template
GIT_ID = dict(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
              GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com")
DVC = [sys.executable, "-m", "dvc"]


MICRO = ROOT / "profiles" / "micro.yaml"


def micro_params(with_set5: bool) -> dict:
    """The micro profile (seconds per stage: tiny model, 2 steps, one hybrid variant per experiment), with
    Set5 as a second test set when asked."""
    params = yaml.safe_load(MICRO.read_text(encoding="utf-8"))
    if with_set5:
        params["data"]["test"]["set5"] = {"source": "folder", "images": [], "path": str(SET5), "url": "", "sha256": ""}
    return params


def dvc_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # stages run as `python -m stages.x`: they import the srgan beside dvc.yaml
    env.update(DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"), DVC_NO_ANALYTICS="1", TQDM_DISABLE="1",
               PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""), **GIT_ID)
    return env


def run(args: list[str], repo: Path, env: dict, ok: bool = True) -> str:
    """stdout + stderr of `args` run in `repo`; AssertionError with both when it fails and `ok`."""
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    if ok and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


CHECK_STAGE = "check_params"  # runs (in well under a second) whenever params.yaml or its code changed


def stages_run(output: str, with_check: bool = False) -> set[str]:
    """The stages DVC ran (not restored) according to its output; the params check only with `with_check`."""
    ran = set(re.findall(r"Running stage '([^']+)'", output))
    return ran if with_check else ran - {CHECK_STAGE}


def new_project(repo: Path, params: dict, env: dict) -> None:
    """The project's pipeline and code at `repo` with `params`, in a new git repo with DVC, committed."""
    repo.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], repo, env)
    run(DVC + ["init", "-q"], repo, env)
    for name in DVC_FILES:
        src = ROOT / ".dvc" / name
        if src.is_dir():
            shutil.copytree(src, repo / ".dvc" / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, repo / ".dvc" / name)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "micro project"], repo, env)
