"""Results quoted in the docs, generated from a run's report rather than typed.

A snapshot is a copy of one run's report files (per_image.csv, differences.csv, headline.md) in
`docs/results/<name>/`, with `source.json` saying where they came from (revision, commit, command,
time, machine speed). README.md and the docs/ pages quote it through generated blocks:

    <!-- results seeds3 differences srresnet -->
    ...generated text...
    <!-- /results -->

The snapshot name `report` stands for the committed report folder itself (the default profile's results, which
the README quotes). A block's words after the snapshot name pick what is generated (`BLOCKS`): `headline MODEL...`
(rows of the run's headline table), `seeds MODEL@CHECKPOINT` (its per-seed PSNR-Y), `differences
EXPERIMENT` (that experiment's table of differences), `sentences A:B...` (the PSNR-Y sentences of
those comparisons), `compare A B` (what `srgan compare` prints for them). `check_snapshot` also
recomputes differences.csv from per_image.csv with today's statistics, so a change of the
statistics shows up as a stale snapshot, not as docs that disagree with the code.

    python -m srgan.report.snapshot take seeds3 --rev seeds3 --command "dvc exp run ..." --seconds 1625 \\
        --steps-per-s 0.38      # copy the report of revision (or DVC experiment) 'seeds3' from git
    python -m srgan.report.snapshot write   # regenerate every block of README.md and docs/*.md
    python -m srgan.report.snapshot check   # exit 1 naming each stale block (tests/report/test_snapshot.py)
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import locale
import math
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from srgan.core.artifacts import write_text_atomic
from srgan.core.errors import SrganError
from srgan.core.metric_table import METRICS
from srgan.report.compare import resolve_rev
from srgan.report.differences import experiment_markdown, sentence_lines
from srgan.report.stats import FIXED, PairedDifference, compare_models, compare_pairs

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path("docs") / "results"
SEEDS_METRIC = "psnr_y_db"  # a `seeds` block's values
FILES = ("per_image.csv", "differences.csv", "headline.md")  # as the report stage writes them (srgan.report.build)
BLOCK = re.compile(r"(<!-- results (\S+) ([^>]*?) -->\n)(.*?)(<!-- /results -->)", re.S)


@dataclass(frozen=True)
class Source:
    """Where a snapshot came from."""

    rev: str  # the git revision or DVC experiment it was taken from
    commit: str  # its commit
    command: str  # what produced the run
    seconds: float  # the run's wall time
    steps_per_s: float  # benchmarks/bench_train.py on the machine that ran it
    date: str  # YYYY-MM-DD


@dataclass(frozen=True)
class Snapshot:
    """A run's report files, read."""

    name: str
    per_image: pd.DataFrame
    differences: pd.DataFrame
    headline: str
    source: Source


def _read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"set": str, "image": str, "checkpoint": str, "model": str},
                       keep_default_na=False, na_values=["", "NaN", "nan"])


COMMITTED = "report"  # a block's source naming the committed report folder itself, not a snapshot


def load_snapshot(name: str, root: Path = ROOT) -> Snapshot:
    """The snapshot `docs/results/<name>/`, or with name COMMITTED the report folder git holds (the default
    profile's committed results, so the README quotes them as they are); an SrganError naming a missing file."""
    folder = root / COMMITTED if name == COMMITTED else root / RESULTS_DIR / name
    needed = FILES if name == COMMITTED else (*FILES, "source.json")
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise SrganError(f"{folder} has no {missing[0]}: take the snapshot first "
                         "(python -m srgan.report.snapshot take)")
    text = {f: (folder / f).read_text(encoding="utf-8") for f in FILES}
    source = (Source("HEAD", "", "dvc repro", math.nan, math.nan, "") if name == COMMITTED
              else Source(**json.loads((folder / "source.json").read_text(encoding="utf-8"))))
    return Snapshot(name, _read_csv(text["per_image.csv"]), _read_csv(text["differences.csv"]),
                    text["headline.md"], source)


def take_snapshot(name: str, rev: str, source: Source, root: Path = ROOT) -> Path:
    """Copy the report files of git revision `rev` (a commit, branch or DVC experiment) into docs/results/<name>/."""
    folder = root / RESULTS_DIR / name
    texts = {}
    for file in FILES:  # all read before any is written: a failed take leaves an earlier snapshot as it was
        shown = subprocess.run(["git", "show", f"{source.commit}:report/{file}"], cwd=root, capture_output=True,
                               check=False)
        if shown.returncode:  # git's message is in the locale's language and encoding
            message = shown.stderr.decode(locale.getpreferredencoding(False), errors="replace").strip()
            raise SrganError(f"revision '{rev}' has no report/{file}: {message}")
        texts[file] = shown.stdout.decode("utf-8")  # the file's bytes, as the report wrote them: UTF-8
    for file, text in texts.items():
        write_text_atomic(folder / file, text)
    write_text_atomic(folder / "source.json", json.dumps(asdict(source), indent=1) + "\n")
    return folder


# ---------------------------------------------------------------- blocks


