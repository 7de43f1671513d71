"""srgan.pipeline.plan and `srgan plan`: the first phase, the balancing, the cost of a step, the output."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from pathlib import Path

import pytest
import yaml

from srgan.cli import main as cli_main
from srgan.core.config import load_params, params_from_dict
from srgan.core.errors import SrganError
from srgan.pipeline.done import Done
from srgan.pipeline.plan import (
    balance,
    balance_evaluations,
    extractor_flops,
    generator_flops,
    make_plan,
    step_gflop,
    train_image_count,
)

ROOT = Path(__file__).resolve().parents[2]


def _raw_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


def _small(raw: dict) -> dict:
    """The committed params with a tiny generator (the FLOP counts stay quick; the stages stay the same)."""
    raw["model"].update(num_blocks=2, channels=8)
    return raw


def _lookup(raw_params: dict, reference: str) -> list:
    value = raw_params
    for part in reference.removeprefix("${").removesuffix("}").split("."):
        value = value[part]
    return list(value)  # a dict's keys, or a list's items


def _dvc_stage_instances(raw_params: dict) -> set[str]:
    """Every stage dvc.yaml defines for these params, `foreach` and `matrix` expanded as DVC names them
    (a matrix instance: its values joined by '-')."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    names = set()
    for name, stage in stages.items():
        if "foreach" in stage:
            names.update(f"{name}@{key}" for key in _lookup(raw_params, stage["foreach"]))
        elif "matrix" in stage:
            axes = [_lookup(raw_params, ref) for ref in stage["matrix"].values()]
            names.update(f"{name}@" + "-".join(map(str, values)) for values in itertools.product(*axes))
        else:
            names.add(name)
    return names


# ---------------------------------------------------------------- balancing


def test_balance_deals_longest_first_to_the_least_loaded_host() -> None:
    assert balance([5, 4, 3, 3, 3], 2) == [[0, 3], [1, 2, 4]]  # loads 8 and 10
    assert balance([1, 2, 3], 1) == [[2, 1, 0]]
    assert balance([2, 2, 2], 3) == [[0], [1], [2]]  # ties: the lower index first, to the lower host


def test_balance_is_within_four_thirds_of_the_best_split() -> None:
    rng = random.Random(0)
    for _ in range(50):
        costs = [rng.randint(1, 20) for _ in range(rng.randint(2, 7))]
        hosts = rng.randint(2, 3)
        slices = balance(costs, hosts)
        assert sorted(i for s in slices for i in s) == list(range(len(costs)))
        longest = max(sum(costs[i] for i in s) for s in slices)
        best = min(max(sum(c for c, h in zip(costs, assign) if h == host) for host in range(hosts))
                   for assign in itertools.product(range(hosts), repeat=len(costs)))
        assert longest <= 4 / 3 * best, (costs, hosts)


# ---------------------------------------------------------------- cost of a step


def test_generator_flops_match_the_paper_size_count() -> None:
    # BRIEF §5: SRResNet-16, batch 16 of 24 -> 96 px: about 123 GFLOP per training step (fwd + bwd).
    assert generator_flops(16, 64, 4, 16, 96) / 1e9 == pytest.approx(123, rel=0.03)


def test_cost_ordering_of_the_study_variants() -> None:
    params = params_from_dict(_small(_raw_params()))
    p = params.srgan

    def cost(terms: dict[str, float], adversarial: bool) -> float:
        return step_gflop(params.model, params.data.scale, p, terms, adversarial)

    mse, vgg = cost({"mse": 1.0}, False), cost({"vgg19_5_4": 1.0}, False)
    assert vgg > 10 * mse  # VGG-19 up to conv5_4 dwarfs a 2-block generator
    assert cost({"mse": 0.6, "vgg19_5_4": 0.4}, False) == pytest.approx(vgg)  # the pixel term costs nothing
    assert cost({"mse": 1.0, "vgg19_5_4": 0.0}, False) == mse  # weight 0: not built, as ContentLoss does
    assert cost({"mse": 1.0}, True) > mse  # SRGAN's discriminator
    assert cost({"vgg19_5_4": 1.0}, True) > cost({"res18_4": 1.0}, True) > cost({"mse": 1.0}, True)
    assert extractor_flops("res34_5", 2, 32) > extractor_flops("res34_3", 2, 32)  # a deeper cut of ResNet-34
    assert extractor_flops("mse", 2, 32) == 0


