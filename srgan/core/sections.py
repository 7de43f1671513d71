"""What every params section is made of: the checks that read raw YAML into typed dataclasses
(every problem found, one line each, naming its key), and the views a stage reads them through.

A section is a frozen dataclass deriving from `Section`; a field's type says what it may hold
(`Literal` for a word from a fixed list: the allowed words are written once, in the type).
`srgan.core.config` and `srgan.core.study_code` define the sections; `srgan.core.config.load_params`
reads a whole file.

A stage reads its params through a *view* (`params_view`): a copy holding only the keys the
stage declares in dvc.yaml (`srgan.core.declared`). Reading any other key raises
`UndeclaredParamError` naming the stage and the key, so a key that can change a stage's output
but is missing from its declaration (and so from DVC's dependency check) fails in tests instead
of serving a stale result. The view also records every key the stage read.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9_]+")


# ---------------------------------------------------------------- problems


class Problems(list):
    """The problems found in a params file, one readable line each (each names its key)."""

    def add(self, message: str) -> None:
        self.append(message)


def positive(problems: Problems, value: float, key: str, allow_zero: bool = False) -> None:
    if not (value > 0 or (allow_zero and value == 0)):  # NaN too: it compares false with everything
        problems.add(f"params key '{key}' must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def check_name(problems: Problems, name: str, key: str) -> None:
    if not _NAME.fullmatch(name):
        problems.add(f"name '{key}' may only use letters, digits and _ (it becomes a folder and a stage name)")


def choices(cls: type, name: str) -> tuple[str, ...]:
    """The allowed words of a `Literal` field, e.g. choices(TrainParams, "augment")."""
    return typing.get_args(typing.get_type_hints(cls)[name])


# ---------------------------------------------------------------- reading raw YAML into dataclasses

BAD = object()  # a field whose value had a problem


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_type(value: Any, hint: Any, key: str, problems: Problems) -> Any:
    """`value` converted to `hint`, or BAD with the problem added (naming `key`)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if isinstance(value, bool):
            problems.add(f"params key '{key}' must be one of {', '.join(allowed)}, got {value!r} (YAML reads "
                         "true/false, yes/no and on/off as booleans: write one of the key's words)")
            return BAD
        if value not in allowed:
            problems.add(f"params key '{key}' is {value!r}; choose one of {', '.join(allowed)}")
            return BAD
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = (" (quoted, so it is text: write the number without quotes)"
                     if isinstance(value, str) and _looks_numeric(value) else "")
            problems.add(f"params key '{key}' must be a number, got {value!r}{extra}")
            return BAD
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(f"params key '{key}' must be an integer, got {value!r}")
            return BAD
        return value
    if hint is bool:
        if not isinstance(value, bool):
            problems.add(f"params key '{key}' must be true or false, got {value!r}")
            return BAD
        return value
    if hint is str:
        if not isinstance(value, str):
            extra = (" (YAML reads true/false, yes/no and on/off as booleans: write one of the key's words)"
                     if isinstance(value, bool) else "")
            problems.add(f"params key '{key}' must be text, got {value!r}{extra}")
            return BAD
        return value
    if origin is tuple:
        (item_hint, _) = typing.get_args(hint)
        if not isinstance(value, list):
            problems.add(f"params key '{key}' must be a list, got {value!r}")
            return BAD
        items = tuple(check_type(v, item_hint, f"{key}[{i}]", problems) for i, v in enumerate(value))
        return BAD if any(item is BAD for item in items) else items
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            problems.add(f"params key '{key}' must be a mapping, got {value!r}")
            return BAD
        out = {check_type(k, key_hint, key, problems): check_type(v, value_hint, f"{key}.{k}", problems)
               for k, v in value.items()}
        return BAD if any(k is BAD or v is BAD for k, v in out.items()) else out
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key, problems)
    raise TypeError(f"unsupported type hint {hint!r} for {key}")  # a bug, not a user error


# Keys that moved, and where to: a params file from an earlier version gets told, not only refused.
MOVED = {
    "runtime.seed": "seeds are a top-level list now, one replicate of every run per seed: seeds: [0]",
    "study_code.validation_crop_px": "it is <section>.valid_crop_px now, per training section",
    "study_code.scored_checkpoint": "it is study_code.best_file now (best | last)",
}


