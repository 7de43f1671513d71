"""Tests for srgan.core.config: the committed params.yaml, and one SrganError naming the key for each bad edit."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from locales import ascii_locale

from srgan.core.config import (
    BASELINE_VARIANT,
    Params,
    SRGANParams,
    SRResNetParams,
    load_params,
    params_from_dict,
    variant_names,
    variant_terms,
)
from srgan.core.errors import SrganError
from srgan.core.sections import as_dict, declared_values
from srgan.pipeline.stage_params import STAGE_PARAMS

PARAMS_YAML = Path(__file__).resolve().parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def raw_params() -> dict[str, Any]:
    with PARAMS_YAML.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _variant(raw: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A deep copy of the committed params with `edit` applied."""
    out = copy.deepcopy(raw)
    edit(out)
    return out


def _error_for(raw: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> str:
    with pytest.raises(SrganError) as info:
        params_from_dict(_variant(raw, edit))
    return str(info.value)


# ---------------------------------------------------------------- the committed file


def test_committed_params_yaml_validates() -> None:
    params = load_params(PARAMS_YAML)
    assert isinstance(params, Params)
    assert params.data.scale == 4
    assert list(params.data.test) == ["sample"]
    assert params.srgan.patch_px % 16 == 0
    assert params.srgan.checkpoints[-1] == params.srgan.length
    # One VGG and one ResNet loss, alone and in the hybrids the study reported, in both experiments, the
    # baseline first (profiles/study.yaml has all eight).
    sample = ["mse", "vgg19_5_4", "res34_3", "hybrid_vgg19_5_4", "hybrid_res34_3"]
    assert variant_names(params.srresnet) == sample and variant_names(params.srgan) == sample
    assert params.seeds == (0,)
    assert variant_terms(params.srresnet, "hybrid_vgg19_5_4") == {"mse": 0.7, "vgg19_5_4": 0.3}
    assert variant_terms(params.srgan, "hybrid_vgg19_5_4") == {"mse": 0.6, "vgg19_5_4": 0.4}
    assert variant_terms(params.srgan, BASELINE_VARIANT) == {"mse": 1.0}


def test_committed_params_types(raw_params: dict[str, Any]) -> None:
    params = params_from_dict(raw_params)
    assert isinstance(params.srresnet, SRResNetParams)
    assert isinstance(params.srgan, SRGANParams)
    assert isinstance(params.srresnet.learning_rate, float)
    assert params.srresnet.learning_rate == pytest.approx(1.0e-3)
    # Lists from YAML become tuples, so the frozen config cannot be edited in place.
    assert isinstance(params.srgan.checkpoints, tuple)
    assert isinstance(params.data.test["sample"].images, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.srresnet.steps = 1  # type: ignore[misc]


def test_int_is_accepted_where_float_expected(raw_params: dict[str, Any]) -> None:
    params = params_from_dict(_variant(raw_params, lambda r: r["srgan"]["variants"]["res34_3"].__setitem__("res34_3", 1)))
    assert params.srgan.variants["res34_3"]["res34_3"] == 1.0
    assert isinstance(params.srgan.variants["res34_3"]["res34_3"], float)


def test_unknown_variant_is_a_clear_error() -> None:
    params = load_params(PARAMS_YAML)
    with pytest.raises(SrganError) as error:
        variant_terms(params.srresnet, "nope")
    assert str(error.value) == ("variant 'nope' is not defined (defined: mse, vgg19_5_4, res34_3, hybrid_vgg19_5_4, "
                                "hybrid_res34_3)")


def test_declared_values_name_exactly_the_declared_keys() -> None:
    params = load_params(PARAMS_YAML)
    keys = [k.replace("${item.variant}", "vgg19_5_4") for k in STAGE_PARAMS["train_srgan"]]
    settings = declared_values(params, keys)
    assert list(settings) == keys and settings["srgan.variants.vgg19_5_4"] == {"vgg19_5_4": 1.0}
    assert "features" in settings and "execution" not in settings
    assert not any(key.startswith("execution") for keys in STAGE_PARAMS.values() for key in keys)
    # The baselines build no extractor: they do not depend on `features` or the extractor switches.
    for stage in ("train_srresnet_mse", "train_srgan_mse"):
        assert "features" not in STAGE_PARAMS[stage]
        assert not {"study_code.feature_cuts", "study_code.feature_normalisation"} & set(STAGE_PARAMS[stage])
    # Evaluation depends on neither training nor feature settings: the test sets, and the study protocol's
    # switches (an SRGAN point is scored at its own weights whatever the "best" file holds).
    assert STAGE_PARAMS["evaluate_srgan"] == ["runtime.device", "data.scale", "data.test", "evaluate",
                                              "study_code.eval_bn_mode", "study_code.eval_clamp"]
    assert "study_code.best_file" in STAGE_PARAMS["evaluate_srresnet"]


def test_each_study_switch_is_declared_only_by_the_stages_it_can_change() -> None:
    declared = {stage: {k for k in keys if k.startswith("study_code.")} for stage, keys in STAGE_PARAMS.items()}
    gan = {"study_code.adversarial_gradient", "study_code.discriminator"}
    protocol = {"study_code.eval_bn_mode", "study_code.eval_clamp"}
    for stage, keys in declared.items():
        if stage.startswith("train_srresnet"):
            # no discriminator in experiment 1, and its "best" file is what experiment 2 reads
            assert not keys & (gan | protocol | {"study_code.best_file"}), stage
        if stage.startswith("train_srgan"):
            assert gan | {"study_code.best_file"} <= keys and not keys & protocol, stage  # it starts from that file
        if stage.startswith(("prepare", "report")) or stage == "evaluate_bicubic":
            assert not keys, stage
        if stage.startswith("evaluate_s"):
            assert protocol <= keys <= protocol | {"study_code.best_file"}, stage
    assert "study_code.best_file" not in declared["evaluate_srgan"]


def test_as_dict_round_trips(raw_params: dict[str, Any]) -> None:
    params = load_params(PARAMS_YAML)
    plain = as_dict(params)
    assert plain == raw_params  # plain data equal to what the YAML holds
    assert yaml.safe_load(yaml.safe_dump(plain)) == plain  # YAML-safe, no tuples or dataclasses left
    assert params_from_dict(plain) == params


# ---------------------------------------------------------------- one error naming the key


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r[section].__setitem__(key, value)


BAD_EDITS: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("negative weight", lambda r: r["srgan"]["variants"]["hybrid_res34_3"].__setitem__("mse", -0.5),
     ["srgan.variants.hybrid_res34_3.mse", ">= 0"]),
    ("non-numeric weight", lambda r: r["srgan"]["variants"]["hybrid_res34_3"].__setitem__("mse", "lots"),
     ["srgan.variants.hybrid_res34_3.mse", "number"]),
    ("all-zero weights", lambda r: r["srgan"]["variants"].__setitem__("zero", {"mse": 0.0}),
     ["srgan.variants.zero"]),
    ("empty loss", lambda r: r["srgan"]["variants"].__setitem__("empty", {}), ["srgan.variants.empty"]),
    ("a variant named like the baseline", lambda r: r["srresnet"]["variants"].__setitem__("mse", {"mse": 2.0}),
     ["srresnet.variants.mse", "baseline"]),
    ("a variant name that is not a folder name", lambda r: r["srgan"]["variants"].__setitem__("a b", {"mse": 1.0}),
     ["srgan.variants.a b"]),
    ("learning rate quoted", _set("srresnet", "learning_rate", "1e-4"),
     ["srresnet.learning_rate", "quoted, so it is text"]),
    ("unknown key in a section", _set("runtime", "colour", "blue"), ["runtime.colour"]),
    ("unknown section", lambda r: r.__setitem__("extras", {}), ["extras"]),
    ("old-style section", lambda r: r.__setitem__("pretrain", {}), ["pretrain"]),
    ("missing key", lambda r: r["srgan"].pop("adversarial_weight"), ["srgan.adversarial_weight"]),
    ("missing section", lambda r: r.pop("report"), ["report"]),
    ("missing execution section", lambda r: r.pop("execution"), ["execution"]),
    ("bool where int expected", _set("srresnet", "steps", True), ["srresnet.steps", "integer"]),
    ("float where int expected", _set("srresnet", "batch_size", 16.0), ["srresnet.batch_size", "integer"]),
    ("int where bool expected", _set("runtime", "channels_last", 1), ["runtime.channels_last"]),
    ("bad device choice", _set("runtime", "device", "gpu"), ["runtime.device", "gpu", "cuda"]),
    ("bad precision choice", _set("runtime", "precision", "fp8"), ["runtime.precision"]),
    ("cuda_graphs as the old boolean", _set("runtime", "cuda_graphs", True),
     ["runtime.cuda_graphs", "never, auto, required", "booleans"]),
    ("bad cuda_graphs choice", _set("runtime", "cuda_graphs", "always"), ["runtime.cuda_graphs", "never, auto, required"]),
    ("bad augment choice", _set("srgan", "augment", "mixup"), ["srgan.augment"]),
    ("bad schedule choice", _set("srresnet", "lr_schedule", "linear"), ["srresnet.lr_schedule"]),
    ("negative seed", lambda r: r.__setitem__("seeds", [0, -1]), ["seeds[1]", ">= 0"]),
    ("no seed", lambda r: r.__setitem__("seeds", []), ["'seeds'", "at least one"]),
    ("a seed twice", lambda r: r.__setitem__("seeds", [0, 1, 0]), ["'seeds'", "0 more than once"]),
    ("a seed in runtime", _set("runtime", "seed", 0), ["runtime.seed", "seeds: [0]"]),
    ("zero steps and zero epochs", _set("srresnet", "steps", 0), ["srresnet.steps", "srresnet.epochs"]),
    ("negative learning rate", _set("srgan", "learning_rate", -1.0e-4), ["srgan.learning_rate"]),
    ("ema_decay of 1", _set("srresnet", "ema_decay", 1.0), ["srresnet.ema_decay"]),
    ("negative workers", _set("execution", "num_workers", -1), ["execution.num_workers"]),
    ("zero log_every", _set("execution", "log_every", 0), ["execution.log_every"]),
    ("checkpoints not ending at the run's length", _set("srgan", "checkpoints", [4, 8]),
     ["srgan.checkpoints", "(10)"]),
    ("checkpoints not increasing", _set("srgan", "checkpoints", [10, 5, 10]), ["srgan.checkpoints"]),
    ("empty checkpoints", _set("srgan", "checkpoints", []), ["srgan.checkpoints"]),
    ("srgan.patch_px not a multiple of 16", _set("srgan", "patch_px", 40), ["srgan.patch_px", "16"]),
    ("srresnet.patch_px not a multiple of the scale", _set("srresnet", "patch_px", 66),
     ["srresnet.patch_px", "data.scale"]),
    ("bad scale", lambda r: r["data"].__setitem__("scale", 3), ["data.scale"]),
    ("no test set", lambda r: r["data"].__setitem__("test", {}), ["data.test"]),
    ("bad data source", lambda r: r["data"]["valid"].__setitem__("source", "ftp"), ["data.valid.source"]),
    ("folder source without a path", lambda r: r["data"]["valid"].__setitem__("source", "folder"),
     ["data.valid.path"]),
    ("download source without a url", lambda r: r["data"]["test"]["sample"].__setitem__("source", "download"),
     ["data.test.sample.url"]),
    ("images not a list", lambda r: r["data"]["valid"].__setitem__("images", "rocket"),
     ["data.valid.images", "list"]),
    ("a test set name that is not a folder name", lambda r: r["data"]["test"].__setitem__("set/5", r["data"]["valid"]),
     ["data.test.set/5"]),
    ("grid image from an unknown set", _set("report", "grid_images", ["set5/baby"]), ["report.grid_images", "set5/baby"]),
    ("section not a mapping", lambda r: r.__setitem__("model", [16, 64]), ["model"]),
    ("negative evaluation tile", _set("evaluate", "tile_px", 8), ["evaluate.tile_px"]),
]


@pytest.mark.parametrize(("edit", "needles"), [(e, n) for _, e, n in BAD_EDITS], ids=[i for i, _, _ in BAD_EDITS])
def test_bad_params_raise_one_line_per_problem_naming_the_key(
    raw_params: dict[str, Any], edit: Callable[[dict[str, Any]], None], needles: list[str]
) -> None:
    message = _error_for(raw_params, edit)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    # One sentence per problem (one edit can make several: a bad scale also misaligns the crop sizes), never
    # a dump.
    lines = message.splitlines()
    assert lines and all(line.startswith(("params key", "unknown params", "missing params", "name '",
                                                         "params section", "params keys")) for line in lines), lines


SECTIONS = "seeds, runtime, execution, data, model, features, srresnet, srgan, study_code, evaluate, report"

# Whole messages, so a wrong key, bound or word in one fails: (id, edit, the message's lines).
EXACT_EDITS: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("zero processes", _set("runtime", "processes", 0), ["params key 'runtime.processes' must be > 0, got 0"]),
    ("negative workers", _set("execution", "num_workers", -1),
     ["params key 'execution.num_workers' must be >= 0, got -1"]),
    ("zero log_every", _set("execution", "log_every", 0), ["params key 'execution.log_every' must be > 0, got 0"]),
    ("zero checkpoint_every", _set("execution", "checkpoint_every", 0),
     ["params key 'execution.checkpoint_every' must be > 0, got 0"]),
    ("skimage source without images", lambda r: r["data"]["train"].update(source="skimage", images=[]),
     ["params key 'data.train.images' must list skimage.data image names"]),
    ("zero blocks", _set("model", "num_blocks", 0), ["params key 'model.num_blocks' must be > 0, got 0"]),
    ("zero channels", _set("model", "channels", 0), ["params key 'model.channels' must be > 0, got 0",
                                                     "params key 'model.init' nearest needs model.channels >= 3"]),
    ("nearest init with 2 channels", _set("model", "channels", 2),
     ["params key 'model.init' nearest needs model.channels >= 3"]),
    ("zero batch", _set("srresnet", "batch_size", 0), ["params key 'srresnet.batch_size' must be > 0, got 0"]),
    ("a variant named like the baseline", lambda r: r["srresnet"]["variants"].__setitem__("mse", {"mse": 2.0}),
     ["params key 'srresnet.variants.mse': 'mse' (pixel MSE) always runs as the baseline; give this variant another "
      "name"]),
    ("infinite weight", lambda r: r["srgan"]["variants"]["hybrid_res34_3"].__setitem__("mse", math.inf),
     ["params key 'srgan.variants.hybrid_res34_3.mse' must be a finite weight >= 0, got inf"]),
    ("negative variant_length", _set("srresnet", "variant_length", -1),
     ["params key 'srresnet.variant_length' must be >= 0, got -1"]),
    ("negative adversarial weight", _set("srgan", "adversarial_weight", -1.0),
     ["params key 'srgan.adversarial_weight' must be >= 0, got -1.0"]),
    ("a checkpoint at 0", _set("srgan", "checkpoints", [0, 10]),
     ["params key 'srgan.checkpoints' must be increasing step counts >= 1 ending at the run's length (10), got "
      "[0, 10]"]),
    ("srgan.patch_px not a multiple of 16", _set("srgan", "patch_px", 40),
     ["params key 'srgan.patch_px' must be a multiple of 16 (the discriminator halves it 4 times)"]),
    ("evaluation tile of 31", _set("evaluate", "tile_px", 31),
     ["params key 'evaluate.tile_px' must be 0 (whole images) or >= 32 LR px (tiles overlap by 16), got 31"]),
    ("zero crop", _set("report", "crop_px", 0), ["params key 'report.crop_px' must be > 0, got 0"]),
    ("a grid image of a set not tested",
     lambda r: (r["data"]["test"].__setitem__("other", r["data"]["test"]["sample"]),
                r["report"].__setitem__("grid_images", ["set5/baby"])),
     ["params key 'report.grid_images' has 'set5/baby'; write '<set>/<image>' or '<set>/#<k>' with a set from "
      "data.test (sample, other)"]),
    ("two seeds twice", lambda r: r.__setitem__("seeds", [0, 1, 0, 1]),
     ["params key 'seeds' lists 0, 1 more than once (each seed is one run)"]),
    ("unknown sections, named in text order", lambda r: r.update({"extras": {}, 1: {}}),
     [f"unknown params section '1'; valid sections: {SECTIONS}",
      f"unknown params section 'extras'; valid sections: {SECTIONS}"]),
    ("data missing (the rules that need it skipped)", lambda r: r.pop("data"), ["missing params section 'data'"]),
    ("srgan.valid_crop_px not a multiple of the scale 8",
     lambda r: (r["data"].__setitem__("scale", 8), r["srgan"].__setitem__("valid_crop_px", 132)),
     ["params key 'srgan.valid_crop_px' must be a multiple of data.scale"]),
    ("srresnet missing does not hide srgan's crop", lambda r: (r.pop("srresnet"), r["srgan"].__setitem__(
        "valid_crop_px", 130)),
     ["missing params section 'srresnet'", "params key 'srgan.valid_crop_px' must be a multiple of data.scale"]),
]