def _headline(snapshot: Snapshot, models: Sequence[str]) -> str:
    """The rows of the run's headline table whose model (without its checkpoint) is one of `models`."""
    lines = snapshot.headline.strip().splitlines()
    rows = [line for line in lines[2:] if line.split("|")[1].strip().split(" (")[0] in models]
    found = {line.split("|")[1].strip().split(" (")[0] for line in rows}
    lacking = [m for m in models if m not in found]
    if lacking:
        raise SrganError(f"snapshot {snapshot.name}: the headline has no model {lacking[0]}")
    return "\n".join([*lines[:2], *rows])


def _seeds(snapshot: Snapshot, model_at: str) -> str:
    """'srresnet/mse (best) PSNR-Y: 28.27, 28.57 and 28.50 dB for seeds 0, 1 and 2 (mean 28.45 ± 0.16; bicubic
    28.02, +0.43 on the mean)'; with one seed: '… 28.27 dB for seed 0 (bicubic 28.02, +0.24)'."""
    model, _, checkpoint = model_at.partition("@")
    table = snapshot.per_image
    rows = table[(table["model"] == model) & (table["checkpoint"] == checkpoint)]
    if rows.empty:
        raise SrganError(f"snapshot {snapshot.name}: no rows for {model_at}")
    per_seed = rows.groupby("seed", sort=True)[SEEDS_METRIC].mean()
    bicubic = table[table["model"] == "bicubic"][SEEDS_METRIC].mean()
    values = [f"{v:.3f}" for v in per_seed]  # 3 decimals: the tables' 2 would round a mean of rounded images
    seeds = [str(s) for s in per_seed.index]
    margin = f"{per_seed.mean() - bicubic:+.3f}".replace("-", "−")
    metric = METRICS[SEEDS_METRIC]
    head = f"{model} ({checkpoint}) {metric.label}:"
    if len(values) == 1:
        return f"{head} {values[0]} {metric.unit} for seed {seeds[0]} (bicubic {bicubic:.3f}, {margin})."
    joined = ", ".join(values[:-1]) + f" and {values[-1]}"
    seed_words = ", ".join(seeds[:-1]) + f" and {seeds[-1]}"
    return (f"{head} {joined} {metric.unit} for seeds {seed_words} (mean {per_seed.mean():.3f} ± "
            f"{per_seed.std(ddof=1):.3f}; bicubic {bicubic:.3f}, {margin} on the mean).")


def _differences(snapshot: Snapshot, experiment: str) -> str:
    if not snapshot.differences["a"].str.startswith(experiment + "/").any():
        raise SrganError(f"snapshot {snapshot.name}: differences.csv has no comparison of experiment {experiment}")
    return experiment_markdown(snapshot.differences, experiment)


def _pairs(words: Sequence[str]) -> list[tuple[str, str]]:
    pairs = [tuple(w.split(":", 1)) for w in words]
    bad = [w for w, p in zip(words, pairs) if len(p) != 2]
    if bad:
        raise SrganError(f"'{bad[0]}': write a comparison as A:B (srresnet/hybrid_vgg19_5_4:srresnet/mse)")
    return pairs  # type: ignore[return-value]


def _sentences(snapshot: Snapshot, *pairs: str) -> str:
    wanted = _pairs(pairs)
    compared = set(zip(snapshot.differences["a"], snapshot.differences["b"]))
    lacking = [f"{a}:{b}" for a, b in wanted if (a, b) not in compared]
    if lacking:
        raise SrganError(f"snapshot {snapshot.name}: differences.csv has no comparison {lacking[0]}")
    return "\n".join(sentence_lines(snapshot.differences, wanted))


def _compare(snapshot: Snapshot, a: str, b: str) -> str:
    table = snapshot.per_image
    rows = []
    for name in (a, b):
        model, _, checkpoint = name.partition("@")
        mine = table[table["model"] == model]
        if mine.empty:
            raise SrganError(f"snapshot {snapshot.name}: no rows for {model}")
        label = checkpoint or list(dict.fromkeys(mine["checkpoint"]))[-1]
        rows.append((mine[mine["checkpoint"] == label], f"{model}@{label}"))
    comparison = compare_models(rows[0][0], rows[1][0], names=(rows[0][1], rows[1][1]))
    return f"$ srgan compare {a} {b}\n{comparison.text}"


BLOCKS: dict[str, Callable[..., str]] = {
    "headline": lambda snapshot, *models: _headline(snapshot, models),
    "seeds": _seeds,
    "differences": _differences,
    "sentences": _sentences,
    "compare": _compare,
}
FENCED = {"compare"}  # blocks shown as console output
USAGE = {"headline": "headline MODEL...", "seeds": "seeds MODEL@CHECKPOINT", "differences": "differences EXPERIMENT",
         "sentences": "sentences A:B...", "compare": "compare A B"}


