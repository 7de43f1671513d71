"""End to end: the real dvc.yaml and stage scripts on a micro profile in a temporary git repo.

One `dvc repro` of both experiments (module fixture), then the DVC graph's contract:
what `dvc status` says after edits that can and cannot change results, a fresh clone
with the DVC cache, a queued experiment, and `dvc exp run -S` on one variant or a new
`tv/` variant. The Set5 check runs when ../shared/data is present.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from srgan.pipeline.reruns import code_reruns
from srgan.report.curves import CHARTS

from dvc_project import DVC, SET5, dvc_env, micro_params, new_project, run, stages_run


def _changed(repo: Path, env: dict) -> set[str]:
    """Stages `dvc status` reports as changed."""
    return set(json.loads(run(DVC + ["status", "--json"], repo, env)))


def _restore(repo: Path, env: dict) -> None:
    """Back to the committed baseline: files, params and DVC outputs."""
    run(["git", "checkout", "--", "."], repo, env)
    # Outputs of stages the baseline does not have (a new variant, a new seed) are untracked files now; a
    # second pass takes the folders whose own .gitignore the first pass removed.
    for _ in range(2):
        run(["git", "clean", "-fdq", "--", "metrics", "report", "evaluation", "models", "plots", "logs"], repo, env)
    run(DVC + ["checkout", "--force"], repo, env)
    assert _changed(repo, env) == set()


# One `dvc repro` of both experiments (minutes): every test that reads it is marked slow, one by one, so that a test
# added here without it runs in the fast suite.
@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    repo = tmp / "project"
    env = dvc_env(tmp)
    new_project(repo, micro_params(SET5.is_dir()), env)
    out = run(DVC + ["repro"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "baseline results"], repo, env)
    return repo, env, out


@pytest.mark.slow
def test_repro_runs_both_experiments(project):
    repo, env, out = project
    sets = ["sample", "set5"] if SET5.is_dir() else ["sample"]
    expected = {
        "check_params", "prepare_train", "prepare_valid", *(f"prepare_test@{s}" for s in sets),
        "train_srresnet_mse@0", "train_srresnet@hybrid_res18_4-0", "train_srgan_mse@0", "train_srgan@hybrid_res18_4-0",
        "evaluate_bicubic", "evaluate_srresnet_mse@0", "evaluate_srresnet@hybrid_res18_4-0",
        "evaluate_srgan_mse@0", "evaluate_srgan@hybrid_res18_4-0", "report",
    }
    assert stages_run(out, with_check=True) == expected
    metrics = _metrics_shown(repo, env)
    models = ["bicubic.json", "hr.json", "srresnet/mse.json", "srresnet/hybrid_res18_4.json", "srgan/mse.json",
              "srgan/hybrid_res18_4.json"]
    assert sorted(metrics) == sorted(f"metrics/{m}" for m in models)  # one headline file per model
    assert set(metrics["metrics/srresnet/mse.json"]["sample"]) == {"psnr_y_db", "niqe_y"}
    full = json.loads((repo / "report" / "metrics" / "srresnet" / "mse" / "best.json").read_text())
    srresnet = full
    for key in ("psnr_y_db", "ssim_y", "psnr_rgb_db", "ms_ssim_rgb", "niqe_y", "chroma_ratio", "delta_e00"):
        assert isinstance(srresnet["sample"][key], float), key
    assert metrics["metrics/srresnet/mse.json"]["sample"]["psnr_y_db"] == srresnet["sample"]["psnr_y_db"]
    last = json.loads((repo / "report" / "metrics" / "srgan" / "mse" / "step2.json").read_text())
    assert metrics["metrics/srgan/mse.json"]["sample"]["niqe_y"] == last["sample"]["niqe_y"]  # the last checkpoint
    record = json.loads((repo / "evaluation" / "srresnet" / "mse" / "seed0.json").read_text())
    # provenance stays in the cached record
    assert [(c["kind"], c["file"]) for c in record["checkpoints"]] == [("best", "best.pt")]
    assert "lpips_alex" not in srresnet["sample"] or record["lpips_alex_status"] == "ok"
    assert set(metrics["metrics/hr.json"]["sample"]) == {"niqe_y"}
    for model in ("hybrid_res18_4", "mse"):
        for point in ("step1", "step2"):
            assert (repo / "models" / "srgan" / model / "seed0" / point / "last.pt").is_file()
    assert not any((repo / "state").rglob("resume.pt")), "a finished run leaves no resume state"
    index = (repo / "report" / "index.md").read_text()
    assert "Experiment 1: SRResNet" in index and "after 2 steps" in index and "NIQE" in index


def _metrics_shown(repo: Path, env: dict) -> dict[str, dict]:
    """{metrics file: its data} of the workspace, as `dvc metrics show --json` gives them."""
    (shown,) = json.loads(run(DVC + ["metrics", "show", "--json"], repo, env)).values()
    return {path: data["data"] for path, data in shown["data"].items()}


def _leaves(data) -> list:
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    return [data]


@pytest.mark.slow
def test_results_compare_in_a_clone_without_any_remote(project, tmp_path):
    """Two result commits, no DVC remote, a plain `git clone`: `dvc metrics diff HEAD~1` shows both sides,
    every metrics leaf is a number, and `dvc plots diff` has both revisions' curves (git alone)."""
    repo, env, _ = project
    work = tmp_path / "work"
    run(["git", "clone", "-q", str(repo), str(work)], tmp_path, env)
    run(DVC + ["cache", "dir", "--local", str(repo / ".dvc" / "cache")], work, env)
    run(DVC + ["checkout"], work, env)
    params = yaml.safe_load((work / "params.yaml").read_text())
    # 0.3: another test queues 0.5, and this run's run-cache entry (a shared cache) must not serve it.
    params["srgan"]["variants"]["hybrid_res18_4"]["mse"] = 0.3
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert stages_run(run(DVC + ["repro"], work, env)) == {
        "train_srgan@hybrid_res18_4-0", "evaluate_srgan@hybrid_res18_4-0", "report"}
    run(["git", "add", "-A"], work, env)
    run(["git", "commit", "-qm", "second results"], work, env)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(work), str(clone)], tmp_path, env)
    assert not (clone / ".dvc" / "cache").exists() and "remote" not in (clone / ".dvc" / "config").read_text()
    diff = json.loads(run(DVC + ["metrics", "diff", "HEAD~1", "--json"], clone, env))
    changed = {path for path in diff if path.startswith("metrics/srgan/hybrid_res18_4")}
    assert changed == {"metrics/srgan/hybrid_res18_4.json"}
    full = json.loads(run(DVC + ["metrics", "diff", "HEAD~1", "--json", "--targets",
                                 "report/metrics/srgan/hybrid_res18_4/step1.json"], clone, env))
    assert set(full["report/metrics/srgan/hybrid_res18_4/step1.json"]) >= {"sample.ssim_y", "sample.delta_e00"}
    for path in changed:
        for key, values in diff[path].items():
            assert isinstance(values["old"], float) and isinstance(values["new"], float), (path, key, values)
    assert not any(p.startswith(("metrics/srresnet/", "metrics/srgan/mse")) for p in diff)
    for path, data in _metrics_shown(clone, env).items():
        assert all(isinstance(leaf, float) for leaf in _leaves(data)), (path, data)
    plots = json.loads(run(DVC + ["plots", "diff", "HEAD~1", "--json"], clone, env))["data"]
    chart = plots["report/curves/srgan_valid_psnr_y_db.tsv"][0]
    assert sorted(chart["revisions"]) == ["HEAD~1", "workspace"]
    runs = {(row["rev"], row["run"]) for row in chart["content"]["data"]["values"]}
    assert runs == {(rev, v) for rev in ("HEAD~1", "workspace") for v in ("mse", "hybrid_res18_4")}
    # Is the change real? The per-image scores of both commits are in git too.
    compared = run([sys.executable, "-m", "srgan.cli", "compare", "srgan/hybrid_res18_4", "HEAD~1:"], clone, env)
    assert "A = srgan/hybrid_res18_4@step2, B = HEAD~1:srgan/hybrid_res18_4@step2" in compared, compared
    assert re.search(r"all sets\s+\d+\s+1\s+[+−]\d", compared), compared  # every test image, 1 seed