def from_dict(cls: type[T], raw: Any, prefix: str, problems: Problems) -> T | object:
    """`prefix` is the section's dotted key ("" at the top), so problems name keys as DVC does.
    Returns BAD when a field is missing or has a problem (they are all added); a section with an unknown key but
    every field sound is still built (its problem is added), so its own rules are checked too."""

    def key(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    if not isinstance(raw, dict):
        where = f"params section '{prefix}'" if prefix else "the params file"
        problems.add(f"{where} must be a mapping, got {raw!r}")
        return BAD
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for name in sorted(set(raw) - set(fields), key=str):
        hint = MOVED.get(key(name), f"valid keys: {', '.join(sorted(fields))}")
        problems.add(f"unknown params key '{key(name)}'; {hint}")
    for name in fields:
        if name not in raw:
            problems.add(f"missing params key '{key(name)}'")
    values = {name: check_type(raw[name], hints[name], key(name), problems) for name in fields if name in raw}
    if len(values) < len(fields) or any(v is BAD for v in values.values()):
        return BAD
    return cls(**values)


# ---------------------------------------------------------------- views: a stage reads what it declares


class UndeclaredParamError(RuntimeError):
    """A stage read a params key it does not declare in dvc.yaml. A bug in the stage's declaration
    (`srgan.pipeline.stage_params`) or in the code that read the key, not in the params file."""


@dataclass
class ViewLog:
    """One stage's view: what it declares, and every key it has read so far."""

    stage: str
    declared: tuple[str, ...]
    reads: set[str] = field(default_factory=set)

    def undeclared(self, key: str) -> UndeclaredParamError:
        return UndeclaredParamError(
            f"stage {self.stage} reads params key '{key}', which it does not declare in dvc.yaml (it declares: "
            f"{', '.join(self.declared)}); declare it in srgan/pipeline/stage_params.py and regenerate dvc.yaml")


class Section:
    """Base of every params section. A full section behaves as a plain frozen dataclass; a view of one
    (`params_view`) holds only its declared fields: reading another raises, and every read is logged."""

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name[0] != "_":
            view = object.__getattribute__(self, "__dict__").get("_view_")
            if view is not None and name in object.__getattribute__(self, "__dataclass_fields__"):
                log, path = view
                log.reads.add(f"{path}{name}")
        return value

    def __getattr__(self, name: str) -> Any:  # only for attributes that are not there: a view's undeclared fields
        view = self.__dict__.get("_view_")
        if view is not None and name in type(self).__dataclass_fields__:
            log, path = view
            raise log.undeclared(f"{path}{name}")
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


class PartialMapping(Mapping):
    """A view of a params mapping of which a stage declares some keys (`srgan.variants.<one variant>`):
    those can be read; any other key, or the whole mapping (iterating it), raises."""

    def __init__(self, data: dict[str, Any], log: ViewLog, path: str) -> None:
        self._data, self._log, self._path = data, log, path

    def __getitem__(self, key: str) -> Any:
        if key not in self._data:
            raise self._log.undeclared(f"{self._path}{key}")
        self._log.reads.add(f"{self._path}{key}")
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        if key not in self._data:
            raise self._log.undeclared(f"{self._path}{key}")
        return True

    def __iter__(self) -> Iterator[str]:
        raise self._log.undeclared(self._path.rstrip("."))

    def __len__(self) -> int:
        raise self._log.undeclared(self._path.rstrip("."))


def _trie(keys: Sequence[str]) -> dict[str, Any]:
    """{part: subtree} of dotted keys; True marks a key declared whole."""
    root: dict[str, Any] = {}
    for dotted in keys:
        node, parts = root, dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:  # an ancestor is declared whole already
                break
            node = child
        else:
            node[parts[-1]] = True
    return root


def _restrict(value: Any, tree: dict[str, Any] | bool, log: ViewLog, path: str) -> Any:
    """The part of `value` that `tree` declares (True: all of it, reads still logged)."""
    if isinstance(value, Section):
        view = copy.copy(value)
        object.__setattr__(view, "_view_", (log, path))
        for name in type(value).__dataclass_fields__:
            sub = True if tree is True else tree.get(name)
            if sub is None:
                object.__delattr__(view, name)
            else:
                object.__setattr__(view, name, _restrict(object.__getattribute__(value, name), sub, log,
                                                         f"{path}{name}."))
        return view
    if isinstance(value, dict) and tree is not True:
        return PartialMapping({k: _restrict(value[k], sub, log, f"{path}{k}.") for k, sub in tree.items()
                               if k in value}, log, path)
    return value


# Readable by every stage without a declaration: how runs are carried out, never what they compute.
UNDECLARED_OK = ("execution",)


def params_view(params: Section, stage: str, declared: Sequence[str]) -> Any:
    """The params a stage may read: `params` with only the `declared` dotted keys (as dvc.yaml lists them,
    `${key}` resolved), plus the `execution` section, which no stage declares because it changes no
    output. `view_log(view)` has what was read."""
    log = ViewLog(stage, tuple(declared))
    return _restrict(params, _trie([*declared, *UNDECLARED_OK]), log, "")


def view_log(view: Any) -> ViewLog:
    """The log of a view made by `params_view` (SrganError-free: a bug when `view` is not one)."""
    return object.__getattribute__(view, "__dict__")["_view_"][0]


def declared_values(params: Section, declared: Sequence[str]) -> dict[str, Any]:
    """{dotted key: plain value} of the declared keys (a training run's resume fingerprint hashes them)."""
    plain = as_dict(params)
    out = {}
    for dotted in declared:
        value: Any = plain
        for part in dotted.split("."):
            value = value[part]
        out[dotted] = value
    return out


def replaced(section: T, **changes: Any) -> T:
    """A copy of a section (or a view of one) with `changes`: dataclasses.replace, keeping a view a view."""
    out = copy.copy(section)
    for name, value in changes.items():
        object.__setattr__(out, name, value)
    return out


def as_dict(obj: Any) -> Any:
    """Plain-data (JSON/YAML-safe) copy of a params dataclass, for checkpoints, logs and fingerprints."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [as_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj
