"""The study on several hosts (docs/hosts.md, "Running the study on several hosts"), on a micro profile.

In a temporary folder: a bare git remote, a local-directory DVC remote, and clones of the
project as hosts. A first-phase host runs `srgan plan --first` and pushes its run-cache. Then,
at the same time, two workers each run their slice of `srgan plan --hosts 2` and push, one of
them SIGKILLed in the middle of its training stage and started again with the same command,
while a sweep host tries another loss weight with `dvc exp run` and `dvc exp push`es it. A
fresh coordinator clone runs `dvc repro --pull`: no training stage and no evaluation runs,
only the report, which writes every scored model's metrics into git (`dvc metrics show` lists them);
it commits and pushes the results. Then a fresh clone without `dvc pull` reads the results from git
and, after `dvc exp pull`, compares the sweep with them (`dvc exp show`, `dvc metrics diff`).
Last, a second round on the same clones: seed 1 is committed on top of the results, every host moves
with `srgan worker sync` (git alone refuses), and `srgan plan` deals only seed 1's runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dvc_project import DVC, dvc_env, micro_params, new_project, run, stages_run

SRGAN = [sys.executable, "-m", "srgan"]  # run in a clone, its own code
PLAN = [*SRGAN, "plan"]
KILLED_RUN = "srgan/hybrid_res18_4/seed0"  # the longest run of phase 2 (SRGAN with a feature loss)
KILLED_STAGE = "train_srgan@hybrid_res18_4-0"
SWEPT = "srgan.variants.hybrid_res18_4.mse"


def _clone(origin: Path, host: Path, env: dict) -> Path:
    run(["git", "clone", "-q", str(origin), str(host)], host.parent, env)
    return host


def _start(args: list[str], repo: Path, env: dict, log: Path) -> subprocess.Popen:
    """`args` in the background, in its own process group (a dying host takes its children along)."""
    with log.open("w") as fh:
        return subprocess.Popen(args, cwd=repo, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(proc: subprocess.Popen, log: Path) -> str:
    assert proc.wait(timeout=900) == 0, log.read_text()[-4000:]
    return log.read_text()


def _plan(host: Path, env: dict, *args: str) -> tuple[list[str], str]:
    """`python -m srgan plan ARGS` in the clone `host` (its own code): (the targets it prints, its stderr)."""
    result = subprocess.run(SRGAN + ["plan", *args], cwd=host, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split(), result.stderr


def _metric_files(repo: Path, env: dict) -> dict[str, dict]:
    shown = json.loads(run(DVC + ["metrics", "show", "--json"], repo, env))
    return {path: data["data"] for rev in shown.values() for path, data in rev["data"].items()}


def _exp_row(shown: object, name: str) -> dict:
    """The data (params, metrics) of the commit or experiment `name` in `dvc exp show --json`."""
    if isinstance(shown, dict):
        if shown.get("name") == name and isinstance(shown.get("data"), dict):
            return shown["data"]
        shown = list(shown.values())
    for item in shown if isinstance(shown, list) else []:
        if isinstance(item, (dict, list)):
            try:
                return _exp_row(item, name)
            except KeyError:
                pass
    raise KeyError(name)


def _psnr(metrics: dict) -> float:
    return metrics["sample"]["psnr_y_db"]


SWEPT_METRICS = "metrics/srgan/hybrid_res18_4.json"  # its headline: the last checkpoint


@pytest.mark.slow  # three clones, two workers and a coordinator: minutes
def test_workers_run_their_slices_and_the_coordinator_retrains_nothing(tmp_path):
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    # Three hosts share 2 cores here: one thread each (two each made every process several times slower).
    env = {**dvc_env(tmp_path), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    params = micro_params(with_set5=False)
    # Experiment 1 is SRResNet-MSE only (phase 1); experiment 2's two runs, one per worker, train 4 steps
    # (a resume state after each), so a worker can be killed in the middle of one.
    params["srresnet"]["variants"] = {}
    params["srgan"].update(steps=4, checkpoints=[2, 4])
    origin, seed = tmp_path / "origin.git", tmp_path / "seed"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path, env)
    new_project(seed, params, env)
    run(DVC + ["remote", "add", "-d", "store", str(tmp_path / "dvc-remote")], seed, env)
    run(["git", "commit", "-qam", "the DVC remote"], seed, env)
    run(["git", "push", "-q", str(origin), "HEAD:refs/heads/main"], seed, env)
    run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], origin, env)
    lap("setup")

    # Phase 1: one host, pushed before the workers start.
    first = _clone(origin, tmp_path / "first", env)
    targets, said = _plan(first, env, "--first")
    assert "first phase: 0 stage(s) done, 6 to run" in said, said  # nothing is done yet
    overview = subprocess.run(PLAN + ["--hosts", "2"], cwd=first, env=env, capture_output=True, text=True)
    assert "0 runs done, 2 dealt to 2 host(s)" in overview.stderr, overview.stderr
    slices = {label: targets.split() for label, targets in (line.split("\t") for line in overview.stdout.splitlines())}
    assert slices["first"] == targets
    out = run(DVC + ["repro", "--pull", *targets], first, env)
    assert stages_run(out) == set(targets)
    run(DVC + ["push", "--run-cache"], first, env)
    # Its dvc.lock now holds phase 1 (uncommitted, which the plan says); phase 2 is dealt the same.
    after, said = _plan(first, env, "--hosts", "2", "--host", "0")
    assert after == slices["0"] and "note: dvc.lock differs from the commit's" in said, said
    lap("first phase")
    doomed = next(h for h in ("0", "1") if KILLED_STAGE in slices[h])
    spared = "1" if doomed == "0" else "0"

    # Phase 2: both workers at once, and a sweep host trying another weight (the dvc exp route);
    # the doomed worker dies in the middle of its training stage.
    hosts = {h: _clone(origin, tmp_path / f"worker{h}", env) for h in ("0", "1")}
    hosts["sweep"] = _clone(origin, tmp_path / "sweep", env)
    logs = {h: tmp_path / f"{h}.log" for h in hosts}
    commands = {h: DVC + ["repro", "--pull", *slices[h]] for h in ("0", "1")}
    # The whole pipeline: the report writes the metrics the experiment is compared by; everything but the
    # swept SRGAN, its evaluation and the report is restored (--pull) from phase 1's run-cache.
    commands["sweep"] = DVC + ["exp", "run", "--pull", "-n", "mse05", "-S", f"{SWEPT}=0.5"]
    procs = {h: _start(commands[h], hosts[h], env, logs[h]) for h in ("sweep", spared, doomed)}
    victim, resume = procs[doomed], hosts[doomed] / "state" / KILLED_RUN / "resume.pt"
    deadline = time.time() + 600
    while not resume.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the worker finished (or failed) before it could be killed"
    assert not (hosts[doomed] / "models" / KILLED_RUN).exists()
    # The same command again: the killed stage resumes from the host's own state/.
    outs = {doomed: run(commands[doomed], hosts[doomed], env)}
    assert "resuming srgan from step" in outs[doomed] and not resume.exists()
    outs.update((h, _finish(procs[h], logs[h])) for h in (spared, "sweep"))
    for h in ("0", "1"):
        # Only the slice ran; what it needs of phase 1 came from the run-cache.
        assert stages_run(outs[h]) == set(slices[h]), outs[h]
        run(DVC + ["push", "--run-cache"], hosts[h], env)
    assert "Stage 'train_srresnet_mse@0' is cached - skipping run" in outs[spared]
    # The sweep started with the workers: what phase 1 pushed is restored, the rest runs on the sweep host.
    assert {KILLED_STAGE, "evaluate_srgan@hybrid_res18_4-0", "report"} <= stages_run(outs["sweep"])
    assert not stages_run(outs["sweep"]) & set(slices["first"]), outs["sweep"]
    run(DVC + ["exp", "push", "origin", "mse05"], hosts["sweep"], env)
    lap("workers (one killed and rerun) and a sweep")

    # The coordinator: a fresh clone; every training stage and evaluation comes from the run-cache.
    coordinator = _clone(origin, tmp_path / "coordinator", env)
    out = run(DVC + ["repro", "--pull"], coordinator, env)
    assert stages_run(out) == {"report"}, out
    for stage in [*slices["first"], *slices["0"], *slices["1"]]:
        assert f"Stage '{stage}' is cached - skipping run" in out, stage
    metrics = _metric_files(coordinator, env)
    runs = {"metrics/srresnet/mse.json", *(f"metrics/srgan/{v}.json" for v in ("mse", "hybrid_res18_4"))}
    assert set(metrics) == runs | {"metrics/bicubic.json", "metrics/hr.json"}
    for path in runs:
        assert isinstance(metrics[path]["sample"]["psnr_y_db"], float), path
    assert "Experiment 2: SRGAN" in (coordinator / "report" / "index.md").read_text()
    run(["git", "add", "-A"], coordinator, env)
    run(["git", "commit", "-qm", "results"], coordinator, env)
    run(DVC + ["push"], coordinator, env)
    run(["git", "push", "-q", "origin", "HEAD:main"], coordinator, env)
    lap("coordinator")

    # A fresh clone, no dvc pull: the metrics are in git; the sweep comes with `dvc exp pull`.
    viewer = _clone(origin, tmp_path / "viewer", env)
    run(DVC + ["exp", "pull", "origin", "mse05"], viewer, env)
    shown = json.loads(run(DVC + ["exp", "show", "--json", "-n", "2"], viewer, env))
    results, swept = _exp_row(shown, "main"), _exp_row(shown, "mse05")
    assert results["params"]["params.yaml"]["data"]["srgan"]["variants"]["hybrid_res18_4"]["mse"] == 0.6
    assert swept["params"]["params.yaml"]["data"]["srgan"]["variants"]["hybrid_res18_4"]["mse"] == 0.5
    psnr = [_psnr(row["metrics"][SWEPT_METRICS]["data"]) for row in (results, swept)]
    assert psnr[0] != psnr[1], psnr
    # Results the viewer never pulled: its models are not there (DVC's .gitignore one level up is in git),
    # its metrics are (git).
    assert not (viewer / "models" / "srgan" / "mse" / "seed0").exists()
    assert (viewer / "metrics" / "srgan" / "mse.json").is_file()
    assert (viewer / "report" / "metrics" / "srgan" / "mse" / "step4.json").is_file()
    assert _psnr(results["metrics"]["metrics/srgan/mse.json"]["data"]) > 0
    diff = json.loads(run(DVC + ["metrics", "diff", "HEAD", "mse05", "--json", "--targets", SWEPT_METRICS],
                          viewer, env))
    change = diff[SWEPT_METRICS]["sample.psnr_y_db"]
    assert (change["old"], change["new"]) == tuple(psnr), diff
    # Is it real? The experiment's per-image scores came with `dvc exp pull` (git), named by the experiment.
    compared = run([sys.executable, "-m", "srgan.cli", "compare", "mse05:srgan/hybrid_res18_4", "HEAD:"], viewer, env)
    assert "A = mse05:srgan/hybrid_res18_4@step4, B = HEAD:srgan/hybrid_res18_4@step4" in compared, compared
    lap("dvc exp route")

    # Round 2: seed 1 added on top of the results, in the same clones. Git alone cannot move a used worker
    # (its dvc.lock and DVC's .gitignore files are in the way); `srgan worker sync` pushes it, then moves it.
    params["seeds"] = [0, 1]
    (coordinator / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "seed 1"], coordinator, env)
    run(["git", "push", "-q", "origin", "HEAD:main"], coordinator, env)
    run(["git", "fetch", "-q"], hosts[doomed], env)
    refused = subprocess.run(["git", "checkout", "-q", "origin/main"], cwd=hosts[doomed], env=env, capture_output=True,
                             text=True)
    assert refused.returncode != 0 and "dvc.lock" in refused.stderr, refused.stderr
    # The killed run resumed and finished, so it left no resume state; one of a run still under way stays.
    assert not (hosts[doomed] / "state").exists()
    pending = hosts[doomed] / "state" / "srgan" / "hybrid_res18_4" / "seed1" / "resume.pt"
    pending.parent.mkdir(parents=True)
    pending.write_bytes(b"a resume point of a run under way")
    synced = {name: run(SRGAN + ["worker", "sync", "origin/main"], host, env)
              for name, host in {"first": first, **hosts, "coordinator": coordinator}.items() if name != "sweep"}
    assert "discarded dvc.lock and" in synced[doomed] and "pushed first (dvc push --run-cache:" in synced[doomed]
    assert pending.read_bytes() == b"a resume point of a run under way"  # resume points stay
    shutil.rmtree(hosts[doomed] / "state")
    targets, said = _plan(first, env, "--first")
    assert targets == ["train_srresnet_mse@1", "evaluate_srresnet_mse@1"], said
    assert stages_run(run(DVC + ["repro", "--pull", *targets], first, env)) == set(targets)
    run(DVC + ["push", "--run-cache"], first, env)
    second, plans = {}, {}
    for h in ("0", "1"):
        second[h], plans[h] = _plan(hosts[h], env, "--hosts", "2", "--host", h)
        assert "2 runs done, 2 dealt to 2 host(s)" in plans[h], plans[h]  # seed 0's runs are not dealt again
        assert stages_run(run(DVC + ["repro", "--pull", *second[h]], hosts[h], env)) == set(second[h])
        run(DVC + ["push", "--run-cache"], hosts[h], env)
    assert {" ".join(second["0"]), " ".join(second["1"])} == {
        "train_srgan@hybrid_res18_4-1 evaluate_srgan@hybrid_res18_4-1", "train_srgan_mse@1 evaluate_srgan_mse@1"}
    assert stages_run(run(DVC + ["repro", "--pull"], coordinator, env)) == {"report"}
    run(DVC + ["push"], coordinator, env)
    run(["git", "add", "-A"], coordinator, env)
    run(["git", "commit", "-qm", "results with seed 1"], coordinator, env)
    run(["git", "push", "-q", "origin", "HEAD:main"], coordinator, env)
    # The viewer (it pulled an experiment) moves too; its plan: everything done, no host has anything to run.
    run(SRGAN + ["worker", "sync", "origin/main"], viewer, env)
    targets, said = _plan(viewer, env, "--hosts", "2", "--host", "1")
    assert targets == [] and "4 runs done, 0 dealt" in said and "host 1: nothing left to run" in said, said
    lap("round 2: seed 1 in the same clones")
    print("round 2:", synced[doomed].strip(), "|", plans[doomed].strip(), "|", said.strip())

    print("multi-host test timings (s):", {k: round(v, 1) for k, v in timings.items()},
          "total", round(sum(timings.values()), 1))
