"""`srgan compare A B`: is the difference between two models real, or noise?

`dvc metrics diff` gives the bare change of a set mean. This takes the per-image scores behind
it (report/per_image.csv: every run, seed, checkpoint, test set and image, written by the report
stage into git) and gives A − B of one metric with the training seed as the unit — a 95 % t
interval over seeds, paired by seed when both ran the same seeds — per test set and over all of
them, a verdict or the reason there is none, and how many seeds would settle it
(`srgan.report.stats.compare_models`).

How A and B are written: `srgan compare --help` (`srgan.cli.COMPARE_HELP`).
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from srgan.core.errors import SrganError
from srgan.core.metric_table import metric_info
from srgan.report.stats import FIXED, Comparison, compare_models

PER_IMAGE_PATH = "report/per_image.csv"  # as dvc.yaml's report stage writes it (srgan.report.build.PER_IMAGE_FILE)


@dataclass(frozen=True)
class ModelSpec:
    rev: str | None  # None: the working tree
    model: str  # '' until taken from the other side (`REV:` alone)
    checkpoint: str | None  # None: the model's last

    def __str__(self) -> str:
        text = self.model + (f"@{self.checkpoint}" if self.checkpoint else "")
        return f"{self.rev}:{text}" if self.rev is not None else text


def parse_spec(text: str) -> ModelSpec:
    """'HEAD~1:srgan/vgg19_5_4@step10' -> ModelSpec('HEAD~1', 'srgan/vgg19_5_4', 'step10')."""
    rev, colon, rest = text.rpartition(":")
    if colon and not rev:
        raise SrganError(f"'{text}': give a revision before ':' (e.g. HEAD~1:{rest})")
    model, _, checkpoint = rest.partition("@")
    if not model and not colon:
        raise SrganError(f"'{text}': name a model, e.g. srgan/vgg19_5_4 or bicubic")
    if "@" in rest and not checkpoint:
        raise SrganError(f"'{text}': give a checkpoint after '@' (e.g. @best), or leave '@' out for the last")
    return ModelSpec(rev if colon else None, model, checkpoint or None)


def complete(a: ModelSpec, b: ModelSpec) -> tuple[ModelSpec, ModelSpec]:
    """Fill a side given as `REV:` alone with the other side's model and checkpoint."""
    if not a.model and not b.model:
        raise SrganError("name a model on at least one side, e.g. srgan compare srgan/vgg19_5_4 HEAD~1:")
    if not a.model:
        a = replace(a, model=b.model, checkpoint=a.checkpoint or b.checkpoint)
    if not b.model:
        b = replace(b, model=a.model, checkpoint=b.checkpoint or a.checkpoint)
    return a, b


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git's output read as UTF-8, as the report writes its files, whatever the locale (`git show` gives a file's
    bytes); its messages, in the locale's language and encoding, are not shown."""
    try:
        return subprocess.run(["git", *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              encoding="utf-8", check=False)
    except FileNotFoundError:
        raise SrganError("git is not installed: srgan compare reads the results from git") from None


def git_reader(root: Path) -> Callable[[str | None], str]:
    """Reads the per-image table's text at a revision (None: the working tree) of the git work tree at
    `root`; a folder that is not one is an SrganError. A revision git does not know is looked up as a DVC
    experiment name."""
    if not root.is_dir():
        raise SrganError(f"--repo {root}: no such folder; give the project's folder (a git work tree)")
    if _git(root, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        raise SrganError(f"--repo {root}: not a git work tree; give the folder of a clone of the project")

    def read(rev: str | None) -> str:
        if rev is None:
            path = root / PER_IMAGE_PATH
            if not path.is_file():
                raise SrganError(f"{path} not found: run the pipeline (dvc repro) or name a revision (REV:MODEL)")
            return path.read_text(encoding="utf-8")
        commit = resolve_rev(root, rev)
        shown = _git(root, "show", f"{commit}:{PER_IMAGE_PATH}")
        if shown.returncode:
            raise SrganError(f"revision '{rev}' holds no {PER_IMAGE_PATH} (results from before the report wrote it, "
                             "or not committed)")
        return shown.stdout

    return read


def resolve_rev(root: Path, rev: str) -> str:
    """The commit of `rev` in the git work tree at `root`: a git revision, or a DVC experiment's name."""
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.strip()
    try:  # a DVC experiment's name ('mse05'): its ref under refs/exps
        from dvc.repo import Repo
        from dvc.scm import resolve_rev as resolve_dvc_rev

        with Repo(str(root)) as repo:
            return resolve_dvc_rev(repo.scm, rev)
    except Exception:  # noqa: BLE001 - any failure means the same to the user
        raise SrganError(f"'{rev}' is neither a git revision nor a DVC experiment of {root}") from None


NAME_COLUMNS = ("model", "checkpoint", "set", "image")  # what a per-image row is of: text, never numbers or NaN


def _rows(text: str, spec: ModelSpec) -> tuple[pd.DataFrame, str]:
    """The per-image rows of `spec`'s model at one checkpoint, and that checkpoint's label."""
    where = f"{spec.rev}:" if spec.rev is not None else "the working tree's "
    try:
        table = pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(NAME_COLUMNS, str),
                            keep_default_na=False, na_values=["", "NaN", "nan"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise SrganError(f"{where}{PER_IMAGE_PATH} is not a per-image table the report wrote ({e})") from None
    lacking = [c for c in NAME_COLUMNS if c not in table.columns]
    if lacking:
        raise SrganError(f"{where}{PER_IMAGE_PATH} has no column '{lacking[0]}': not a per-image table the "
                         "report wrote")
    names = list(NAME_COLUMNS)
    table[names] = table[names].fillna("")  # an empty name cell (a hand edit) names nothing, it is not NaN
    rows = table[table["model"] == spec.model]
    if rows.empty:
        models = ", ".join(m for m in dict.fromkeys(table["model"]) if m)
        raise SrganError(f"{where}{PER_IMAGE_PATH} has no model '{spec.model}'; it has {models}")
    labels = list(dict.fromkeys(rows["checkpoint"]))
    label = spec.checkpoint or labels[-1]
    if label not in labels:
        raise SrganError(f"{spec.model} has no checkpoint '{label}' in {where}{PER_IMAGE_PATH}; it has "
                         f"{', '.join(labels)}")
    return rows[rows["checkpoint"] == label], label


def compare(a: ModelSpec, b: ModelSpec, metric: str, read: Callable[[str | None], str], *,
            images: str = FIXED) -> Comparison:
    """A − B of `metric`, the seed as the unit (paired by seed when both ran the same seeds); images: FIXED
    (the test images are the benchmark) or RANDOM (a sample of images too). See the module docstring."""
    metric_info(metric)
    a, b = complete(a, b)
    texts: dict[str | None, str] = {}
    rows, names = [], []
    for spec in (a, b):
        if spec.rev not in texts:
            texts[spec.rev] = read(spec.rev)
        model_rows, label = _rows(texts[spec.rev], spec)
        rows.append(model_rows)
        names.append(str(replace(spec, checkpoint=label)))
    return compare_models(rows[0], rows[1], metric, names=(names[0], names[1]), images=images)


if __name__ == "__main__":
    raise SystemExit("error: srgan.report.compare is a library module, not a command: run `srgan compare` "
                     "(or `python -m srgan compare`)")
