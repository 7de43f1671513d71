"""srgan.report.inputs on its own: what the pipeline wrote, read back as the report's records, pinned against
values worked out here (a whole report build reaches it too, in test_report.py, seconds per build)."""

from __future__ import annotations

import dataclasses
import math
import shutil
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report import (
    EXPERIMENTS,
    SEED_STEP_DB,
    SEEDS,
    SETS,
    _expected_means,
    _feature_weights,
    _hr_image,
    _loss_terms,
    _points,
    fake_pipeline,
)

from srgan.core.declared import run_folder
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import (
    AsRunScoring,
    BaselineEvaluation,
    read_run_evaluation,
    write_baseline_evaluation,
    write_run_evaluation,
)
from srgan.datasets.prepared import write_prepared_set
from srgan.report.figures import CropBox
from srgan.report.inputs import (
    Scored,
    _over_seeds,
    _sets_of,
    collect_scored,
    curve_run_name,
    load_curves,
    load_grid_image,
    load_per_image,
    read_hr_niqe,
    read_lpips_status,
)

NAN = math.nan


# ---------------------------------------------------------------- Scored


def test_scored_names() -> None:
    bicubic = Scored("bicubic", "bicubic", "bicubic", {}, None, {}, {})
    srgan = Scored("srgan", "vgg19_5_4", "epoch100", {}, Path("w.pt"), {}, {})
    assert (bicubic.name, bicubic.run_name) == ("bicubic", "bicubic")
    assert (srgan.name, srgan.run_name) == ("srgan/vgg19_5_4@epoch100", "srgan/vgg19_5_4")
    # Only the experiment says bicubic: a variant or a label that happens to be "bicubic" is an ordinary model.
    odd = Scored("srresnet", "bicubic", "bicubic", {}, Path("w.pt"), {}, {})
    assert (odd.name, odd.run_name) == ("srresnet/bicubic@bicubic", "srresnet/bicubic")


# ---------------------------------------------------------------- set scores and seeds


def test_sets_of_keeps_the_asked_sets_in_their_order_and_names_the_first_missing_one() -> None:
    results = {"set5": {"psnr_y_db": 1.0}, "mini": {"psnr_y_db": 2.0}, "other": {"psnr_y_db": 3.0}}
    kept = _sets_of(results, ["mini", "set5"], Path("e/x.json"))
    assert kept == {"mini": {"psnr_y_db": 2.0}, "set5": {"psnr_y_db": 1.0}} and list(kept) == ["mini", "set5"]
    with pytest.raises(SrganError) as err:
        _sets_of(results, ["set5", "set14", "urban"], Path("e/x.json"))
    assert str(err.value) == "evaluation record e/x.json has no results for set 'set14'; re-run its evaluate stage"


def test_over_seeds_is_the_mean_and_sample_sd_of_the_finite_values_of_each_key() -> None:
    per_seed = [
        {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 10.0}, "unasked": {"x": 0.0}},
        {"a": {"y": 4.0, "z": 1.5, "x": NAN}, "b": {"x": 11.0}},
        {"a": {"x": 3.0, "y": 9.0, "w": math.inf}, "b": {"x": 15.0}},
    ]
    mean, spread = _over_seeds(per_seed, ["b", "a"])
    # Sets in the asked order; keys in order of first appearance over the seeds; a missing key, NaN or inf
    # is no value (z: one value, so no sd; w: none at all).
    assert list(mean) == list(spread) == ["b", "a"]
    assert list(mean["a"]) == list(spread["a"]) == ["x", "y", "z", "w"]
    assert mean["b"] == {"x": statistics.mean([10.0, 11.0, 15.0])}
    assert spread["b"] == {"x": pytest.approx(statistics.stdev([10.0, 11.0, 15.0]), rel=1e-15)}
    assert mean["a"] == pytest.approx({"x": 2.0, "y": 5.0, "z": 1.5, "w": NAN}, rel=1e-15, nan_ok=True)
    assert spread["a"] == pytest.approx({"x": statistics.stdev([1.0, 3.0]), "y": statistics.stdev([2.0, 4.0, 9.0]),
                                         "z": NAN, "w": NAN}, rel=1e-15, nan_ok=True)