@pytest.mark.parametrize(("edit", "lines"), [(e, n) for _, e, n in EXACT_EDITS], ids=[i for i, _, _ in EXACT_EDITS])
def test_bad_params_messages_whole(raw_params: dict[str, Any], edit: Callable[[dict[str, Any]], None],
                                   lines: list[str]) -> None:
    assert _error_for(raw_params, edit).splitlines() == lines


# Edits at the edge of a rule that must validate.
GOOD_EDITS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("scale 2", lambda r: r["data"].__setitem__("scale", 2)),
    ("scale 8", lambda r: r["data"].__setitem__("scale", 8)),
    ("nearest init with 3 channels", _set("model", "channels", 3)),
    ("pytorch init with 2 channels", lambda r: r["model"].update(init="pytorch", channels=2)),
    ("srresnet of 1 step", lambda r: r["srresnet"].update(steps=1, valid_every=1, variant_length=0)),
    ("srgan of 1 epoch", lambda r: r["srgan"].update(steps=0, epochs=1, checkpoints=[1])),
    ("a zero weight in a mix", lambda r: r["srgan"]["variants"]["hybrid_res34_3"].__setitem__("mse", 0.0)),
    ("variant_length 0", _set("srresnet", "variant_length", 0)),
    ("adversarial weight 0", _set("srgan", "adversarial_weight", 0.0)),
    ("three checkpoints", _set("srgan", "checkpoints", [2, 5, 10])),
    ("evaluation tile of 32", _set("evaluate", "tile_px", 32)),
]