@pytest.mark.slow
def test_a_second_seed_adds_its_runs_and_reruns_nothing_else(project):
    """`-S seeds=[0,1]`: seed 1's training and evaluation stages and the report run, seed 0's are kept; the
    report gives mean ± sd over seeds and compares each variant with its baseline over images and seeds."""
    repo, env, _ = project
    out = run(DVC + ["exp", "run", "-S", "seeds=[0,1]"], repo, env)
    seed1 = {f"{kind}_{run_}" for kind in ("train", "evaluate")
             for run_ in ("srresnet_mse@1", "srresnet@hybrid_res18_4-1", "srgan_mse@1", "srgan@hybrid_res18_4-1")}
    assert stages_run(out) == seed1 | {"report"}
    scores = [json.loads((repo / "evaluation" / "srgan" / "hybrid_res18_4" / f"seed{s}.json").read_text())
              ["scores"]["step2"]["sample"]["psnr_y_db"] for s in (0, 1)]
    assert scores[0] != scores[1]  # the seed reaches the run
    metrics = json.loads((repo / "report" / "metrics" / "srgan" / "hybrid_res18_4" / "step2.json").read_text())["sample"]
    headline = json.loads((repo / "metrics" / "srgan" / "hybrid_res18_4.json").read_text())["sample"]
    assert headline == {"psnr_y_db": metrics["psnr_y_db"], "niqe_y": metrics["niqe_y"]}  # the last checkpoint
    assert metrics["psnr_y_db"] == pytest.approx(sum(scores) / 2, abs=1e-6)
    assert metrics["psnr_y_db_sd"] == pytest.approx(abs(scores[0] - scores[1]) / 2 ** 0.5, abs=1e-6)
    index = (repo / "report" / "index.md").read_text()
    assert "± " in index and "Every run was trained once per seed (0, 1)" in index
    assert "srgan/hybrid_res18_4 vs srgan/mse (step2), PSNR-Y:" in index
    assert re.search(r"\d+ images × 2 seeds", index)
    per_image = (repo / "report" / "per_image.csv").read_text().splitlines()
    assert per_image[0].startswith("model,seed,") and any(",1,step2," in line for line in per_image)
    _restore(repo, env)