def render(snapshot: Snapshot, words: Sequence[str]) -> str:
    """The text of one block (without its markers); an SrganError for unknown or wrong words (USAGE)."""
    if not words or words[0] not in BLOCKS:
        raise SrganError(f"unknown results block '{' '.join(words)}'; blocks: {', '.join(BLOCKS)}")
    try:
        inspect.signature(BLOCKS[words[0]]).bind(snapshot, *words[1:])
    except TypeError:
        raise SrganError(f"results block '{' '.join(words)}': write it as {USAGE[words[0]]}") from None
    text = BLOCKS[words[0]](snapshot, *words[1:])
    return f"```\n{text}\n```\n" if words[0] in FENCED else text + "\n"


def refreshed(text: str, root: Path = ROOT) -> str:
    """`text` with every results block regenerated from its snapshot."""
    cache: dict[str, Snapshot] = {}

    def replace(match: re.Match[str]) -> str:
        name, words = match.group(2), match.group(3).split()
        if name not in cache:
            cache[name] = load_snapshot(name, root)
        return match.group(1) + render(cache[name], words) + match.group(5)

    return BLOCK.sub(replace, text)


def pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def stale_blocks(root: Path = ROOT) -> list[str]:
    """'page: block' of every block whose text differs from what its snapshot gives."""
    out = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        fresh = refreshed(text, root)
        for old, new in zip(BLOCK.finditer(text), BLOCK.finditer(fresh)):
            if old.group(4) != new.group(4):
                out.append(f"{page.relative_to(root)}: results {old.group(2)} {old.group(3)}")
    return out


def recomputed_differences(snapshot: Snapshot) -> pd.DataFrame:
    """differences.csv computed again from the snapshot's per_image.csv with today's statistics."""
    pairs = list(dict.fromkeys(zip(snapshot.differences["a"], snapshot.differences["b"])))
    metrics = list(dict.fromkeys(snapshot.differences["metric"]))
    return compare_pairs(snapshot.per_image, pairs, metrics, images=FIXED)


def _text(column: pd.Series) -> np.ndarray:
    """A column as text, missing values as '' (a CSV reads an empty reason back as NaN)."""
    return np.array(["" if pd.isna(v) else str(v) for v in column], dtype=object)


def differences_problems(snapshot: Snapshot, decimals: int = 4) -> list[str]:
    """Where the committed differences.csv and a recomputation disagree (beyond the CSV's 4 decimals)."""
    fresh = recomputed_differences(snapshot)
    old = snapshot.differences
    if len(fresh) != len(old):
        return [f"{snapshot.name}: differences.csv has {len(old)} rows, today's statistics give {len(fresh)}"]
    problems = []
    for field, kind in PairedDifference.__annotations__.items():
        if field not in old.columns:
            problems.append(f"{snapshot.name}: differences.csv has no column '{field}'")
            continue
        if kind in ("float", "int"):
            a = pd.to_numeric(old[field], errors="coerce").to_numpy(dtype=np.float64)
            b = fresh[field].to_numpy(dtype=np.float64)
            same = np.isclose(a, b, rtol=0, atol=0.6 * 10**-decimals, equal_nan=True)
        else:
            same = _text(old[field]) == _text(fresh[field])
        if not same.all():
            problems.append(f"{snapshot.name}: differences.csv '{field}' differs from today's statistics")
    return problems


def check_snapshot(root: Path = ROOT) -> list[str]:
    """Every problem: stale blocks, and snapshots whose differences today's statistics would not reproduce."""
    problems = stale_blocks(root)
    for folder in sorted((root / RESULTS_DIR).glob("*/")):
        problems += differences_problems(load_snapshot(folder.name, root))
    if (root / COMMITTED / "differences.csv").is_file():
        problems += differences_problems(load_snapshot(COMMITTED, root))
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m srgan.report.snapshot", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    take = sub.add_parser("take", help="copy a revision's report files into docs/results/NAME/")
    take.add_argument("name")
    take.add_argument("--rev", required=True, help="a git revision or DVC experiment name")
    take.add_argument("--command", required=True, help="what produced the run, as a reader would rerun it")
    take.add_argument("--seconds", type=float, required=True, help="the run's wall time")
    take.add_argument("--steps-per-s", type=float, required=True, help="benchmarks/bench_train.py on that machine")
    take.add_argument("--date", required=True, help="YYYY-MM-DD")
    sub.add_parser("write", help="regenerate every results block of README.md and docs/")
    sub.add_parser("check", help="exit 1 naming each stale block or snapshot")
    args = parser.parse_args(argv)
    try:
        if args.action == "take":
            commit = resolve_rev(ROOT, args.rev)
            folder = take_snapshot(args.name, args.rev, Source(args.rev, commit, args.command, args.seconds,
                                                               args.steps_per_s, args.date), ROOT)
            print(f"{folder.relative_to(ROOT)}: {', '.join(FILES)} of {args.rev} ({commit[:7]})")
        elif args.action == "write":
            for page in pages(ROOT):
                text = page.read_text(encoding="utf-8")
                fresh = refreshed(text, ROOT)
                if fresh != text:
                    write_text_atomic(page, fresh)
                    print(f"{page.relative_to(ROOT)}: rewritten")
        else:
            problems = check_snapshot(ROOT)
            for problem in problems:
                print(problem)
            if problems:
                sys.exit(1)
            print("results blocks and snapshots: up to date")
    except SrganError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