def test_over_seeds_of_one_seed_is_its_values_without_spread() -> None:
    mean, spread = _over_seeds([{"a": {"x": 1.25, "y": NAN}}], ["a"])
    assert list(mean) == ["a"] and mean["a"] == pytest.approx({"x": 1.25, "y": NAN}, nan_ok=True)
    assert spread is None


def test_hr_niqe_and_lpips_status(tmp_path: Path) -> None:
    write_baseline_evaluation(tmp_path / "hr.json", BaselineEvaluation(
        "hr", "n/a", {"set5": {"niqe_y": 5.25, "images": 5}, "mini": {"images": 2}, "set14": {"niqe_y": 4.5}}))
    write_baseline_evaluation(tmp_path / "bicubic.json", BaselineEvaluation(
        "bicubic", "unavailable: no AlexNet weights", {"set5": {"psnr_y_db": 28.4}}))
    niqe = read_hr_niqe(tmp_path, ["mini", "set5"])
    assert list(niqe) == ["mini", "set5"] and niqe["set5"] == 5.25 and math.isnan(niqe["mini"])
    assert read_lpips_status(tmp_path) == "unavailable: no AlexNet weights"
    with pytest.raises(SrganError) as err:
        read_hr_niqe(tmp_path, ["set5", "urban100"])
    assert str(err.value) == (f"evaluation record {tmp_path / 'hr.json'} has no results for set 'urban100'; "
                              "re-run its evaluate stage")


# ---------------------------------------------------------------- collect_scored


def _expected_scored(dirs: dict[str, Path], seeds: tuple[int, ...]) -> list[Scored]:
    """What collect_scored must give for test_report's fake pipeline: seed s scored seed 0's numbers with PSNR-Y
    + SEED_STEP_DB * s, so the mean over seeds 0, 1, 2 is PSNR-Y + SEED_STEP_DB and its sample sd SEED_STEP_DB,
    every other metric (and the image count) the same in every seed (sd 0)."""
    means = _expected_means()
    shift = statistics.mean(SEED_STEP_DB * s for s in seeds)
    sd = statistics.stdev([SEED_STEP_DB * s for s in seeds]) if len(seeds) > 1 else None

    def results(e: str, v: str, label: str) -> dict:
        out = {s: {**means[(e, v, label, s)], "images": len(SETS[s])} for s in SETS}
        for s in SETS:
            out[s]["psnr_y_db"] += shift
        return out

    def spread(e: str, v: str, label: str) -> dict | None:
        if sd is None:
            return None
        return {s: {k: (sd if k == "psnr_y_db" else 0.0) for k in results(e, v, label)[s]} for s in SETS}

    out = [Scored("bicubic", "bicubic", "bicubic", {s: {**means[("bicubic", "bicubic", "bicubic", s)],
                                                        "images": len(SETS[s])} for s in SETS}, None, {}, {})]
    for e, variants in EXPERIMENTS.items():
        for v in variants:
            for point in _points(e):
                out.append(Scored(e, v, point.label, results(e, v, point.label),
                                  dirs["models"] / run_folder(e, v, seeds[0]) / point.file, _feature_weights(v),
                                  _loss_terms(v), None, None, point, seeds, spread(e, v, point.label)))
    return out


def _assert_scored_equal(got: list[Scored], expected: list[Scored]) -> None:
    assert [s.name for s in got] == [s.name for s in expected]
    for g, e in zip(got, expected):
        for field in dataclasses.fields(Scored):
            a, b = getattr(g, field.name), getattr(e, field.name)
            if field.name in ("results", "as_run", "spread") and b is not None:
                assert list(a) == list(b), (g.name, field.name)
                for s in b:
                    assert list(a[s]) == list(b[s]) and a[s] == pytest.approx(b[s], rel=1e-12, abs=1e-12), (
                        g.name, field.name, s)
            else:
                assert a == b, (g.name, field.name)


def test_collect_scored_one_seed(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path)
    got = collect_scored(dirs["evaluation"], dirs["models"], {e: list(v) for e, v in EXPERIMENTS.items()},
                         list(SETS))
    _assert_scored_equal(got, _expected_scored(dirs, (0,)))
    assert len(got) == 1 + 3 + 3 * 2


