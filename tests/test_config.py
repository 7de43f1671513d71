"""Tests for srgan.config: the committed params.yaml, and one SrganError naming the key for each bad edit."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from srgan.config import (
    FinetuneParams,
    Params,
    PretrainParams,
    as_dict,
    load_params,
    params_from_dict,
    validate_loss_terms,
)
from srgan.errors import SrganError

PARAMS_YAML = Path(__file__).resolve().parents[1] / "params.yaml"


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
    assert {params.data.train_set, params.data.valid_set} <= set(params.data.sets)
    assert params.pretrain.content_loss in params.losses
    assert set(params.finetune.losses) <= set(params.losses)
    assert set(params.evaluate.sets) <= set(params.data.sets)
    assert params.finetune.patch_px % 16 == 0


def test_committed_params_types(raw_params: dict[str, Any]) -> None:
    params = params_from_dict(raw_params)
    assert isinstance(params.pretrain, PretrainParams)
    assert isinstance(params.finetune, FinetuneParams)
    assert isinstance(params.pretrain.learning_rate, float)
    assert params.pretrain.learning_rate == pytest.approx(1.0e-3)
    # Lists from YAML become tuples, so the frozen config cannot be edited in place.
    assert isinstance(params.finetune.losses, tuple)
    assert isinstance(params.data.sets["sample_train"].images, tuple)
    assert params.losses["hybrid_vgg19_5_4"] == {"mse": 0.6, "vgg19_5_4": 0.4}
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.pretrain.steps = 1  # type: ignore[misc]


def test_int_is_accepted_where_float_expected(raw_params: dict[str, Any]) -> None:
    params = params_from_dict(_variant(raw_params, lambda r: r["losses"]["mse"].__setitem__("mse", 1)))
    assert params.losses["mse"]["mse"] == 1.0
    assert isinstance(params.losses["mse"]["mse"], float)


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
    ("unknown loss in finetune.losses", lambda r: r["finetune"]["losses"].append("nope"),
     ["finetune.losses[9]", "nope"]),
    ("unknown pretrain.content_loss", _set("pretrain", "content_loss", "vgg99"),
     ["pretrain.content_loss", "vgg99"]),
    ("unknown loss term", lambda r: r["losses"].__setitem__("foo", {"vgg99": 1.0}),
     ["losses.foo.vgg99"]),
    ("loss term out of range", lambda r: r["losses"].__setitem__("foo", {"res18_9": 1.0}),
     ["losses.foo.res18_9"]),
    ("negative weight", lambda r: r["losses"]["hybrid_res18_4"].__setitem__("mse", -0.5),
     ["losses.hybrid_res18_4.mse", ">= 0"]),
    ("non-numeric weight", lambda r: r["losses"]["hybrid_res18_4"].__setitem__("mse", "lots"),
     ["losses.hybrid_res18_4.mse", "number"]),
    ("all-zero weights", lambda r: r["losses"].__setitem__("zero", {"mse": 0.0}),
     ["losses.zero"]),
    ("empty loss", lambda r: r["losses"].__setitem__("empty", {}), ["losses.empty"]),
    ("learning rate written 1e-4", _set("pretrain", "learning_rate", "1e-4"),
     ["pretrain.learning_rate", "1.0e-4"]),
    ("unknown key in a section", _set("runtime", "colour", "blue"), ["runtime.colour"]),
    ("unknown section", lambda r: r.__setitem__("extras", {}), ["extras"]),
    ("missing key", lambda r: r["finetune"].pop("adversarial_weight"), ["finetune.adversarial_weight"]),
    ("missing section", lambda r: r.pop("report"), ["report"]),
    ("bool where int expected", _set("pretrain", "steps", True), ["pretrain.steps", "integer"]),
    ("float where int expected", _set("pretrain", "batch_size", 16.0), ["pretrain.batch_size", "integer"]),
    ("int where bool expected", _set("runtime", "channels_last", 1), ["runtime.channels_last"]),
    ("bad device choice", _set("runtime", "device", "gpu"), ["runtime.device", "gpu", "cuda"]),
    ("bad precision choice", _set("runtime", "precision", "fp8"), ["runtime.precision"]),
    ("bad augment choice", _set("finetune", "augment", "mixup"), ["finetune.augment"]),
    ("bad schedule choice", _set("pretrain", "lr_schedule", "linear"), ["pretrain.lr_schedule"]),
    ("negative seed", _set("runtime", "seed", -1), ["runtime.seed"]),
    ("zero steps", _set("pretrain", "steps", 0), ["pretrain.steps"]),
    ("negative learning rate", _set("finetune", "learning_rate", -1.0e-4), ["finetune.learning_rate"]),
    ("ema_decay of 1", _set("pretrain", "ema_decay", 1.0), ["pretrain.ema_decay"]),
    ("evaluate.sets names an unknown set", _set("evaluate", "sets", ["sample_test", "Set99"]),
     ["evaluate.sets", "Set99"]),
    ("empty evaluate.sets", _set("evaluate", "sets", []), ["evaluate.sets"]),
    ("finetune.patch_px not a multiple of 16", _set("finetune", "patch_px", 40),
     ["finetune.patch_px", "16"]),
    ("pretrain.patch_px not a multiple of the scale", _set("pretrain", "patch_px", 66),
     ["pretrain.patch_px", "data.scale"]),
    ("bad scale", lambda r: r["data"].__setitem__("scale", 3), ["data.scale"]),
    ("missing valid set", lambda r: r["data"]["sets"].pop("sample_valid"), ["data.valid_set", "sample_valid"]),
    ("bad data source", lambda r: r["data"]["sets"]["sample_valid"].__setitem__("source", "ftp"),
     ["data.sets.sample_valid.source"]),
    ("folder source without a path", lambda r: r["data"]["sets"]["sample_valid"].__setitem__("source", "folder"),
     ["data.sets.sample_valid.path"]),
    ("download source without a url", lambda r: r["data"]["sets"]["sample_valid"].__setitem__("source", "download"),
     ["data.sets.sample_valid.url"]),
    ("images not a list", lambda r: r["data"]["sets"]["sample_valid"].__setitem__("images", "rocket"),
     ["data.sets.sample_valid.images", "list"]),
    ("section not a mapping", lambda r: r.__setitem__("model", [16, 64]), ["model"]),
    ("duplicate finetune loss", lambda r: r["finetune"]["losses"].append("mse"), ["finetune.losses"]),
]


@pytest.mark.parametrize(("edit", "needles"), [(e, n) for _, e, n in BAD_EDITS], ids=[i for i, _, _ in BAD_EDITS])
def test_bad_params_raise_one_error_naming_the_key(
    raw_params: dict[str, Any], edit: Callable[[dict[str, Any]], None], needles: list[str]
) -> None:
    message = _error_for(raw_params, edit)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert "\n" not in message  # one sentence, not a traceback dump


def test_error_keys_are_dotted_from_the_section() -> None:
    # Keys are named as DVC names them (pretrain.learning_rate), with no synthetic prefix.
    raw = yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))
    message = _error_for(raw, _set("pretrain", "learning_rate", "1e-4"))
    assert "'pretrain.learning_rate'" in message


def test_params_not_a_mapping() -> None:
    with pytest.raises(SrganError, match="mapping"):
        params_from_dict(None)
    with pytest.raises(SrganError, match="mapping"):
        params_from_dict(["runtime"])


def test_validate_loss_terms_accepts_known_terms() -> None:
    validate_loss_terms("ok", {"mse": 0.5, "vgg19_5_4": 0.1, "res18_8": 0.1, "res34_16": 0.1, "vgg19_1_1": 0.0})


@pytest.mark.parametrize("term", ["vgg19_6_1", "vgg19_5_5", "res18_0", "res34_17", "res50_1", "MSE", "mse "])
def test_validate_loss_terms_rejects_unknown_terms(term: str) -> None:
    with pytest.raises(SrganError, match=f"losses.x.{term}"):
        validate_loss_terms("x", {term: 1.0})


def test_validate_loss_terms_rejects_nan_weight() -> None:
    with pytest.raises(SrganError, match="losses.x.mse"):
        validate_loss_terms("x", {"mse": float("nan")})


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


def test_load_params_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(SrganError, match="mapping") as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_load_params_error_names_file_and_key(tmp_path: Path) -> None:
    text = PARAMS_YAML.read_text(encoding="utf-8").replace("learning_rate: 1.0e-3", "learning_rate: 1e-3")
    assert "1e-3" in text
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SrganError) as info:
        load_params(path)
    message = str(info.value)
    assert str(path) in message and "pretrain.learning_rate" in message and "1.0e-4" in message