@pytest.mark.slow
def test_plots_draw_offline_one_line_per_run(project):
    """`dvc plots show` charts every run of an experiment on one chart per quantity, with no constant
    chart, and the charts render without a network (vl-convert, the same vega-lite DVC's page embeds)."""
    vl_convert = pytest.importorskip("vl_convert")
    repo, env, _ = project
    charts = json.loads(run(DVC + ["plots", "show", "--json"], repo, env))["data"]
    assert sorted(charts) == sorted(f"report/{chart.file}" for chart in CHARTS)
    for path, (chart,) in charts.items():
        rows = chart["content"]["data"]["values"]
        runs = list(dict.fromkeys(row["run"] for row in rows))
        assert runs == ["mse", "hybrid_res18_4"], path
        values = {row[chart["content"]["encoding"]["y"]["field"]] for row in rows}
        assert len(values) > 1, f"{path} is constant"
        svg = vl_convert.vegalite_to_svg(chart["content"])
        assert svg.count('class="mark-line') == len(runs), path
    page = (repo / ".dvc" / "plots" / "offline.html").read_text()
    out = run(DVC + ["plots", "show", "-o", "plots_html"], repo, env)
    html = (repo / "plots_html" / "index.html").read_text()
    assert "vegaEmbed" in html and "<script src=" not in html and page.split("{plot_divs}")[0] in html, out
    shutil.rmtree(repo / "plots_html")


@pytest.mark.slow
def test_report_shows_the_study_set5_numbers_beside_ours(project):
    if not SET5.is_dir():
        pytest.skip("../shared/data/Set5 is not present")
    repo, _, _ = project
    index = (repo / "report" / "index.md").read_text()
    set5 = index[index.index("## set5"):]
    assert "Experiment 1: SRResNet" in set5 and "Experiment 2: SRGAN" in set5
    # The study's published SRResNet-MSE (23.13 dB) and SRGAN-MSE after 100 / 200 epochs (23.07, 24.17).
    for published in ("23.13", "23.07", "24.17", "0.9348"):
        assert published in set5, published
    assert "ours − published" in set5