def test_collect_scored_averages_over_seeds_in_params_order_with_weights_of_the_first_seed(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, SEEDS)
    got = collect_scored(dirs["evaluation"], dirs["models"], {e: list(v) for e, v in EXPERIMENTS.items()},
                         list(SETS), SEEDS)
    _assert_scored_equal(got, _expected_scored(dirs, SEEDS))
    # The order of the experiments, variants, sets and seeds is the caller's; weights come from its first seed.
    got = collect_scored(dirs["evaluation"], dirs["models"], {"srgan": ["res34_3", "mse"]}, ["mini"], (2, 0))
    assert [s.name for s in got] == ["bicubic", "srgan/res34_3@epoch100", "srgan/res34_3@epoch200",
                                     "srgan/mse@epoch100", "srgan/mse@epoch200"]
    assert [list(s.results) for s in got] == [["mini"]] * 5
    assert got[1].weights == dirs["models"] / "srgan" / "res34_3" / "seed2" / "epoch100" / "last.pt"
    assert got[1].seeds == (2, 0)
    m = _expected_means()[("srgan", "res34_3", "epoch100", "mini")]["psnr_y_db"]
    assert got[1].results["mini"]["psnr_y_db"] == pytest.approx(m + SEED_STEP_DB, rel=1e-12)
    assert got[1].spread["mini"]["psnr_y_db"] == pytest.approx(statistics.stdev([2 * SEED_STEP_DB, 0.0]), rel=1e-12)