@pytest.mark.parametrize("edit", [e for _, e in GOOD_EDITS], ids=[i for i, _ in GOOD_EDITS])
def test_edits_at_the_edge_of_a_rule_validate(raw_params: dict[str, Any], edit: Callable[[dict[str, Any]], None]
                                              ) -> None:
    assert isinstance(params_from_dict(_variant(raw_params, edit)), Params)


@pytest.mark.parametrize(("written", "value"), [("1e-05", 1e-05), ("1.0e-4", 1e-4), ("1e-4", 1e-4), ("5e-3", 5e-3)])
def test_exponents_read_as_numbers_as_dvc_writes_them(tmp_path: Path, written: str, value: float) -> None:
    # `dvc exp run -S 'srgan.learning_rate=1.0e-5'` writes `1e-05` into params.yaml: YAML 1.2 reads it as a
    # number, and so must every stage (PyYAML's own safe loader reads it as text).
    text = PARAMS_YAML.read_text(encoding="utf-8").replace("learning_rate: 0.0001", f"learning_rate: {written}")
    (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
    assert load_params(tmp_path / "params.yaml").srgan.learning_rate == value


@pytest.mark.parametrize(("key", "value", "line"), [
    ("steps", -5, "params key 'srgan.steps' must be >= 0, got -5"),
    ("epochs", -1, "params key 'srgan.epochs' must be >= 0, got -1"),
    ("steps", 0, "params keys 'srgan.steps' and 'srgan.epochs': set exactly one of them > 0"),
])
def test_a_bad_length_is_one_problem_without_knock_on_lines(raw_params: dict[str, Any], key: str, value: int,
                                                            line: str) -> None:
    # The rules that tie steps, epochs and checkpoints are checked only for a valid length: a typed -5 once
    # printed three lines, one of them about "epoch counts".
    assert _error_for(raw_params, _set("srgan", key, value)).splitlines() == [line]


def test_every_problem_of_the_file_is_found_at_once(raw_params: dict[str, Any]) -> None:
    """Problems in several sections are all reported, in section order, one line each; the sections
    without problems do not hide the others."""
    def edit(r: dict[str, Any]) -> None:
        r["runtime"]["device"] = "gpu"
        r["execution"]["log_evry"] = 5  # a typo in a section no stage declares
        r["srresnet"]["learning_rate"] = "1e-4"
        r["srgan"]["checkpoints"] = [8, 12]
        r["study_code"].pop("eval_clamp")
    lines = _error_for(raw_params, edit).splitlines()
    assert [line.split("'")[1] for line in lines] == [
        "runtime.device", "execution.log_evry", "srresnet.learning_rate", "study_code.eval_clamp", "srgan.checkpoints"]


def test_error_keys_are_dotted_from_the_section() -> None:
    # Keys are named as DVC names them (srresnet.learning_rate), with no synthetic prefix.
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    message = _error_for(raw, _set("srresnet", "learning_rate", "1e-4"))
    assert "'srresnet.learning_rate'" in message


def test_params_not_a_mapping() -> None:
    with pytest.raises(SrganError, match="mapping"):
        params_from_dict(None)
    with pytest.raises(SrganError, match="mapping"):
        params_from_dict(["runtime"])


# ---------------------------------------------------------------- load_params on files


def test_load_params_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SrganError, match="not found") as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_load_params_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("runtime: {device: cpu\n  seed: [0\n", encoding="utf-8")
    with pytest.raises(SrganError, match="not valid YAML") as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_load_params_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_bytes(b"\xff\xfe\x00runtime")
    with pytest.raises(SrganError) as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_load_params_of_a_folder_names_the_file_to_give(tmp_path: Path) -> None:
    with pytest.raises(SrganError) as info:
        load_params(tmp_path)
    assert str(info.value) == f"params file {tmp_path} is a folder; give the params file (e.g. {tmp_path / 'params.yaml'})"