# ---------------------------------------------------------------- the plan


def test_plan_covers_every_stage_but_the_report_once() -> None:
    raw = _small(_raw_params())
    plan = make_plan(params_from_dict(raw), 3)
    targets = [*plan.first, *(t for host in range(3) for t in plan.targets(host))]
    assert len(targets) == len(set(targets))
    assert set(targets) | {"report", "check_params"} == _dvc_stage_instances(raw)  # the check runs on every host
    assert plan.first[:3] == ("prepare_train", "prepare_valid", "prepare_test@sample")
    assert {"train_srresnet_mse@0", "evaluate_srresnet_mse@0", "evaluate_bicubic"} <= set(plan.first)
    for host in range(3):  # each run's training stage travels with its evaluation
        trains = [t for t in plan.targets(host) if t.startswith("train_")]
        assert [t.replace("train_", "evaluate_", 1) for t in trains] == [
            t for t in plan.targets(host) if t.startswith("evaluate_")]
    costs = [plan.cost_gflop(h) for h in range(3)]
    assert max(costs) < 1.5 * min(costs)  # 9 runs on 3 hosts: close to even


def test_every_seed_is_a_run_of_its_own() -> None:
    raw = _small(_raw_params())
    raw["seeds"] = [0, 1, 2]
    plan = make_plan(params_from_dict(raw), 4)
    targets = [*plan.first, *(t for host in range(4) for t in plan.targets(host))]
    # the check runs on every host, before the stages it deals
    assert set(targets) | {"report", "check_params"} == _dvc_stage_instances(raw) and len(targets) == len(set(targets))
    assert {f"train_srresnet_mse@{s}" for s in (0, 1, 2)} <= set(plan.first)  # every seed's SRGANs start there
    jobs = [job for host in plan.hosts for job in host]
    assert len(jobs) == 3 * (len(raw["srresnet"]["variants"]) + 1 + len(raw["srgan"]["variants"]))
    assert {job.targets for job in jobs if job.variant == "vgg19_5_4" and job.experiment == "srgan"} == {
        (f"train_srgan@vgg19_5_4-{s}", f"evaluate_srgan@vgg19_5_4-{s}") for s in (0, 1, 2)}