def test_collect_scored_as_run_is_the_mean_over_seeds(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    scoring = AsRunScoring({"best": "last.pt"}, "train", False)
    for seed, psnr in ((0, 15.0), (1, 16.5)):
        path = dirs["evaluation"] / f"{run_folder('srresnet', 'mse', seed)}.json"
        run = read_run_evaluation(path)
        as_run = {"best": {s: {"psnr_rgb_db": psnr + i, "ms_ssim_rgb": 0.8 + seed / 10} for i, s in enumerate(SETS)}}
        # How it was scored: the first seed's record says (seed 1's differs here only to tell them apart).
        write_run_evaluation(path, dataclasses.replace(
            run, as_run=as_run, as_run_scoring=scoring if seed == 0 else AsRunScoring({}, "eval", True)))
    got = {s.name: s for s in collect_scored(dirs["evaluation"], dirs["models"], {"srresnet": ["mse", "res18_4"]},
                                             list(SETS), (0, 1))}
    mse = got["srresnet/mse@best"]
    assert mse.as_run_scoring == scoring and list(mse.as_run) == list(SETS)
    assert mse.as_run == {s: pytest.approx({"psnr_rgb_db": 15.75 + i, "ms_ssim_rgb": 0.85}, rel=1e-12)
                          for i, s in enumerate(SETS)}
    assert got["srresnet/res18_4@best"].as_run is None and got["srresnet/res18_4@best"].as_run_scoring is None


@pytest.mark.parametrize("broken", ["bicubic", "seed1", "as_run"])
def test_collect_scored_names_the_record_without_a_set(tmp_path: Path, broken: str) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    evaluation = dirs["evaluation"]
    if broken == "bicubic":
        path = evaluation / "bicubic.json"
        write_baseline_evaluation(path, BaselineEvaluation("bicubic", "ok", {"set5": {"psnr_y_db": 1.0}}))
    else:
        path = evaluation / f"{run_folder('srgan', 'mse', 1)}.json"
        run = read_run_evaluation(path)
        if broken == "seed1":
            run = dataclasses.replace(run, scores={**run.scores, "epoch200": {"set5": run.scores["epoch200"]["set5"]}})
        else:
            as_run = {label: {s: {"psnr_rgb_db": 15.0} for s in SETS} for label in run.scores}
            as_run["epoch200"] = {"set5": {"psnr_rgb_db": 15.0}}
            run = dataclasses.replace(run, as_run=as_run, as_run_scoring=AsRunScoring({}, "eval", True))
            first = evaluation / f"{run_folder('srgan', 'mse', 0)}.json"
            as_run0 = {label: {s: {"psnr_rgb_db": 15.0} for s in SETS} for label in run.scores}
            write_run_evaluation(first, dataclasses.replace(read_run_evaluation(first), as_run=as_run0,
                                                            as_run_scoring=AsRunScoring({}, "eval", True)))
        write_run_evaluation(path, run)
    with pytest.raises(SrganError) as err:
        collect_scored(evaluation, dirs["models"], {"srgan": ["mse"]}, ["set5", "mini"], (0, 1))
    assert str(err.value) == f"evaluation record {path} has no results for set 'mini'; re-run its evaluate stage"


def test_collect_scored_takes_loss_terms_and_extractor_weights_from_the_first_seed(tmp_path: Path) -> None:
    """The grids show the first seed's generator: its record says what that generator was trained with."""
    dirs = fake_pipeline(tmp_path, (0, 1))
    path = dirs["evaluation"] / f"{run_folder('srresnet', 'vgg19_5_4', 1)}.json"
    write_run_evaluation(path, dataclasses.replace(read_run_evaluation(path), loss_terms={"vgg19_5_4": 2.0},
                                                   feature_weights={"vgg19_5_4": "imagenet"}))
    for seeds, terms, weights in (((0, 1), 1.0, "random"), ((1, 0), 2.0, "imagenet")):
        got = collect_scored(dirs["evaluation"], dirs["models"], {"srresnet": ["vgg19_5_4"]}, ["set5"], seeds)[1]
        assert (got.loss_terms, got.feature_weights) == ({"vgg19_5_4": terms}, {"vgg19_5_4": weights})


def test_collect_scored_names_a_missing_checkpoint_of_the_first_seed(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    weights = dirs["models"] / run_folder("srgan", "mse", 1) / "epoch200" / "last.pt"
    weights.unlink()
    # Seed 1's weights are not the grids' (seed 0 first): not needed.
    assert len(collect_scored(dirs["evaluation"], dirs["models"], {"srgan": ["mse"]}, ["set5"], (0, 1))) == 3
    with pytest.raises(SrganError) as err:
        collect_scored(dirs["evaluation"], dirs["models"], {"srgan": ["mse"]}, ["set5"], (1, 0))
    assert str(err.value) == f"checkpoint {weights} not found; run the training stages (dvc repro)"


def test_seeds_that_scored_different_checkpoints_name_both_records(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1, 2))
    path = dirs["evaluation"] / f"{run_folder('srgan', 'mse', 2)}.json"
    run = read_run_evaluation(path)
    write_run_evaluation(path, dataclasses.replace(run, checkpoints=run.checkpoints[:1]))
    with pytest.raises(SrganError) as err:
        collect_scored(dirs["evaluation"], dirs["models"], {"srgan": ["mse"]}, ["set5"], (0, 1, 2))
    first = dirs["evaluation"] / f"{run_folder('srgan', 'mse', 0)}.json"
    assert str(err.value) == (f"{path} scored the checkpoints ['epoch100'], {first} ['epoch100', 'epoch200']: "
                              "rerun the stale one (dvc repro)")


def test_a_second_of_two_seeds_with_other_checkpoints_names_the_first(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    path = dirs["evaluation"] / f"{run_folder('srgan', 'mse', 1)}.json"
    run = read_run_evaluation(path)
    write_run_evaluation(path, dataclasses.replace(run, checkpoints=run.checkpoints[1:]))
    with pytest.raises(SrganError) as err:
        collect_scored(dirs["evaluation"], dirs["models"], {"srgan": ["mse"]}, ["set5"], (0, 1))
    first = dirs["evaluation"] / f"{run_folder('srgan', 'mse', 0)}.json"
    assert str(err.value) == (f"{path} scored the checkpoints ['epoch200'], {first} ['epoch100', 'epoch200']: "
                              "rerun the stale one (dvc repro)")


@pytest.mark.parametrize("stale_seed", [0, 1], ids=["first seed lacks it", "later seed lacks it"])
def test_seeds_with_and_without_the_study_protocol_as_run_name_both_records(tmp_path: Path, stale_seed: int) -> None:
    """A stale record without the as-run scores beside one with them: one line naming both (was a TypeError
    traceback when a later seed lacked them, and the as-run scores silently dropped when the first did)."""
    dirs = fake_pipeline(tmp_path, (0, 1))
    paths = [dirs["evaluation"] / f"{run_folder('srresnet', 'mse', seed)}.json" for seed in (0, 1)]
    fresh = paths[1 - stale_seed]
    run = read_run_evaluation(fresh)
    as_run = {label: {s: {"psnr_rgb_db": 15.0, "ms_ssim_rgb": 0.8} for s in SETS} for label in run.scores}
    files = {label: "last.pt" for label in run.scores}
    write_run_evaluation(fresh, dataclasses.replace(run, as_run=as_run,
                                                    as_run_scoring=AsRunScoring(files, "train", False)))
    assert read_run_evaluation(paths[stale_seed]).as_run is None
    with pytest.raises(SrganError) as err:
        collect_scored(dirs["evaluation"], dirs["models"], {"srresnet": ["mse"]}, ["set5"], (0, 1))
    assert str(err.value) == (f"{fresh} has the study protocol as run and {paths[stale_seed]} has not: "
                              "rerun the stale one (dvc repro)")


# ---------------------------------------------------------------- per-image tables


def test_load_per_image_stacks_every_seed_of_every_run_and_bicubic_once(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    evaluation = dirs["evaluation"]
    read = {}
    for key in ("bicubic", "srgan/mse/seed0", "srgan/mse/seed1", "srresnet/res18_4/seed0", "srresnet/res18_4/seed1"):
        read[key] = pd.read_csv(evaluation / f"{key}.csv", dtype={"image": str, "checkpoint": str, "set": str})
    expected = pd.concat([
        read["srgan/mse/seed0"].assign(model="srgan/mse", seed=0),
        read["srgan/mse/seed1"].assign(model="srgan/mse", seed=1),
        read["bicubic"].assign(model="bicubic", seed=0),
        read["srresnet/res18_4/seed0"].assign(model="srresnet/res18_4", seed=0),
        read["srresnet/res18_4/seed1"].assign(model="srresnet/res18_4", seed=1),
    ], ignore_index=True)
    got = load_per_image(evaluation, ["srgan/mse", "bicubic", "srresnet/res18_4"], (0, 1))
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.index) == list(range(len(got))) and list(got.loc[got["set"] == "mini", "image"][:2]) == [
        "ppt3", "0802"]


def test_load_per_image_defaults_to_seed_0(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    got = load_per_image(dirs["evaluation"], ["srresnet/mse"])
    assert set(got["seed"]) == {0} and len(got) == 2 * 2
    assert list(got.columns[-2:]) == ["model", "seed"] and set(got["model"]) == {"srresnet/mse"}


def test_load_per_image_bicubic_is_seed_0_whatever_the_seeds(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (1, 2))
    got = load_per_image(dirs["evaluation"], ["bicubic", "srgan/mse"], (1, 2))
    assert list(got["seed"]) == [0] * 4 + [1] * 8 + [2] * 8  # bicubic: 2 sets x 2 images; SRGAN: x 2 labels


# ---------------------------------------------------------------- grid images


@pytest.fixture(scope="module")
def test_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared x4 test set 'mini' of three 48x64 images with their own LR images; DIV2K-like digit names."""
    root = tmp_path_factory.mktemp("prepared")
    write_prepared_set(root / "mini", [(name, _hr_image(48, 64, i), False, _lr(i))
                                       for i, name in enumerate(("0801", "0802", "baby"))], 4, "test")
    return root


def _lr(i: int) -> np.ndarray:
    """Image i's LR file: noise, nothing like HR downscaled (read as written, not made from HR)."""
    return np.random.default_rng(100 + i).integers(0, 256, (12, 16, 3), np.uint8)


@pytest.mark.parametrize("entry, i, name", [("mini/0802", 1, "0802"), ("mini/#0", 0, "0801"), ("mini/#2", 2, "baby"),
                                            ("mini/baby", 2, "baby"), ("mini/#02", 2, "baby")])
def test_grid_image_by_name_or_position(test_root: Path, entry: str, i: int, name: str) -> None:
    """A digit name is a name ('0802'), '#k' the k-th image in manifest order, up to the last."""
    image = load_grid_image(entry, test_root, 4, 16)
    assert (image.set_name, image.name) == ("mini", name)
    np.testing.assert_array_equal(image.hr_u8, _hr_image(48, 64, i))
    np.testing.assert_array_equal(image.lr_u8, _lr(i))
    assert image.crop == CropBox(8, 30, 16)  # _hr_image's noisy 16 px square


@pytest.mark.parametrize("entry, missing", [
    ("mini/0803", "mini/HR/0803.png"),
    ("mini/#x", "mini/HR/#x.png"),  # '#' without a number is a name
    ("mini/#", "mini/HR/#.png"),
    ("mini/sub/0801", "mini/HR/sub/0801.png"),  # the set is the part before the first '/'
    ("mini", "mini/HR/.png"),
])
def test_grid_image_that_does_not_exist(test_root: Path, entry: str, missing: str) -> None:
    with pytest.raises(SrganError) as err:
        load_grid_image(entry, test_root, 4, 16)
    assert str(err.value) == (f"params key 'report.grid_images' has '{entry}', but {test_root / missing} does not "
                              "exist; name an image of that prepared test set")


@pytest.mark.parametrize("entry", ["mini/#3", "mini/#30"])
def test_grid_image_position_past_the_last(test_root: Path, entry: str) -> None:
    with pytest.raises(SrganError) as err:
        load_grid_image(entry, test_root, 4, 16)
    assert str(err.value) == f"params key 'report.grid_images' has '{entry}', but mini has 3 images"


# ---------------------------------------------------------------- training curves


def test_curve_run_names() -> None:
    assert curve_run_name("vgg19_5_4", 3, (3,)) == "vgg19_5_4"
    assert curve_run_name("vgg19_5_4", 3, (0, 3)) == "vgg19_5_4 s3"


def _tsv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A curve file read back by hand: (steps, values)."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return np.array([int(r[0]) for r in rows]), np.array([float(r[1]) for r in rows])


@pytest.mark.parametrize("seeds", [(0,), (1, 0)])
def test_load_curves_of_every_variant_and_seed(tmp_path: Path, seeds: tuple[int, ...]) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    got = load_curves(dirs["plots"], "srgan", ["res34_3", "mse"], seeds)
    tags = ["d/fake_prob", "loss/adversarial", "loss/content", "loss/discriminator", "valid/psnr_y_db",
            "valid/ssim_y"]
    assert list(got) == [curve_run_name(v, s, seeds) for v in ("res34_3", "mse") for s in seeds]
    for v in ("res34_3", "mse"):
        for s in seeds:
            curves = got[curve_run_name(v, s, seeds)]
            assert sorted(curves) == tags
            for tag in tags:
                steps, values = _tsv(dirs["plots"] / run_folder("srgan", v, s) / f"{tag}.tsv")
                assert curves[tag].steps.dtype == np.int64 and curves[tag].values.dtype == np.float64
                np.testing.assert_array_equal(curves[tag].steps, steps)
                np.testing.assert_array_equal(curves[tag].values, values)


def test_load_curves_defaults_to_seed_0(tmp_path: Path) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    shutil.rmtree(dirs["plots"] / "srresnet" / "mse" / "seed1")
    got = load_curves(dirs["plots"], "srresnet", ["mse"])
    steps, values = _tsv(dirs["plots"] / "srresnet" / "mse" / "seed0" / "loss" / "content.tsv")
    assert list(got) == ["mse"] and sorted(got["mse"]) == ["loss/content", "valid/psnr_y_db", "valid/ssim_y"]
    np.testing.assert_array_equal(got["mse"]["loss/content"].steps, steps)
    np.testing.assert_array_equal(got["mse"]["loss/content"].values, values)


@pytest.mark.parametrize("empty", [False, True])
def test_load_curves_without_curves_names_the_folder(tmp_path: Path, empty: bool) -> None:
    dirs = fake_pipeline(tmp_path, (0, 1))
    folder = dirs["plots"] / run_folder("srgan", "mse", 1)
    for path in folder.rglob("*.tsv"):
        path.unlink()
    if not empty:
        shutil.rmtree(folder)
    with pytest.raises(SrganError) as err:
        load_curves(dirs["plots"], "srgan", ["mse"], (0, 1))
    assert str(err.value) == f"no training curves (*.tsv) in {folder}; run the training stages (dvc repro)"