def test_load_params_reads_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """A comment with '—' or 'é' (a user's note) under a non-UTF-8 locale (ASCII here)."""
    path = tmp_path / "params.yaml"
    path.write_text("# café — the default profile\n" + PARAMS_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    with ascii_locale():
        assert load_params(path) == load_params(PARAMS_YAML)


def test_load_params_gives_one_line_per_problem_each_naming_the_file(tmp_path: Path) -> None:
    text = PARAMS_YAML.read_text(encoding="utf-8").replace("crop_px: 64", "crop_px: 0").replace("processes: 1",
                                                                                                 "processes: 0")
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SrganError) as info:
        load_params(path)
    assert str(info.value) == (f"{path}: params key 'runtime.processes' must be > 0, got 0\n"
                               f"{path}: params key 'report.crop_px' must be > 0, got 0")


def test_load_params_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(SrganError, match="mapping") as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_load_params_error_names_file_and_key(tmp_path: Path) -> None:
    text = PARAMS_YAML.read_text(encoding="utf-8").replace("learning_rate: 0.001", "learning_rate: '1e-3'")
    assert "'1e-3'" in text
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SrganError) as info:
        load_params(path)
    message = str(info.value)
    assert message == (f"{path}: params key 'srresnet.learning_rate' must be a number, got '1e-3' (quoted, so it is "
                       "text: write the number without quotes)")