def test_plan_counts_steps_and_epochs() -> None:
    raw = _small(_raw_params())
    plan = make_plan(params_from_dict(raw), 1)
    steps = {(job.experiment, job.variant): job.steps for job in plan.hosts[0]}
    assert steps[("srresnet", "vgg19_5_4")] == raw["srresnet"]["variant_length"]
    assert steps[("srgan", "mse")] == raw["srgan"]["steps"]
    raw["srgan"].update(steps=0, epochs=3, checkpoints=[3], valid_every=1)
    plan = make_plan(params_from_dict(raw), 1)
    steps = {(job.experiment, job.variant): job.steps for job in plan.hosts[0]}
    images = len(raw["data"]["train"]["images"])
    assert steps[("srgan", "mse")] == 3 * (images // raw["srgan"]["batch_size"])
    plan = make_plan(params_from_dict(raw), 1, train_images=800)
    assert {job.steps for job in plan.hosts[0] if job.experiment == "srgan"} == {3 * 800 // 8}


def test_train_image_count_from_names_manifest_or_known_set(tmp_path: Path) -> None:
    data = params_from_dict(_raw_params()).data
    assert train_image_count(data) == len(data.train.images)
    everything = dataclasses.replace(data, train=dataclasses.replace(data.train, images=(), source="download",
                                                                       url="https://x/DIV2K_train_HR.zip"))
    assert train_image_count(everything, tmp_path / "none") == 800
    (tmp_path / "manifest.json").write_text(json.dumps({"scale": 4, "source": {}, "images": [{"name": "a"}] * 7}))
    assert train_image_count(everything, tmp_path) == 7
    unknown = dataclasses.replace(everything, train=dataclasses.replace(everything.train, url="https://x/mine.zip"))
    with pytest.raises(SrganError, match="--train-images"):
        train_image_count(unknown, tmp_path / "none")


def test_balance_evaluations_gives_every_host_as_many_evaluations() -> None:
    # Hosts 0 and 1 hold 1 and 2 runs (an evaluation each), host 0 the longer training.
    assert balance_evaluations(3, [1, 2], [100.0, 40.0]) == [0, 1, 0]
    assert balance_evaluations(4, [0, 0, 0], [0.0, 0.0, 0.0]) == [0, 1, 2, 0]  # rescoring only: round robin
    assert balance_evaluations(0, [1], [1.0]) == []


def _done(plan, runs) -> frozenset[str]:
    """Every stage of phase 1 and of the jobs `runs` (experiment, variant, seed) of `plan`."""
    jobs = [job for host in plan.hosts for job in host]
    return frozenset([*plan.first, *(t for job in jobs if (job.experiment, job.variant, job.seed) in runs
                                      for t in job.stages)])


def test_what_is_done_is_not_dealt() -> None:
    raw = _small(_raw_params())
    raw["seeds"] = [0, 1]
    params = params_from_dict(raw)
    every = make_plan(params, 2)
    seed0 = {(job.experiment, job.variant, job.seed) for host in every.hosts for job in host if job.seed == 0}
    plan = make_plan(params, 2, done=_done(every, seed0) - {"train_srresnet_mse@1", "evaluate_srresnet_mse@1"})
    assert plan.runs_done == 9 and plan.dealt == 9
    assert plan.first == ("train_srresnet_mse@1", "evaluate_srresnet_mse@1") and plan.first_done == 6
    jobs = [job for host in plan.hosts for job in host]
    assert {job.seed for job in jobs} == {1} and all(job.train for job in jobs)
    # The seed-1 runs are balanced as they would be alone.
    costs = [plan.cost_gflop(h) for h in range(2)]
    assert max(costs) < 1.5 * min(costs)
    assert make_plan(params, 2, done=frozenset()).hosts == every.hosts  # nothing done: today's plan


def test_a_run_whose_training_is_done_deals_only_its_evaluation() -> None:
    params = params_from_dict(_small(_raw_params()))
    every = make_plan(params, 3)
    runs = {(job.experiment, job.variant, job.seed) for host in every.hosts for job in host}
    trainings = frozenset(t for t in _done(every, runs) if not t.startswith("evaluate_") or t in every.first)
    plan = make_plan(params, 3, done=trainings)  # e.g. the scoring code changed: every evaluation reruns
    assert plan.runs_done == 0 and plan.dealt == 9 and plan.first == ()
    assert all(not job.train and job.targets == job.stages[1:] for host in plan.hosts for job in host)
    assert [len(host) for host in plan.hosts] == [3, 3, 3] and plan.cost_gflop(0) == 0.0
    assert all(t.startswith("evaluate_") for h in range(3) for t in plan.targets(h))


def test_a_host_with_nothing_left_gets_no_targets() -> None:
    params = params_from_dict(_small(_raw_params()))
    every = make_plan(params, 3)
    runs = {(job.experiment, job.variant, job.seed) for host in every.hosts for job in host}
    left = sorted(runs)[0]
    plan = make_plan(params, 3, done=_done(every, runs - {left}))
    assert plan.runs_done == 8 and plan.dealt == 1
    assert [len(host) for host in plan.hosts] == [1, 0, 0] and plan.targets(1) == []
    with pytest.raises(SrganError, match="--hosts 10: after the first phase the study has 9 runs"):
        make_plan(params, 10, done=_done(every, runs))  # more hosts than the study has runs: still refused


def test_more_hosts_than_runs_is_refused() -> None:
    params = params_from_dict(_small(_raw_params()))
    with pytest.raises(SrganError, match="--hosts 10: after the first phase the study has 9 runs"):
        make_plan(params, 10)
    with pytest.raises(SrganError, match="at least 1"):
        make_plan(params, 0)


# ---------------------------------------------------------------- srgan plan


@pytest.fixture()
def small_params(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_small(_raw_params()), sort_keys=False), encoding="utf-8")
    load_params(path)
    return path


def test_plan_command_prints_a_line_per_host(small_params: Path, capsys) -> None:
    cli_main(["plan", "--all", "--params", str(small_params), "--hosts", "2"])
    out, err = capsys.readouterr()
    lines = [line.split("\t") for line in out.splitlines()]
    assert [label for label, _ in lines] == ["first", "0", "1"]
    plan = make_plan(load_params(small_params), 2)
    assert lines[0][1].split() == list(plan.first)
    assert [targets.split() for _, targets in lines[1:]] == [plan.targets(0), plan.targets(1)]
    assert err.count("GFLOP") == 2

    cli_main(["plan", "--all", "--params", str(small_params), "--hosts", "2", "--host", "1"])
    assert capsys.readouterr().out == " ".join(plan.targets(1)) + "\n"
    cli_main(["plan", "--all", "--params", str(small_params), "--first"])
    assert capsys.readouterr().out == " ".join(plan.first) + "\n"


@pytest.fixture()
def project_params(small_params: Path, monkeypatch) -> Path:
    """A folder whose params.yaml is the small params, as the current folder."""
    monkeypatch.chdir(small_params.parent)
    return small_params


def test_plan_command_says_what_is_done_and_deals_the_rest(project_params: Path, capsys, monkeypatch) -> None:
    every = make_plan(load_params(project_params), 2)
    runs = {(job.experiment, job.variant, job.seed) for host in every.hosts for job in host}
    left = {("srgan", "vgg19_5_4", 0), ("srresnet", "res34_3", 0)}
    done = Done(_done(every, runs - left), {}, (), "the DVC remote 'store'", True)
    monkeypatch.setattr("srgan.pipeline.done.done_stages", lambda root: done)
    cli_main(["plan", "--hosts", "3"])
    out, err = capsys.readouterr()
    lines = dict(line.split("\t") for line in out.splitlines())
    assert lines["first"] == "" and lines["2"] == ""
    assert {lines["0"], lines["1"]} == {"train_srgan@vgg19_5_4-0 evaluate_srgan@vgg19_5_4-0",
                                        "train_srresnet@res34_3-0 evaluate_srresnet@res34_3-0"}
    assert "7 runs done, 2 dealt to 3 host(s) (done: settled in dvc.lock, outputs in the DVC remote 'store')" in err
    assert "host 2: nothing left to run\n" in err and "first phase: 6 stage(s) done, nothing to run" in err
    cli_main(["plan", "--hosts", "3", "--host", "2"])
    out, err = capsys.readouterr()
    assert out == "\n" and "host 2: nothing left to run" in err  # `targets=$(...)` is empty: guard dvc repro
    cli_main(["plan", "--first"])
    assert capsys.readouterr().out == "\n"
    # A clone whose dvc.lock holds its own runs, and outputs not pushed, are said.
    monkeypatch.setattr("srgan.pipeline.done.done_stages", lambda root: Done(
        frozenset(), {}, ("train_srgan@vgg19_5_4-0",), "the DVC remote 'store'", False))
    cli_main(["plan", "--hosts", "3"])
    err = capsys.readouterr().err
    assert "note: dvc.lock differs from the commit's" in err and "`srgan worker sync COMMIT` resets it" in err
    assert "note: 1 stage(s) match dvc.lock but their outputs are not in the DVC remote 'store'" in err
    assert "0 runs done, 9 dealt" in err


def test_plan_of_another_params_file_needs_all(small_params: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path / "..")
    with pytest.raises(SystemExit) as info:
        cli_main(["plan", "--params", str(small_params), "--hosts", "2"])
    assert str(info.value).startswith(f"error: --params {small_params}: what is done is known only for the "
                                      "params.yaml beside dvc.yaml")


@pytest.mark.parametrize("args, message", [
    (["--hosts", "2", "--host", "2"], "error: --host must be in 0..1 for --hosts 2, got 2"),
    (["--host", "1"], "error: --host I needs --hosts N"),
    ([], "error: give --first, or --hosts N (and --host I for one host's targets)"),
    (["--hosts", "30"], "error: --hosts 30: after the first phase the study has 9 runs; use at most 9 hosts"),
])
def test_plan_command_errors_are_one_line(small_params: Path, args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main(["plan", "--all", "--params", str(small_params), *args])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
