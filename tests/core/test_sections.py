"""Tests for srgan.core.sections: the checks that read raw YAML into typed sections (each problem one whole line
naming its key) and the views a stage reads its params through (only its declared keys; every read logged).

The sections here are small stand-ins with every kind of field the real ones use (int, float, str, bool, a
`Literal`, a tuple, a mapping of numbers, a mapping of sections, a nested section), so each rule is tested on
its own; `srgan.core.config`'s tests cover the real params file."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from srgan.core.sections import (
    BAD,
    PartialMapping,
    Problems,
    Section,
    UndeclaredParamError,
    ViewLog,
    _trie,
    check_name,
    check_type,
    choices,
    from_dict,
    params_view,
    positive,
    view_log,
)
from srgan.core.study_code import StudyCodeParams


@dataclass(frozen=True)
class Leaf(Section):
    depth: int
    rate: float


@dataclass(frozen=True)
class Branch(Section):
    leaf: Leaf
    weights: dict[str, float]


@dataclass(frozen=True)
class Root(Section):
    count: int
    name: str
    mode: Literal["fast", "slow"]
    branch: Branch
    table: dict[str, Leaf]
    sizes: tuple[int, ...]
    execution: Leaf


@dataclass(frozen=True)
class Unsorted(Section):
    zeta: int
    alpha: int


def _root() -> Root:
    return Root(count=3, name="n", mode="fast", branch=Branch(Leaf(1, 0.25), {"w": 2.0}),
                table={"a": Leaf(4, 0.5), "b": Leaf(5, 0.75)}, sizes=(1, 2), execution=Leaf(6, 1.5))


def _undeclared(stage: str, key: str, declared: str) -> str:
    return (f"stage {stage} reads params key '{key}', which it does not declare in dvc.yaml (it declares: {declared}); "
            "declare it in srgan/pipeline/stage_params.py and regenerate dvc.yaml")


# ---------------------------------------------------------------- problems: positive, check_name, choices


@pytest.mark.parametrize("value, allow_zero, expected", [
    (1, False, []),
    (1e-12, False, []),
    (0, False, ["params key 'sec.k' must be > 0, got 0"]),
    (0.0, False, ["params key 'sec.k' must be > 0, got 0.0"]),
    (-1e-12, False, ["params key 'sec.k' must be > 0, got -1e-12"]),
    (-3, False, ["params key 'sec.k' must be > 0, got -3"]),
    (1, True, []),
    (0, True, []),
    (0.0, True, []),
    (-1e-12, True, ["params key 'sec.k' must be >= 0, got -1e-12"]),
    (-3, True, ["params key 'sec.k' must be >= 0, got -3"]),
])
def test_positive_at_zero_and_on_both_sides(value: float, allow_zero: bool, expected: list[str]) -> None:
    problems = Problems()
    positive(problems, value, "sec.k", allow_zero=allow_zero)
    assert problems == expected


def test_positive_without_allow_zero_refuses_zero() -> None:
    """allow_zero defaults to False."""
    problems = Problems()
    positive(problems, 0, "k")
    assert problems == ["params key 'k' must be > 0, got 0"]


@pytest.mark.parametrize("allow_zero", [False, True])
def test_positive_refuses_nan(allow_zero: bool) -> None:
    """NaN compares false with everything: `srresnet.learning_rate: .nan` in params.yaml is a problem."""
    problems = Problems()
    positive(problems, math.nan, "k", allow_zero=allow_zero)
    assert problems == [f"params key 'k' must be {'>= 0' if allow_zero else '> 0'}, got nan"]


def test_problems_add_appends_in_order() -> None:
    problems = Problems()
    problems.add("one")
    problems.add("two")
    assert problems == ["one", "two"]


@pytest.mark.parametrize("name", ["a", "vgg19_5_4", "A_Z_09", "_", "9"])
def test_check_name_accepts_letters_digits_and_underscores(name: str) -> None:
    problems = Problems()
    check_name(problems, name, "srgan.variants.x")
    assert problems == []


@pytest.mark.parametrize("name", ["", "a-b", "a b", "a.b", "a/b", "é", "a\n"])
def test_check_name_refuses_anything_else_naming_the_key(name: str) -> None:
    problems = Problems()
    check_name(problems, name, "srgan.variants.x")
    assert problems == ["name 'srgan.variants.x' may only use letters, digits and _ (it becomes a folder and a stage "
                        "name)"]


def test_choices_are_the_literal_words_in_order() -> None:
    assert choices(Root, "mode") == ("fast", "slow")
    assert choices(StudyCodeParams, "rotation") == ("bicubic", "nearest_black")
    assert choices(StudyCodeParams, "best_file") == ("best", "last")


# ---------------------------------------------------------------- check_type: each hint, each wrong type

BOOLS_AS_WORDS = " (YAML reads true/false, yes/no and on/off as booleans: write one of the key's words)"
QUOTED = " (quoted, so it is text: write the number without quotes)"


@pytest.mark.parametrize("value, hint, expected", [
    (2.5, float, 2.5),
    (0.0, float, 0.0),
    (7, int, 7),
    (0, int, 0),
    (-2, int, -2),
    (True, bool, True),
    (False, bool, False),
    ("text", str, "text"),
    ("", str, ""),
    ("slow", Literal["fast", "slow"], "slow"),
    ([], tuple[int, ...], ()),
    ([3, 4], tuple[int, ...], (3, 4)),
    ({}, dict[str, float], {}),
    ({"a": 1.5}, dict[str, float], {"a": 1.5}),
    ({"depth": 2, "rate": 0.5}, Leaf, Leaf(2, 0.5)),
])
def test_check_type_accepts_its_type(value: Any, hint: Any, expected: Any) -> None:
    problems = Problems()
    out = check_type(value, hint, "k", problems)
    assert out == expected and type(out) is type(expected)
    assert problems == []


def test_an_int_where_a_float_is_expected_becomes_a_float() -> None:
    problems = Problems()
    out = check_type(3, float, "k", problems)
    assert out == 3.0 and type(out) is float
    items = check_type([1, 2.5], tuple[float, ...], "k", problems)
    assert items == (1.0, 2.5) and [type(v) for v in items] == [float, float]
    assert check_type({"a": 2}, dict[str, float], "k", problems) == {"a": 2.0}
    assert problems == []


@pytest.mark.parametrize("value, message", [
    (True, "params key 'sec.k' must be a number, got True"),
    (False, "params key 'sec.k' must be a number, got False"),
    (None, "params key 'sec.k' must be a number, got None"),
    ("abc", "params key 'sec.k' must be a number, got 'abc'"),
    ("", "params key 'sec.k' must be a number, got ''"),
    ("1e-4", f"params key 'sec.k' must be a number, got '1e-4'{QUOTED}"),
    ("2", f"params key 'sec.k' must be a number, got '2'{QUOTED}"),
    ([1.0], "params key 'sec.k' must be a number, got [1.0]"),
    ({"a": 1}, "params key 'sec.k' must be a number, got {'a': 1}"),
])
def test_check_type_float_refuses_each_wrong_type(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, float, "sec.k", problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("value, message", [
    (True, "params key 'sec.k' must be an integer, got True"),
    (False, "params key 'sec.k' must be an integer, got False"),
    (3.0, "params key 'sec.k' must be an integer, got 3.0"),
    (2.5, "params key 'sec.k' must be an integer, got 2.5"),
    ("3", "params key 'sec.k' must be an integer, got '3'"),
    (None, "params key 'sec.k' must be an integer, got None"),
    ([3], "params key 'sec.k' must be an integer, got [3]"),
])
def test_check_type_int_refuses_each_wrong_type(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, int, "sec.k", problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("value, message", [
    (1, "params key 'sec.k' must be true or false, got 1"),
    (0, "params key 'sec.k' must be true or false, got 0"),
    (1.0, "params key 'sec.k' must be true or false, got 1.0"),
    ("true", "params key 'sec.k' must be true or false, got 'true'"),
    (None, "params key 'sec.k' must be true or false, got None"),
    ([True], "params key 'sec.k' must be true or false, got [True]"),
])
def test_check_type_bool_refuses_each_wrong_type(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, bool, "sec.k", problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("value, message", [
    (True, f"params key 'sec.k' must be text, got True{BOOLS_AS_WORDS}"),
    (False, f"params key 'sec.k' must be text, got False{BOOLS_AS_WORDS}"),
    (3, "params key 'sec.k' must be text, got 3"),
    (0, "params key 'sec.k' must be text, got 0"),
    (2.5, "params key 'sec.k' must be text, got 2.5"),
    (None, "params key 'sec.k' must be text, got None"),
    (["a"], "params key 'sec.k' must be text, got ['a']"),
])
def test_check_type_str_refuses_each_wrong_type(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, str, "sec.k", problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("value, message", [
    (True, f"params key 'sec.k' must be one of fast, slow, got True{BOOLS_AS_WORDS}"),
    (False, f"params key 'sec.k' must be one of fast, slow, got False{BOOLS_AS_WORDS}"),
    ("medium", "params key 'sec.k' is 'medium'; choose one of fast, slow"),
    ("Fast", "params key 'sec.k' is 'Fast'; choose one of fast, slow"),
    ("", "params key 'sec.k' is ''; choose one of fast, slow"),
    (1, "params key 'sec.k' is 1; choose one of fast, slow"),
    (None, "params key 'sec.k' is None; choose one of fast, slow"),
    (["fast"], "params key 'sec.k' is ['fast']; choose one of fast, slow"),
])
def test_check_type_literal_refuses_anything_but_its_words(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, Literal["fast", "slow"], "sec.k", problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("value, message", [
    ((1, 2), "params key 'sec.k' must be a list, got (1, 2)"),
    ("12", "params key 'sec.k' must be a list, got '12'"),
    (None, "params key 'sec.k' must be a list, got None"),
    (3, "params key 'sec.k' must be a list, got 3"),
    ({"a": 1}, "params key 'sec.k' must be a list, got {'a': 1}"),
])
def test_check_type_tuple_refuses_what_is_not_a_list(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, tuple[int, ...], "sec.k", problems) is BAD
    assert problems == [message]


def test_check_type_tuple_names_each_bad_item_by_its_index() -> None:
    problems = Problems()
    assert check_type([1, "x", True, 4], tuple[int, ...], "sec.k", problems) is BAD
    assert problems == ["params key 'sec.k[1]' must be an integer, got 'x'",
                        "params key 'sec.k[2]' must be an integer, got True"]


def test_check_type_tuple_with_only_its_last_item_bad_is_bad() -> None:
    problems = Problems()
    assert check_type([1, 2, None], tuple[int, ...], "k", problems) is BAD
    assert problems == ["params key 'k[2]' must be an integer, got None"]


@pytest.mark.parametrize("value, message", [
    ([], "params key 'sec.k' must be a mapping, got []"),
    ([["a", 1]], "params key 'sec.k' must be a mapping, got [['a', 1]]"),
    ("a: 1", "params key 'sec.k' must be a mapping, got 'a: 1'"),
    (None, "params key 'sec.k' must be a mapping, got None"),
    (1, "params key 'sec.k' must be a mapping, got 1"),
])
def test_check_type_dict_refuses_what_is_not_a_mapping(value: Any, message: str) -> None:
    problems = Problems()
    assert check_type(value, dict[str, float], "sec.k", problems) is BAD
    assert problems == [message]


def test_check_type_dict_names_a_bad_key_by_the_mapping_and_a_bad_value_by_its_key() -> None:
    problems = Problems()
    assert check_type({2: 2.0, "b": "x", True: 1.0}, dict[str, float], "sec.k", problems) is BAD
    assert problems == ["params key 'sec.k' must be text, got 2",
                        "params key 'sec.k.b' must be a number, got 'x'",
                        f"params key 'sec.k' must be text, got True{BOOLS_AS_WORDS}"]


@pytest.mark.parametrize("value", [{1: 2.0}, {"a": 1.0, "b": None}])
def test_check_type_dict_with_one_bad_entry_is_bad(value: dict) -> None:
    problems = Problems()
    assert check_type(value, dict[str, float], "k", problems) is BAD
    assert len(problems) == 1


def test_check_type_reads_a_nested_section_with_its_dotted_key() -> None:
    problems = Problems()
    assert check_type({"depth": "2", "rate": 0.5}, Leaf, "sec.leaf", problems) is BAD
    assert problems == ["params key 'sec.leaf.depth' must be an integer, got '2'"]


def test_check_type_unsupported_hint_is_a_bug_named_in_full() -> None:
    with pytest.raises(TypeError) as info:
        check_type(1, complex, "sec.k", Problems())
    assert str(info.value) == "unsupported type hint <class 'complex'> for sec.k"


# ---------------------------------------------------------------- from_dict: a whole section


@pytest.mark.parametrize("prefix, raw, message", [
    ("", 3, "the params file must be a mapping, got 3"),
    ("", None, "the params file must be a mapping, got None"),
    ("", [1], "the params file must be a mapping, got [1]"),
    ("sec", [1], "params section 'sec' must be a mapping, got [1]"),
    ("sec.sub", "x", "params section 'sec.sub' must be a mapping, got 'x'"),
])
def test_from_dict_not_a_mapping(prefix: str, raw: Any, message: str) -> None:
    problems = Problems()
    assert from_dict(Leaf, raw, prefix, problems) is BAD
    assert problems == [message]


@pytest.mark.parametrize("prefix, keys", [("", ("depth", "rate")), ("sec", ("sec.depth", "sec.rate")),
                                          ("a.b", ("a.b.depth", "a.b.rate"))])
def test_from_dict_names_each_missing_key_from_the_prefix(prefix: str, keys: tuple[str, str]) -> None:
    problems = Problems()
    assert from_dict(Leaf, {}, prefix, problems) is BAD
    assert problems == [f"missing params key '{keys[0]}'", f"missing params key '{keys[1]}'"]


def test_from_dict_one_missing_key_is_bad() -> None:
    problems = Problems()
    assert from_dict(Leaf, {"depth": 1}, "", problems) is BAD
    assert problems == ["missing params key 'rate'"]


def test_from_dict_builds_a_sound_section() -> None:
    problems = Problems()
    assert from_dict(Leaf, {"depth": 1, "rate": 2}, "sec", problems) == Leaf(1, 2.0)
    assert problems == []


def test_from_dict_unknown_keys_sorted_as_text_with_the_valid_keys_sorted() -> None:
    """YAML keys need not be text (`1: x`): they are sorted as text. A section whose every field is sound is
    still built, so its own rules are checked too."""
    problems = Problems()
    raw = {"zeta": 1, "alpha": 2, "zz": 0, 1: "x", "b": None}
    assert from_dict(Unsorted, raw, "", problems) == Unsorted(zeta=1, alpha=2)
    assert problems == ["unknown params key '1'; valid keys: alpha, zeta",
                        "unknown params key 'b'; valid keys: alpha, zeta",
                        "unknown params key 'zz'; valid keys: alpha, zeta"]


def test_from_dict_unknown_key_under_a_prefix() -> None:
    problems = Problems()
    assert from_dict(Unsorted, {"zeta": 1, "alpha": 2, "beta": 3}, "sec.sub", problems) == Unsorted(1, 2)
    assert problems == ["unknown params key 'sec.sub.beta'; valid keys: alpha, zeta"]


def test_from_dict_a_moved_key_says_where_it_went() -> None:
    problems = Problems()
    assert from_dict(Unsorted, {"zeta": 1, "alpha": 2, "seed": 0}, "runtime", problems) == Unsorted(1, 2)
    assert problems == ["unknown params key 'runtime.seed'; seeds are a top-level list now, one replicate of every "
                        "run per seed: seeds: [0]"]


def test_from_dict_every_problem_at_once_and_bad() -> None:
    problems = Problems()
    assert from_dict(Leaf, {"depth": True, "extra": 1}, "sec", problems) is BAD
    assert problems == ["unknown params key 'sec.extra'; valid keys: depth, rate",
                        "missing params key 'sec.rate'",
                        "params key 'sec.depth' must be an integer, got True"]


# ---------------------------------------------------------------- views


DECLARED = ("count", "branch.leaf.depth", "table.a.rate", "table.zz.depth", "sizes.first")


def _view() -> Any:
    return params_view(_root(), "train_x", list(DECLARED))


def test_view_log_has_the_stage_and_its_declaration() -> None:
    log = view_log(_view())
    assert (log.stage, log.declared, log.reads) == ("train_x", DECLARED, set())


def test_a_view_reads_its_declared_keys_and_logs_each_read() -> None:
    view = _view()
    assert view.count == 3
    assert view.branch.leaf.depth == 1
    assert view.table["a"].rate == 0.5
    assert view_log(view).reads == {"count", "branch", "branch.leaf", "branch.leaf.depth", "table", "table.a",
                                    "table.a.rate"}


@pytest.mark.parametrize("read, key", [
    (lambda v: v.name, "name"),
    (lambda v: v.mode, "mode"),
    (lambda v: v.branch.weights, "branch.weights"),
    (lambda v: v.branch.leaf.rate, "branch.leaf.rate"),
    (lambda v: v.table["a"].depth, "table.a.depth"),
    (lambda v: v.table["b"], "table.b"),
    (lambda v: v.table["zz"], "table.zz"),  # declared, but the mapping has no such key
    (lambda v: "b" in v.table, "table.b"),
    (lambda v: "zz" in v.table, "table.zz"),
    (lambda v: list(v.table), "table"),
    (lambda v: len(v.table), "table"),
])
def test_reading_an_undeclared_key_raises_naming_the_stage_the_key_and_the_declaration(read, key: str) -> None:
    view = _view()
    with pytest.raises(UndeclaredParamError) as info:
        read(view)
    assert str(info.value) == _undeclared("train_x", key, ", ".join(DECLARED))


def test_a_declared_key_of_a_mapping_is_in_it_without_a_read_logged() -> None:
    view = _view()
    table = view.table
    assert isinstance(table, Mapping) and not isinstance(table, dict)
    assert "a" in table
    assert view_log(view).reads == {"table"}


def test_a_key_declared_below_a_plain_value_gives_the_whole_value() -> None:
    """`sizes.first` declares into a tuple: the view holds the tuple as it is."""
    assert _view().sizes == (1, 2)


def test_a_missing_attribute_of_a_view_is_an_attribute_error_not_an_undeclared_key() -> None:
    view = _view()
    with pytest.raises(AttributeError) as info:
        _ = view.nope
    assert str(info.value) == "Root has no attribute 'nope'"
    assert not hasattr(view, "nope")
    assert not hasattr(view.branch.leaf, "nope")


def test_a_missing_attribute_of_a_full_section_names_its_class() -> None:
    with pytest.raises(AttributeError) as info:
        _ = _root().branch.nope
    assert str(info.value) == "Branch has no attribute 'nope'"
    assert not hasattr(_root(), "nope")


def test_a_section_declared_whole_reads_all_of_it_with_mappings_plain() -> None:
    view = params_view(_root(), "s", ["branch", "table"])
    assert view.branch.leaf == Leaf(1, 0.25)
    assert view.branch.leaf.rate == 0.25
    weights = view.branch.weights
    assert type(weights) is dict and weights == {"w": 2.0}
    table = view.table
    assert type(table) is dict and set(table) == {"a", "b"} and table["b"].depth == 5
    assert view_log(view).reads == {"branch", "branch.leaf", "branch.leaf.depth", "branch.leaf.rate",
                                    "branch.weights", "table"}
    with pytest.raises(UndeclaredParamError) as info:
        _ = view.count
    assert str(info.value) == _undeclared("s", "count", "branch, table")


def test_a_key_below_one_declared_whole_changes_nothing() -> None:
    for declared in (["branch", "branch.leaf.depth"], ["branch.leaf.depth", "branch"]):
        view = params_view(_root(), "s", declared)
        assert view.branch.weights == {"w": 2.0}
        assert view.branch.leaf.rate == 0.25


def test_the_execution_section_is_readable_without_a_declaration() -> None:
    view = params_view(_root(), "s", [])
    assert view.execution.depth == 6
    assert view_log(view).reads == {"execution", "execution.depth"}


def test_trie_of_dotted_keys() -> None:
    assert _trie([]) == {}
    assert _trie(["a"]) == {"a": True}
    assert _trie(["a.b"]) == {"a": {"b": True}}
    assert _trie(["a.b.c"]) == {"a": {"b": {"c": True}}}
    assert _trie(["a.b", "a.c.d"]) == {"a": {"b": True, "c": {"d": True}}}
    assert _trie(["a", "a.b", "c"]) == {"a": True, "c": True}
    assert _trie(["a", "a.b.c", "a.d"]) == {"a": True}
    assert _trie(["a.b", "a"]) == {"a": True}


def test_view_log_undeclared_message_in_full() -> None:
    error = ViewLog("evaluate_srgan", ("srgan.steps", "data.scale")).undeclared("srgan.epochs")
    assert type(error) is UndeclaredParamError and isinstance(error, RuntimeError)
    assert str(error) == _undeclared("evaluate_srgan", "srgan.epochs", "srgan.steps, data.scale")


def test_partial_mapping_on_its_own() -> None:
    log = ViewLog("s", ("mix.MAX.a",))
    mapping = PartialMapping({"a": 1}, log, "mix.MAX.")
    assert mapping["a"] == 1
    assert "a" in mapping
    assert log.reads == {"mix.MAX.a"}
    for read, key in [(lambda m: m["b"], "mix.MAX.b"), (lambda m: "b" in m, "mix.MAX.b"),
                      (lambda m: iter(m), "mix.MAX"), (lambda m: len(m), "mix.MAX"), (lambda m: dict(m), "mix.MAX")]:
        with pytest.raises(UndeclaredParamError) as info:
            read(mapping)
        assert str(info.value) == _undeclared("s", key, "mix.MAX.a")
    assert log.reads == {"mix.MAX.a"}