def test_variant_length_shortens_only_the_other_variants() -> None:
    params = load_params(PARAMS_YAML)
    assert params.srresnet.variant_length > 0
    assert params.srresnet.for_variant(BASELINE_VARIANT).steps == params.srresnet.steps
    short = params.srresnet.for_variant("vgg19_5_4")
    assert short.steps == params.srresnet.variant_length and short.learning_rate == params.srresnet.learning_rate
    fair = dataclasses.replace(params.srresnet, variant_length=0)
    assert fair.for_variant("vgg19_5_4") == fair
    # valid_every scaled by variant_length / length, rounded down, at least 1
    assert params.srresnet.steps == 300 and params.srresnet.valid_every == 30
    assert short.valid_every == 1  # 30 * 10 // 300
    assert dataclasses.replace(params.srresnet, variant_length=25).for_variant("res34_3").valid_every == 2  # 750 // 300
    assert dataclasses.replace(params.srresnet, variant_length=5).for_variant("res34_3").valid_every == 1  # not 0
    epochs = dataclasses.replace(params.srresnet, steps=0, epochs=10, variant_length=2)
    assert (epochs.for_variant("res18_4").epochs, epochs.for_variant("res18_4").steps) == (2, 0)
    assert "srresnet.variant_length" in STAGE_PARAMS["train_srresnet"]
    assert "srresnet.variant_length" not in STAGE_PARAMS["train_srresnet_mse"]