@pytest.mark.slow
def test_status_probes(project):
    repo, env, _ = project
    changed = _changed_after(repo, env, "srgan/inference/generator.py")
    assert {"evaluate_srresnet_mse@0", "evaluate_srgan@hybrid_res18_4-0", "train_srresnet_mse@0", "report"} <= changed
    # Tiling is evaluation's business: an edit there reruns the evaluations, never a training stage.
    changed = _changed_after(repo, env, "srgan/inference/tiling.py")
    assert {"evaluate_srresnet_mse@0", "evaluate_srgan@hybrid_res18_4-0"} <= changed
    assert not {s for s in changed if s.startswith(("train", "prepare"))}, changed
    # The loss grammar is training's (and the report's): no prepare stage, no evaluation.
    changed = _changed_after(repo, env, "srgan/losses/terms.py")
    assert {"train_srresnet_mse@0", "train_srgan@hybrid_res18_4-0", "report"} <= changed
    assert not {s for s in changed if s.startswith(("prepare", "evaluate"))}, changed
    assert "evaluate_bicubic" in _changed_after(repo, env, "srgan/core/images.py")
    # Closures drawn by need, as the docs' table (srgan.pipeline.reruns) computes them, seen by DVC itself.
    for module in ("srgan/nets/discriminator.py", "srgan/losses/extractors.py", "srgan/core/evaluation_records.py",
                   "srgan/pipeline/stage_params.py"):
        changed = _changed_after(repo, env, module)
        assert changed == {stage.replace("<v>", "hybrid_res18_4").replace("<s>", "0")
                           for stage in code_reruns((module,))}, module
    assert not {s for s in _changed_after(repo, env, "srgan/nets/discriminator.py") if s.startswith("train_srresnet")}
    assert not {"train_srresnet_mse@0", "train_srgan_mse@0"} & _changed_after(repo, env, "srgan/losses/extractors.py")
    for module in ("srgan/core/evaluation_records.py", "srgan/pipeline/stage_params.py"):
        assert not {s for s in _changed_after(repo, env, module) if s.startswith("train")}, module
    for key, value in (("num_workers", 1), ("log_every", 7), ("checkpoint_every", 3), ("progress", True)):
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["execution"][key] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        # The check reads the whole file (its output's bytes stay, so nothing after it reruns); no other stage.
        assert _changed(repo, env) == {"check_params"}, f"changing execution.{key} must leave every run up to date"
        _restore(repo, env)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["features"]["allow_random_fallback"] = not params["features"]["allow_random_fallback"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = _changed(repo, env)
    assert {"train_srresnet@hybrid_res18_4-0", "train_srgan@hybrid_res18_4-0"} <= changed
    assert not changed & {"train_srresnet_mse@0", "train_srgan_mse@0"}, "MSE-only stages build no extractor"
    _restore(repo, env)


def _changed_after(repo: Path, env: dict, module: str) -> set[str]:
    with (repo / module).open("a") as fh:
        fh.write("\n# an edit\n")
    changed = _changed(repo, env)
    _restore(repo, env)
    return changed


@pytest.mark.slow
def test_fresh_clone_with_the_cache_is_up_to_date(project, tmp_path):
    repo, env, _ = project
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    run(DVC + ["cache", "dir", "--local", str(repo / ".dvc" / "cache")], clone, env)
    run(DVC + ["checkout"], clone, env)
    assert not (clone / "state").exists()
    assert _changed(clone, env) == set(), "a fresh workspace must not rerun finished stages"


@pytest.mark.slow
def test_an_unavailable_lock_entry_reruns_a_stage_the_run_cache_holds_until_it_is_forgotten(project, tmp_path):
    """A clone that shares this cache (which holds its own run of every stage) at a commit whose dvc.lock names
    another machine's outputs for SRResNet-MSE, pushed nowhere: DVC trusts the entry, finds its outputs nowhere and
    trains again; with the entry forgotten (`srgan lock forget-unavailable`) it restores the run-cache's run."""
    from dvc.utils.serialize import modify_yaml

    repo, env, _ = project
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    run(DVC + ["cache", "dir", "--local", str(repo / ".dvc" / "cache")], clone, env)
    with modify_yaml(str(clone / "dvc.lock")) as lock:  # as another machine's run of the same stage wrote it
        out = next(o for o in lock["stages"]["train_srresnet_mse@0"]["outs"] if o["path"] == "models/srresnet/mse/seed0")
        out["md5"] = "0123456789abcdef0123456789abcdef.dir"
    run(["git", "commit", "-qam", "results from another machine"], clone, env)
    target = ["train_srresnet_mse@0"]
    assert "train_srresnet_mse@0" in stages_run(run(DVC + ["repro", *target], clone, env))  # DVC's behaviour

    run(["git", "checkout", "-q", "--", "."], clone, env)
    run(DVC + ["checkout", "--force"], clone, env, ok=False)  # the foreign outputs are nowhere: a warning
    srgan = [sys.executable, "-m", "srgan", "lock", "forget-unavailable"]
    said = run(srgan, clone, env)
    assert said.startswith("forgot 1 dvc.lock entries whose outputs are not in the DVC cache (no DVC remote is "
                           "configured): train_srresnet_mse@0;"), said
    out = run(DVC + ["repro", *target], clone, env)
    assert "train_srresnet_mse@0" not in stages_run(out) and "Stage 'train_srresnet_mse@0' is cached" in out, out
    assert run(srgan, clone, env).startswith("every matching dvc.lock entry's outputs are in the DVC cache")


@pytest.mark.slow
def test_queued_experiment_runs_only_the_changed_variant(project):
    repo, env, _ = project
    run(DVC + ["exp", "run", "--queue", "-S", "srgan.variants.hybrid_res18_4.mse=0.5"], repo, env)
    out = run(DVC + ["exp", "run", "--run-all"], repo, env)
    logs = out + run(DVC + ["queue", "logs", _last_queued(repo, env)], repo, env, ok=False)
    assert stages_run(logs) == {"train_srgan@hybrid_res18_4-0", "evaluate_srgan@hybrid_res18_4-0", "report"}
    _restore(repo, env)


def _last_queued(repo: Path, env: dict) -> str:
    status = run(DVC + ["queue", "status"], repo, env)
    names = re.findall(r"^(\w{7})\s", status, flags=re.M)
    return names[-1] if names else ""


@pytest.mark.slow
def test_exp_run_on_one_srresnet_variant_reruns_only_it(project):
    repo, env, _ = project
    run(DVC + ["exp", "remove", "--all-commits"], repo, env, ok=False)  # the other tests' experiments: other columns
    out = run(DVC + ["exp", "run", "-S", "srresnet.variants.hybrid_res18_4.mse=0.5"], repo, env)
    assert stages_run(out) == {"train_srresnet@hybrid_res18_4-0", "evaluate_srresnet@hybrid_res18_4-0", "report"}
    diff = run(DVC + ["metrics", "diff"], repo, env)
    assert "metrics/srresnet/hybrid_res18_4.json" in diff
    assert "metrics/srresnet/mse" not in diff and "metrics/srgan/" not in diff
    assert "srresnet.variants.hybrid_res18_4.mse" in run(DVC + ["params", "diff"], repo, env)
    # In a 200-column terminal `dvc exp show --only-changed` shows the changed param and the changed headline of
    # one test set (DVC elides the columns that do not fit: the changed deps' hashes, last). Each further test set
    # adds two headline columns of about 50 characters before the params: this project's Set5 is dropped here.
    shown = run(DVC + ["exp", "show", "--only-changed", "--no-pager", "--drop", r".*:set5\..*"], repo,
                {**env, "COLUMNS": "200"})
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 200, shown
    header = next(line for line in lines if "Experiment" in line)
    for column in ("metrics/srresnet/hybrid_res18_4.json:sample.psnr_y_db",
                   "metrics/srresnet/hybrid_res18_4.json:sample.niqe_y", "srresnet.variants.hybrid_res18_4.mse"):
        assert column in header, header
    listed = run([sys.executable, "-m", "srgan", "experiments"], repo, env)
    assert max(len(line) for line in listed.splitlines()) <= 120, listed
    assert "  srresnet.variants.hybrid_res18_4.mse: 0.7 → 0.5" in listed, listed
    assert re.search(r"  srresnet/hybrid_res18_4 sample: PSNR-Y \d+\.\d{3} dB \([+−]\d\.\d{3}\)  NIQE-Y .*  no verdict: "
                     r"one seed", listed), listed
    assert "srgan/" not in listed and "srresnet/mse" not in listed  # only the model the weight changed
    _restore(repo, env)


@pytest.mark.slow
def test_exp_run_adding_a_torchvision_variant_runs_only_its_stages(project):
    repo, env, _ = project
    term = "tv/mobilenet_v3_small/features.3"
    out = run(DVC + ["exp", "run", "-S", f"+srgan.variants.mnv3={{mse: 0.6, {term}: 0.4}}"], repo, env)
    assert stages_run(out) == {"train_srgan@mnv3-0", "evaluate_srgan@mnv3-0", "report"}
    record = json.loads((repo / "evaluation" / "srgan" / "mnv3" / "seed0.json").read_text())
    assert term in record["loss_terms"] and "psnr_y_db" in record["scores"]["step2"]["sample"]
    assert "psnr_y_db" in json.loads((repo / "metrics" / "srgan" / "mnv3.json").read_text())["sample"]
    assert "mnv3" in (repo / "report" / "index.md").read_text()
    _restore(repo, env)


BAD_OVERRIDES = [
    ("seeds=[]", ["params key 'seeds' must list at least one seed"]),
    ("srgan.variants.hybrid_res18_4.mse=abc", ["params key 'srgan.variants.hybrid_res18_4.mse' must be a number"]),
    ("srgan.steps=-5", ["params key 'srgan.steps' must be >= 0, got -5"]),
    ("+srgan.stepz=5", ["unknown params key 'srgan.stepz'"]),
]


def _contents(repo: Path) -> dict[str, str]:
    """sha256 of every file a run could remove or rewrite: the tracked results, dvc.lock, the DVC outputs."""
    import hashlib

    out = {}
    for top in ("metrics", "report", "models", "evaluation", "plots", "logs", "data"):
        for path in sorted((repo / top).rglob("*")):
            if path.is_file():
                out[path.relative_to(repo).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    out["dvc.lock"] = hashlib.sha256((repo / "dvc.lock").read_bytes()).hexdigest()
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("override", "lines"), BAD_OVERRIDES, ids=[o for o, _ in BAD_OVERRIDES])
def test_a_bad_override_fails_in_seconds_and_removes_nothing(project, override, lines):
    """The params check runs before any stage whose outputs DVC would remove: a bad value or an unknown key (the
    `+key` form too) stops `dvc exp run` with one line per problem, and every output and tracked file stays."""
    repo, env, _ = project
    original = _contents(repo)
    try:
        _check_a_bad_override(repo, env, override, lines, original)
    finally:
        _restore(repo, env)  # each case starts from the baseline, whatever the last one left
    assert _contents(repo) == original  # nothing was lost


def _check_a_bad_override(repo: Path, env: dict, override: str, lines: list[str], original: dict) -> None:
    before = original
    start = time.monotonic()
    result = subprocess.run(DVC + ["exp", "run", "-S", override], cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0 and seconds < 60, (seconds, output)
    problems = [line for line in output.splitlines() if "params key" in line]
    assert len(problems) == len(lines), problems  # one line per problem, no knock-on lines
    for needle, line in zip(lines, problems):
        assert needle in line, (needle, line)
    assert stages_run(output, with_check=True) == {"check_params"}
    after = _contents(repo)
    if override == "seeds=[]":
        # No seed, no training or evaluation stage: DVC's experiment executor runs `dvc checkout --force` before the
        # first stage, which unlinks the outputs of stages the pipeline no longer has (they stay in the cache, and
        # `dvc checkout` brings them back once params.yaml is fixed). Everything in git stays.
        gone = set(before) - set(after)
        assert gone and all(p.startswith(("models/", "evaluation/", "logs/", "plots/")) for p in gone), sorted(gone)
        before = {p: h for p, h in before.items() if p not in gone}
    assert after == before  # every output, record, metric, report file and dvc.lock, byte for byte
    assert run(["git", "ls-files", "--deleted"], repo, env) == ""
    assert "deleted" not in run(DVC + ["status"], repo, env)
    # DVC leaves the -S value in params.yaml; git sees it (the check gives the file a new time: DVC's stash apply can
    # leave git's index taking the edited file for HEAD's), and `git checkout params.yaml` takes it back.
    assert run(["git", "status", "--porcelain"], repo, env).splitlines() == [" M params.yaml"]


@pytest.mark.slow
def test_stage_with_bad_params_fails_with_one_line(project, tmp_path):
    repo, env, _ = project
    params = micro_params(False)
    params["srgan"]["variants"]["hybrid_res18_4"]["mse"] = -1.0
    work = tmp_path / "work"
    shutil.copytree(repo, work, ignore=shutil.ignore_patterns(".dvc", ".git", "data", "models"))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "stages.prepare", "valid", "data/prepared/valid", "data/cache"],
                            cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: params key 'srgan.variants.hybrid_res18_4.mse' must be a finite weight >= 0, got -1.0"
    ]
    assert not (work / "data" / "prepared" / "valid").exists()


@pytest.mark.slow
def test_missing_model_is_one_clear_line(project):
    repo, env, _ = project
    result = subprocess.run([sys.executable, "-m", "stages.evaluate", "srresnet", "mse", "models/nope",
                             "data/prepared/test", "m.json", "m.csv", "--seed", "0"], cwd=repo, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "models/nope/summary.json not found" in lines[-1]
    assert "Traceback" not in result.stderr and not (repo / "m.json").exists()
